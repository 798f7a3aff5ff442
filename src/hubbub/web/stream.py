"""The live stream: one server-sent-events connection per browser tab.

The stream reads committed events from the outbox (core.EventRecord) and
sleeps on the bus between them. `Last-Event-ID` (sent by EventSource on
reconnect) resumes exactly after the last event the tab received.

Who may see what is checked again at every heartbeat: a person signed out,
deactivated or moved to another team stops receiving what they may no
longer see within one heartbeat. A stream also ends after an hour; the
browser reconnects and resumes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from hubbub.accounts import selectors as accounts_selectors
from hubbub.accounts.models import User
from hubbub.core import bus, clock
from hubbub.core import selectors as core_selectors
from hubbub.core.types import Audience, StreamEvent

BATCH = 100
# A reconnecting tab may catch up on at most this many events; older ones
# are history, not news.
MAX_BACKLOG = 1000
# Ids come from one sequence shared by concurrent writers, so a transaction
# can commit after one with a higher id. Each poll therefore also looks at
# everything created in this window and skips what it already sent.
LATE_COMMIT_WINDOW = dt.timedelta(seconds=10)
MAX_STREAM_SECONDS = 60 * 60
EVENT_ID = re.compile(r"^[0-9]{1,18}$")


def format_event(event: StreamEvent) -> str:
    data = json.dumps({"kind": event.kind, "payload": event.payload}, separators=(",", ":"))
    return f"id: {event.id}\ndata: {data}\n\n"


def _resume_point(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or ""
    return int(raw) if EVENT_ID.match(raw) else None


def _start_point(workspace_id: int, resume: int | None) -> int:
    latest = core_selectors.latest_event_id(workspace_id=workspace_id)
    if resume is None:
        return latest
    return max(min(resume, latest), latest - MAX_BACKLOG)


def _current_audience(session_key: str, user_id: int) -> Audience | None:
    """The audience of a still-valid session, or None once it is not."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    try:
        if not store().exists(session_key):
            return None
        user = User.objects.filter(pk=user_id, is_active=True, workspace__isnull=False).first()
        return None if user is None else accounts_selectors.audience_for(user=user)
    finally:
        # A stream lives long; do not hold a pooled connection between polls.
        connection.close()


def _poll(
    audience: Audience, after_id: int, late_since: dt.datetime | None, floor: int, sent: set[int]
) -> tuple[list[StreamEvent], int]:
    """New events, plus late commits when `late_since` is given; and the raw row count."""
    try:
        fresh = core_selectors.events_for(audience=audience, after_id=after_id, limit=BATCH)
        late: list[StreamEvent] = []
        if late_since is not None:
            late = core_selectors.late_events_for(
                audience=audience, after_id=floor, upto_id=after_id, since=late_since, skip=sent
            )
        return late + fresh, len(fresh)
    finally:
        # A stream lives long; do not hold a pooled connection between polls.
        connection.close()


async def stream(request: HttpRequest) -> HttpResponseBase:
    user = await request.auser()
    session_key = request.session.session_key
    if not isinstance(user, User) or user.workspace_id is None or not session_key:
        return JsonResponse(
            {"error": {"code": "not_authenticated", "message": "Sign in to receive live events."}},
            status=401,
        )
    audience = await sync_to_async(accounts_selectors.audience_for)(user=user)
    after = await sync_to_async(_start_point)(user.workspace_id, _resume_point(request))
    response = StreamingHttpResponse(
        _events(audience, after, session_key), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _events(audience: Audience, after: int, session_key: str) -> AsyncIterator[str]:
    heartbeat = settings.HUBBUB_SSE_HEARTBEAT_SECONDS
    poll = sync_to_async(_poll)
    recheck = sync_to_async(_current_audience)
    sent: dict[int, float] = {}  # id → when sent, kept for the late-commit window
    newest = after
    look_back = False  # look for late commits on heartbeat polls only: cheap on the hot path
    ends_at = time.monotonic() + MAX_STREAM_SECONDS
    yield "retry: 2000\n\n"
    async with bus.get_bus().waiter(audience.workspace_id) as waiter:
        while time.monotonic() < ends_at:
            waiter.clear()  # before reading, so a commit during the read still wakes us
            since = clock.now() - LATE_COMMIT_WINDOW if look_back else None
            events, fresh_rows = await poll(audience, newest, since, after, set(sent))
            for event in events:
                if event.id in sent:
                    continue
                sent[event.id] = time.monotonic()
                newest = max(newest, event.id)
                yield format_event(event)
            if fresh_rows >= BATCH:
                look_back = False
                continue  # more to catch up on
            forget_before = time.monotonic() - 2 * LATE_COMMIT_WINDOW.total_seconds()
            sent = {event_id: at for event_id, at in sent.items() if at >= forget_before}
            woken = await waiter.wait(heartbeat)
            look_back = not woken
            if not woken:
                current = await recheck(session_key, audience.user_id)
                if current is None:
                    return  # signed out or deactivated: close the stream
                audience = current
                yield ": heartbeat\n\n"
