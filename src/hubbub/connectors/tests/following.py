"""Following a source in a thread, as the listener does, for the connectors' tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connections

from hubbub.connectors import polling
from hubbub.connectors.polling import Poll
from hubbub.listening.models import InboundPost, Source


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait for the follower thread to get somewhere (generous: a slow machine is no failure)."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


class Following:
    """polling.run over a source in a thread, as the listener runs it."""

    def __init__(self, source_id: int, poll: Poll, *, interval: float = 0.05) -> None:
        self.stop = threading.Event()
        self.poll = poll
        self.interval = interval
        self.thread = threading.Thread(target=self._run, args=(source_id,), daemon=True)

    def _run(self, source_id: int) -> None:
        try:
            polling.run(source_id, self.stop, self.poll, interval=self.interval)
        finally:
            connections.close_all()

    def __enter__(self) -> Following:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def stored_ids(source: Source) -> list[str]:
    return list(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))
