"""The audit trail of conversations: one row per change, with who, when and from where."""

from __future__ import annotations

from typing import Any

from hubbub.accounts.models import User
from hubbub.care.models import Activity, ActivityKind, Conversation
from hubbub.core import origin


def record(
    conversation: Conversation | int,
    *,
    actor: User | None,
    kind: ActivityKind,
    summary: str,
    detail: dict[str, Any] | None = None,
) -> Activity:
    """Write one audit entry in the caller's transaction; `summary` is plain text."""
    where = origin.current()
    return Activity.objects.create(
        conversation_id=conversation if isinstance(conversation, int) else conversation.pk,
        actor=actor,
        kind=kind,
        summary=summary[:300],
        detail=detail or {},
        channel=where.channel,
        ip=where.ip,
    )


def name_of(user: User | None) -> str:
    """How the trail names a person: their display name, else their email."""
    if user is None:
        return "Hubbub"
    profile = getattr(user, "profile", None)
    return profile.display_name if profile is not None else user.email
