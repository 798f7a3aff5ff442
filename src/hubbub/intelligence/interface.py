"""What the rest of Hubbub calls to triage posts: the pipeline and `hubbub classify` alike.

Each task is a function of a batch of texts giving one `Label` per text, so
the classify command and the pipeline run the same models with the same
preprocessing. Models load once per process (`models/*.npz`, see `hubbub
train`); a missing model falls back to the lexicon baseline, loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from hubbub.intelligence import baseline, training
from hubbub.intelligence.linear import LinearModel
from hubbub.intelligence.types import Classification
from hubbub.listening.text import tokenize

logger = logging.getLogger(__name__)

TASKS = ("sentiment", "complaint", "intent")


@dataclass(frozen=True, slots=True)
class Label:
    label: str
    confidence: float  # 0..1


@cache
def shipped_model(task: str) -> LinearModel | None:
    path = training.model_path(task)
    if not path.is_file():
        logger.warning("no %s model at %s: the lexicon baseline labels it", task, path)
        return None
    return LinearModel.load(path)


# What a post with nothing to read gets (empty, only emoji or links, invalid
# text): a defined label with low confidence, never an exception.
UNREADABLE = {
    "sentiment": Label("neutral", 0.3),
    "complaint": Label("not_complaint", 0.3),
    "intent": Label("other", 0.2),
}


def readable(text: str) -> bool:
    return any(token[-1].isalnum() for token in tokenize(text or ""))


def _model_labels(task: str, texts: Sequence[str]) -> list[Label] | None:
    model = shipped_model(task)
    if model is None:
        return None
    rows = [row for row, text in enumerate(texts) if readable(text)]
    labels = [UNREADABLE[task]] * len(texts)
    predicted = model.predict([texts[row] for row in rows]) if rows else []
    for row, (label, confidence) in zip(rows, predicted, strict=True):
        labels[row] = Label(label, round(confidence, 4))
    return labels


def sentiment(texts: Sequence[str]) -> list[Label]:
    labels = _model_labels("sentiment", texts)
    if labels is None:
        return [Label(c.sentiment, c.sentiment_confidence) for c in baseline.classify(texts)]
    return labels


def complaint(texts: Sequence[str]) -> list[Label]:
    labels = _model_labels("complaint", texts)
    if labels is None:
        return [
            Label("complaint" if c.intent == "complaint" else "not_complaint", c.intent_confidence)
            for c in baseline.classify(texts)
        ]
    return labels


def intent(texts: Sequence[str]) -> list[Label]:
    return [Label(c.intent, c.intent_confidence) for c in classify_batch(texts)]


TASK_FUNCTIONS: dict[str, Callable[[Sequence[str]], list[Label]]] = {
    "sentiment": sentiment,
    "complaint": complaint,
    "intent": intent,
}


def label_batch(texts: Sequence[str], tasks: Sequence[str]) -> list[dict[str, Label]]:
    """Each text's label for each task, in order."""
    per_task = {task: TASK_FUNCTIONS[task](texts) for task in tasks}
    return [{task: per_task[task][row] for task in tasks} for row in range(len(texts))]


def model_versions() -> str:
    model = shipped_model("sentiment")
    if model is None:
        return baseline.MODEL_VERSION
    return f"{model.version}+{baseline.MODEL_VERSION}"


def classify_batch(texts: Sequence[str]) -> list[Classification]:
    """The pipeline's call: sentiment from the model, intent and urgency read with it."""
    if shipped_model("sentiment") is None or not texts:
        return baseline.classify(texts)
    sentiments = [(label.label, label.confidence) for label in sentiment(texts)]
    return baseline.classify(texts, sentiments=sentiments, version=model_versions())
