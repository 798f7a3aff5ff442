"""Read posts from CSV or JSON Lines with a column mapping, and turn them into RawPosts.

The cursor is the number of records already handed over, so a restart
resumes exactly where the last accepted batch ended.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbub.listening.types import RawPost

# Ready-made mappings for the data sets in ../shared/data/.
MAPPINGS: dict[str, dict[str, str]] = {
    "twcs": {
        "external_id": "tweet_id",
        "text": "text",
        "posted_at": "created_at",
        "author_handle": "author_id",
        "reply_to_external_id": "in_response_to_tweet_id",
    },
    "complaints": {"external_id": "tweet_id", "text": "text"},
    "generic": {
        "external_id": "id",
        "text": "text",
        "posted_at": "created_at",
        "author_handle": "author",
        "lang": "lang",
        "url": "url",
    },
}
TIME_FORMATS = ("%a %b %d %H:%M:%S %z %Y",)  # Twitter's created_at


class ReplayError(ValueError):
    """A record that cannot be replayed; says which line and why."""


@dataclass(frozen=True, slots=True)
class Record:
    number: int  # 1-based position in the file: the cursor after it is `number`
    values: Mapping[str, Any]


def read_records(path: Path, *, start_after: int = 0) -> Iterator[Record]:
    """Records of a .csv, .jsonl or .ndjson file, skipping the first `start_after`."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=1):
                if number > start_after:
                    yield Record(number, row)
    elif suffix in {".jsonl", ".ndjson"}:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if number <= start_after or not line.strip():
                    continue
                try:
                    values = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ReplayError(f"line {number}: not JSON ({error.msg})") from error
                if not isinstance(values, dict):
                    raise ReplayError(f"line {number}: expected a JSON object")
                yield Record(number, values)
    else:
        raise ReplayError(f"{path.name}: replay reads .csv, .jsonl or .ndjson files")


def parse_time(value: str, *, fallback: dt.datetime) -> dt.datetime:
    value = (value or "").strip()
    if not value:
        return fallback
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        for pattern in TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        else:
            return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def to_raw_post(
    record: Record,
    *,
    mapping: Mapping[str, str],
    workspace_id: int,
    source_id: int | None,
    platform: str,
    now: dt.datetime,
) -> RawPost:
    """Raises ReplayError for a record without an id or text."""

    def field(name: str) -> str:
        column = mapping.get(name)
        value = record.values.get(column) if column else None
        if value is None:
            return ""
        text = str(value).strip()
        # pandas-written CSVs turn integer ids into floats: "3.0" → "3".
        return text[:-2] if name.endswith("_id") and text.endswith(".0") else text

    external_id = field("external_id")
    text = field("text")
    if not external_id:
        raise ReplayError(f"record {record.number}: no id in column {mapping.get('external_id')!r}")
    if not text:
        raise ReplayError(f"record {record.number}: no text in column {mapping.get('text')!r}")
    return RawPost(
        workspace_id=workspace_id,
        source_id=source_id,
        platform=platform,
        external_id=external_id[:255],
        text=text,
        posted_at=parse_time(field("posted_at"), fallback=now),
        url=field("url"),
        lang=field("lang")[:16],
        author_handle=field("author_handle")[:255],
        reply_to_external_id=field("reply_to_external_id"),
        payload={key: value for key, value in record.values.items() if isinstance(key, str)},
    )
