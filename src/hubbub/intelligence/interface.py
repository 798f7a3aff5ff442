"""What the rest of Hubbub calls to triage posts.

Sentiment comes from the trained model (`models/sentiment.npz`, see
`hubbub train sentiment`); intent and urgency still from the lexicon
baseline, read with the model's sentiment. Each label records the versions
that made it.
"""

from __future__ import annotations

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
    model = sentiment_model()
    if model is None or not texts:
        return baseline.classify(texts)
    sentiments = [(label, round(confidence, 4)) for label, confidence in model.predict(texts)]
    return baseline.classify(
        texts, sentiments=sentiments, version=f"{model.version}+{baseline.MODEL_VERSION}"
    )
