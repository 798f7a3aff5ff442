"""The live stream: one server-sent-events connection per browser tab.

The stream reads committed events from the outbox (core.EventRecord) and
sleeps on the bus between them. `Last-Event-ID` (sent by EventSource on
reconnect) resumes exactly after the last event the tab received.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from hubbub.accounts import selectors as accounts_selectors
from hubbub.accounts.models import User
from hubbub.core import bus
from hubbub.core import selectors as core_selectors
from hubbub.core.types import Audience, StreamEvent

BATCH = 100
# Sequence numbers can commit out of order under concurrent writers
# (PostgreSQL), so each poll looks a little behind the newest id it sent and
# skips ids it already delivered.
LOOKBACK_IDS = 50


def format_event(event: StreamEvent) -> str:
    data = json.dumps({"kind": event.kind, "payload": event.payload}, separators=(",", ":"))
    return f"id: {event.id}\ndata: {data}\n\n"


def _resume_point(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or ""
    return int(raw) if raw.isdigit() else None


async def stream(request: HttpRequest) -> HttpResponseBase:
    user = await request.auser()
    if not isinstance(user, User) or user.workspace_id is None:
        return JsonResponse(
            {"error": {"code": "not_authenticated", "message": "Sign in to receive live events."}},
            status=401,
        )
    audience = await sync_to_async(accounts_selectors.audience_for)(user=user)
    after = _resume_point(request)
    if after is None:
        after = await sync_to_async(core_selectors.latest_event_id)(workspace_id=user.workspace_id)
    response = StreamingHttpResponse(_events(audience, after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _events(audience: Audience, after: int) -> AsyncIterator[str]:
    heartbeat = settings.HUBBUB_SSE_HEARTBEAT_SECONDS
    fetch = sync_to_async(core_selectors.events_for)
    sent: deque[int] = deque(maxlen=4 * LOOKBACK_IDS)
    newest = after
    yield "retry: 2000\n\n"
    async with bus.get_bus().waiter(audience.workspace_id) as waiter:
        while True:
            waiter.clear()  # before reading, so a commit during the read still wakes us
            floor = after if not sent else max(after, newest - LOOKBACK_IDS)
            events = [
                e
                for e in await fetch(audience=audience, after_id=floor, limit=BATCH)
                if e.id not in sent
            ]
            for event in events:
                sent.append(event.id)
                newest = max(newest, event.id)
                yield format_event(event)
            if len(events) >= BATCH:
                continue
            if not await waiter.wait(heartbeat):
                yield ": heartbeat\n\n"
