"""`hubbub eval <task>`: measure a shipped model on the shared data, beside the baseline."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=["sentiment"])
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )


def run(args: argparse.Namespace) -> int:
    from hubbub.datasets import DataMissing
    from hubbub.intelligence import training
    from hubbub.intelligence.linear import LinearModel

    model = LinearModel.load(training.model_path(args.task))
    try:
        result = training.evaluate_sentiment(model)
    except DataMissing as error:
        print(error, file=sys.stderr)
        return 2
    print(
        f"hubbub eval sentiment: {model.version} on TweetEval validation ({result.rows:,} tweets)"
    )
    for label in ("negative", "neutral", "positive"):
        print(
            f"  recall {label:<9} {result.recall[label]:.3f}   (lexicon baseline "
            f"{result.baseline_recall[label]:.3f})"
        )
    print(
        f"  macro recall     {result.recall['macro']:.3f}   (lexicon baseline "
        f"{result.baseline_recall['macro']:.3f}); accuracy {result.accuracy:.3f}"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "rows": result.rows,
                    "macro_recall": round(result.recall["macro"], 4),
                    "accuracy": round(result.accuracy, 4),
                    **{
                        f"recall_{k}": round(v, 4) for k, v in result.recall.items() if k != "macro"
                    },
                    "baseline_macro_recall": round(result.baseline_recall["macro"], 4),
                }
            )
        )
    return 0
