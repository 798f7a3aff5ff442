"""A local HN Search (hn.algolia.com) for the connector's tests.

It serves `GET /api/v1/search_by_date` and `GET /api/v1/users/<username>`
the way algolia/hn-search does: hits newest first, `query` matched against
the item's text fields, `tags` as one tag or an OR group "(story,comment)",
`numericFilters` on created_at_i (>, >=, <, <=, =; comma = AND), paging
with `page`/`hitsPerPage`/`nbPages`/`nbHits`, and Algolia's cap on how deep
paging goes (`pagination_limit`, 1,000 hits on the real service). Errors
use Algolia's body `{"message": …, "status": …}`.

Item texts are real customer posts from the TWCS sample in
../shared/data (read at run time, never copied here), written the way HN
stores comment text: HTML-escaped, links as <a>, paragraphs as <p>.

Tests script failures (`fail_next`), add items (`add_comment`,
`add_story`, `add_hit` for a malformed one) and read the requests made.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hubbub.datasets import twcs_customer_posts

_FILTER = re.compile(r"^created_at_i(>=|<=|>|<|=)(\d+)$")
_LINK = re.compile(r"https?://\S+")


@cache
def customer_texts(containing: str = "") -> tuple[str, ...]:
    """TWCS customer tweets, in file order; those that mention `containing`, if given."""
    wanted = containing.lower()
    return tuple(text for _, text in twcs_customer_posts() if wanted in text.lower())


def hn_html(text: str) -> str:
    """Text as HN stores a comment: escaped like HN (&#x27; &quot;), links as <a>,
    each line after the first as a new <p> paragraph."""
    escaped = html.escape(text, quote=True)
    linked = _LINK.sub(lambda m: f'<a href="{m.group(0)}" rel="nofollow">{m.group(0)}</a>', escaped)
    return "<p>".join(part for part in linked.split("\n") if part.strip())


@dataclass
class Item:
    """An indexed item: the hit as served, and the time the index filters on
    (kept apart so a test can serve a hit whose created_at_i is broken)."""

    created_at_i: int
    hit: dict[str, Any]
    kind: str
    searchable: str


@dataclass
class Request:
    path: str
    params: dict[str, str]


@dataclass
class FakeAlgolia:
    url: str = ""
    items: list[Item] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # (page or None for any request, status, body, headers), answered in order.
    scripted: list[tuple[str | None, int, bytes, dict[str, str]]] = field(default_factory=list)
    pagination_limit: int = 1000
    next_id: int = 40_211_111
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the index ---

    def add_story(
        self,
        created_at_i: int,
        *,
        title: str,
        url: str | None = None,
        story_text: str | None = None,
        author: str = "nightowl_dev",
    ) -> dict[str, Any]:
        object_id = self._new_id()
        hit = {
            "created_at": _iso(created_at_i),
            "created_at_i": created_at_i,
            "title": title,
            "url": url,
            "author": author,
            "points": 1,
            "story_text": story_text,
            "comment_text": None,
            "num_comments": 0,
            "story_id": None,
            "story_title": None,
            "story_url": None,
            "parent_id": None,
            "_tags": ["story", f"author_{author}", f"story_{object_id}"],
            "objectID": object_id,
            "_highlightResult": {"title": {"value": title, "matchLevel": "none"}},
        }
        return self.add_hit(hit, created_at_i=created_at_i, kind="story")

    def add_comment(
        self,
        created_at_i: int,
        text: str,
        *,
        author: str = "tired_customer",
        story: dict[str, Any] | None = None,
        parent_id: int | None = None,
    ) -> dict[str, Any]:
        object_id = self._new_id()
        story_id = int(story["objectID"]) if story else 40_000_001
        hit = {
            "created_at": _iso(created_at_i),
            "created_at_i": created_at_i,
            "title": None,
            "url": None,
            "author": author,
            "points": None,
            "story_text": None,
            "comment_text": hn_html(text),
            "num_comments": None,
            "story_id": story_id,
            "story_title": story["title"] if story else "Ask HN: Which ISP support is worst?",
            "story_url": None,
            "parent_id": parent_id or story_id,
            "_tags": ["comment", f"author_{author}", f"story_{story_id}"],
            "objectID": object_id,
            "_highlightResult": {"comment_text": {"value": hn_html(text), "matchLevel": "full"}},
        }
        return self.add_hit(hit, created_at_i=created_at_i, kind="comment")

    def add_hit(
        self, hit: dict[str, Any], *, created_at_i: int, kind: str, searchable: str = ""
    ) -> dict[str, Any]:
        """Index a hit as given (broken ones too); the index filters on `created_at_i`
        and matches the query against the text fields, or `searchable` when given."""
        searchable = searchable or " ".join(
            str(hit.get(name) or "") for name in ("title", "story_text", "comment_text", "url")
        )
        with self.lock:
            self.items.append(Item(created_at_i, hit, kind, searchable.lower()))
        return hit

    def remove(self, hit: dict[str, Any]) -> None:
        """Delete an item (HN deletes flagged or retracted items)."""
        with self.lock:
            self.items = [item for item in self.items if item.hit is not hit]

    def _new_id(self) -> str:
        with self.lock:
            self.next_id += 1
            return str(self.next_id)

    # --- scripting ---

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | bytes,
        headers: dict[str, str] | None = None,
        *,
        page: int | None = None,
    ) -> None:
        """Answer the next request (for that search `page`, if given) with this."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self.lock:
            self.scripted.append((None if page is None else str(page), status, raw, headers or {}))

    def take_scripted(self, page: str | None) -> tuple[int, bytes, dict[str, str]] | None:
        with self.lock:
            for index, (wanted, status, body, headers) in enumerate(self.scripted):
                if wanted is None or wanted == page:
                    del self.scripted[index]
                    return status, body, headers
        return None

    def searches(self) -> list[dict[str, str]]:
        return [r.params for r in self.requests if r.path == "/api/v1/search_by_date"]

    # --- answering ---

    def search(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            bounds = _bounds(params.get("numericFilters", ""))
            hits_per_page = int(params.get("hitsPerPage", "20"))
            page = int(params.get("page", "0"))
        except ValueError as error:
            return 400, {"message": str(error), "status": 400}
        kinds = _kinds(params.get("tags", ""))
        words = params.get("query", "").lower().split()
        with self.lock:
            matching = [
                item
                for item in self.items
                if (not kinds or item.kind in kinds)
                and all(word in item.searchable for word in words)
                and all(_holds(item.created_at_i, op, value) for op, value in bounds)
            ]
        # search_by_date: newest first (ties: the later id first, as Algolia breaks them).
        matching.sort(key=lambda item: (item.created_at_i, _number(item.hit)))
        matching.reverse()
        reachable = matching[: self.pagination_limit]
        start = page * hits_per_page
        pages = min(
            math.ceil(len(matching) / hits_per_page) if hits_per_page else 0,
            math.ceil(self.pagination_limit / hits_per_page) if hits_per_page else 0,
        )
        return 200, {
            "hits": [item.hit for item in reachable[start : start + hits_per_page]],
            "nbHits": len(matching),
            "page": page,
            "nbPages": pages,
            "hitsPerPage": hits_per_page,
            "exhaustiveNbHits": True,
            "exhaustiveTypo": True,
            "query": params.get("query", ""),
            "params": "&".join(f"{k}={v}" for k, v in params.items()),
            "processingTimeMS": 2,
        }


def _number(hit: object) -> int:
    value = hit.get("objectID") if isinstance(hit, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def _iso(created_at_i: int) -> str:
    return dt.datetime.fromtimestamp(created_at_i, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _bounds(filters: str) -> list[tuple[str, int]]:
    bounds = []
    for part in filters.split(","):
        if not part.strip():
            continue
        match = _FILTER.match(part.strip())
        if not match:
            raise ValueError(f"Invalid syntax for numeric value: '{part}'")
        bounds.append((match.group(1), int(match.group(2))))
    return bounds


def _holds(value: int, op: str, bound: int) -> bool:
    return {
        ">": value > bound,
        ">=": value >= bound,
        "<": value < bound,
        "<=": value <= bound,
        "=": value == bound,
    }[op]


def _kinds(tags: str) -> set[str]:
    return {tag for tag in tags.strip("()").split(",") if tag}


def _handler(fake: FakeAlgolia) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            with fake.lock:
                fake.requests.append(Request(parts.path, params))
            scripted = fake.take_scripted(params.get("page"))
            if scripted is not None:
                self._reply(*scripted)
                return
            if parts.path == "/api/v1/search_by_date":
                status, body = fake.search(params)
                self._reply(status, json.dumps(body).encode())
                return
            if parts.path.startswith("/api/v1/users/"):
                username = unquote(parts.path.removeprefix("/api/v1/users/"))
                user = fake.users.get(username)
                if user is None:
                    self._reply(404, b'{"status":404,"error":"Not Found"}')
                else:
                    self._reply(200, json.dumps(user).encode())
                return
            self._reply(404, b'{"message":"Not Found","status":404}')

    return Handler


@contextmanager
def running_algolia() -> Iterator[FakeAlgolia]:
    fake = FakeAlgolia()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
