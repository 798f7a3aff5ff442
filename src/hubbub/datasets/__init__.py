"""Readers for the public data sets in `../shared/data/` (never copied into the project).

The folder is `HUBBUB_SHARED_DATA` when set, otherwise `../shared/data`
next to the working directory or next to the repository.
"""

from __future__ import annotations

import csv
import os
import sys
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass
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
        with warnings.catch_warnings():
            # Tweets hold stray backslashes ("\\m"); they stay as written, without a warning.
            warnings.simplefilter("ignore", DeprecationWarning)
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


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    tweet_id: str
    text: str
    is_complaint: bool
    domain: str  # apparel, transport, …; random_tweet / random_reply: not addressed to a brand


def complaints(folder: Path | None = None) -> list[ComplaintRow]:
    """The complaints data set (Preoțiuc-Pietro et al., 2019), in file order."""
    path = (folder or shared_data_dir()) / "complaints" / "complaints-dev.csv"
    if not path.is_file():
        raise DataMissing(f"no complaints data at {path}")
    with path.open(encoding="utf-8", newline="") as rows:
        return [
            ComplaintRow(row["tweet_id"], row["text"], row["label"] == "1", row["domain"])
            for row in csv.DictReader(rows)
            if row.get("text")
        ]


def twcs_texts_by_id(ids: Collection[str], folder: Path | None = None) -> dict[str, str]:
    """Text of the TWCS sample's tweets with these ids; ids not in the sample are left out."""
    path = (folder or shared_data_dir()) / "twcs" / "twcs-sample.csv"
    if not path.is_file():
        raise DataMissing(f"no TWCS sample at {path}")
    wanted = set(ids)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(encoding="utf-8", newline="") as rows:
        return {
            row["tweet_id"]: row["text"]
            for row in csv.DictReader(rows)
            if row["tweet_id"] in wanted
        }


def tweeteval_texts_by_line(lines: Collection[int], folder: Path | None = None) -> dict[int, str]:
    """Text of the TweetEval sentiment validation tweets on these 1-based lines, unescaped."""
    path = (folder or shared_data_dir()) / "tweeteval-sentiment" / "val_text.txt"
    if not path.is_file():
        raise DataMissing(f"no TweetEval validation text at {path}")
    texts = path.read_text(encoding="utf-8").splitlines()
    return {line: _unescape(texts[line - 1]) for line in lines if 0 < line <= len(texts)}


def twcs_customer_posts(folder: Path | None = None) -> list[tuple[str, str]]:
    """(tweet id, text) of the TWCS sample's customer tweets (inbound, with text), in file order.

    A tweet in the sample holds bare carriage returns, which splits it into a
    phantom row whose `inbound` is empty: `inbound == "True"` leaves it out.
    """
    folder = folder or shared_data_dir()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with (folder / "twcs" / "twcs-sample.csv").open(encoding="utf-8", newline="") as rows:
        return [
            (row["tweet_id"], row["text"])
            for row in csv.DictReader(rows)
            if row.get("inbound") == "True" and row.get("text")
        ]
