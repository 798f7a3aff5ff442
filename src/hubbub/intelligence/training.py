"""Reproduce the shipped models from the shared data: `hubbub train <task>`, `hubbub eval <task>`.

Each task reads its data from `../shared/data/` (never copied into the
project), trains seeded, and writes its weights (`.npz`) and a model card
(`.md`) under `intelligence/models/`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hubbub.datasets import SENTIMENTS, complaints, semeval_sentiment
from hubbub.intelligence import evaluation
from hubbub.intelligence.linear import LinearModel, train

MODELS = Path(__file__).resolve().parent / "models"
SENTIMENT_VERSION = "sentiment-linear-1"
# Chosen on TweetEval's validation split (macro recall): fewer, gentler
# passes generalise better than more; see the model card.
SENTIMENT_SETTINGS = {"epochs": 3, "learning_rate": 0.03, "l2": 1e-4, "seed": 7}
COMPLAINT_VERSION = "complaint-linear-1"
# Chosen by 10-fold cross-validation on the complaints set (macro-F1).
COMPLAINT_SETTINGS = {"epochs": 3, "learning_rate": 0.03, "l2": 1e-4, "seed": 7}


Progress = Callable[[int, int], None]


def train_sentiment(progress: Progress | None = None) -> LinearModel:
    rows = semeval_sentiment()
    model = _as_shipped(
        train(
            [text for _, _, text in rows],
            [label for _, label, _ in rows],
            classes=SENTIMENTS,
            version=SENTIMENT_VERSION,
            progress=progress,
            **SENTIMENT_SETTINGS,  # type: ignore[arg-type]
        )
    )
    result = evaluation.evaluate_sentiment(model)
    return _with_card(
        model,
        task="sentiment (negative / neutral / positive)",
        data=f"SemEval 2013-2016 task 4A, {len(rows):,} tweets (../shared/data/semeval-sentiment)",
        settings=SENTIMENT_SETTINGS,
        result=result,
        summary=f"{result.data}: macro recall {result.model.macro_recall:.3f}",
    )


def train_complaint_on(
    texts: Sequence[str], labels: Sequence[str], progress: Progress | None = None
) -> LinearModel:
    return train(
        texts,
        labels,
        classes=evaluation.COMPLAINT_LABELS,
        version=COMPLAINT_VERSION,
        progress=progress,
        **COMPLAINT_SETTINGS,  # type: ignore[arg-type]
    )


def train_complaint(progress: Progress | None = None) -> LinearModel:
    rows = complaints()
    model = _as_shipped(
        train_complaint_on(
            [row.text for row in rows],
            [evaluation.COMPLAINT_LABELS[0 if row.is_complaint else 1] for row in rows],
            progress=progress,
        )
    )
    result = evaluation.evaluate_complaint(
        lambda texts, labels: _as_shipped(train_complaint_on(texts, labels)), model
    )
    return _with_card(
        model,
        task="complaint (is this post a complaint about a product or service?)",
        data=f"complaints data set (Preotiuc-Pietro et al. 2019), {len(rows):,} tweets "
        "(../shared/data/complaints)",
        settings=COMPLAINT_SETTINGS,
        result=result,
        summary=f"{result.data}: macro-F1 {result.model.macro_f1:.3f}, "
        f"accuracy {result.model.accuracy:.3f}",
    )


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
    card: dict[str, object] = {
        "task": task,
        "trained": dt.date.today().isoformat(),
        "data": data,
        "method": "softmax regression on hashed words, word pairs and character 4-grams "
        f"(2^18 buckets, CRC-32), class-balanced mini-batch Adagrad, {settings}",
        "evaluation": summary,
        "figures": result.model.figures(),
        "baselines": {report.system: report.figures() for report in result.baselines},
        "reproduce": f"hubbub train {result.task}",
    }
    return LinearModel(model.version, model.labels, model.weights, model.bias, card)


def model_path(task: str) -> Path:
    return MODELS / f"{task}.npz"


def write_card(task: str, model: LinearModel) -> Path:
    path = MODELS / f"{task}.md"
    path.write_text(card_markdown(model), encoding="utf-8")
    return path


def card_markdown(model: LinearModel) -> str:
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
