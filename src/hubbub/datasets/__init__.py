"""Readers for the public data sets in `../shared/data/` (never copied into the project).

The folder is `HUBBUB_SHARED_DATA` when set, otherwise `../shared/data`
next to the working directory or next to the repository.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]


class DataMissing(FileNotFoundError):
    """The shared data folder, or a file in it, is not where Hubbub looks."""


def shared_data_dir() -> Path:
    configured = os.environ.get("HUBBUB_SHARED_DATA", "").strip()
    candidates = (
        [Path(configured)]
        if configured
        else [
            Path.cwd().parent / "shared" / "data",
            REPOSITORY.parent / "shared" / "data",
        ]
    )
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise DataMissing(f"no shared data folder (looked in {looked}); set HUBBUB_SHARED_DATA")


def _unescape(text: str) -> str:
    # The SemEval files escape some characters as \uXXXX.
    if "\\u" not in text:
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text


def semeval_texts(folder: Path) -> Iterator[str]:
    for path in sorted((folder / "semeval-sentiment").glob("*.tsv")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    yield _unescape(parts[2])


def twcs_texts(folder: Path) -> Iterator[str]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with (folder / "twcs" / "twcs-sample.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            if row.get("text"):
                yield row["text"]


def complaint_texts(folder: Path) -> Iterator[str]:
    with (folder / "complaints" / "complaints-dev.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            if row.get("text"):
                yield row["text"]


def post_texts(folder: Path | None = None) -> list[str]:
    """Every post text of the social data sets, in a fixed order."""
    folder = folder or shared_data_dir()
    return [*semeval_texts(folder), *twcs_texts(folder), *complaint_texts(folder)]


SENTIMENTS = ("negative", "neutral", "positive")


def semeval_sentiment(folder: Path | None = None) -> list[tuple[str, str, str]]:
    """(tweet id, label, text) of every SemEval row, in file order, duplicates by id dropped."""
    folder = folder or shared_data_dir()
    rows: dict[str, tuple[str, str, str]] = {}
    for path in sorted((folder / "semeval-sentiment").glob("*.tsv")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and parts[1] in SENTIMENTS:
                    rows.setdefault(parts[0], (parts[0], parts[1], _unescape(parts[2])))
    return list(rows.values())


def tweeteval_sentiment(folder: Path | None = None) -> list[tuple[str, str]]:
    """(label, text) of the TweetEval sentiment validation split."""
    folder = (folder or shared_data_dir()) / "tweeteval-sentiment"
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / "val_labels.txt").read_text(encoding="utf-8").split()
    return [(SENTIMENTS[int(label)], text) for label, text in zip(labels, texts, strict=True)]
