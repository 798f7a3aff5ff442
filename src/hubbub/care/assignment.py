"""Who works a conversation: claim, assign, reassign, unassign, and round-robin within a team.

Automatic assignment gives a new conversation to the online member of its
team who has room (fewer active conversations than their capacity) and
waited longest since their last one. The team's settings row is locked while
choosing, so two workers assigning at once cannot both pick the last free
slot.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q

from hubbub.accounts.models import Role, Status, User
from hubbub.care import audit
from hubbub.care.models import (
    ActivityKind,
    AgentLoad,
    Conversation,
    ConversationStatus,
    TeamSettings,
)
from hubbub.care.services import access_for_work, announce_change
from hubbub.core import clock
from hubbub.core.errors import Conflict, ValidationFailed

MAX_REASSIGNMENT_NOTE = 300


def can_be_assigned(person: User, conversation: Conversation) -> bool:
    """Whether the person is one the conversation may be given to (selectors.assignable)."""
    from hubbub.care.selectors import assignable

    return assignable(conversation).filter(pk=person.pk).exists()


@transaction.atomic
def assign_conversation(
    *, actor: User, conversation_id: int, assignee_id: int | None, note: str = ""
) -> Conversation:
    """Give a conversation to someone (or to no one with None), with an optional note why."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    note = " ".join(note.split())
    if len(note) > MAX_REASSIGNMENT_NOTE:
        raise ValidationFailed(
            f"Keep the note under {MAX_REASSIGNMENT_NOTE} characters.", field="note"
        )
    if conversation.status not in ConversationStatus.active():
        raise Conflict("Reopen the conversation before assigning it.", code="not_active")
    if assignee_id == conversation.assignee_id:
        return conversation
    assignee = None
    if assignee_id is not None:
        assignee = User.objects.select_related("profile").filter(pk=assignee_id).first()
        if assignee is None or not can_be_assigned(assignee, conversation):
            raise ValidationFailed(
                "That person cannot take this conversation (not on its team, or read-only).",
                field="assignee",
            )
    _give(conversation, assignee, actor=actor, note=note)
    return conversation


@transaction.atomic
def claim_conversation(*, actor: User, conversation_id: int) -> Conversation:
    """Take an unassigned conversation. Someone else's must be reassigned, not claimed."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    if conversation.assignee_id == actor.pk:
        return conversation
    if conversation.assignee_id is not None:
        owner = audit.name_of(conversation.assignee)
        raise Conflict(
            f"{owner} took this conversation a moment ago. Reassign it if you should have it.",
            code="already_assigned",
            details={"assignee_id": conversation.assignee_id},
        )
    if not can_be_assigned(actor, conversation):
        raise ValidationFailed("You cannot take conversations.", field="assignee")
    _give(conversation, actor, actor=actor, note="")
    return conversation


def _give(
    conversation: Conversation, assignee: User | None, *, actor: User | None, note: str
) -> None:
    before = conversation.assignee
    conversation.assignee = assignee
    conversation.assigned_at = clock.now() if assignee is not None else None
    fields = ["assignee", "assigned_at", "updated_at"]
    if assignee is not None and conversation.status == ConversationStatus.NEW:
        conversation.status = ConversationStatus.OPEN
        fields.append("status")
    conversation.save(update_fields=fields)
    if assignee is not None:
        AgentLoad.objects.update_or_create(
            user=assignee, defaults={"last_assigned_at": conversation.assigned_at}
        )
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.ASSIGNED if assignee is not None else ActivityKind.UNASSIGNED,
        summary=_summary(actor, before, assignee) + (f": “{note}”" if note else ""),
        detail={
            "from": None if before is None else before.pk,
            "to": None if assignee is None else assignee.pk,
            "note": note,
        },
    )
    announce_change(conversation, what="assigned", actor=actor)


def _summary(actor: User | None, before: User | None, after: User | None) -> str:
    who = "Automatic assignment" if actor is None else audit.name_of(actor)
    if after is None:
        return f"{who} unassigned {audit.name_of(before)}"
    if actor is not None and after.pk == actor.pk and before is None:
        return f"{who} took the conversation"
    if before is None:
        return f"{who} assigned the conversation to {audit.name_of(after)}"
    return (
        f"{who} reassigned the conversation from {audit.name_of(before)} to {audit.name_of(after)}"
    )


def auto_assign(*, conversation_ids: list[int]) -> dict[int, int]:
    """Round-robin new unassigned conversations of auto-assigning teams (caller's transaction).

    Returns {conversation id: assignee id} for the ones that found someone;
    the rest wait in "unassigned" (everyone busy or away).
    """
    conversations = list(
        Conversation.objects.filter(
            pk__in=conversation_ids,
            assignee__isnull=True,
            team__care_settings__auto_assign=True,
            status__in=ConversationStatus.active(),
        ).order_by("-priority", "pk")
    )
    given: dict[int, int] = {}
    for team_id in sorted({c.team_id for c in conversations if c.team_id is not None}):
        TeamSettings.objects.select_for_update().filter(team_id=team_id).first()
        candidates = _candidates(team_id)
        for conversation in (c for c in conversations if c.team_id == team_id):
            person = _next_in_turn(candidates)
            if person is None:
                break
            _give(conversation, person.user, actor=None, note="")
            person.active += 1
            person.last_assigned_at = conversation.assigned_at
            given[conversation.pk] = person.user.pk
    return given


class _Candidate:
    __slots__ = ("active", "capacity", "last_assigned_at", "user")

    def __init__(self, user: User) -> None:
        self.user = user
        load = getattr(user, "care_load", None)
        self.capacity = load.capacity if load is not None else AgentLoad.DEFAULT_CAPACITY
        self.last_assigned_at = load.last_assigned_at if load is not None else None
        self.active: int = user.active_count  # type: ignore[attr-defined]


def _candidates(team_id: int) -> list[_Candidate]:
    """The team's online agents and leads with their active conversation count (one query)."""
    people = (
        User.objects.filter(
            teams=team_id,
            is_active=True,
            role__in=[Role.AGENT, Role.LEAD, Role.ADMIN],
            profile__status=Status.ONLINE,
        )
        .select_related("profile", "care_load")
        .annotate(
            active_count=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__status__in=ConversationStatus.active()),
            )
        )
        .order_by("pk")
    )
    return [_Candidate(person) for person in people]


def _next_in_turn(candidates: list[_Candidate]) -> _Candidate | None:
    """Whoever has room and waited longest; never-assigned people first."""
    free = [c for c in candidates if c.active < c.capacity]
    if not free:
        return None
    now = clock.now()
    return min(
        free, key=lambda c: (c.last_assigned_at is not None, c.last_assigned_at or now, c.user.pk)
    )
