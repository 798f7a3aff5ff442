"""The one place Hubbub asks for the time, so tests can reason about it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()
