"""A local Reddit that speaks the OAuth API's wire format, for the connector's tests.

It serves, as Reddit documents them (reddit.com/dev/api, the reddit-archive
wiki, PRAW's recorded cassettes):

- `POST /api/v1/access_token`: HTTP Basic with the app's id and secret, the
  password grant; a wrong password is 200 with `{"error": "invalid_grant"}`;
- listings (`/search`, `/r/{sub}/search`, `/r/{sub}/comments`,
  `/user/{name}/comments`, `/message/sent`) newest first, paged with `after`
  and `limit`, text HTML-escaped unless `raw_json=1`;
- `POST /api/comment`, `POST /api/compose` (`api_type=json` errors as
  `{"json": {"errors": [[code, message, field]]}}`), `GET /api/v1/me`,
  `GET /user/{name}/about`;
- X-Ratelimit-Used / -Remaining (a float) / -Reset (seconds) on every API
  answer; 401 with `WWW-Authenticate` for an unknown or expired token; 429
  for a request without a descriptive User-Agent, as Reddit does.

Tests add posts (`add_submission`, `add_comment`) whose texts are real
customer tweets from the shared TWCS sample, script failures (`fail_next`,
`lose_next_response`, `inject`), and read what it received (`received`).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hubbub.datasets import twcs_customer_posts

CLIENT_ID = "p-jcoLKBynTLew"
CLIENT_SECRET = "gko_LXELoV07ZBNUXrvWZfzE3aI"
USERNAME = "brightwave_care"
PASSWORD = "correct horse battery staple"
FIRST_TIME = 1_732_440_000.0  # 2024-11-24 09:20 UTC
PERMALINK_SLUG = re.compile(r"[^a-z0-9]+")


@functools.cache
def customer_texts() -> tuple[str, ...]:
    """Customer tweets from the TWCS sample, in file order (real text, never invented).

    Twitter's API escapes &, < and > in tweets; the text people wrote has them bare.
    """
    return tuple(html.unescape(text) for _, text in twcs_customer_posts())


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Scripted:
    path: str
    status: int
    body: bytes
    headers: dict[str, str]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _escaped(value: Any) -> Any:
    """Reddit's legacy encoding: &, < and > as entities in every string, unless raw_json=1."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value


def _markdown_html(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(part)}</p>\n" for part in text.split("\n\n"))
    return f'<div class="md">{paragraphs}</div>'


@dataclass
class FakeReddit:
    url: str = ""
    things: list[dict[str, Any]] = field(default_factory=list)
    sent_messages: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_lifetime: int = 86_400
    issued: int = 0
    received: list[Received] = field(default_factory=list)
    scripted: list[Scripted] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)
    injected: dict[str, list[Any]] = field(default_factory=dict)
    pm_refusals: dict[str, tuple[str, str]] = field(default_factory=dict)
    ratelimit_remaining: float = 600.0
    ratelimit_reset: int = 420
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- content --------------------------------------------------------------------

    def _next_id(self) -> str:
        self.counter += 1
        return _base36(1_500_000_000 + self.counter)

    def add_submission(
        self,
        text: str,
        *,
        subreddit: str = "brightwave",
        author: str = "maya_k",
        created: float | None = None,
        title: str = "",
        selftext_html: str | None = None,
    ) -> str:
        """A self post: the title is the text's first line (cut), the body the text.

        Returns its fullname.
        """
        with self.lock:
            thing_id = self._next_id()
            at = created if created is not None else FIRST_TIME + 60 * self.counter
            title = title or text.split("\n")[0][:120]
            slug = PERMALINK_SLUG.sub("_", title.lower()).strip("_")[:50]
            data = {
                "id": thing_id,
                "name": f"t3_{thing_id}",
                "author": author,
                "author_fullname": f"t2_{_base36(zlib.crc32(author.encode()))}",
                "subreddit": subreddit,
                "subreddit_id": "t5_2x9ab",
                "subreddit_name_prefixed": f"r/{subreddit}",
                "title": title,
                "selftext": text,
                "selftext_html": (
                    selftext_html if selftext_html is not None else _markdown_html(text)
                ),
                "is_self": True,
                "url": f"https://www.reddit.com/r/{subreddit}/comments/{thing_id}/{slug}/",
                "permalink": f"/r/{subreddit}/comments/{thing_id}/{slug}/",
                "created": at,
                "created_utc": at,
                "num_comments": 0,
                "score": 1,
                "ups": 1,
                "over_18": False,
                "edited": False,
            }
            self.things.append({"kind": "t3", "data": data})
            return str(data["name"])

    def add_comment(
        self,
        text: str,
        *,
        parent: str,
        subreddit: str = "brightwave",
        author: str = "tom_r",
        created: float | None = None,
    ) -> str:
        """A comment under `parent` (a t3 or t1 fullname); its fullname."""
        with self.lock:
            return str(self._comment(text, parent, subreddit, author, created)["name"])

    def _comment(
        self, text: str, parent: str, subreddit: str, author: str, created: float | None
    ) -> dict[str, Any]:
        thing_id = self._next_id()
        at = created if created is not None else FIRST_TIME + 60 * self.counter
        parent_thing = self._find(parent)
        if parent.startswith("t3_"):
            link_id = parent
        elif parent_thing is not None:
            link_id = parent_thing["data"].get("link_id", parent)
        else:
            link_id = "t3_" + _base36(1_400_000_000)
        if parent_thing is not None:
            subreddit = parent_thing["data"].get("subreddit", subreddit)
        data = {
            "id": thing_id,
            "name": f"t1_{thing_id}",
            "author": author,
            "author_fullname": f"t2_{_base36(zlib.crc32(author.encode()))}",
            "body": text,
            "body_html": _markdown_html(text),
            "parent_id": parent,
            "link_id": link_id,
            "subreddit": subreddit,
            "subreddit_id": "t5_2x9ab",
            "permalink": f"/r/{subreddit}/comments/{link_id[3:]}/_/{thing_id}/",
            "link_permalink": f"https://www.reddit.com/r/{subreddit}/comments/{link_id[3:]}/",
            "created": at,
            "created_utc": at,
            "score": 1,
            "ups": 1,
            "edited": False,
            "distinguished": None,
            "stickied": False,
        }
        self.things.append({"kind": "t1", "data": data})
        return data

    def _find(self, fullname: str) -> dict[str, Any] | None:
        return next((t for t in self.things if t["data"]["name"] == fullname), None)

    def add_user(self, name: str, **fields: Any) -> None:
        """A redditor for /user/{name}/about, with Reddit's fields (overridable)."""
        data = {
            "name": name,
            "id": _base36(zlib.crc32(name.encode())),
            "created_utc": FIRST_TIME - 3 * 365 * 86_400,
            "link_karma": 1_204,
            "comment_karma": 8_877,
            "total_karma": 10_081,
            "awardee_karma": 0,
            "awarder_karma": 0,
            "is_gold": False,
            "is_mod": False,
            "is_employee": False,
            "verified": True,
            "has_verified_email": True,
            "icon_img": "https://styles.redditmedia.com/t5_abc/styles/profileIcon_x.png?width=256&height=256",
            "subreddit": {
                "display_name": f"u_{name}",
                "title": name,
                "public_description": "",
                "subscribers": 42,
                "subreddit_type": "user",
                "url": f"/user/{name}/",
            },
            **fields,
        }
        self.users[name.lower()] = data

    # --- scripting ------------------------------------------------------------------

    def fail_next(
        self, path: str, status: int, body: object, headers: dict[str, str] | None = None
    ) -> None:
        """The next request to `path` gets this answer (bytes as they are, else JSON)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.scripted.append(Scripted(path, status, raw, headers or {}))

    def lose_next_response(self, path: str) -> None:
        """The next POST to `path` is carried out, but its answer is a 502 (a proxy dropped it)."""
        self.lost.add(path)

    def inject(self, path: str, *children: Any) -> None:
        """Raw children placed at the top of every first page of the listing at `path`."""
        self.injected.setdefault(path, []).extend(children)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def requests_to(self, path: str, method: str = "") -> list[Received]:
        return [r for r in self.received if r.path == path and (not method or r.method == method)]

    def brand_comments(self) -> list[dict[str, Any]]:
        return [t["data"] for t in self.things if t["data"]["author"] == USERNAME]

    # --- listings -------------------------------------------------------------------

    def listing(self, path: str, query: dict[str, str]) -> dict[str, Any] | None:
        things = self._listed(path, query)
        if things is None:
            return None
        things = sorted(things, key=lambda t: (t["data"]["created_utc"], t["data"]["id"]))[::-1]
        after = query.get("after")
        if after:
            names = [t.get("data", {}).get("name") for t in things]
            # An `after` Reddit no longer has (deleted) gives an empty page, as on Reddit.
            things = things[names.index(after) + 1 :] if after in names else []
        else:
            things = list(self.injected.get(path, [])) + things
        limit = max(1, min(100, int(query.get("limit", "25"))))
        page, rest = things[:limit], things[limit:]
        last = page[-1].get("data", {}) if page and isinstance(page[-1], dict) else {}
        return {
            "kind": "Listing",
            "data": {
                "after": last.get("name") if rest else None,
                "dist": len(page),
                "modhash": None,
                "geo_filter": "",
                "children": page,
                "before": None,
            },
        }

    def _listed(self, path: str, query: dict[str, str]) -> list[dict[str, Any]] | None:
        parts = path.strip("/").split("/")
        if path == "/search" or (len(parts) == 3 and parts[0] == "r" and parts[2] == "search"):
            words = query.get("q", "").lower().split()
            subs = parts[1].lower().split("+") if parts[0] == "r" else None
            return [
                t
                for t in self.things
                if t["kind"] == "t3"
                and all(
                    w in (t["data"]["title"] + " " + t["data"]["selftext"]).lower() for w in words
                )
                and (subs is None or t["data"]["subreddit"].lower() in subs)
            ]
        if len(parts) == 3 and parts[0] == "r" and parts[2] == "comments":
            subs = parts[1].lower().split("+")
            return [
                t
                for t in self.things
                if t["kind"] == "t1" and t["data"]["subreddit"].lower() in subs
            ]
        if len(parts) == 3 and parts[0] == "user" and parts[2] == "comments":
            return [
                t
                for t in self.things
                if t["kind"] == "t1" and t["data"]["author"].lower() == parts[1].lower()
            ]
        if path == "/message/sent":
            return [{"kind": "t4", "data": m} for m in self.sent_messages]
        return None

    # --- writes ---------------------------------------------------------------------

    def comment(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("api_type") != "json":
            return {"jquery": [], "success": False}
        text, parent = form.get("text", ""), form.get("thing_id", "")
        if not text.strip():
            return _errors(["NO_TEXT", "we need something here", "text"])
        if len(text) > 10_000:
            return _errors(["TOO_LONG", "this is too long (max: 10000)", "text"])
        if self._find(parent) is None:
            return _errors(["NO_THING_ID", "couldn't find that thing", "parent"])
        data = self._comment(text, parent, "brightwave", USERNAME, None)
        return {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}

    def compose(self, form: dict[str, str]) -> dict[str, Any]:
        to = form.get("to", "").removeprefix("/u/").removeprefix("u/")
        if not to:
            return _errors(["NO_USER", "please enter a username", "to"])
        if not form.get("subject", "").strip():
            return _errors(["NO_SUBJECT", "please enter a subject", "subject"])
        if not form.get("text", "").strip():
            return _errors(["NO_TEXT", "we need something here", "text"])
        if to.lower() not in self.users:
            return _errors(["USER_DOESNT_EXIST", "that user doesn't exist", "to"])
        if to.lower() in self.pm_refusals:
            code, message = self.pm_refusals[to.lower()]
            return _errors([code, message, "to"])
        message_id = self._next_id()
        self.sent_messages.append(
            {
                "id": message_id,
                "name": f"t4_{message_id}",
                "author": USERNAME,
                "dest": self.users[to.lower()]["name"],
                "subject": form["subject"],
                "body": form["text"],
                "body_html": _markdown_html(form["text"]),
                "created_utc": FIRST_TIME + 60 * self.counter,
                "parent_id": None,
                "first_message_name": None,
                "was_comment": False,
                "new": False,
                "type": "unknown",
            }
        )
        return {"json": {"errors": []}}


def _errors(*errors: list[str]) -> dict[str, Any]:
    return {"json": {"errors": list(errors)}}


def _handler(fake: FakeReddit) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _receive(self) -> tuple[Received, Scripted | None]:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            received = Received(self.command, split.path, query, dict(self.headers.items()), form)
            with fake.lock:
                fake.received.append(received)
                scripted = next((s for s in fake.scripted if s.path == split.path), None)
                if scripted is not None:
                    fake.scripted.remove(scripted)
            return received, scripted

        def _rate_headers(self) -> dict[str, str]:
            with fake.lock:
                fake.ratelimit_remaining = max(0.0, fake.ratelimit_remaining - 1)
                used = 600 - int(fake.ratelimit_remaining)
                return {
                    "X-Ratelimit-Used": str(used),
                    "X-Ratelimit-Remaining": f"{fake.ratelimit_remaining:.1f}",
                    "X-Ratelimit-Reset": str(fake.ratelimit_reset),
                }

        def _authorised(self, request: Received) -> bool:
            agent = request.headers.get("User-Agent", "")
            if "by /u/" not in agent:
                # Reddit throttles clients that do not say who they are.
                self._reply(429, {"message": "Too Many Requests", "error": 429})
                return False
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or token not in fake.tokens:
                self._reply(
                    401,
                    {"message": "Unauthorized", "error": 401},
                    {"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'},
                )
                return False
            return True

        def do_GET(self) -> None:
            request, scripted = self._receive()
            if not self._authorised(request):
                return
            headers = self._rate_headers()
            if scripted is not None:
                self._reply(scripted.status, scripted.body, {**headers, **scripted.headers})
                return
            with fake.lock:
                body = self._get(request)
            if body is None:
                self._reply(404, {"message": "Not Found", "error": 404}, headers)
                return
            if request.query.get("raw_json") != "1":
                body = _escaped(body)
            self._reply(200, body, headers)

        def _get(self, request: Received) -> dict[str, Any] | None:
            if request.path == "/api/v1/me":
                return {"name": USERNAME, "id": "k3x9q2", "total_karma": 151, "is_suspended": False}
            parts = request.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "user" and parts[2] == "about":
                user = fake.users.get(parts[1].lower())
                return {"kind": "t2", "data": user} if user is not None else None
            return fake.listing(request.path, request.query)

        def do_POST(self) -> None:
            request, scripted = self._receive()
            if request.path == "/api/v1/access_token":
                self._token(request, scripted)
                return
            if not self._authorised(request):
                return
            headers = self._rate_headers()
            if scripted is not None:
                self._reply(scripted.status, scripted.body, {**headers, **scripted.headers})
                return
            with fake.lock:
                if request.path == "/api/comment":
                    body = fake.comment(request.form)
                elif request.path == "/api/compose":
                    body = fake.compose(request.form)
                else:
                    body = None
                lost = request.path in fake.lost
                fake.lost.discard(request.path)
            if body is None:
                self._reply(404, {"message": "Not Found", "error": 404}, headers)
            elif lost:
                self._reply(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            else:
                self._reply(200, body, headers)

        def _token(self, request: Received, scripted: Scripted | None) -> None:
            if scripted is not None:
                self._reply(scripted.status, scripted.body, scripted.headers)
                return
            scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
            try:
                pair = base64.b64decode(encoded).decode() if scheme == "Basic" else ""
            except ValueError:
                pair = ""
            if pair != f"{CLIENT_ID}:{CLIENT_SECRET}":
                self._reply(401, {"message": "Unauthorized", "error": 401})
                return
            form = request.form
            if form.get("grant_type") != "password":
                self._reply(200, {"error": "unsupported_grant_type"})
                return
            if form.get("username") != USERNAME or form.get("password") != PASSWORD:
                self._reply(200, {"error": "invalid_grant"})
                return
            with fake.lock:
                fake.issued += 1
                token = f"{fake.issued}-fakeBearerToken{fake.issued:04d}"
                fake.tokens.add(token)
            self._reply(
                200,
                {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": fake.token_lifetime,
                    "scope": "*",
                },
            )

    return Handler


@contextmanager
def running_reddit() -> Iterator[FakeReddit]:
    fake = FakeReddit()
    fake.add_user(USERNAME)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
