"""What the rest of Hubbub calls to triage posts: the pipeline and `hubbub classify` alike.

`label_batch` gives each text a `Label` per task, so the classify command and
the pipeline run the same models with the same preprocessing. Models load
once per process (`models/*.npz`, see `hubbub train`). The intent model reads
the sentiment and complaint models' probabilities, which are computed once
per batch for both. A missing model falls back to the lexicon baseline,
loudly; a post with nothing to read gets a defined low-confidence label.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from hubbub.datasets import SENTIMENTS
from hubbub.intelligence import baseline, language, training
from hubbub.intelligence.encoder import Cascade, EncoderSentiment, EncoderUnavailable
from hubbub.intelligence.encoder import default_path as encoder_path
from hubbub.intelligence.encoder_complaint import BlendedComplaint
from hubbub.intelligence.encoder_complaint import default_path as complaint_encoder_path
from hubbub.intelligence.features import hashed_features
from hubbub.intelligence.intent import IntentModel
from hubbub.intelligence.linear import LinearModel
from hubbub.intelligence.types import Classification
from hubbub.listening.text import tokenize

logger = logging.getLogger(__name__)

TASKS = ("sentiment", "complaint", "intent", "language")
SENTIMENT_MODELS = ("cascade", "linear", "encoder")
# Posts the linear model is less sure of than this go to the encoder. Chosen on TweetEval
# validation: 0.706 macro recall at about 1,400–1,600 posts/s (docs/triage.md); 0.68 gives
# 0.714 at about 1,100.
CASCADE_CONFIDENCE = 0.6


@dataclass(frozen=True, slots=True)
class Label:
    label: str
    confidence: float  # 0..1


# What a post with nothing to read gets (empty, only emoji or links, invalid
# text): a defined label with low confidence, never an exception.
UNREADABLE = {
    "sentiment": Label("neutral", 0.3),
    "complaint": Label("not_complaint", 0.3),
    "intent": Label("other", 0.2),
    "language": Label(language.UNDETERMINED, 0.0),
}


def readable(text: str) -> bool:
    """Has a word to read: handles alone (a bare "@brand") say nothing."""
    return any(token[-1].isalnum() and not token.startswith("@") for token in tokenize(text or ""))


@cache
def linear_model(task: str) -> LinearModel | None:
    path = training.model_path(task)
    if not path.is_file():
        logger.warning("no %s model at %s: the lexicon baseline labels it", task, path)
        return None
    return LinearModel.load(path)


@cache
def encoder_model() -> EncoderSentiment | None:
    try:
        local = training.local_models()
        own = local / encoder_path().name if local is not None else None
        return EncoderSentiment.load(own if own is not None and own.is_file() else encoder_path())
    except (FileNotFoundError, EncoderUnavailable) as error:
        logger.warning("no sentiment encoder (%s): the linear model labels sentiment alone", error)
        return None


def sentiment_choice() -> str:
    """HUBBUB_SENTIMENT_MODEL: cascade (default), linear or encoder."""
    choice = os.environ.get("HUBBUB_SENTIMENT_MODEL", "cascade").strip().lower() or "cascade"
    if choice not in SENTIMENT_MODELS:
        raise ValueError(
            f"HUBBUB_SENTIMENT_MODEL={choice!r}: choose one of {', '.join(SENTIMENT_MODELS)}"
        )
    return choice


def sentiment_version() -> str | None:
    linear, encoder = linear_model("sentiment"), encoder_model()
    choice = sentiment_choice()
    if encoder is None or choice == "linear":
        return linear.version if linear is not None else None
    if choice == "encoder" or linear is None:
        return encoder.version
    return Cascade(linear, encoder, CASCADE_CONFIDENCE).version


def _sentiment_probabilities(
    texts: Sequence[str], linear_p: np.ndarray | None
) -> np.ndarray | None:
    """The chosen sentiment model's probabilities; `linear_p`, the linear model's, already
    computed for the intent model, are reused as the cascade's fast answers."""
    linear, encoder, choice = linear_model("sentiment"), encoder_model(), sentiment_choice()
    if encoder is None or choice == "linear":
        return linear_p
    if choice == "encoder" or linear is None or linear_p is None:
        return encoder.probabilities(texts)
    return Cascade(linear, encoder, CASCADE_CONFIDENCE).refine(texts, linear_p)


@cache
def complaint_blend() -> BlendedComplaint | None:
    """The accurate complaint label (encoder and linear model averaged), when both are there.
    The intent model keeps reading the linear model's probability, which it was trained on."""
    linear = linear_model("complaint")
    if linear is None:
        return None
    try:
        return BlendedComplaint(EncoderSentiment.load(complaint_encoder_path()), linear)
    except (FileNotFoundError, EncoderUnavailable) as error:
        logger.warning("no complaint encoder (%s): the linear model labels complaints", error)
        return None


@cache
def intent_model() -> IntentModel | None:
    path = training.model_path("intent")
    if not path.is_file():
        logger.warning("no intent model at %s: the lexicon baseline labels intent", path)
        return None
    return IntentModel.load(path)


def label_batch(texts: Sequence[str], tasks: Sequence[str] = TASKS) -> list[dict[str, Label]]:
    """Each text's label for each task, in order."""
    labels: list[dict[str, Label]] = [{task: UNREADABLE[task] for task in tasks} for _ in texts]
    rows = [row for row, text in enumerate(texts) if readable(text)]
    if rows:
        found = _labels([texts[row] for row in rows], tasks)
        for row, row_labels in zip(rows, found, strict=True):
            labels[row] = row_labels
    return labels


def _labels(texts: Sequence[str], tasks: Sequence[str]) -> list[dict[str, Label]]:
    sentiment, complaint, intent = (
        linear_model("sentiment"),
        linear_model("complaint"),
        intent_model(),
    )
    intent_inputs = "intent" in tasks and None not in (intent, sentiment, complaint)
    # Every linear model reads the same hashed features: computed once for the batch.
    hashed = (
        [hashed_features(text) for text in texts]
        if intent_inputs or {"sentiment", "complaint"} & set(tasks)
        else []
    )
    # The intent model was trained on the linear sentiment model's probabilities: it reads
    # those, whatever model gives the sentiment label.
    sentiment_p = (
        sentiment.probabilities_of(hashed)
        if sentiment is not None and ("sentiment" in tasks or intent_inputs)
        else None
    )
    complaint_p = (
        complaint.probabilities_of(hashed)
        if complaint is not None and ("complaint" in tasks or intent_inputs)
        else None
    )
    per_task: dict[str, list[Label]] = {}
    if "sentiment" in tasks:
        chosen = _sentiment_probabilities(texts, sentiment_p)
        per_task["sentiment"] = (
            _best(SENTIMENTS, chosen)
            if chosen is not None
            else [Label(c.sentiment, c.sentiment_confidence) for c in baseline.classify(texts)]
        )
    if "complaint" in tasks:
        blend, shown = complaint_blend(), complaint_p
        if blend is not None and complaint_p is not None:
            shown = blend.mix(texts, complaint_p)  # the linear half is computed already
        per_task["complaint"] = (
            _best(complaint.labels, shown)
            if complaint is not None and shown is not None
            else [
                Label("complaint" if c.intent == "complaint" else "not_complaint", 0.5)
                for c in baseline.classify(texts)
            ]
        )
    if "intent" in tasks:
        if (
            intent is not None
            and complaint is not None
            and complaint_p is not None
            and sentiment_p is not None
        ):
            probabilities = intent.probabilities(
                texts,
                sentiment=sentiment_p,
                complaint=complaint_p[:, complaint.labels.index("complaint")],
                hashed=hashed,
            )
            per_task["intent"] = _best(intent.labels, probabilities)
        else:
            per_task["intent"] = [
                Label(c.intent, c.intent_confidence) for c in baseline.classify(texts)
            ]
    if "language" in tasks:
        per_task["language"] = _languages(texts)
    return [{task: per_task[task][row] for task in tasks} for row in range(len(texts))]


def _best(labels: Sequence[str], probabilities: np.ndarray) -> list[Label]:
    best = probabilities.argmax(axis=1)
    return [
        Label(labels[index], round(float(probabilities[row, index]), 4))
        for row, index in enumerate(best)
    ]


def _languages(texts: Sequence[str]) -> list[Label]:
    try:
        return [Label(code, round(p, 4)) for code, p in language.detect_languages(texts)]
    except language.LanguageModelMissing:
        logger.warning("no language model installed: languages are undetermined")
        return [UNREADABLE["language"]] * len(texts)


def model_versions() -> str:
    """The versions that label a mention, joined with "+" (stored on each mention)."""
    intent = intent_model()
    parts = [
        version
        for version in (sentiment_version(), intent.version if intent is not None else None)
        if version is not None
    ]
    return "+".join([*parts, language.LANGUAGE_MODEL_VERSION, baseline.MODEL_VERSION])


def classify_batch(texts: Sequence[str]) -> list[Classification]:
    """The pipeline's call: sentiment and intent from the models, urgency from the lexicon."""
    if not texts:
        return []
    labels = label_batch(texts, ("sentiment", "intent"))
    return baseline.classify(
        texts,
        sentiments=[(row["sentiment"].label, row["sentiment"].confidence) for row in labels],
        intents=[(row["intent"].label, row["intent"].confidence) for row in labels],
        version=model_versions(),
    )
