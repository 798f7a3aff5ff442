from __future__ import annotations

import datetime as dt

from django.db.models import Q

from hubbub.core.models import EventRecord
from hubbub.core.types import Audience, StreamEvent


def latest_event_id(*, workspace_id: int) -> int:
    last = (
        EventRecord.objects.filter(workspace_id=workspace_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return last or 0


def visible_to(audience: Audience) -> Q:
    visible = Q(user_id__isnull=True) | Q(user_id=audience.user_id)
    if audience.team_ids is not None:
        in_my_teams = Q(scoped=False)
        for team_id in audience.team_ids:
            in_my_teams |= Q(team_ids__contains=f",{team_id},")
        visible &= in_my_teams
    return visible


def events_for(*, audience: Audience, after_id: int, limit: int = 100) -> list[StreamEvent]:
    """Committed events after `after_id` that this audience may see, oldest first."""
    rows = (
        EventRecord.objects.filter(workspace_id=audience.workspace_id, id__gt=after_id)
        .filter(visible_to(audience))
        .order_by("id")
        .values_list("id", "kind", "payload")[:limit]
    )
    return [StreamEvent(id=row_id, kind=kind, payload=payload) for row_id, kind, payload in rows]


def late_events_for(
    *, audience: Audience, after_id: int, upto_id: int, since: dt.datetime, skip: set[int]
) -> list[StreamEvent]:
    """Events with ids at or below `upto_id` created since `since`, not in `skip`.

    Ids come from a sequence shared by concurrent transactions, so one can
    commit after another with a higher id; these are the ones a reader that
    already moved past their id has not seen yet.
    """
    ids = (
        EventRecord.objects.filter(
            workspace_id=audience.workspace_id,
            id__gt=after_id,
            id__lte=upto_id,
            created_at__gte=since,
        )
        .filter(visible_to(audience))
        .values_list("id", flat=True)[:5000]
    )
    missing = [event_id for event_id in ids if event_id not in skip]
    if not missing:
        return []
    rows = (
        EventRecord.objects.filter(id__in=missing)
        .order_by("id")
        .values_list("id", "kind", "payload")
    )
    return [StreamEvent(id=row_id, kind=kind, payload=payload) for row_id, kind, payload in rows]
