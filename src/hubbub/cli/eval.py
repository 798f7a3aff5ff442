"""`hubbub eval <task>`: measure a shipped model on the shared data, beside the baselines.

Pinned to one core first, so that posts/s means "on one core" whatever the
machine has.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubbub.intelligence.evaluation import TaskEvaluation

TASKS = ["sentiment", "complaint"]
HEADLINES = {"macro_recall": "macro recall", "macro_f1": "macro-F1"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=TASKS)
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(args: argparse.Namespace) -> int:
    pin_to_one_core()
    from hubbub.datasets import DataMissing
    from hubbub.intelligence import evaluation, training
    from hubbub.intelligence.linear import LinearModel

    model = LinearModel.load(training.model_path(args.task))
    try:
        if args.task == "sentiment":
            result = evaluation.evaluate_sentiment(model)
        else:
            result = evaluation.evaluate_complaint(training.train_complaint_on, model)
    except DataMissing as error:
        print(error, file=sys.stderr)
        return 2
    print_evaluation(result)
    if args.json:
        print(json.dumps(figures(result)))
    return 0


def print_evaluation(result: TaskEvaluation) -> None:
    from hubbub.intelligence.metrics import confusion_table

    headline = HEADLINES[result.headline]
    model = result.model
    print(f"hubbub eval {result.task}: {model.system}")
    print(f"  data: {result.data}")
    print(f"\n  {'class':<16}{'precision':>10}{'recall':>10}{'F1':>10}{'rows':>8}")
    for label, scores in model.per_class.items():
        print(
            f"  {label:<16}{scores.precision:>10.3f}{scores.recall:>10.3f}"
            f"{scores.f1:>10.3f}{scores.support:>8,}"
        )
    print("\n  confusion (rows: truth, columns: predicted)")
    for line in confusion_table(model):
        print(f"    {line}")
    print(f"\n  {'system':<42}{headline:>14}{'accuracy':>10}{'posts/s':>10}")
    for report in (model, *result.baselines):
        speed = f"{report.posts_per_s:,.0f}" if report.posts_per_s else "-"
        value = getattr(report, result.headline)
        print(f"  {report.system:<42}{value:>14.3f}{report.accuracy:>10.3f}{speed:>10}")
    for name in result.missing_baselines:
        print(f"  {name:<42}  not installed: pip install 'hubbub[train]'")
    if result.breakdown:
        print(f"\n  {'by domain':<20}{headline:>10}{'accuracy':>10}{'rows':>8}")
        for name, report in result.breakdown.items():
            value = getattr(report, result.headline)
            print(f"  {name:<20}{value:>10.3f}{report.accuracy:>10.3f}{report.rows:>8,}")


def figures(result: TaskEvaluation) -> dict[str, object]:
    """The JSON line: the model's figures flat, each baseline's under its name."""
    return {
        "task": result.task,
        "model": result.model.system,
        **result.model.figures(),
        "baselines": {report.system: report.figures() for report in result.baselines},
    }
