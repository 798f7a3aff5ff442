"""A local Mastodon that speaks the REST API's wire format, for the connector's tests.

It serves `POST /api/v1/statuses` as mastodon/documentation describes it:
Bearer auth, form or JSON body, Idempotency-Key (a repeated key gets the
status it created first), and the API's error bodies. Tests script failures
by queueing replies (`fail_next`) and read what it received (`received`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "fake-mastodon-token"
HOST = "social.brightwave.test"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeMastodon:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    scripted: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        self.scripted.append((status, {"error": error}, headers or {}))

    def posted(self) -> list[Received]:
        return [r for r in self.received if r.path == "/api/v1/statuses"]


def _status(number: int, body: dict[str, Any]) -> dict[str, Any]:
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
        "uri": f"https://{HOST}/users/brightwave/statuses/{status_id}",
        "url": f"https://{HOST}/@brightwave/{status_id}",
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


def _handler(fake: FakeMastodon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or "{}")
            else:
                body = {key: values[-1] for key, values in parse_qs(raw).items()}
            with fake.lock:
                fake.received.append(Received(self.path, dict(self.headers.items()), body))
                scripted = fake.scripted.pop(0) if fake.scripted else None
            if self.path != "/api/v1/statuses":
                self._reply(404, {"error": "Record not found"})
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"error": "The access token is invalid"})
                return
            if scripted is not None:
                self._reply(scripted[0], scripted[1], scripted[2])
                return
            if not str(body.get("status", "")).strip():
                self._reply(422, {"error": "Validation failed: Text can't be blank"})
                return
            key = self.headers.get("Idempotency-Key", "")
            with fake.lock:
                if key and key in fake.by_key:
                    status = fake.statuses[fake.by_key[key]]
                else:
                    status = _status(len(fake.statuses) + 1, body)
                    fake.statuses[status["id"]] = status
                    if key:
                        fake.by_key[key] = status["id"]
            self._reply(200, status)

    return Handler


@contextmanager
def running_mastodon() -> Iterator[FakeMastodon]:
    fake = FakeMastodon()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
