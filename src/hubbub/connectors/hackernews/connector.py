"""Hacker News: listening through Algolia's HN Search API; read-only.

Hacker News has no write API and no private messages, so a reply is a link
to the item ("Open on Hacker News"). Mentions come from
`GET {base}/api/v1/search_by_date?query=…&tags=(story,comment)
&numericFilters=created_at_i>=X&hitsPerPage=100&page=N`, newest first, no
authentication, about 10,000 requests an hour per IP. Profiles come from
`GET {base}/api/v1/users/<username>` (username, about, karma, created_at).

Settings: `query` (required), `tags` (default "(story,comment)"),
`base_url` (default https://hn.algolia.com), `poll_seconds`, and optionally
`page_size` (hits per page, at most 1000), `lookback_hours` (how far back a
new source starts, default 24) and `overlap_seconds` (see below).

The cursor (JSON) says what is covered:

- `newest`: the newest `created_at_i` seen; each read asks for
  `created_at_i >= newest - overlap` and skips the `seen` objectIDs (with
  their times, the ones inside the overlap). The overlap re-reads the last
  couple of minutes because HN Search indexes an item a little after it was
  written: an item may turn up after newer ones were already read.
- `backlog`: `{"from", "to", "seen"}` while an older part of a read is still
  to come. Search results are newest first and capped (`hitsPerPage` ×
  pages, and about 1,000 hits in all), so a busy query is read in slices:
  a read that did not reach the end keeps the newest hits, and the range
  from `from` up to the oldest hit read (`to`, whose objectIDs are in
  `seen`) is read next, bounded by time rather than by page number, so items
  that arrive or disappear meanwhile cannot shift a page past anything.

The cursor only ever covers what the same batch stores or rejects.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hubbub.connectors import http
from hubbub.connectors.base import (
    Batch,
    Capabilities,
    ConnectorError,
    Profile,
    RateBudget,
    SourceConfig,
    read_cursor,
    write_cursor,
)
from hubbub.connectors.hackernews import parse
from hubbub.core import clock
from hubbub.listening.types import RawPost, Rejection

CAPABILITIES = Capabilities(
    listen=True,
    reply=False,
    private_message=False,
    profile=True,
    answer_on_platform_label="Open on Hacker News",
)

PLATFORM_NAME = "Hacker News"
DEFAULT_BASE_URL = "https://hn.algolia.com"
DEFAULT_TAGS = "(story,comment)"
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # Algolia's hitsPerPage limit
# Pages read in one poll: a poll that stops short says `more`, and the loop polls again at once.
PAGES_PER_POLL = 5
LOOKBACK_HOURS = 24.0
OVERLAP_SECONDS = 120
# objectIDs kept in the cursor to skip re-read hits; beyond this, the
# database's unique key still keeps a re-read hit from being stored twice.
SEEN_KEPT = 2000
CHECK_DAYS = 7
# HN user names: letters, digits, dashes and underscores.
_USERNAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True, slots=True)
class Search:
    base_url: str
    query: str
    tags: str
    page_size: int
    overlap: int
    lookback: dt.timedelta


@dataclass(slots=True)
class Backlog:
    """The older part of a read still to come: `from_` ≤ created_at_i ≤ `to`,
    without the objectIDs in `seen` (read already, at second `to`)."""

    from_: int
    to: int
    seen: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Coverage:
    """What the cursor says has been read (see the module docstring)."""

    newest: int
    seen: dict[str, int]
    backlog: Backlog | None = None

    def to_cursor(self) -> str:
        value: dict[str, Any] = {"newest": self.newest, "seen": self.seen}
        if self.backlog is not None:
            value["backlog"] = {
                "from": self.backlog.from_,
                "to": self.backlog.to,
                "seen": sorted(self.backlog.seen),
            }
        return write_cursor(value)


@dataclass(slots=True)
class Read:
    """What one poll's pages held."""

    parsed: list[parse.Parsed] = field(default_factory=list)
    times: list[tuple[str, int]] = field(default_factory=list)  # every hit with a time
    complete: bool = True
    budget: RateBudget | None = None


def poll(config: SourceConfig) -> Batch:
    """Read the next slice of search results after the cursor (see the module docstring)."""
    search = search_of(config)
    coverage = coverage_of(config.cursor, search)
    if coverage.backlog is not None:
        low, high = coverage.backlog.from_, coverage.backlog.to
        skip = set(coverage.seen) | coverage.backlog.seen
    else:
        low, high, skip = coverage.newest - search.overlap, None, set(coverage.seen)
    read = read_range(search, low=low, high=high, config=config)
    posts: list[RawPost] = []
    rejected: list[Rejection] = []
    fresh: list[parse.Parsed] = []
    for item in read.parsed:
        if item.key in skip:
            continue
        skip.add(item.key)
        fresh.append(item)
        if item.post is not None:
            posts.append(item.post)
        elif item.rejection is not None:
            rejected.append(item.rejection)
    rejected += advance(coverage, read, fresh, low=low, search=search)
    return Batch(
        posts=posts,
        cursor=coverage.to_cursor(),
        rejected=rejected,
        more=coverage.backlog is not None,
        budget=read.budget,
    )


def check(config: SourceConfig) -> str:
    """Run the source's search once over the last week; say how many results it has."""
    search = search_of(config)
    since = int(clock.now().timestamp()) - CHECK_DAYS * 86_400
    body = search_page(search, low=since, high=None, page=0, page_size=1)[0]
    hits = body.get("nbHits")
    count = hits if isinstance(hits, int) else len(body.get("hits") or [])
    return f"Hacker News search for “{search.query}” works ({count} recent results)"


def fetch_profile(config: SourceConfig, handle: str) -> Profile:
    """The user's HN Search record: about, karma (no followers on HN), created."""
    username = handle.strip().lstrip("@")
    if not _USERNAME.fullmatch(username):
        raise ConnectorError(
            f"“{handle}” is not a Hacker News user name.", transient=False, code="bad_handle"
        )
    base = config.setting("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    url = f"{base.rstrip('/')}/api/v1/users/{quote(username)}"
    response = http.call("GET", url, platform=PLATFORM_NAME, ok=(200, 404))
    if response.status_code == 404:
        raise ConnectorError(
            f"Hacker News has no user “{username}”.", transient=False, code="not_found"
        )
    profile = parse.parse_user(http.json_of(response, platform=PLATFORM_NAME), username)
    if profile is None:
        raise ConnectorError(
            "Hacker News answered the profile request with something that is not a user.",
            transient=True,
            code="malformed",
        )
    return profile


def search_of(config: SourceConfig) -> Search:
    query = config.setting("query").strip()
    if not query:
        raise ConnectorError(
            "The Hacker News source has no search query: enter the words to listen for.",
            transient=False,
            code="no_query",
        )
    return Search(
        base_url=config.setting("base_url", DEFAULT_BASE_URL).strip() or DEFAULT_BASE_URL,
        query=query,
        tags=config.setting("tags", DEFAULT_TAGS).strip() or DEFAULT_TAGS,
        page_size=_bounded(config.settings.get("page_size"), PAGE_SIZE, 1, MAX_PAGE_SIZE),
        overlap=_bounded(config.settings.get("overlap_seconds"), OVERLAP_SECONDS, 0, 86_400),
        lookback=dt.timedelta(
            hours=_bounded(config.settings.get("lookback_hours"), int(LOOKBACK_HOURS), 0, 24 * 90)
        ),
    )


def coverage_of(cursor: str, search: Search) -> Coverage:
    """The cursor's coverage; a new (or unreadable) cursor starts `lookback` ago."""
    value = read_cursor(cursor)
    newest = value.get("newest")
    if not isinstance(newest, int) or isinstance(newest, bool):
        start = int((clock.now() - search.lookback).timestamp())
        return Coverage(newest=start + search.overlap, seen={})
    seen_value = value.get("seen")
    seen = (
        {str(k): v for k, v in seen_value.items() if isinstance(v, int)}
        if isinstance(seen_value, dict)
        else {}
    )
    backlog = None
    stored = value.get("backlog")
    if isinstance(stored, dict):
        low, high = stored.get("from"), stored.get("to")
        if isinstance(low, int) and isinstance(high, int) and low <= high:
            ids = stored.get("seen")
            backlog = Backlog(low, high, {str(i) for i in ids} if isinstance(ids, list) else set())
    return Coverage(newest=newest, seen=seen, backlog=backlog)


def read_range(search: Search, *, low: int, high: int | None, config: SourceConfig) -> Read:
    """Up to PAGES_PER_POLL pages of hits with low ≤ created_at_i (≤ high), newest first.

    `complete` is whether the pages held every hit in the range: not when the
    poll's page allowance ran out, nor when Algolia's cap on paging (about
    1,000 hits) left hits unreachable (nbHits says more than were returned).
    """
    read = Read()
    returned = 0
    for page in range(PAGES_PER_POLL):
        body, budget = search_page(search, low=low, high=high, page=page)
        read.budget = budget
        hits = body["hits"]
        returned += len(hits)
        for hit in hits:
            item = parse.parse_hit(
                hit, workspace_id=config.workspace_id, source_id=config.source_id
            )
            read.parsed.append(item)
            if item.created_at_i is not None:
                read.times.append((item.key, item.created_at_i))
        pages, total = _count(body, "nbPages"), _count(body, "nbHits")
        if not hits or page + 1 >= pages:
            read.complete = returned >= total
            return read
    read.complete = False
    return read


def search_page(
    search: Search, *, low: int, high: int | None, page: int, page_size: int | None = None
) -> tuple[dict[str, Any], RateBudget | None]:
    """One page of `search_by_date`, checked to have the envelope's shape."""
    filters = f"created_at_i>={low}" + (f",created_at_i<={high}" if high is not None else "")
    url = http.url_with(
        search.base_url,
        "/api/v1/search_by_date",
        {
            "query": search.query,
            "tags": search.tags,
            "numericFilters": filters,
            "hitsPerPage": page_size or search.page_size,
            "page": page,
        },
    )
    response = http.call("GET", url, platform=PLATFORM_NAME)
    body = http.json_of(response, platform=PLATFORM_NAME)
    if not isinstance(body, dict) or not isinstance(body.get("hits"), list):
        raise ConnectorError(
            "Hacker News search answered without a list of hits.", transient=True, code="malformed"
        )
    budget = http.budget_of(response)
    return body, (budget if budget.remaining is not None else None)


def advance(
    coverage: Coverage, read: Read, fresh: list[parse.Parsed], *, low: int, search: Search
) -> list[Rejection]:
    """Move `coverage` past what `read` held; returns problems worth recording.

    Everything read is in the batch (as a post or a rejection), so the
    newest time read may become `newest` even when older hits are still to
    come: those are the backlog, from `low` up to the oldest hit read.
    """
    problems: list[Rejection] = []
    if read.times:
        coverage.newest = max(coverage.newest, max(t for _, t in read.times))
    for item in fresh:
        # A hit without a usable time is remembered as of the newest read,
        # so that the overlap does not reject it again.
        coverage.seen[item.key] = item.created_at_i or coverage.newest
    previous = coverage.backlog
    if read.complete or not read.times:
        coverage.backlog = None
    else:
        oldest = min(t for _, t in read.times)
        at_oldest = {key for key, t in read.times if t == oldest}
        if previous is not None and previous.to == oldest:
            at_oldest |= previous.seen
        coverage.backlog = Backlog(low, oldest, at_oldest)
        if previous is not None and previous.to == oldest and not fresh:
            # Every hit of a full read was at one second, and read before: more
            # items share that second than paging can reach. Go on below it.
            problems.append(
                Rejection(
                    f"More than {PAGES_PER_POLL * search.page_size} items at "
                    f"{dt.datetime.fromtimestamp(oldest, tz=dt.UTC):%Y-%m-%d %H:%M:%S} UTC; "
                    "some of them may be missing."
                )
            )
            coverage.backlog = Backlog(low, oldest - 1) if oldest - 1 >= low else None
    _forget_old(coverage, search.overlap)
    return problems


def _forget_old(coverage: Coverage, overlap: int) -> None:
    """Keep the objectIDs a later read can return again: inside the overlap, at most SEEN_KEPT."""
    horizon = coverage.newest - overlap
    kept = sorted(((t, key) for key, t in coverage.seen.items() if t >= horizon), reverse=True)[
        :SEEN_KEPT
    ]
    coverage.seen = {key: t for t, key in kept}


def _count(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConnectorError(
        f"Hacker News search answered without {name}.", transient=True, code="malformed"
    )


def _bounded(value: object, default: int, low: int, high: int) -> int:
    try:
        number = int(str(value)) if value not in (None, "") else default
    except ValueError:
        number = default
    return max(low, min(high, number))
