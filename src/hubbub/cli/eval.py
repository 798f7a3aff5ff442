"""`hubbub eval <task>`: measure a shipped model on the shared data, beside the baselines.

Pinned to one core first, so that posts/s means "on one core" whatever the
machine has.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubbub.intelligence.evaluation import TaskEvaluation
    from hubbub.intelligence.linear import LinearModel

TASKS = ["sentiment", "complaint", "intent", "language"]
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

    try:
        if args.task == "language":
            return _language(args)
        result = _evaluate(args.task)
    except DataMissing as error:
        print(error, file=sys.stderr)
        return 2
    print_evaluation(result)
    extra: dict[str, object] = {}
    if args.task == "complaint":
        extra = _complaint_encoder()
    default_set = default_set_speed()
    print(
        f"\n  the pipeline's default set (sentiment, intent, language): {default_set:,.0f} posts/s"
    )
    if args.json:
        print(
            json.dumps(
                {**figures(result), **extra, "default_set_posts_per_s": round(default_set, 1)}
            )
        )
    return 0


def default_set_speed() -> float:
    """Posts/s of what the pipeline runs on every matched post, on one core, real posts."""
    from hubbub.cli.bench_classify import DEFAULT_SET, measure
    from hubbub.datasets import post_texts

    corpus = post_texts()
    texts = [corpus[n * 7 % len(corpus)] for n in range(3000)]
    speed, _ = measure(texts, DEFAULT_SET, 500)
    return speed


def _evaluate(task: str) -> TaskEvaluation:
    from hubbub.intelligence import evaluation, intent_set, training
    from hubbub.intelligence.intent import IntentModel
    from hubbub.intelligence.linear import LinearModel

    if task == "intent":
        return evaluation.evaluate_intent(
            IntentModel.load(training.model_path("intent")),
            sentiment=LinearModel.load(training.model_path("sentiment")),
            complaint=LinearModel.load(training.model_path("complaint")),
            training_posts=intent_set.training_set(),
        )
    model = LinearModel.load(training.model_path(task))
    if task == "sentiment":
        return _sentiment(model)
    return evaluation.evaluate_complaint(training.train_complaint_on, model)


def _sentiment(linear: LinearModel) -> TaskEvaluation:
    """The pipeline's sentiment (the cascade, by default) through the pipeline's own call,
    with the linear model and the encoder alone beside it."""
    from hubbub.intelligence import evaluation, interface

    class Pipeline:
        version = interface.sentiment_version() or "lexicon"

        def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
            rows = interface.label_batch(texts, ["sentiment"])
            return [(row["sentiment"].label, row["sentiment"].confidence) for row in rows]

    pipeline = Pipeline()
    encoder = interface.encoder_model()
    parts = [m for m in (linear, encoder) if m is not None and m.version != pipeline.version]
    return evaluation.evaluate_sentiment(pipeline, alternatives=parts)


def _complaint_encoder() -> dict[str, object]:
    """The accurate complaint label (what `hubbub classify --task complaint` gives): its
    cross-validation figures from training (ten fine-tunings take a quarter of an hour), and
    the shipped files measured now on the posts none of them trained on."""
    from hubbub.intelligence import evaluation, interface

    blend = interface.complaint_blend()
    if blend is None:
        print("\n  the complaint encoder is not installed: the linear model labels complaints")
        return {}
    card = blend.encoder.card
    print(f"\n  {blend.encoder.version}, blended with the linear model: {card['evaluation']}")
    held_out = evaluation.evaluate_complaint_held_out([blend, blend.encoder, blend.linear])
    print(f"\n  {'held out (380 posts no model trained on)':<42}{'macro-F1':>14}{'accuracy':>10}")
    for report in held_out:
        print(f"  {report.system:<42}{report.macro_f1:>14.3f}{report.accuracy:>10.3f}")
    cv = card.get("figures", {})
    return {
        "encoder_blend": {
            "cv_macro_f1": cv.get("macro_f1") if isinstance(cv, dict) else None,
            "cv_accuracy": cv.get("accuracy") if isinstance(cv, dict) else None,
            "held_out": {report.system: report.figures() for report in held_out},
        }
    }


def _language(args: argparse.Namespace) -> int:
    from hubbub.intelligence.language import LanguageModelMissing, evaluate_language

    try:
        result = evaluate_language()
    except LanguageModelMissing as error:
        print(error, file=sys.stderr)
        return 2
    systems = [
        ("fastText, all", result.unrestricted),
        ("fastText, the 13", result.restricted),
    ]
    if result.baseline is not None:
        systems.append(("lingua, the 13", result.baseline))
    print(f"hubbub eval language: {result.model} (the 13: the evaluation set's languages)")
    print(
        f"  data: {result.posts} short posts ({result.english_posts} real English posts from "
        "twcs and TweetEval, the rest written by the team in 12 languages)"
    )
    groups = list(result.restricted.accuracy)
    print(f"\n  {'accuracy by language':<24}" + "".join(f"{name[:14]:>16}" for name, _ in systems))
    for group in groups:
        print(
            f"  {group:<24}"
            + "".join(f"{scores.accuracy.get(group, 0.0):>16.3f}" for _, scores in systems)
        )
    print("\n  wrong answers (language: answer × posts), fastText limited to the 13")
    for group in (group for group in groups if len(group) == 2):  # languages, not "mixed"
        wrong = sorted(
            (count, answer)
            for (truth, answer), count in result.restricted.confusion.items()
            if truth == group and answer != group
        )
        if wrong:
            listed = ", ".join(f"{answer} ×{count}" for count, answer in reversed(wrong))
            print(f"    {group:<12} {listed}")
    print(f"\n  {'system':<42}{'accuracy':>10}{'en→other':>10}{'posts/s':>10}")
    for name, scores in systems:
        speed = 1e6 / scores.microseconds_per_post
        print(
            f"  {name:<42}{scores.overall:>10.3f}"
            f"{scores.english_false_foreign:>10.3f}{speed:>10,.0f}"
        )
    if result.baseline is None:
        print("  lingua not installed: pip install 'hubbub[train]' to compare with it")
    if args.json:
        print(
            json.dumps(
                {
                    "task": "language",
                    "model": result.model,
                    "rows": result.posts,
                    "accuracy": round(result.unrestricted.overall, 4),
                    "accuracy_limited": round(result.restricted.overall, 4),
                    "english_false_foreign": round(result.unrestricted.english_false_foreign, 4),
                    "posts_per_s": round(1e6 / result.unrestricted.microseconds_per_post, 1),
                    "baselines": {}
                    if result.baseline is None
                    else {
                        "lingua": {
                            "accuracy": round(result.baseline.overall, 4),
                            "english_false_foreign": round(
                                result.baseline.english_false_foreign, 4
                            ),
                            "posts_per_s": round(1e6 / result.baseline.microseconds_per_post, 1),
                        }
                    },
                }
            )
        )
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
    for report in (model, *result.alternatives, *result.baselines):
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
        "alternatives": {report.system: report.figures() for report in result.alternatives},
        "baselines": {report.system: report.figures() for report in result.baselines},
    }
