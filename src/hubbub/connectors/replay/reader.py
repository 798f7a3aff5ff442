"""Read posts from CSV, TSV, JSON Lines or plain text, and turn them into RawPosts.

The cursor is the number of records already handed over, so a restart
resumes exactly where the last accepted batch ended. In the line-based
formats (.tsv, .jsonl, .txt) a record's number is its line's number among
the data lines, blank lines included, so it never shifts.

A record that cannot be read (invalid UTF-8, a NUL, broken JSON, the wrong
number of fields) still gets its number, with a `problem`: the replay counts
it as a ReplayError and goes on.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbub.listening.types import RawPost


@dataclass(frozen=True, slots=True)
class Preset:
    """How to read one data set: which column holds what, and how the file is written."""

    mapping: Mapping[str, str]
    # Column names of a headerless .tsv file; empty when the file's first line names them.
    columns: tuple[str, ...] = ()
    # The text is CSV-quoted inside a TSV and escapes characters as \uXXXX (SemEval).
    unescape: bool = False
    # The text escapes &, < and > as HTML entities, as Twitter's API did (TWCS).
    html_entities: bool = False


# Ready-made presets for the data sets in ../shared/data/. nab-tweets/ has
# none: it holds mention counts per five minutes, not posts.
PRESETS: dict[str, Preset] = {
    "twcs": Preset(
        {
            "external_id": "tweet_id",
            "text": "text",
            "posted_at": "created_at",
            "author_handle": "author_id",
            "reply_to_external_id": "in_response_to_tweet_id",
        },
        html_entities=True,
    ),
    "complaints": Preset({"external_id": "tweet_id", "text": "text"}),
    "generic": Preset(
        {
            "external_id": "id",
            "text": "text",
            "posted_at": "created_at",
            "author_handle": "author",
            "lang": "lang",
            "url": "url",
        }
    ),
    # semeval-sentiment/*.tsv: tweet_id<TAB>label<TAB>text, no header; a few
    # lines of the 2016 test file add Twitter's created_at.
    "semeval": Preset(
        {"external_id": "tweet_id", "text": "text", "posted_at": "created_at"},
        columns=("tweet_id", "label", "text", "created_at"),
        unescape=True,
    ),
    # tweeteval-sentiment/val_text.txt: one tweet a line; ids come from the line.
    "tweeteval": Preset({"external_id": "id", "text": "text"}, unescape=True),
}
MAPPINGS: dict[str, dict[str, str]] = {name: dict(p.mapping) for name, p in PRESETS.items()}
TIME_FORMATS = ("%a %b %d %H:%M:%S %z %Y",)  # Twitter's created_at
SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt")


class ReplayError(ValueError):
    """A record that cannot be replayed; says which line and why."""


@dataclass(frozen=True, slots=True)
class Record:
    number: int  # 1-based position in the file: the cursor after it is `number`
    values: Mapping[str, Any]
    problem: str = ""  # why the record cannot be read; to_raw_post raises it


def read_records(
    path: Path, *, start_after: int = 0, columns: Sequence[str] = ()
) -> Iterator[Record]:
    """Records of a .csv, .tsv, .jsonl, .ndjson or .txt file, skipping the first `start_after`.

    A .tsv file names its columns on its first line unless `columns` names
    them. A .txt file holds one post a line; its records are
    `{"id": "<folder>/<file name>:<line>", "text": line}`. Raises
    ReplayError only for a file it does not read at all.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_records(path, start_after)
    elif suffix == ".tsv":
        yield from _tsv_records(path, start_after, tuple(columns))
    elif suffix in {".jsonl", ".ndjson"}:
        yield from _jsonl_records(path, start_after)
    elif suffix == ".txt":
        yield from _text_records(path, start_after)
    else:
        raise ReplayError(f"{path.name}: replay reads {', '.join(SUFFIXES)} files")


def _csv_records(path: Path, start_after: int) -> Iterator[Record]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    # surrogateescape keeps undecodable bytes visible to _unreadable, row by row.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        rows = csv.DictReader(handle)
        number = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as error:
                number += 1
                if number > start_after:
                    yield Record(number, {}, f"record {number}: not CSV ({error})")
                continue
            number += 1
            if number > start_after:
                problem = _unreadable(row)
                yield Record(
                    number, {} if problem else row, problem and f"record {number}: {problem}"
                )


def _lines(path: Path, start_after: int) -> Iterator[tuple[int, str]]:
    """(number, text) of each line after the first `start_after`; undecodable bytes escaped.

    Lines end at a line feed only: a stray carriage return inside a post does not split it.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number <= start_after:
                continue
            text = raw.decode("utf-8", errors="surrogateescape").rstrip("\r\n")
            yield number, text.removeprefix("\ufeff") if number == 1 else text


def _tsv_records(path: Path, start_after: int, columns: tuple[str, ...]) -> Iterator[Record]:
    header = 0
    if not columns:
        with path.open("rb") as handle:
            first = handle.readline().decode("utf-8", errors="replace").removeprefix("\ufeff")
        columns, header = tuple(first.rstrip("\r\n").split("\t")), 1
    for line, text in _lines(path, start_after + header):
        number = line - header
        if not text.strip():
            continue
        fields = text.split("\t")
        problem = _unreadable(fields)
        # Missing trailing fields read as empty, and empty extra ones are ignored
        # (SemEval's 2016 test file ends most lines with a tab, a few with a time).
        if not problem and any(f.strip() for f in fields[len(columns) :]):
            problem = f"expected at most {len(columns)} tab-separated fields, found {len(fields)}"
        if problem:
            yield Record(number, {}, f"line {line}: {problem}")
        else:
            yield Record(number, dict(zip(columns, fields, strict=False)))


def _jsonl_records(path: Path, start_after: int) -> Iterator[Record]:
    for number, line in _lines(path, start_after):
        if not line.strip():
            continue
        problem = _unreadable(line)
        values: Any = {}
        if not problem:
            try:
                values = json.loads(line)
            except json.JSONDecodeError as error:
                problem = f"not JSON ({error.msg})"
            else:
                if not isinstance(values, dict):
                    problem, values = "expected a JSON object", {}
                else:
                    problem = _unreadable(values)  # escapes such as \u0000 in the JSON
        yield Record(number, {} if problem else values, problem and f"line {number}: {problem}")


def _text_records(path: Path, start_after: int) -> Iterator[Record]:
    # The data sets that come as text lines have no ids: the line is the id.
    prefix = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    for number, line in _lines(path, start_after):
        if not line.strip():
            continue
        problem = _unreadable(line)
        values = {} if problem else {"id": f"{prefix}:{number}", "text": line}
        yield Record(number, values, problem and f"line {number}: {problem}")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unreadable(value: object) -> str:
    """Why a decoded value cannot be stored, or "".

    Undecodable bytes arrive as lone surrogates (surrogateescape); JSON can
    spell lone surrogates and NULs as escapes. PostgreSQL refuses both.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):
            return "not valid UTF-8"
        return "contains a NUL character" if "\x00" in value else ""
    if isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return next((problem for item in value if (problem := _unreadable(item))), "")
    return ""


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_QUOTE_RUN = re.compile(r'\\?"+')


def unescape(text: str) -> str:
    """SemEval's text: CSV quotes inside a TSV, \\" for a quote, \\uXXXX for a character.

    Some files were CSV-quoted twice, so one quote can be two, four, or a
    backslash and four: a run of quotes reads as one.
    """
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    text = _QUOTE_RUN.sub('"', text)
    if "\\u" in text:
        text = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
        # Join escaped surrogate pairs; a lone half becomes U+FFFD, never invalid text.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "")


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
    unescape_text: bool = False,
    html_entities: bool = False,
) -> RawPost:
    """Raises ReplayError for a record that could not be read, or has no id or text.

    unescape_text undoes SemEval's quoting and \\uXXXX escapes (Preset.unescape);
    html_entities turns &amp;, &lt; and &gt; back into characters (Preset.html_entities).
    """
    if record.problem:
        raise ReplayError(record.problem)

    def field(name: str) -> str:
        column = mapping.get(name)
        value = record.values.get(column) if column else None
        if value is None:
            return ""
        text = str(value).strip()
        # pandas-written CSVs turn integer ids into floats: "3.0" → "3".
        return text[:-2] if name.endswith("_id") and text.endswith(".0") else text

    external_id = field("external_id")
    text = unescape(field("text")).strip() if unescape_text else field("text")
    if html_entities:
        text = html.unescape(text)
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
