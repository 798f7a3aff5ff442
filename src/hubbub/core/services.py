"""Writes of the core app."""

from __future__ import annotations

import datetime as dt

from hubbub.core import clock
from hubbub.core.models import EventRecord

EVENT_RETENTION = dt.timedelta(hours=24)


def prune_events(*, older_than: dt.timedelta = EVENT_RETENTION) -> int:
    """Delete outbox events older than the retention; returns how many went.

    Live streams only need recent events (a reconnecting tab catches up on
    at most the last thousand), so the outbox must not grow for ever.
    """
    deleted, _ = EventRecord.objects.filter(created_at__lt=clock.now() - older_than).delete()
    return deleted
