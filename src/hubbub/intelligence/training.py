"""Reproduce the shipped models from the shared data: `hubbub train <task>`, `hubbub eval <task>`.

Each task reads its data from `../shared/data/` (never copied into the
project), trains seeded, and writes its weights (`.npz`) and a model card
(`.md`) under `intelligence/models/`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from hubbub.datasets import SENTIMENTS, DataMissing, complaints, semeval_sentiment
from hubbub.intelligence import evaluation, intent_set
from hubbub.intelligence.intent import CUES, INTENTS, IntentModel, dense_features, fit_stack
from hubbub.intelligence.intent_set import LabelledPost
from hubbub.intelligence.linear import LinearModel, train

MODELS = Path(__file__).resolve().parent / "models"
SENTIMENT_VERSION = "sentiment-linear-1"
# Chosen on TweetEval's validation split (macro recall): fewer, gentler
# passes generalise better than more; see the model card.
SENTIMENT_SETTINGS = {"epochs": 3, "learning_rate": 0.03, "l2": 1e-4, "seed": 7}
COMPLAINT_VERSION = "complaint-linear-1"
# Chosen by 10-fold cross-validation on the complaints set (macro-F1).
COMPLAINT_SETTINGS = {"epochs": 3, "learning_rate": 0.03, "l2": 1e-4, "seed": 7}
INTENT_VERSION = "intent-stacked-1"
INTENT_TEXT_SETTINGS = {"epochs": 10, "learning_rate": 0.1, "l2": 1e-5, "seed": 7}


Progress = Callable[[int, int], None]


class ShippedModel(Protocol):
    """What `hubbub train` writes: weights (`save`) and a card."""

    @property
    def version(self) -> str: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def card(self) -> dict[str, object]: ...
    def save(self, path: Path) -> None: ...


Corrections = Sequence[tuple[str, str]]  # (mention text, label an agent gave it)


def corrected_version(version: str, corrections: Corrections) -> str:
    # No "+": that joins the models named on a mention.
    return f"{version}-c{len(corrections)}" if corrections else version


def train_sentiment(progress: Progress | None = None, corrections: Corrections = ()) -> LinearModel:
    rows = semeval_sentiment()
    model = _as_shipped(
        train(
            [text for _, _, text in rows] + [text for text, _ in corrections],
            [label for _, label, _ in rows] + [label for _, label in corrections],
            classes=SENTIMENTS,
            version=corrected_version(SENTIMENT_VERSION, corrections),
            progress=progress,
            **SENTIMENT_SETTINGS,  # type: ignore[arg-type]
        )
    )
    result = evaluation.evaluate_sentiment(model)
    return _with_card(
        model,
        task="sentiment (negative / neutral / positive)",
        data=f"SemEval 2013-2016 task 4A, {len(rows):,} tweets (../shared/data/semeval-sentiment)"
        + _with(corrections),
        settings=SENTIMENT_SETTINGS,
        result=result,
        summary=f"{result.data}: macro recall {result.model.macro_recall:.3f}",
    )


def train_complaint_on(
    texts: Sequence[str],
    labels: Sequence[str],
    progress: Progress | None = None,
    version: str = COMPLAINT_VERSION,
) -> LinearModel:
    return train(
        texts,
        labels,
        classes=evaluation.COMPLAINT_LABELS,
        version=version,
        progress=progress,
        **COMPLAINT_SETTINGS,  # type: ignore[arg-type]
    )


def train_complaint(progress: Progress | None = None, corrections: Corrections = ()) -> LinearModel:
    """`corrections` are intent corrections: "complaint" or not."""
    # The intent set's posts stay out, so that the intent evaluation (which reads this model)
    # never sees a post the complaint detector was trained on.
    held_out = intent_set.evaluation_ids("complaints")
    rows = [row for row in complaints() if row.tweet_id not in held_out]
    model = _as_shipped(
        train_complaint_on(
            [row.text for row in rows] + [text for text, _ in corrections],
            [evaluation.COMPLAINT_LABELS[0 if row.is_complaint else 1] for row in rows]
            + [
                evaluation.COMPLAINT_LABELS[0 if label == "complaint" else 1]
                for _, label in corrections
            ],
            progress=progress,
            version=corrected_version(COMPLAINT_VERSION, corrections),
        )
    )
    result = evaluation.evaluate_complaint(
        lambda texts, labels: _as_shipped(train_complaint_on(texts, labels)), model
    )
    return _with_card(
        model,
        task="complaint (is this post a complaint about a product or service?)",
        data=f"complaints data set (Preotiuc-Pietro et al. 2019), {len(rows):,} tweets "
        f"(../shared/data/complaints; the {len(held_out)} of the intent evaluation set left out)"
        + _with(corrections),
        settings=COMPLAINT_SETTINGS,
        result=result,
        summary=f"{result.data}: macro-F1 {result.model.macro_f1:.3f}, "
        f"accuracy {result.model.accuracy:.3f}",
    )


def train_intent(progress: Progress | None = None, corrections: Corrections = ()) -> IntentModel:
    posts = intent_set.training_set() + [
        LabelledPost("corrections", "", text, label) for text, label in corrections
    ]
    texts = [post.text for post in posts]
    targets = np.array([INTENTS.index(post.intent) for post in posts])
    sentiment, complaint = _shipped("sentiment"), _shipped("complaint")
    complaint_p = evaluation.complaint_probability(complaint, texts)
    # The complaint detector was trained on the complaints set: for those posts, use the
    # probability of a fold model that did not see them, or the stack would over-trust it.
    unseen = _complaint_out_of_fold()
    for row, post in enumerate(posts):
        if post.source == "complaints":
            complaint_p[row] = unseen[post.tweet_id]
    out_of_fold = np.zeros((len(posts), len(INTENTS)), dtype=np.float32)
    folds = evaluation.complaint_folds(len(posts), folds=5, seed=13)
    steps = len(folds) + 1
    for done, fold in enumerate(folds, start=1):
        held = set(fold)
        rows = [row for row in range(len(posts)) if row not in held]
        fold_model = _train_intent_text([texts[r] for r in rows], [posts[r].intent for r in rows])
        out_of_fold[fold] = fold_model.probabilities([texts[r] for r in fold])
        if progress:
            progress(done, steps)
    stack = fit_stack(
        dense_features(texts, out_of_fold, sentiment.probabilities(texts), complaint_p),
        targets,
        len(INTENTS),
    )
    text_model = _as_shipped(_train_intent_text(texts, [post.intent for post in posts]))
    if progress:
        progress(steps, steps)
    model = IntentModel(corrected_version(INTENT_VERSION, corrections), text_model, stack, {})
    result = evaluation.evaluate_intent(
        model, sentiment=sentiment, complaint=complaint, training_posts=posts
    )
    card = _card(
        task="intent (complaint / question / praise / feedback / other)",
        data=f"{len(posts) - len(corrections):,} hand-labelled posts (labels/intent-train.csv, "
        "from twcs and the complaints set; none of the evaluation set)" + _with(corrections),
        method="a softmax regression stacked on a hashed-text linear model (out-of-fold "
        f"probabilities, {INTENT_TEXT_SETTINGS}), the complaint detector's log-odds, the "
        f"sentiment model's log-probabilities and cues ({', '.join(CUES)})",
        result=result,
        summary=f"{result.data}: macro-F1 {result.model.macro_f1:.3f}, "
        f"accuracy {result.model.accuracy:.3f}",
    )
    return IntentModel(model.version, model.text_model, model.stack, card)


def _train_intent_text(texts: Sequence[str], labels: Sequence[str]) -> LinearModel:
    return train(
        texts,
        labels,
        classes=INTENTS,
        version=f"{INTENT_VERSION}-text",
        **INTENT_TEXT_SETTINGS,  # type: ignore[arg-type]
    )


def _with(corrections: Corrections) -> str:
    if not corrections:
        return ""
    return (
        f", and {len(corrections):,} labels corrected by this installation's agents "
        "(reproduce with --with-corrections against its database)"
    )


def _complaint_out_of_fold() -> dict[str, float]:
    """P(complaint) of every complaints-set post from the fold model that did not see it."""
    rows = complaints()
    texts = [row.text for row in rows]
    labels = [evaluation.COMPLAINT_LABELS[0 if row.is_complaint else 1] for row in rows]
    unseen: dict[str, float] = {}
    for fold in evaluation.complaint_folds(len(rows)):
        held = set(fold)
        rest = [row for row in range(len(rows)) if row not in held]
        model = train_complaint_on([texts[r] for r in rest], [labels[r] for r in rest])
        probabilities = evaluation.complaint_probability(model, [texts[r] for r in fold])
        for row, probability in zip(fold, probabilities, strict=True):
            unseen[rows[row].tweet_id] = float(probability)
    return unseen


def _shipped(task: str) -> LinearModel:
    path = model_path(task)
    if not path.is_file():
        raise DataMissing(f"no {task} model at {path}: run `hubbub train {task}` first")
    return LinearModel.load(path)


def _as_shipped(model: LinearModel) -> LinearModel:
    """The model as it will be loaded: weights stored in half precision, measured that way."""
    return LinearModel(
        model.version,
        model.labels,
        model.weights.astype(np.float16).astype(np.float32),
        model.bias,
        model.card,
    )


def _with_card(
    model: LinearModel,
    *,
    task: str,
    data: str,
    settings: dict[str, float],
    result: evaluation.TaskEvaluation,
    summary: str,
) -> LinearModel:
    method = (
        "softmax regression on hashed words, word pairs and character 4-grams "
        f"(2^18 buckets, CRC-32), class-balanced mini-batch Adagrad, {settings}"
    )
    card = _card(task=task, data=data, method=method, result=result, summary=summary)
    return LinearModel(model.version, model.labels, model.weights, model.bias, card)


def _card(
    *, task: str, data: str, method: str, result: evaluation.TaskEvaluation, summary: str
) -> dict[str, object]:
    return {
        "task": task,
        "trained": dt.date.today().isoformat(),
        "data": data,
        "method": method,
        "evaluation": summary,
        "figures": result.model.figures(),
        "baselines": {report.system: report.figures() for report in result.baselines},
        "reproduce": f"hubbub train {result.task}",
    }


def local_models() -> Path | None:
    """HUBBUB_MODEL_DIR: where this installation keeps models it trained itself (with its
    agents' corrections); they win over the shipped ones of the same task."""
    configured = os.environ.get("HUBBUB_MODEL_DIR", "").strip()
    return Path(configured) if configured else None


def model_path(task: str) -> Path:
    """The model a task loads: this installation's own, when it has one, else the shipped."""
    local = local_models()
    if local is not None and (local / f"{task}.npz").is_file():
        return local / f"{task}.npz"
    return MODELS / f"{task}.npz"


def output_path(task: str) -> Path:
    """Where `hubbub train` writes: HUBBUB_MODEL_DIR when set, else the shipped models."""
    folder = local_models() or MODELS
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{task}.npz"


def write_card(task: str, model: ShippedModel) -> Path:
    path = output_path(task).with_suffix(".md")
    path.write_text(card_markdown(model), encoding="utf-8")
    return path


def card_markdown(model: ShippedModel) -> str:
    """The model card as Markdown: the facts as a list, the figures as tables."""
    card = dict(model.card)
    figures = card.pop("figures", None)
    compared = card.pop("baselines", None)
    lines = [f"# Model card: {model.version}", ""]
    lines += [f"- **{key}**: {value}" for key, value in card.items()]
    if isinstance(figures, dict):
        lines += [
            "",
            "## Per class",
            "",
            "| class | precision | recall | F1 |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {label} | {figures[f'precision_{label}']:.3f} | {figures[f'recall_{label}']:.3f} "
            f"| {figures[f'f1_{label}']:.3f} |"
            for label in model.labels
        ]
    if isinstance(compared, dict) and isinstance(figures, dict):
        lines += [
            "",
            "## Against the baselines (same rows, same run)",
            "",
            "| system | macro recall | macro-F1 | accuracy |",
            "|---|---|---|---|",
        ]
        for system, row in {model.version: figures, **compared}.items():
            lines.append(
                f"| {system} | {row['macro_recall']:.3f} | {row['macro_f1']:.3f} "
                f"| {row['accuracy']:.3f} |"
            )
    return "\n".join(lines) + "\n"
