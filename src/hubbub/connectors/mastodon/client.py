"""Mastodon's REST API as the reader uses it: which endpoint a source reads, one page
of it from a cursor, and the Link header that pages it.

A source reads one or two *feeds* (a hashtag's timeline, the brand's mention
notifications, a status search, the public or home timeline). The cursor is
a JSON object with the newest id read from each feed, `{"tag": "1131…"}`;
ids belong to one instance, so each source (one instance) has its own.

Paging: `min_id=<newest seen>` returns the page immediately newer than it,
so a source that was away for a while walks forward through what it missed,
40 at a time, and never skips the middle. The next cursor is the `min_id`
of the response's `Link: <…>; rel="prev"` URL, which is what the server
itself would page to (it covers statuses it filtered out of the page), else
the newest id in the page.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from hubbub.connectors import http
from hubbub.connectors.base import ConnectorError, RateBudget, SourceConfig
from hubbub.core import safe_http

PLATFORM = "Mastodon"
PAGE_SIZE = 40  # the most Mastodon gives per page of a timeline or a search

_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,"]+=(?:"[^"]*"|[^;,]*))*)')
_PARAM = re.compile(r';\s*([^;=\s]+)\s*=\s*(?:"([^"]*)"|([^;,\s]*))')


@dataclass(frozen=True, slots=True)
class Feed:
    """One REST endpoint a source reads, and what its items are."""

    key: str  # the cursor's key for it
    path: str
    params: dict[str, Any]
    items: str  # "statuses", "notifications" or "search"
    needs_token: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    links: dict[str, str]
    budget: RateBudget


def instance_of(config: SourceConfig) -> str:
    """The instance's base URL ("https://mastodon.social") from the source's settings."""
    return base_url(config.setting("instance"))


def base_url(value: str) -> str:
    value = value.strip()
    if not value:
        raise ConnectorError("Enter the Mastodon server's address.", transient=False)
    if "://" not in value:
        value = "https://" + value.lstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConnectorError(f"{value!r} is not a server address.", transient=False)
    return f"{parts.scheme}://{parts.netloc}"


def host_of(base: str) -> str:
    return (urlsplit(base).hostname or "").lower()


_domains: dict[str, str] = {}
_domains_lock = threading.Lock()


def local_domain(base: str, *, token: str) -> str:
    """The domain in the handles of the instance's own accounts (`user@domain`).

    Usually the host of its address, but a server may live at
    social.example.com and name its accounts @example.com: its
    /api/v1/instance `uri` says which. Asked once per process and instance;
    a server that has no such endpoint is taken at its host. Raises a
    transient ConnectorError when the instance does not answer.
    """
    with _domains_lock:
        known = _domains.get(base)
    if known:
        return known
    try:
        answer = http.json_of(get(base, "/api/v1/instance", token=token), platform=PLATFORM)
    except ConnectorError as error:
        if error.transient:
            raise
        answer = {}
    uri = answer.get("uri") if isinstance(answer, dict) else None
    domain = uri if isinstance(uri, str) and uri else ""
    # v1 gives the bare domain; some servers put a URL there.
    domain = (urlsplit(domain).hostname or "") if "://" in domain else domain
    domain = domain.strip().lower() or host_of(base)
    with _domains_lock:
        _domains[base] = domain
    return domain


def token_of(config: SourceConfig) -> str:
    return config.credentials.get("access_token", "").strip()


def auth_headers(token: str) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def feeds_of(config: SourceConfig) -> list[Feed]:
    """The feeds the source's mode reads; raises ConnectorError for settings that cannot work."""
    mode = config.setting("mode", "hashtag") or "hashtag"
    if mode == "hashtag":
        return [hashtag_feed(config)]
    if mode == "mentions":
        return [mentions_feed()]
    if mode == "search":
        query = config.setting("query").strip()
        if not query:
            raise ConnectorError("Enter what to search for.", transient=False)
        return [Feed("search", "/api/v2/search", {"q": query, "type": "statuses"}, "search")]
    if mode == "stream":
        stream = config.setting("stream", "hashtag") or "hashtag"
        if stream == "hashtag":
            return [hashtag_feed(config)]
        if stream == "public":
            return [Feed("public", "/api/v1/timelines/public", {}, "statuses")]
        if stream == "user":
            home = Feed("home", "/api/v1/timelines/home", {}, "statuses", needs_token=True)
            return [home, mentions_feed()]
        raise ConnectorError(f"Mastodon has no {stream!r} stream Hubbub reads.", transient=False)
    raise ConnectorError(f"{mode!r} is not a way Hubbub listens to Mastodon.", transient=False)


def hashtag_of(config: SourceConfig) -> str:
    tag = config.setting("hashtag").strip().lstrip("#").strip()
    if not tag:
        raise ConnectorError("Enter the hashtag to follow (without the #).", transient=False)
    return tag


def hashtag_feed(config: SourceConfig) -> Feed:
    path = f"/api/v1/timelines/tag/{quote(hashtag_of(config), safe='')}"
    return Feed("tag", path, {}, "statuses")


def mentions_feed() -> Feed:
    return Feed(
        "mentions", "/api/v1/notifications", {"types[]": ["mention"]}, "notifications", True
    )


def get(
    base: str, path: str, *, token: str, params: dict[str, Any] | None = None
) -> safe_http.SafeResponse:
    """One GET to the instance; raises ConnectorError as `connectors.http.call` does."""
    return http.call(
        "GET", http.url_with(base, path, params), platform=PLATFORM, headers=auth_headers(token)
    )


def read_page(base: str, feed: Feed, *, token: str, min_id: str) -> Page:
    """The page of `feed` just newer than `min_id` (the newest page when there is none)."""
    if feed.needs_token and not token:
        raise ConnectorError(
            "Reading mentions or the home timeline needs the brand account's access token.",
            transient=False,
            code="no_token",
        )
    params = {**feed.params, "limit": PAGE_SIZE, "min_id": min_id or None}
    try:
        response = get(base, feed.path, token=token, params=params)
    except ConnectorError as error:
        raise _explained(feed, error) from error
    body = http.json_of(response, platform=PLATFORM)
    if feed.items == "search":
        items = body.get("statuses") if isinstance(body, dict) else None
    else:
        items = body
    if not isinstance(items, list):
        raise ConnectorError(
            f"Mastodon answered {feed.path} with something other than a list of "
            f"{'statuses' if feed.items != 'notifications' else 'notifications'}.",
            transient=True,
            code="malformed",
        )
    links = parse_link_header(response.headers.get("Link", ""))
    return Page(items=items, links=links, budget=http.budget_of(response))


def _explained(feed: Feed, error: ConnectorError) -> ConnectorError:
    """A search the server refuses is a server without full-text search: say so."""
    if feed.items != "search" or error.transient or error.code == "authentication_failed":
        return error
    return ConnectorError(
        "This Mastodon server does not offer full-text search of posts "
        f"({error.message}). Listen to a hashtag or to the brand's mentions instead.",
        transient=False,
        code="search_unsupported",
    )


def parse_link_header(value: str) -> dict[str, str]:
    """rel → URL of an RFC 8288 Link header, as Mastodon pages with it:
    `<https://…?max_id=1>; rel="next", <https://…?min_id=9>; rel="prev"`.

    A link may name several relations (`rel="prev first"`); the first link of a
    relation wins; links without one are ignored.
    """
    links: dict[str, str] = {}
    for match in _LINK.finditer(value or ""):
        url, params = match.group(1).strip(), match.group(2)
        for name, quoted, bare in _PARAM.findall(params):
            if name.lower() != "rel":
                continue
            for rel in (quoted or bare).lower().split():
                links.setdefault(rel, url)
    return links


def query_value(url: str, name: str) -> str:
    """The value of a query parameter of `url`, or ""."""
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else ""
