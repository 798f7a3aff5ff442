"""A local Mastodon that speaks the REST and streaming APIs' wire format, for the
connector's tests.

What it serves, as mastodon/documentation describes it:
- `POST /api/v1/statuses`: Bearer auth, form or JSON body, Idempotency-Key
  (a repeated key gets the status it created first);
- `GET /api/v1/timelines/tag/:hashtag`, `/timelines/public`, `/timelines/home`
  and `/api/v1/notifications?types[]=mention`, paged with max_id / since_id /
  min_id / limit (≤ 40) and a `Link` header (rel="next" pages older with
  max_id, rel="prev" newer with min_id);
- `GET /api/v2/search` (type=statuses: full-text when `search` is "full",
  nothing when "none" as a server without Elasticsearch, or a refusal;
  resolve=true finds a status by its uri or url and gives it a local id);
- `GET /api/v1/accounts/lookup`, `/accounts/verify_credentials`, `/instance`;
- `GET /api/v1/streaming/{hashtag,public,user}`: server-sent events over
  chunked HTTP/1.1, `:thump` heartbeats, `event: update` / `notification`.

Every answer has X-RateLimit-Limit/Remaining/Reset (an ISO time). Errors
have Mastodon's bodies ({"error": "..."}).

Scripting: `fail_next` queues an error reply (optionally for one path
prefix), `raw_next` a body as given (malformed JSON, wrong types), and
`drop_streams` cuts the live streams off without the final chunk. What the
statuses say comes from the TWCS sample's customer tweets (read from the
shared data folder at run time, never copied here).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hubbub.datasets import twcs_customer_posts

TOKEN = "fake-mastodon-token"
HOST = "social.brightwave.test"
BRAND = "brightwave"
RATE_LIMIT = 300
PAGE_MAX = 40
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
_URL = re.compile(r"https?://[^\s<]+")
_MENTION = re.compile(r"@([A-Za-z0-9_]+)(?:@([A-Za-z0-9.-]+))?")
_HASHTAG = re.compile(r"#(\w+)")
_DROP = object()


def customer_texts(count: int, word: str = "") -> list[str]:
    """Customers' tweets from the TWCS sample (those containing `word`), in file order."""
    texts = [text for _, text in twcs_customer_posts() if word.lower() in text.lower()]
    return texts[:count]


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def content_html(text: str, host: str) -> str:
    """A status's HTML as Mastodon renders it: paragraphs, <br />, mention and hashtag
    links, and long links shortened with invisible spans."""

    def link(url: str) -> str:
        scheme, _, rest = url.partition("://")
        shown, hidden = rest[:30], rest[30:]
        return (
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer">'
            f'<span class="invisible">{html.escape(scheme)}://</span>'
            f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>'
        )

    def mention(match: re.Match[str]) -> str:
        user, domain = match.group(1), match.group(2) or host
        return (
            f'<span class="h-card" translate="no"><a href="https://{domain}/@{user}" '
            f'class="u-url mention">@<span>{user}</span></a></span>'
        )

    def hashtag(match: re.Match[str]) -> str:
        tag = match.group(1)
        return (
            f'<a href="https://{host}/tags/{tag.lower()}" class="mention hashtag" '
            f'rel="tag">#<span>{tag}</span></a>'
        )

    paragraphs = []
    for paragraph in text.split("\n\n"):
        pieces: list[str] = []
        position = 0
        for found in _URL.finditer(paragraph):
            pieces.append(_words(paragraph[position : found.start()], mention, hashtag))
            pieces.append(link(found.group(0)))
            position = found.end()
        pieces.append(_words(paragraph[position:], mention, hashtag))
        paragraphs.append("<p>" + "".join(pieces).replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


def _words(text: str, mention: Any, hashtag: Any) -> str:
    escaped = html.escape(text, quote=False)
    return _HASHTAG.sub(hashtag, _MENTION.sub(mention, escaped))


def account(user: str, domain: str, *, display_name: str = "", local: bool) -> dict[str, Any]:
    number = zlib.crc32(f"{user}@{domain}".encode()) % 10**9
    return {
        "id": str(109_000_000_000 + number),
        "username": user,
        "acct": user if local else f"{user}@{domain}",
        "display_name": display_name or user.title(),
        "locked": False,
        "bot": False,
        "created_at": "2022-11-03T00:00:00.000Z",
        "note": f"<p>Living in {html.escape(domain)}</p>",
        "url": f"https://{domain}/@{user}",
        "uri": f"https://{domain}/users/{user}",
        "avatar": f"https://{domain}/avatars/{user}.png",
        "followers_count": 120 + number % 1000,
        "following_count": 80 + number % 300,
        "statuses_count": 400 + number % 5000,
        "fields": [],
    }


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Scripted:
    status: int
    body: bytes
    headers: dict[str, str]
    path: str  # a path prefix, or "" for the next request whatever it is


@dataclass
class FakeMastodon:
    host: str = HOST
    url: str = ""
    # "full": statuses search works; "none": finds nothing (no Elasticsearch); else refused.
    search: str = "full"
    heartbeat_seconds: float = 0.05
    split_data: bool = False  # send each event's JSON over several data: lines
    # Where /api/v1/streaming answers with a 301, as Mastodon's Rails app does when the
    # streaming server has a host of its own.
    streaming_redirect: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # the brand's own, by id
    by_key: dict[str, str] = field(default_factory=dict)
    known: list[dict[str, Any]] = field(default_factory=list)  # every status, oldest first
    notifications: list[dict[str, Any]] = field(default_factory=list)
    remote: dict[str, dict[str, Any]] = field(default_factory=dict)  # resolvable by uri
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by acct
    scripted: list[Scripted] = field(default_factory=list)
    streams: list[tuple[str, queue.Queue[object]]] = field(default_factory=list)
    remaining: int = RATE_LIMIT
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    id_base: int = 113_000_000_000_000_000

    def __post_init__(self) -> None:
        brand = account(BRAND, self.host, display_name="Brightwave", local=True)
        self.accounts[BRAND] = brand

    # --- scripting -------------------------------------------------------------

    def fail_next(
        self, status: int, error: str, headers: dict[str, str] | None = None, path: str = ""
    ) -> None:
        body = json.dumps({"error": error}).encode()
        self.scripted.append(Scripted(status, body, headers or {}, path))

    def raw_next(self, path: str, body: str | bytes, status: int = 200) -> None:
        raw = body.encode() if isinstance(body, str) else body
        self.scripted.append(Scripted(status, raw, {}, path))

    def posted(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST" and r.path == "/api/v1/statuses"]

    def requests_to(self, prefix: str) -> list[Received]:
        return [r for r in self.received if r.path.startswith(prefix)]

    # --- the fediverse ---------------------------------------------------------

    def next_id(self) -> str:
        return str(self.id_base + next(self._ids) * 1000)

    def status(
        self,
        text: str,
        *,
        user: str = "ruth",
        domain: str = "",
        display_name: str = "",
        created_at: dt.datetime | None = None,
        in_reply_to: dict[str, Any] | None = None,
        visibility: str = "public",
        **extra: Any,
    ) -> dict[str, Any]:
        """A status someone wrote (on this instance, or on `domain` and federated here);
        not yet on any timeline: `publish` it."""
        local_id = self.next_id()
        home = domain or self.host
        author = account(user, home, display_name=display_name, local=not domain)
        self.accounts.setdefault(author["acct"], author)
        number = len(self.known) + 1
        origin_id = local_id if not domain else str(110_000_000_000_000_000 + number * 7)
        at = created_at or T0 + dt.timedelta(minutes=number)
        made: dict[str, Any] = {
            "id": local_id,
            "created_at": iso(at),
            "in_reply_to_id": in_reply_to["id"] if in_reply_to else None,
            "in_reply_to_account_id": in_reply_to["account"]["id"] if in_reply_to else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": visibility,
            "language": "en",
            "uri": f"https://{home}/users/{user}/statuses/{origin_id}",
            "url": f"https://{home}/@{user}/{origin_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "content": content_html(text, home),
            "reblog": None,
            "application": None,
            "account": author,
            "media_attachments": [],
            "mentions": [],
            "tags": [
                {"name": t.lower(), "url": f"https://{home}/tags/{t.lower()}"}
                for t in _HASHTAG.findall(text)
            ],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        made.update(extra)
        return made

    def copy_of(self, status: dict[str, Any], origin: FakeMastodon) -> dict[str, Any]:
        """The status as this instance knows it after federation: its own id, a full acct."""
        copied = json.loads(json.dumps(status))
        copied["id"] = self.next_id()
        if "@" not in copied["account"]["acct"]:
            copied["account"]["acct"] += f"@{origin.host}"
        return copied

    def publish(self, status: dict[str, Any], *, mention: bool = False) -> dict[str, Any]:
        """Put a status on the timelines (and a mention notification if `mention`), and send
        it down the live streams that would carry it."""
        with self.lock:
            self.known.append(status)
            notification = None
            if mention:
                notification = {
                    "id": str(self.id_base // 1000 + len(self.notifications) + 1),
                    "type": "mention",
                    "created_at": status["created_at"],
                    "account": status["account"],
                    "status": status,
                }
                self.notifications.append(notification)
            for kind, events in self.streams:
                if kind in ("public", "user") or kind.removeprefix("hashtag:") in _tags_of(status):
                    events.put(("update", status))
                if kind == "user" and notification is not None:
                    events.put(("notification", notification))
        return status

    def publish_silently(self, statuses: list[dict[str, Any]]) -> None:
        """Cut the live streams off and post `statuses` while nobody is connected: only a
        REST back-fill can find them."""
        with self.lock:
            for _, events in self.streams:
                events.put(_DROP)
            self.streams.clear()
            self.known.extend(statuses)

    def drop_streams(self) -> None:
        self.publish_silently([])

    def send_event(self, name: str, data: str) -> None:
        """An event as given (not JSON, say) down every live stream."""
        with self.lock:
            for _, events in self.streams:
                events.put((name, data))

    def connected_streams(self) -> int:
        with self.lock:
            return len(self.streams)

    # --- reading ---------------------------------------------------------------

    def tag_timeline(self, tag: str) -> list[dict[str, Any]]:
        return [
            s for s in self.known if tag.lower() in _tags_of(s) and s.get("visibility") == "public"
        ]

    def rate_headers(self) -> dict[str, str]:
        with self.lock:
            self.remaining = max(0, self.remaining - 1)
            remaining = self.remaining
        reset = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=5)
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": iso(reset),
        }


def _tags_of(status: dict[str, Any]) -> set[str]:
    tags = status.get("tags")
    if not isinstance(tags, list):
        return set()
    return {str(tag.get("name", "")).lower() for tag in tags if isinstance(tag, dict)}


def _key(item_id: str) -> tuple[int, str]:
    return (len(item_id), item_id)


def page(
    items: list[dict[str, Any]], query: dict[str, list[str]], base: str
) -> tuple[list[dict[str, Any]], str]:
    """One page of `items` (oldest first) as Mastodon pages them, and its Link header.

    max_id: older than it; since_id: newer than it, the newest first;
    min_id: the page immediately newer than it. Newest first either way.
    """

    def one(name: str) -> str:
        return query.get(name, [""])[0]

    limit = min(PAGE_MAX, int(one("limit") or 20))
    chosen = sorted(items, key=lambda item: _key(item["id"]))
    if one("max_id"):
        chosen = [i for i in chosen if _key(i["id"]) < _key(one("max_id"))]
    if one("min_id"):
        chosen = [i for i in chosen if _key(i["id"]) > _key(one("min_id"))][:limit]
    else:
        if one("since_id"):
            chosen = [i for i in chosen if _key(i["id"]) > _key(one("since_id"))]
        chosen = chosen[-limit:]
    chosen.reverse()
    if not chosen:
        return [], ""
    keep = "&".join(
        f"{name}={value}"
        for name, values in query.items()
        if name not in ("max_id", "min_id", "since_id")
        for value in values
    )
    joiner = f"{keep}&" if keep else ""
    link = (
        f'<{base}?{joiner}max_id={chosen[-1]["id"]}>; rel="next", '
        f'<{base}?{joiner}min_id={chosen[0]["id"]}>; rel="prev"'
    )
    return chosen, link


def _handler(fake: FakeMastodon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in {**fake.rate_headers(), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode(), headers or {})

        def _record(self, body: dict[str, Any]) -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            with fake.lock:
                fake.received.append(
                    Received(self.command, parts.path, query, dict(self.headers.items()), body)
                )
            return parts.path, query

        def _scripted(self, path: str) -> Scripted | None:
            with fake.lock:
                for index, scripted in enumerate(fake.scripted):
                    if path.startswith(scripted.path):
                        return fake.scripted.pop(index)
            return None

        def _token(self) -> str | None:
            """ "" without a token, None for a wrong one, else the token."""
            value = self.headers.get("Authorization", "")
            if not value:
                return ""
            return TOKEN if value == f"Bearer {TOKEN}" else None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or "{}")
            else:
                body = {key: values[-1] for key, values in parse_qs(raw).items()}
            path, _ = self._record(body)
            if path != "/api/v1/statuses":
                self._reply(404, {"error": "Record not found"})
                return
            if self._token() != TOKEN:
                self._reply(401, {"error": "The access token is invalid"})
                return
            scripted = self._scripted(path)
            if scripted is not None:
                self._send(scripted.status, scripted.body, scripted.headers)
                return
            if not str(body.get("status", "")).strip():
                self._reply(422, {"error": "Validation failed: Text can't be blank"})
                return
            key = self.headers.get("Idempotency-Key", "")
            with fake.lock:
                if key and key in fake.by_key:
                    status = fake.statuses[fake.by_key[key]]
                else:
                    status = _brand_status(fake, len(fake.statuses) + 1, body)
                    fake.statuses[status["id"]] = status
                    if key:
                        fake.by_key[key] = status["id"]
            self._reply(200, status)

        def do_GET(self) -> None:
            path, query = self._record({})
            token = self._token()
            if token is None:
                self._reply(401, {"error": "The access token is invalid"})
                return
            scripted = self._scripted(path)
            if scripted is not None:
                self._send(scripted.status, scripted.body, scripted.headers)
                return
            if path.startswith("/api/v1/streaming/"):
                if fake.streaming_redirect:
                    self._reply(301, {}, {"Location": fake.streaming_redirect + self.path})
                else:
                    self._stream(path, query, token)
                return
            base = f"{fake.url}{path}"
            if path.startswith("/api/v1/timelines/tag/"):
                tag = unquote(path.rsplit("/", 1)[1])
                self._page(fake.tag_timeline(tag), query, base)
            elif path == "/api/v1/timelines/public":
                public = [s for s in fake.known if s.get("visibility") == "public"]
                self._page(public, query, base)
            elif path == "/api/v1/timelines/home" and token:
                self._page(list(fake.known), query, base)
            elif path == "/api/v1/notifications" and token:
                types = query.get("types[]") or []
                found = [n for n in fake.notifications if not types or n["type"] in types]
                self._page(found, query, base)
            elif path == "/api/v2/search":
                self._search(query, token)
            elif path == "/api/v1/accounts/lookup":
                acct = query.get("acct", [""])[0].lstrip("@").lower()
                if acct.endswith(f"@{fake.host}"):
                    acct = acct.split("@")[0]
                found = fake.accounts.get(acct)
                if found is None:
                    self._reply(404, {"error": "Record not found"})
                else:
                    self._reply(200, found)
            elif path == "/api/v1/accounts/verify_credentials" and token:
                self._reply(200, {**fake.accounts[BRAND], "source": {"privacy": "public"}})
            elif path == "/api/v1/instance":
                self._reply(
                    200,
                    {
                        "uri": fake.host,
                        "title": "Brightwave Social",
                        "version": "4.3.2",
                        "urls": {"streaming_api": f"wss://{fake.host}"},
                    },
                )
            elif path in (
                "/api/v1/timelines/home",
                "/api/v1/notifications",
                "/api/v1/accounts/verify_credentials",
            ):
                self._reply(401, {"error": "The access token is invalid"})
            else:
                self._reply(404, {"error": "Record not found"})

        def _page(
            self, items: list[dict[str, Any]], query: dict[str, list[str]], base: str
        ) -> None:
            chosen, link = page(items, query, base)
            self._reply(200, chosen, {"Link": link} if link else {})

        def _search(self, query: dict[str, list[str]], token: str) -> None:
            q = query.get("q", [""])[0]
            resolve = query.get("resolve", ["false"])[0] == "true"
            if resolve and not token:
                self._reply(
                    401,
                    {
                        "error": "Search queries that resolve remote resources are not supported "
                        "without authentication"
                    },
                )
                return
            if resolve and q.startswith("https://"):
                with fake.lock:
                    found = next((s for s in fake.known if q in (s["uri"], s["url"])), None)
                    if found is None and q in fake.remote:
                        found = fake.copy_of(fake.remote[q], fake)
                        fake.known.append(found)
                self._reply(
                    200, {"accounts": [], "statuses": [found] if found else [], "hashtags": []}
                )
                return
            if fake.search == "none":
                self._reply(200, {"accounts": [], "statuses": [], "hashtags": []})
                return
            if fake.search != "full":
                self._reply(422, {"error": "Full-text search is not enabled on this server"})
                return
            hits = [s for s in fake.known if q.lower() in s["content"].lower()]
            chosen, _ = page(hits, query, "")
            self._reply(200, {"accounts": [], "statuses": chosen, "hashtags": []})

        def _stream(self, path: str, query: dict[str, list[str]], token: str) -> None:
            kind = path.removeprefix("/api/v1/streaming/")
            if kind == "hashtag":
                kind = f"hashtag:{query.get('tag', [''])[0].lower()}"
            elif kind not in ("public", "user"):
                self._reply(404, {"error": "Unknown stream type"})
                return
            if not token:
                self._reply(401, {"error": "Missing access token"})
                return
            events: queue.Queue[object] = queue.Queue()
            with fake.lock:
                fake.streams.append((kind, events))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "private, no-store")
            self.end_headers()
            self._chunk(":)\n")
            while not fake.closing.is_set():
                try:
                    event = events.get(timeout=fake.heartbeat_seconds)
                except queue.Empty:
                    if not self._chunk(":thump\n"):
                        break
                    continue
                if event is _DROP:
                    break  # no terminating chunk: the client sees the connection break
                name, payload = event  # type: ignore[misc]
                data = (
                    payload if isinstance(payload, str) else _event_json(payload, fake.split_data)
                )
                lines = "".join(f"data: {line}\n" for line in data.split("\n"))
                if not self._chunk(f"event: {name}\n{lines}\n"):
                    break
            with fake.lock:
                fake.streams = [s for s in fake.streams if s[1] is not events]
            self.close_connection = True

        def _chunk(self, text: str) -> bool:
            raw = text.encode()
            try:
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                self.wfile.flush()
            except OSError:
                return False
            return True

    return Handler


def _event_json(payload: object, split: bool) -> str:
    # indent=1 puts a line break between JSON tokens only, never inside a string, so the
    # lines joined with "\n" (as SSE joins data: lines) are the same JSON.
    return json.dumps(payload, indent=1) if split else json.dumps(payload)


def _brand_status(fake: FakeMastodon, number: int, body: dict[str, Any]) -> dict[str, Any]:
    status_id = str(113_000_000_000_000_000 + number)
    text = str(body.get("status", ""))
    return {
        "id": status_id,
        "created_at": "2026-11-24T09:30:00.000Z",
        "in_reply_to_id": body.get("in_reply_to_id"),
        "in_reply_to_account_id": "109876" if body.get("in_reply_to_id") else None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": body.get("visibility", "public"),
        "language": "en",
        "uri": f"https://{fake.host}/users/brightwave/statuses/{status_id}",
        "url": f"https://{fake.host}/@brightwave/{status_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": "<p>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</p>",
        "account": {
            "id": "1",
            "username": "brightwave",
            "acct": "brightwave",
            "display_name": "Brightwave",
            "followers_count": 5120,
        },
        "mentions": [],
        "tags": [],
    }


@contextmanager
def running_mastodon(
    host: str = HOST, id_base: int = 113_000_000_000_000_000
) -> Iterator[FakeMastodon]:
    fake = FakeMastodon(host=host, id_base=id_base)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.closing.set()
        server.shutdown()
        server.server_close()
