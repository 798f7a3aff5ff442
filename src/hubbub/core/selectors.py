from __future__ import annotations

from django.db.models import Q

from hubbub.core.models import EventRecord, Workspace
from hubbub.core.types import Audience, StreamEvent


def get_workspace(*, workspace_id: int) -> Workspace:
    return Workspace.objects.get(pk=workspace_id)


def latest_event_id(*, workspace_id: int) -> int:
    last = (
        EventRecord.objects.filter(workspace_id=workspace_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return last or 0


def events_for(*, audience: Audience, after_id: int, limit: int = 100) -> list[StreamEvent]:
    """Committed events after `after_id` that this audience may see, oldest first."""
    visible = Q(user_id__isnull=True) | Q(user_id=audience.user_id)
    if audience.team_ids is not None:
        visible &= Q(team_id__isnull=True) | Q(team_id__in=audience.team_ids)
    rows = (
        EventRecord.objects.filter(workspace_id=audience.workspace_id, id__gt=after_id)
        .filter(visible)
        .order_by("id")
        .values_list("id", "kind", "payload")[:limit]
    )
    return [StreamEvent(id=row_id, kind=kind, payload=payload) for row_id, kind, payload in rows]
