"""RSS and Atom feeds: blogs, forums, news, Google Alerts, app-store review feeds.

Read-only: a feed has no reply and no messages, so the composer links to the
page ("Open the page"). Settings: `url` (the feed), `poll_seconds`.

Each poll is one conditional GET through `connectors.http` (SSRF-guarded,
redirects checked hop by hop, the body capped at MAX_FEED_BYTES), sending
the ETag and Last-Modified the last answer gave; a 304 changes nothing.
The body is parsed by feedparser from the bytes (it never fetches).

The cursor (JSON) holds the validators, the digests of the entries already
handed over (the last SEEN_KEPT, so a feed that republishes old entries does
not repeat them; the database's unique key catches what falls out), and the
last problem recorded about the XML (recorded again only when it changes).
Every entry of a fetched feed is either a post or a rejection in the batch
that stores the cursor, so the cursor never covers an entry that was lost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hubbub.connectors import http
from hubbub.connectors.base import (
    Batch,
    Capabilities,
    ConnectorError,
    SourceConfig,
    excerpt,
    read_cursor,
    write_cursor,
)
from hubbub.connectors.rss import parse
from hubbub.core import clock, safe_http
from hubbub.listening.types import RawPost, Rejection

CAPABILITIES = Capabilities(
    listen=True,
    reply=False,
    private_message=False,
    profile=False,
    answer_on_platform_label="Open the page",
)

PLATFORM_NAME = "The feed"
# A feed is a page of recent entries; one this big is a mistake or an attack.
MAX_FEED_BYTES = 5_000_000
SEEN_KEPT = 2000
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


def poll(config: SourceConfig) -> Batch:
    """Fetch the feed if it changed; the entries not handed over before."""
    url = feed_url(config)
    state = read_cursor(config.cursor)
    response = fetch(url, etag=_text(state.get("etag")), modified=_text(state.get("modified")))
    if response.status_code == 304:
        return Batch(posts=[], cursor=config.cursor)
    feed = readable_feed(response)
    now = clock.now()
    seen = [item for item in state.get("seen") or [] if isinstance(item, str)]
    known = set(seen)
    posts: list[RawPost] = []
    rejected: list[Rejection] = []
    # Oldest first, so that the newest entries are the last to fall out of `seen`.
    for entry in reversed(feed.entries):
        parsed = parse.parse_entry(
            entry,
            feed=feed,
            feed_url=url,
            workspace_id=config.workspace_id,
            source_id=config.source_id,
            fetched_at=now,
            final_url=response.url,
        )
        marker = parse.digest(parsed.key)
        if marker in known:
            continue
        known.add(marker)
        seen.append(marker)
        if parsed.post is not None:
            posts.append(parsed.post)
        elif parsed.rejection is not None:
            rejected.append(parsed.rejection)
    if feed.problem and feed.problem != state.get("problem"):
        rejected.append(
            Rejection(
                f"The feed could be read only in part: {feed.problem}. "
                f"{len(feed.entries)} entries were read.",
                "",
                excerpt(response.text),
            )
        )
    cursor: dict[str, Any] = {"seen": seen[-SEEN_KEPT:]}
    for name, header in (("etag", "etag"), ("modified", "last-modified")):
        if response.headers.get(header):
            cursor[name] = response.headers[header]
    if feed.problem:
        cursor["problem"] = feed.problem
    return Batch(posts=posts, cursor=write_cursor(cursor), rejected=rejected)


def check(config: SourceConfig) -> str:
    """Fetch the feed once; say what it is called and how many entries it has."""
    feed = readable_feed(fetch(feed_url(config)))
    title = feed.title or urlsplit(feed_url(config)).hostname or "without a title"
    return f"Feed “{title}” with {len(feed.entries)} entries"


def feed_url(config: SourceConfig) -> str:
    url = config.setting("url").strip()
    if not url:
        raise ConnectorError(
            "The feed source has no address: enter the feed's URL.",
            transient=False,
            code="no_url",
        )
    return url


def fetch(url: str, *, etag: str = "", modified: str = "") -> safe_http.SafeResponse:
    """GET the feed, conditional on the validators given; 200 or 304, else ConnectorError."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    response = http.call(
        "GET",
        url,
        platform=PLATFORM_NAME,
        headers=headers,
        max_bytes=MAX_FEED_BYTES,
        ok=(200, 304, 404, 410),
    )
    if response.status_code in (404, 410):
        host = urlsplit(url).hostname or url
        gone = "is gone (410)" if response.status_code == 410 else "was not found (404)"
        raise ConnectorError(
            f"The feed at {host} {gone}: check its address.", transient=False, code="gone"
        )
    return response


def readable_feed(response: safe_http.SafeResponse) -> parse.Feed:
    """The parsed feed; a ConnectorError when nothing in it can be read.

    Transient: a feed that is broken now (a truncated answer, an error page
    served as 200) is usually fine at the next poll; the source shows why.
    """
    feed = parse.read_feed(response.content, content_type=response.headers.get("content-type", ""))
    if not feed.usable:
        host = urlsplit(response.url).hostname or response.url
        raise ConnectorError(
            f"Nothing could be read from {host}: {feed.problem}.",
            transient=True,
            code="not_a_feed",
        )
    return feed


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
