"""`hubbub train <task>`: reproduce a shipped model from ../shared/data (seeded)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

TASKS = ["sentiment", "complaint", "intent", "sentiment-encoder", "complaint-encoder"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=TASKS)
    parser.add_argument(
        "--with-corrections",
        action="store_true",
        help="also learn from the labels agents corrected in this installation's database "
        "(set HUBBUB_MODEL_DIR to keep the result apart from the shipped models)",
    )


def _progress_bar(done: int, total: int) -> None:
    # Redrawn only when the percentage moves (a few hundred times, not thousands).
    if done != total and done * 100 // total == (done - 1) * 100 // total:
        return
    width = 40
    filled = width * done // total
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done * 100 // total:3d}%")
    if done == total:
        sys.stderr.write("\n")


def _corrections(task: str) -> list[tuple[str, str]]:
    """The database is needed only here: the public data sets are files."""
    from hubbub.cli.main import setup_django

    setup_django()
    from hubbub.intelligence.selectors import corrections_for_training

    # The complaint detector learns from intent corrections: complaint or not.
    corrections = corrections_for_training("intent" if task == "complaint" else task)
    print(f"adding {len(corrections):,} corrected mention(s) to the public data")
    return corrections


def _encoder(args: argparse.Namespace) -> int:
    """A fine-tuned encoder: 10–15 minutes on two free cores; needs the `train` extra."""
    from hubbub.datasets import DataMissing
    from hubbub.intelligence import training
    from hubbub.intelligence.encoder import EncoderSentiment, default_path

    started = time.perf_counter()
    name = default_path().name if args.task == "sentiment-encoder" else "complaint-encoder.onnx"
    output = (training.local_models() or default_path().parent) / name
    try:
        if args.task == "sentiment-encoder":
            from hubbub.intelligence.encoder_training import train_encoder_sentiment

            path = train_encoder_sentiment(output=output, progress=_progress_bar)
        else:
            # Ten cross-validation fine-tunings for the card, then the shipped one: ~15 min.
            from hubbub.intelligence.encoder_complaint import train_encoder_complaint

            path = train_encoder_complaint(output=output)
    except (DataMissing, ImportError) as error:
        print(f"{error} (the encoder trains with: pip install 'hubbub[train]')", file=sys.stderr)
        return 2
    model = EncoderSentiment.load(path)
    print(f"{model.version}: {model.card['evaluation']}")
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, the card inside) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from hubbub.datasets import DataMissing
    from hubbub.intelligence import training

    if args.task.endswith("-encoder"):
        if args.with_corrections:
            print("the encoder does not learn from corrections yet", file=sys.stderr)
            return 2
        return _encoder(args)

    trainers: dict[
        str, Callable[[training.Progress, training.Corrections], training.ShippedModel]
    ] = {
        "sentiment": training.train_sentiment,
        "complaint": training.train_complaint,
        "intent": training.train_intent,
    }
    started = time.perf_counter()
    corrections = _corrections(args.task) if args.with_corrections else []
    try:
        model = trainers[args.task](_progress_bar, corrections)
    except DataMissing as error:
        print(error, file=sys.stderr)
        return 2
    path = training.output_path(args.task)
    model.save(path)
    card = training.write_card(args.task, model)
    print(f"{model.version}: {model.card['evaluation']}")
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {card.name} in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0
