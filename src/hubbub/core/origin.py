"""Where a change came from, for the audit trail: web, API, command line or worker.

The request middleware sets it for the length of a request; commands and
workers set it once at start. Services read it when they record an audit
entry, so they need no extra parameter to say where they were called from.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    channel: str  # "web", "api", "cli", "worker", "pipeline" or "system"
    ip: str | None = None
    user_agent: str = ""

    def describe(self) -> str:
        """How the audit trail shows it: "web, 203.0.113.9"."""
        return self.channel if not self.ip else f"{self.channel}, {self.ip}"


SYSTEM = Origin("system")
_current: contextvars.ContextVar[Origin] = contextvars.ContextVar("hubbub_origin", default=SYSTEM)


def current() -> Origin:
    return _current.get()


@contextmanager
def acting_from(origin: Origin) -> Iterator[None]:
    token = _current.set(origin)
    try:
        yield
    finally:
        _current.reset(token)


def set_for_process(channel: str) -> None:
    """A command or worker process: everything it does comes from `channel`."""
    _current.set(Origin(channel))
