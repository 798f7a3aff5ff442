"""Typed events that go out only after the publisher's transaction commits.

A service calls `publish(SomeEvent(...), workspace_id=…)` inside its
transaction. The event is written to the outbox table in that same
transaction; when (and only when) it commits, the live streams are woken
and the subscribers listed in `hubbub.core.subscribers` run. A rollback
leaves no trace.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import transaction
from django.utils.module_loading import import_string

from hubbub.core.models import EventRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event; subclasses add fields and set `kind`."""

    kind: ClassVar[str] = ""

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Published:
    """What subscribers receive: the event and where it belongs."""

    id: int
    event: Event
    workspace_id: int
    team_ids: tuple[int, ...] | None
    user_id: int | None


def publish(
    event: Event,
    *,
    workspace_id: int,
    team_ids: Iterable[int] | None = None,
    user_id: int | None = None,
) -> Published:
    """Record an event in the current transaction and deliver it after commit.

    team_ids limits the audience to people who may see one of those teams
    (and people who see every team); an empty list leaves only the latter.
    user_id limits it to one person. Both None: everyone in the workspace.
    """
    if not event.kind:
        raise ValueError(f"{type(event).__name__} has no kind")
    teams = None if team_ids is None else tuple(sorted(set(team_ids)))
    record = EventRecord.objects.create(
        workspace_id=workspace_id,
        scoped=teams is not None,
        team_ids="".join(f",{team}" for team in teams) + "," if teams else "",
        user_id=user_id,
        kind=event.kind,
        payload=event.payload(),
    )
    published = Published(record.id, event, workspace_id, teams, user_id)
    transaction.on_commit(lambda: _deliver(published))
    return published


def _deliver(published: Published) -> None:
    from hubbub.core import bus
    from hubbub.core.subscribers import SUBSCRIBERS

    bus.get_bus().notify(published.workspace_id)
    for path in SUBSCRIBERS.get(published.event.kind, ()):
        handler: Callable[[Published], None] = import_string(path)
        try:
            handler(published)
        except Exception:
            # One failing subscriber must not stop the others; the event
            # itself is committed and stays in the outbox.
            logger.exception("subscriber %s failed on %s", path, published.event.kind)
