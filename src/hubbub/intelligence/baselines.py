"""What a team would otherwise pick, measured in the same `hubbub eval` run as our models.

- VADER (`vaderSentiment`): the rule-based sentiment analyser most tools
  ship, with its documented thresholds (compound ≥ 0.05 positive, ≤ -0.05
  negative, otherwise neutral).
- TF-IDF + a linear model (scikit-learn): words and word pairs, sublinear
  term frequencies, class-balanced logistic regression, the standard text
  classification baseline.

Both live in the optional `train` extra: the pipeline never needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class BaselineMissing(ImportError):
    """A baseline's package is not installed (pip install 'hubbub[train]')."""


def vader_sentiment(texts: Sequence[str]) -> list[str]:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as error:
        raise BaselineMissing("VADER needs vaderSentiment: pip install 'hubbub[train]'") from error
    analyser = SentimentIntensityAnalyzer()
    labels = []
    for text in texts:
        compound = analyser.polarity_scores(text)["compound"]
        labels.append(
            "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        )
    return labels


class TfidfLinear:
    """TF-IDF features and class-balanced logistic regression, fitted on a task's training rows."""

    name = "tfidf-logreg"

    def __init__(self, seed: int = 7) -> None:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
        except ImportError as error:
            raise BaselineMissing(
                "the TF-IDF baseline needs scikit-learn: pip install 'hubbub[train]'"
            ) from error
        self._pipeline: Any = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True),
            LogisticRegression(class_weight="balanced", max_iter=2000, C=2.0, random_state=seed),
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfLinear:
        self._pipeline.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self._pipeline.predict(list(texts))]
