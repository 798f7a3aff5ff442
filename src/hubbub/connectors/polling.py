"""The loop that follows a source by polling, the same for every platform.

A connector's `poll(config)` reads one page from where the cursor says and
returns a `Batch`; this loop stores it (posts and cursor in one
transaction, rejected items beside them), waits, and polls again. Between
polls it waits the source's interval, longer when the platform's rate-limit
budget must last until its reset, and not at all while the platform has
more. Transient errors back off with jitter, never sooner than the platform
asked; a permanent one (refused credentials) marks the source failing and
stops until a person acts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable

from django.db import transaction

from hubbub.connectors.base import Batch, ConnectorError, SourceConfig
from hubbub.connectors.http import backoff_seconds
from hubbub.core import clock
from hubbub.listening import services
from hubbub.listening.models import Source, SourceStatus

logger = logging.getLogger(__name__)

POLL_SECONDS = 60.0
# The shortest interval a source may ask for: platforms ask clients not to hammer them.
MIN_POLL_SECONDS = 5.0

Poll = Callable[[SourceConfig], Batch]


def source_config(source_id: int) -> SourceConfig | None:
    """The source as a connector sees it, or None if it is paused or gone."""
    source = Source.objects.filter(pk=source_id).first()
    if source is None or source.status == SourceStatus.PAUSED:
        return None
    return config_of(source)


def config_of(source: Source) -> SourceConfig:
    return SourceConfig(
        source_id=source.pk,
        workspace_id=source.workspace_id,
        kind=source.kind,
        settings=dict(source.settings or {}),
        credentials=credentials_of(source.credentials),
        cursor=source.cursor,
    )


def credentials_of(stored: str) -> dict[str, str]:
    """Credentials are stored (encrypted) as a JSON object of strings."""
    if not stored:
        return {}
    try:
        value = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items() if item is not None}


@transaction.atomic
def store_batch(config: SourceConfig, batch: Batch) -> int:
    """Accept the batch's posts and cursor, keep its rejected items; returns how many were new.

    One transaction: the cursor never passes a rejected item that was not kept.
    """
    new = 0
    if batch.posts or batch.cursor != config.cursor:
        new = services.accept_posts(
            source_id=config.source_id, posts=batch.posts, cursor=batch.cursor
        ).new
    services.record_rejected_items(source_id=config.source_id, rejected=batch.rejected)
    budget = batch.budget
    services.record_source_read(
        source_id=config.source_id,
        budget_remaining=budget.remaining if budget else None,
        budget_limit=budget.limit if budget else None,
        budget_reset_at=budget.reset_at if budget else None,
    )
    return new


def interval_of(config: SourceConfig, default: float = POLL_SECONDS) -> float:
    try:
        seconds = float(config.settings.get("poll_seconds") or default)
    except (TypeError, ValueError):
        seconds = default
    return max(MIN_POLL_SECONDS, seconds)


def record_failure(
    config: SourceConfig,
    error: ConnectorError,
    failures: int,
    *,
    backoff: Callable[[int, float | None], float] = backoff_seconds,
) -> float | None:
    """Note a failed read; the seconds to wait before the next, or None to stop."""
    if not error.transient:
        services.record_source_failure(
            source_id=config.source_id, message=error.message, retry_at=None, permanent=True
        )
        return None
    wait = backoff(failures, error.retry_after_seconds)
    services.record_source_failure(
        source_id=config.source_id,
        message=error.message,
        retry_at=clock.now() + dt.timedelta(seconds=wait),
        permanent=False,
    )
    return wait


def wait_for_rate_limit(source_id: int, stop: threading.Event) -> None:
    """A source another process left rate-limited waits out the rest of it."""
    until = Source.objects.filter(pk=source_id).values_list("rate_limited_until", flat=True).first()
    if until is not None:
        stop.wait(max(0.0, (until - clock.now()).total_seconds()))


def run(
    source_id: int, stop: threading.Event, poll: Poll, *, interval: float | None = None
) -> None:
    """Poll the source until `stop` is set, it is paused, or it fails for good."""
    wait_for_rate_limit(source_id, stop)
    failures = 0
    while not stop.is_set():
        config = source_config(source_id)
        if config is None:
            return
        try:
            batch = poll(config)
        except ConnectorError as error:
            failures += 1
            logger.warning("source %s: %s", source_id, error.message)
            wait = record_failure(config, error, failures)
            if wait is None:
                return
            stop.wait(wait)
            continue
        failures = 0
        store_batch(config, batch)
        pause = 0.0 if batch.more else (interval or interval_of(config))
        if batch.budget is not None:
            pause = max(pause, batch.budget.spread_seconds(clock.now()))
        stop.wait(pause)


def follow(source_id: int, stop: threading.Event) -> None:
    """The follower of a source whose connector polls (see registry.FOLLOWERS)."""
    from hubbub.connectors.registry import connector_for

    kind = Source.objects.values_list("kind", flat=True).get(pk=source_id)
    run(source_id, stop, connector_for(kind).poll)
