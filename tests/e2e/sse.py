"""A small server-sent-events reader for tests: a thread fills a queue."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Received:
    id: int | None
    kind: str
    payload: dict[str, Any]


@dataclass
class EventStream:
    url: str
    cookies: dict[str, str]
    last_event_id: int | None = None
    events: queue.Queue[Received] = field(default_factory=queue.Queue)
    comments: queue.Queue[str] = field(default_factory=queue.Queue)
    status: queue.Queue[int] = field(default_factory=queue.Queue)
    closed: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> EventStream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.status_code = self.status.get(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            # The server went away (end of test) or refused: report no status.
            if self.status.empty():
                self.status.put(0)
        finally:
            self.closed.set()

    def _read(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        with (
            httpx.Client(cookies=self.cookies, timeout=httpx.Timeout(5, read=60)) as client,
            client.stream("GET", self.url + "/events/stream", headers=headers) as response,
        ):
            self.status.put(response.status_code)
            event_id: int | None = None
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments.put(line)
                elif line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    self.events.put(Received(event_id, data["kind"], data["payload"]))
                    event_id = None

    def next(self, timeout: float = 10) -> Received:
        return self.events.get(timeout=timeout)

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        return False
