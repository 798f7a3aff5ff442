"""Oversized request bodies are refused before Django reads them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hubbub.core.asgi_limits import RequestSizeLimit


class Recorder:
    """A stand-in downstream app that reads the whole body and answers 200."""

    def __init__(self) -> None:
        self.body = b""
        self.saw_disconnect = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.saw_disconnect = True
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Any]:
    sent: list[Any] = []
    queue = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Any:
        return queue.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    # In a thread of its own: the browser tests keep an event loop in the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app({"type": "http", "headers": headers}, receive, send)).result()
    return sent


def test_a_declared_oversize_body_is_refused_unread() -> None:
    inner = Recorder()
    sent = run(RequestSizeLimit(inner, max_bytes=100), [(b"content-length", b"101")], [b"x" * 101])
    assert sent[0]["status"] == 413
    assert inner.body == b""


def test_a_streamed_body_is_cut_off_at_the_limit() -> None:
    inner = Recorder()
    sent = run(RequestSizeLimit(inner, max_bytes=100), [], [b"x" * 60, b"x" * 60, b"x" * 60])
    assert inner.saw_disconnect
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]


def test_a_body_within_the_limit_passes_untouched() -> None:
    inner = Recorder()
    sent = run(RequestSizeLimit(inner, max_bytes=100), [(b"content-length", b"100")], [b"x" * 100])
    assert sent[0]["status"] == 200
    assert inner.body == b"x" * 100
