"""Reproduce the shipped models from the shared data: `hubbub train <task>`, `hubbub eval <task>`.

Each task reads its data from `../shared/data/` (never copied into the
project), trains seeded, and writes its weights (`.npz`) and a model card
(`.md`) under `intelligence/models/`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hubbub.datasets import SENTIMENTS, semeval_sentiment, tweeteval_sentiment
from hubbub.intelligence import baseline
from hubbub.intelligence.linear import LinearModel, macro_recall, train

MODELS = Path(__file__).resolve().parent / "models"
SENTIMENT_VERSION = "sentiment-linear-1"
# Chosen on TweetEval's validation split (macro recall): fewer, gentler
# passes generalise better than more; see the model card.
SENTIMENT_SETTINGS = {"epochs": 3, "learning_rate": 0.03, "l2": 1e-4, "seed": 7}


@dataclass(frozen=True, slots=True)
class Evaluation:
    model: str
    rows: int
    recall: dict[str, float]  # per class and "macro"
    accuracy: float
    baseline_recall: dict[str, float]


def train_sentiment(progress: Callable[[int, int], None] | None = None) -> LinearModel:
    rows = semeval_sentiment()
    model = train(
        [text for _, _, text in rows],
        [label for _, label, _ in rows],
        classes=SENTIMENTS,
        version=SENTIMENT_VERSION,
        progress=progress,
        **SENTIMENT_SETTINGS,  # type: ignore[arg-type]
    )
    # Measured as shipped: the weights are stored in half precision.
    model = LinearModel(
        model.version,
        model.labels,
        model.weights.astype(np.float16).astype(np.float32),
        model.bias,
        {},
    )
    evaluation = evaluate_sentiment(model)
    card = {
        "task": "sentiment (negative / neutral / positive)",
        "trained": dt.date.today().isoformat(),
        "data": f"SemEval 2013-2016 task 4A, {len(rows):,} tweets "
        "(../shared/data/semeval-sentiment)",
        "method": "softmax regression on hashed words, word pairs and character 4-grams "
        f"(2^18 buckets, CRC-32), class-balanced mini-batch Adagrad, {SENTIMENT_SETTINGS}",
        "evaluation": "TweetEval sentiment validation split, 2,000 tweets; macro recall "
        f"{evaluation.recall['macro']:.3f} (the lexicon baseline: "
        f"{evaluation.baseline_recall['macro']:.3f})",
        "recall": {k: round(v, 4) for k, v in evaluation.recall.items()},
        "accuracy": round(evaluation.accuracy, 4),
        "reproduce": "hubbub train sentiment",
    }
    return LinearModel(model.version, model.labels, model.weights, model.bias, card)


def evaluate_sentiment(model: LinearModel) -> Evaluation:
    rows = tweeteval_sentiment()
    truth = [label for label, _ in rows]
    texts = [text for _, text in rows]
    predicted = [label for label, _ in model.predict(texts)]
    lexicon = [label.sentiment for label in baseline.classify(texts)]
    return Evaluation(
        model=model.version,
        rows=len(rows),
        recall=macro_recall(truth, predicted, SENTIMENTS),
        accuracy=sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(rows),
        baseline_recall=macro_recall(truth, lexicon, SENTIMENTS),
    )


def model_path(task: str) -> Path:
    return MODELS / f"{task}.npz"


def write_card(task: str, model: LinearModel) -> Path:
    lines = [f"# Model card: {model.version}", ""]
    lines += [f"- **{key}**: {value}" for key, value in model.card.items()]
    path = MODELS / f"{task}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
