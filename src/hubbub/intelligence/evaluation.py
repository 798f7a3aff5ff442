"""`hubbub eval <task>`: each shipped model on the shared data, beside the baselines.

Every task prints the metric its published results use (TweetEval sentiment:
macro recall; complaints: macro-F1 and accuracy), per-class precision,
recall and F1, a confusion matrix and throughput, and the baselines a team
would otherwise pick, scored by the same code on the same rows.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hubbub.datasets import SENTIMENTS, complaints, tweeteval_sentiment
from hubbub.intelligence import baseline, baselines, intent_set
from hubbub.intelligence.intent import INTENTS, IntentModel
from hubbub.intelligence.intent_set import LabelledPost
from hubbub.intelligence.linear import LinearModel
from hubbub.intelligence.metrics import Report, score

COMPLAINT_LABELS = ("complaint", "not_complaint")
FOLDS = 10
BATCH = 500  # the pipeline classifies in batches of this order


@dataclass(frozen=True, slots=True)
class TaskEvaluation:
    task: str
    data: str  # what the rows are, for the printout
    headline: str  # the published metric: "macro_recall" or "macro_f1"
    model: Report
    baselines: tuple[Report, ...]
    missing_baselines: tuple[str, ...] = ()  # named baselines whose package is not installed
    breakdown: dict[str, Report] = field(default_factory=dict)  # e.g. per domain
    alternatives: tuple[Report, ...] = ()  # our other models for the task, e.g. a cascade's parts


def timed(
    predict: Callable[[Sequence[str]], list[str]], texts: Sequence[str]
) -> tuple[list[str], float]:
    """Labels and posts per second, in pipeline-sized batches, after a warm-up call (models
    load lazily; loading is not labelling)."""
    predict(texts[:8])
    started = time.perf_counter()
    labels: list[str] = []
    for start in range(0, len(texts), BATCH):
        labels.extend(predict(texts[start : start + BATCH]))
    elapsed = max(time.perf_counter() - started, 1e-9)
    return labels, len(texts) / elapsed


class Predicts(Protocol):
    @property
    def version(self) -> str: ...
    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


def labels_of(model: Predicts) -> Callable[[Sequence[str]], list[str]]:
    return lambda texts: [label for label, _ in model.predict(texts)]


def evaluate_sentiment(model: Predicts, *, alternatives: Sequence[Predicts] = ()) -> TaskEvaluation:
    """TweetEval's validation split; trained on SemEval (see training.train_sentiment).
    `alternatives`: other models of ours, measured in the same run (the parts of a cascade)."""
    from hubbub.datasets import semeval_sentiment

    rows = tweeteval_sentiment()
    truth = [label for label, _ in rows]
    texts = [text for _, text in rows]
    predicted, speed = timed(labels_of(model), texts)
    others = tuple(
        _measure(other.version, labels_of(other), texts, truth, SENTIMENTS)
        for other in alternatives
    )
    reports = [
        _measure(
            baseline.MODEL_VERSION,
            lambda batch: [label.sentiment for label in baseline.classify(batch)],
            texts,
            truth,
            SENTIMENTS,
        )
    ]
    missing = []
    try:
        reports.append(_measure("vader", baselines.vader_sentiment, texts, truth, SENTIMENTS))
    except baselines.BaselineMissing:
        missing.append("vader")
    try:
        training_rows = semeval_sentiment()
        tfidf = baselines.TfidfLinear().fit(
            [text for _, _, text in training_rows], [label for _, label, _ in training_rows]
        )
        reports.append(_measure(tfidf.name, tfidf.predict, texts, truth, SENTIMENTS))
    except baselines.BaselineMissing:
        missing.append("tfidf-logreg")
    return TaskEvaluation(
        task="sentiment",
        data=f"TweetEval sentiment validation split, {len(rows):,} tweets (trained on SemEval)",
        headline="macro_recall",
        model=score(model.version, truth, predicted, SENTIMENTS, posts_per_s=speed),
        baselines=tuple(reports),
        missing_baselines=tuple(missing),
        alternatives=others,
    )


def _measure(
    system: str,
    predict: Callable[[Sequence[str]], list[str]],
    texts: Sequence[str],
    truth: Sequence[str],
    labels: Sequence[str],
) -> Report:
    predicted, speed = timed(predict, texts)
    return score(system, truth, predicted, labels, posts_per_s=speed)


def complaint_folds(count: int, folds: int = FOLDS, seed: int = 3) -> list[list[int]]:
    """Row indices of each cross-validation fold: shuffled once, seeded, dealt round-robin."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return [sorted(order[fold::folds]) for fold in range(folds)]


def evaluate_complaint(
    train_model: Callable[[Sequence[str], Sequence[str]], LinearModel], shipped: LinearModel
) -> TaskEvaluation:
    """10-fold cross-validation on the complaints set; the TF-IDF baseline on the same folds."""
    rows = complaints()
    texts = [row.text for row in rows]
    truth = [COMPLAINT_LABELS[0] if row.is_complaint else COMPLAINT_LABELS[1] for row in rows]
    predicted = [""] * len(rows)
    tfidf_predicted = [""] * len(rows)
    missing: tuple[str, ...] = ()
    for fold in complaint_folds(len(rows)):
        held_out = set(fold)
        training = [index for index in range(len(rows)) if index not in held_out]
        model = train_model([texts[i] for i in training], [truth[i] for i in training])
        fold_texts = [texts[i] for i in fold]
        for index, label in zip(fold, labels_of(model)(fold_texts), strict=True):
            predicted[index] = label
        if missing:
            continue
        try:
            tfidf = baselines.TfidfLinear().fit(
                [texts[i] for i in training], [truth[i] for i in training]
            )
        except baselines.BaselineMissing:
            missing = ("tfidf-logreg",)
            continue
        for index, label in zip(fold, tfidf.predict(fold_texts), strict=True):
            tfidf_predicted[index] = label
    _, speed = timed(labels_of(shipped), texts)
    domains = sorted({row.domain for row in rows})
    breakdown = {
        domain: score(
            domain,
            [truth[i] for i, row in enumerate(rows) if row.domain == domain],
            [predicted[i] for i, row in enumerate(rows) if row.domain == domain],
            COMPLAINT_LABELS,
        )
        for domain in domains
    }
    return TaskEvaluation(
        task="complaint",
        data=f"complaints data set, {len(rows):,} tweets, {FOLDS}-fold cross-validation "
        "(seeded folds; speed: the shipped model on every row)",
        headline="macro_f1",
        model=score(shipped.version, truth, predicted, COMPLAINT_LABELS, posts_per_s=speed),
        baselines=()
        if missing
        else (score("tfidf-logreg", truth, tfidf_predicted, COMPLAINT_LABELS),),
        missing_baselines=missing,
        breakdown=breakdown,
    )


def evaluate_intent(
    model: IntentModel,
    *,
    sentiment: LinearModel,
    complaint: LinearModel,
    training_posts: Sequence[LabelledPost],
) -> TaskEvaluation:
    """The hand-labelled evaluation set (800 posts, none trained on); the TF-IDF baseline is
    fitted on the same training posts as the model. Speed includes the sentiment and complaint
    models the intent model reads."""
    posts = intent_set.intent_set()
    texts = [post.text for post in posts]
    truth = [post.intent for post in posts]

    def predict(batch: Sequence[str]) -> list[str]:
        probabilities = model.probabilities(
            batch,
            sentiment=sentiment.probabilities(batch),
            complaint=complaint_probability(complaint, batch),
        )
        return [INTENTS[index] for index in probabilities.argmax(axis=1)]

    predicted, speed = timed(predict, texts)
    reports = [
        _measure(
            baseline.MODEL_VERSION,
            lambda batch: [label.intent for label in baseline.classify(batch)],
            texts,
            truth,
            INTENTS,
        )
    ]
    missing: tuple[str, ...] = ()
    try:
        tfidf = baselines.TfidfLinear().fit(
            [post.text for post in training_posts], [post.intent for post in training_posts]
        )
        reports.append(_measure(tfidf.name, tfidf.predict, texts, truth, INTENTS))
    except baselines.BaselineMissing:
        missing = ("tfidf-logreg",)
    breakdown = {
        source: score(
            source,
            [post.intent for post in posts if post.source == source],
            [label for post, label in zip(posts, predicted, strict=True) if post.source == source],
            INTENTS,
        )
        for source in intent_set.SAMPLES
    }
    return TaskEvaluation(
        task="intent",
        data=f"hand-labelled intent set, {len(posts):,} posts (twcs 420, complaints 380), "
        f"none trained on; trained on {len(training_posts):,} other labelled posts",
        headline="macro_f1",
        model=score(model.version, truth, predicted, INTENTS, posts_per_s=speed),
        baselines=tuple(reports),
        missing_baselines=missing,
        breakdown=breakdown,
    )


def complaint_probability(model: LinearModel, texts: Sequence[str]) -> np.ndarray:
    return model.probabilities(texts)[:, model.labels.index("complaint")]


def evaluate_complaint_held_out(systems: Sequence[Predicts]) -> tuple[Report, ...]:
    """The shipped complaint models on the 380 posts of the complaints set that none of them
    trained on (the intent evaluation set's), against the original annotators' labels."""
    held_out = intent_set.evaluation_ids("complaints")
    rows = [row for row in complaints() if row.tweet_id in held_out]
    texts = [row.text for row in rows]
    truth = [COMPLAINT_LABELS[0] if row.is_complaint else COMPLAINT_LABELS[1] for row in rows]
    return tuple(
        _measure(system.version, labels_of(system), texts, truth, COMPLAINT_LABELS)
        for system in systems
    )
