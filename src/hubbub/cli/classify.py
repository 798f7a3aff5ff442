"""`hubbub classify`: label posts from standard input or a file, one JSON object per line.

The input is one post per line (TweetEval's format) or, with `--column`,
CSV with a header. Output streams: each chunk read is labelled and written
at once, so `tail -f posts.txt | hubbub classify` answers as lines arrive.
The models and preprocessing are the pipeline's own (intelligence.interface).
Undecodable bytes are replaced, never fatal; an empty line still gets its
object, so output line N always answers input line N.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

BATCH = 500
CHUNK = 1 << 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task",
        default="all",
        choices=["sentiment", "complaint", "intent", "language", "all"],
        help="which label to give (default: all)",
    )
    parser.add_argument("--input", metavar="FILE", help="read this file instead of standard input")
    parser.add_argument(
        "--column", metavar="NAME", help="the input is CSV with a header; classify this column"
    )
    parser.add_argument("--echo", action="store_true", help="repeat each post's text in its object")


def text_lines(stream: BinaryIO) -> Iterator[list[str]]:
    """Batches of lines as they arrive: whatever one read gives, up to BATCH lines at a time."""
    pending = b""
    while chunk := _read_available(stream):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for start in range(0, len(complete), BATCH):
            yield [_decode(line) for line in complete[start : start + BATCH]]
    if pending:
        yield [_decode(pending)]


def _read_available(stream: BinaryIO) -> bytes:
    # os.read returns what the pipe holds now instead of waiting for a full buffer.
    try:
        return os.read(stream.fileno(), CHUNK)
    except (AttributeError, io.UnsupportedOperation):
        return stream.read(CHUNK)


def _decode(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", errors="replace")


def csv_column(stream: TextIO, column: str) -> Iterator[list[str]]:
    csv.field_size_limit(1 << 24)
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or column not in reader.fieldnames:
        found = ", ".join(reader.fieldnames or []) or "no header"
        raise ValueError(f"no column {column!r} in the CSV header ({found})")
    batch: list[str] = []
    for row in reader:
        batch.append(row.get(column) or "")
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def as_objects(texts: Sequence[str], tasks: Sequence[str], echo: bool) -> Iterator[str]:
    from hubbub.intelligence.interface import label_batch

    for text, labels in zip(texts, label_batch(texts, tasks), strict=True):
        record: dict[str, object] = {"text": text} if echo else {}
        for task, label in labels.items():
            record[task] = label.label
            record[f"{task}_confidence"] = label.confidence
        yield json.dumps(record, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    from hubbub.intelligence.interface import TASKS

    tasks = list(TASKS) if args.task == "all" else [args.task]
    try:
        binary = Path(args.input).open("rb") if args.input else sys.stdin.buffer  # noqa: SIM115
    except OSError as error:
        print(f"cannot read {args.input}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        if args.column:
            text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
            batches = csv_column(text, args.column)
        else:
            batches = text_lines(binary)
        for batch in batches:
            sys.stdout.write("".join(f"{line}\n" for line in as_objects(batch, tasks, args.echo)))
            sys.stdout.flush()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `hubbub classify | head` closes our output early; that is not an error.
        sys.stderr.close()
        return 0
    finally:
        if args.input:
            binary.close()
    return 0
