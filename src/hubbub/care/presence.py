"""Presence on a conversation: "Dana is viewing", "Dana is typing", live.

Browsers report their state on open, on typing and every HEARTBEAT seconds;
a report that changes nothing refreshes the row without an event, so the
event stream carries changes only. Someone who stops reporting (a closed
laptop) drops out after EXPIRES.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from hubbub.accounts.models import User
from hubbub.care.events import PresenceChanged
from hubbub.care.models import Presence, PresenceState
from hubbub.care.services import access_for_work
from hubbub.core import clock
from hubbub.core.errors import ValidationFailed
from hubbub.core.events import publish

HEARTBEAT_SECONDS = 20
EXPIRES = dt.timedelta(seconds=45)
LEFT = "left"


@transaction.atomic
def report_presence(*, actor: User, conversation_id: int, state: str) -> None:
    """Record where the actor is on a conversation; announce it when it changed."""
    if state not in {PresenceState.VIEWING, PresenceState.TYPING, LEFT}:
        raise ValidationFailed("Say viewing, typing or left.", field="state")
    conversation = access_for_work(actor=actor, conversation_id=conversation_id, lock=False)
    now = clock.now()
    current = Presence.objects.filter(conversation=conversation, user=actor).first()
    if state == LEFT:
        if current is None:
            return
        current.delete()
    elif current is None:
        Presence.objects.create(conversation=conversation, user=actor, state=state, seen_at=now)
    else:
        was = current.state if current.seen_at >= now - EXPIRES else LEFT
        current.state, current.seen_at = state, now
        current.save(update_fields=["state", "seen_at"])
        if was == state:
            return  # a heartbeat: nothing new to tell
    publish(
        PresenceChanged(conversation_id=conversation.pk, user_id=actor.pk, state=state),
        workspace_id=conversation.workspace_id,
        team_ids=None if conversation.team_id is None else [conversation.team_id],
    )


@dataclass(frozen=True, slots=True)
class Present:
    name: str
    state: str  # "viewing" or "typing"

    @property
    def sentence(self) -> str:
        return f"{self.name} is {'typing' if self.state == PresenceState.TYPING else 'viewing'}"


def present_on(*, conversation_id: int, besides: User) -> list[Present]:
    """The others with the conversation open now, those typing first."""
    rows = (
        Presence.objects.filter(conversation_id=conversation_id, seen_at__gte=clock.now() - EXPIRES)
        .exclude(user=besides)
        .select_related("user__profile")
        .order_by("state", "user__profile__display_name")  # "typing" before "viewing"
    )
    return [Present(row.user.profile.display_name, row.state) for row in rows]
