"""What the rest of Hubbub calls to triage posts.

Sentiment comes from the trained model (`models/sentiment.npz`, see
`hubbub train sentiment`); intent and urgency still from the lexicon
baseline, read with the model's sentiment. Each label records the versions
that made it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from functools import cache

from hubbub.intelligence import baseline, training
from hubbub.intelligence.linear import LinearModel
from hubbub.intelligence.types import Classification

logger = logging.getLogger(__name__)


@cache
def sentiment_model() -> LinearModel | None:
    path = training.model_path("sentiment")
    if not path.is_file():
        logger.warning("no sentiment model at %s: the lexicon baseline labels sentiment", path)
        return None
    return LinearModel.load(path)


def classify_batch(texts: Sequence[str]) -> list[Classification]:
    labels = baseline.classify(texts)
    model = sentiment_model()
    if model is None or not texts:
        return labels
    version = f"{model.version}+{baseline.MODEL_VERSION}"
    results = []
    for text, label, (sentiment, confidence) in zip(
        texts, labels, model.predict(texts), strict=True
    ):
        if label.intent_confidence <= 0.2:  # nothing readable: the baseline's "other" stands
            results.append(label)
            continue
        intent, intent_confidence = baseline.intent_given(text, sentiment)
        results.append(
            dataclasses.replace(
                label,
                sentiment=sentiment,
                sentiment_confidence=round(confidence, 4),
                intent=intent,
                intent_confidence=intent_confidence,
                model_version=version,
            )
        )
    return results
