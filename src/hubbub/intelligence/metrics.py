"""The figures `hubbub eval` prints: per-class precision, recall and F1, a confusion matrix.

One `Report` per system (the shipped model or a baseline) on one data set,
so that a model and the baselines it is compared with are scored by the
same code on the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int  # rows whose true label is this class


@dataclass(frozen=True, slots=True)
class Report:
    system: str  # the model version or the baseline's name
    labels: tuple[str, ...]
    per_class: dict[str, ClassScores]
    confusion: tuple[tuple[int, ...], ...]  # rows: truth, columns: predicted, in `labels` order
    accuracy: float
    posts_per_s: float | None  # None where speed means nothing (cross-validation folds)

    @property
    def rows(self) -> int:
        return sum(sum(row) for row in self.confusion)

    @property
    def macro_recall(self) -> float:
        return sum(scores.recall for scores in self.per_class.values()) / len(self.labels)

    @property
    def macro_f1(self) -> float:
        return sum(scores.f1 for scores in self.per_class.values()) / len(self.labels)

    def figures(self) -> dict[str, float]:
        """Flat figures with units in their names, for `--json`."""
        figures: dict[str, float] = {
            "rows": self.rows,
            "accuracy": round(self.accuracy, 4),
            "macro_recall": round(self.macro_recall, 4),
            "macro_f1": round(self.macro_f1, 4),
        }
        for label, scores in self.per_class.items():
            figures[f"precision_{label}"] = round(scores.precision, 4)
            figures[f"recall_{label}"] = round(scores.recall, 4)
            figures[f"f1_{label}"] = round(scores.f1, 4)
        if self.posts_per_s is not None:
            figures["posts_per_s"] = round(self.posts_per_s, 1)
        return figures


def score(
    system: str,
    truth: Sequence[str],
    predicted: Sequence[str],
    labels: Sequence[str],
    *,
    posts_per_s: float | None = None,
) -> Report:
    """Score predictions against the truth. A predicted label outside `labels` counts as wrong."""
    position = {label: index for index, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for true_label, predicted_label in zip(truth, predicted, strict=True):
        if predicted_label in position:
            confusion[position[true_label]][position[predicted_label]] += 1
    per_class = {}
    for index, label in enumerate(labels):
        hits = confusion[index][index]
        support = sum(truth_label == label for truth_label in truth)
        called = sum(row[index] for row in confusion)
        precision = hits / called if called else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = ClassScores(precision, recall, f1, support)
    correct = sum(confusion[index][index] for index in range(len(labels)))
    return Report(
        system=system,
        labels=tuple(labels),
        per_class=per_class,
        confusion=tuple(tuple(row) for row in confusion),
        accuracy=correct / len(truth) if truth else 0.0,
        posts_per_s=posts_per_s,
    )


def confusion_table(report: Report) -> list[str]:
    """The confusion matrix as aligned text lines (rows: truth, columns: predicted)."""
    width = max(7, *(len(label) for label in report.labels)) + 1
    lines = [" " * width + "".join(f"{label[: width - 1]:>{width}}" for label in report.labels)]
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"{label:<{width}}" + "".join(f"{count:>{width},}" for count in row))
    return lines
