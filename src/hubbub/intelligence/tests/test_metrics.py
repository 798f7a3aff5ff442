"""The figures `hubbub eval` prints, checked against hand-worked examples."""

from __future__ import annotations

import pytest

from hubbub.intelligence.metrics import confusion_table, score


def test_precision_recall_and_f1_per_class() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "a", "c"]
    report = score("m", truth, predicted, ["a", "b", "c"])
    # a: 2 of 3 found, 2 of 3 calls right; b: 1 of 2 found, 1 of 2 calls right.
    assert report.per_class["a"].precision == pytest.approx(2 / 3)
    assert report.per_class["a"].recall == pytest.approx(2 / 3)
    assert report.per_class["b"].f1 == pytest.approx(0.5)
    assert report.per_class["c"].f1 == 1.0
    assert report.macro_recall == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.confusion == ((2, 1, 0), (1, 1, 0), (0, 0, 1))
    assert report.rows == 6


def test_a_class_never_predicted_scores_zero_not_an_error() -> None:
    report = score("m", ["a", "b"], ["a", "a"], ["a", "b"])
    assert report.per_class["b"].precision == 0.0
    assert report.per_class["b"].f1 == 0.0


def test_a_label_outside_the_task_counts_as_wrong() -> None:
    report = score("m", ["a", "b"], ["a", "zzz"], ["a", "b"])
    assert report.accuracy == 0.5
    assert report.rows == 1  # the stray prediction sits in no cell


def test_figures_name_their_units_and_the_table_lines_up() -> None:
    report = score("m", ["yes", "no"], ["yes", "yes"], ["yes", "no"], posts_per_s=1234.5)
    assert report.figures()["posts_per_s"] == 1234.5
    assert report.figures()["recall_no"] == 0.0
    lines = confusion_table(report)
    assert len({len(line) for line in lines}) == 1
    assert lines[1].split() == ["yes", "1", "0"]
