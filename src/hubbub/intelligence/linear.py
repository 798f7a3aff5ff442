"""A linear classifier over hashed features: softmax regression, trained here.

Weights live in a NumPy `.npz` (no pickles: loaded with allow_pickle=False)
with the labels and the model version beside them, so loading executes no
code. Training is mini-batch Adagrad with L2, seeded, class-balanced so that
a rare class counts as much as a common one (the metric is macro recall).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hubbub.intelligence.features import BUCKETS, hashed_features


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Each row of scores as probabilities, in place (stable: the row's maximum comes off)."""
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def top_labels(labels: Sequence[str], probabilities: np.ndarray) -> list[tuple[str, float]]:
    """Each row's most probable label and its probability: every model's `predict`."""
    best = probabilities.argmax(axis=1)
    return [(labels[index], float(probabilities[row, index])) for row, index in enumerate(best)]


@dataclass(frozen=True)
class LinearModel:
    version: str
    labels: tuple[str, ...]
    weights: np.ndarray  # (buckets, classes) float32
    bias: np.ndarray  # (classes,) float32
    card: dict[str, object]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), classes) class probabilities."""
        return self.probabilities_of([hashed_features(text, self.buckets) for text in texts])

    def probabilities_of(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities from hashed features already computed (several models read the
        same features: hashing once per batch is most of the cost saved)."""
        scores = np.zeros((len(features), len(self.labels)), dtype=np.float32)
        filled = [row for row, found in enumerate(features) if found.size]
        if filled:
            # One gather and one segmented sum for the whole batch, not one per post.
            flat = np.concatenate([features[row] for row in filled])
            starts = np.cumsum([0, *(features[row].size for row in filled)])[:-1]
            scores[filled] = np.add.reduceat(self.weights[flat], starts, axis=0)
        scores += self.bias
        return softmax_rows(scores)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return top_labels(self.labels, self.probabilities(texts))

    @property
    def buckets(self) -> int:
        return int(self.weights.shape[0])

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights.astype(
                np.float16
            ),  # half the size, no loss in accuracy to speak of
            bias=self.bias,
            labels=np.array(self.labels),
            meta=np.array(json.dumps({"version": self.version, "card": self.card})),
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return cls(
                version=meta["version"],
                labels=tuple(str(label) for label in data["labels"]),
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                card=meta["card"],
            )


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    classes: tuple[str, ...],
    version: str,
    epochs: int = 6,
    batch: int = 64,
    learning_rate: float = 0.2,
    l2: float = 1e-6,
    seed: int = 7,
    buckets: int = BUCKETS,
    progress: Callable[[int, int], None] | None = None,
) -> LinearModel:
    """Fit softmax regression on hashed features; `progress(done, total)` after each batch."""
    rng = np.random.default_rng(seed)
    features = [hashed_features(text, buckets) for text in texts]
    targets = np.array([classes.index(label) for label in labels], dtype=np.int64)
    counts = np.bincount(targets, minlength=len(classes)).astype(np.float32)
    class_weight = counts.sum() / (len(classes) * np.maximum(counts, 1))
    weights = np.zeros((buckets, len(classes)), dtype=np.float32)
    bias = np.zeros(len(classes), dtype=np.float32)
    squared = np.full_like(weights, 1e-8)
    squared_bias = np.full_like(bias, 1e-8)
    total, done = epochs * ((len(texts) + batch - 1) // batch), 0
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            scores = np.stack([weights[features[row]].sum(axis=0) for row in rows]) + bias
            error = softmax_rows(scores)
            error[np.arange(len(rows)), targets[rows]] -= 1.0
            error *= class_weight[targets[rows]][:, None] / len(rows)
            gradient: dict[int, np.ndarray] = {}
            for row, row_error in zip(rows, error, strict=True):
                for index in features[row]:
                    if index in gradient:
                        gradient[index] += row_error
                    else:
                        gradient[index] = row_error.copy()
            indices = np.fromiter(gradient, dtype=np.int64, count=len(gradient))
            step = np.stack(list(gradient.values())) + l2 * weights[indices]
            squared[indices] += step**2
            weights[indices] -= learning_rate * step / np.sqrt(squared[indices])
            bias_step = error.sum(axis=0)
            squared_bias += bias_step**2
            bias -= learning_rate * bias_step / np.sqrt(squared_bias)
            done += 1
            if progress is not None:
                progress(done, total)
    return LinearModel(version=version, labels=classes, weights=weights, bias=bias, card={})


def macro_recall(
    truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]
) -> dict[str, float]:
    """Recall per class and their mean, TweetEval's sentiment metric."""
    recalls: dict[str, float] = {}
    for label in classes:
        wanted = [p for t, p in zip(truth, predicted, strict=True) if t == label]
        recalls[label] = sum(p == label for p in wanted) / len(wanted) if wanted else 0.0
    recalls["macro"] = sum(recalls[label] for label in classes) / len(classes)
    return recalls
