"""Approvals: public replies of agents who need them wait for a lead.

A held reply already counts as the brand's answer to its post (no one else
can answer it meanwhile). The lead approves it as it is, edits and approves
it, or sends it back with a comment; the author hears the outcome live.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet

from hubbub.accounts import permissions
from hubbub.accounts.models import Role, User
from hubbub.care import audit
from hubbub.care.models import (
    ActivityKind,
    Conversation,
    DeliveryState,
    Message,
)
from hubbub.care.services import announce_change, notify
from hubbub.core import clock
from hubbub.core.errors import Conflict, NotFound, ValidationFailed

MAX_COMMENT = 1000


def needs_approval(user: User) -> bool:
    profile = getattr(user, "profile", None)
    return bool(profile is not None and profile.needs_approval)


def hold_for_approval(message: Message, *, author: User) -> None:
    """In the author's transaction: record the hold and tell the leads who can approve it."""
    conversation = message.conversation
    audit.record(
        conversation,
        actor=author,
        kind=ActivityKind.HELD,
        summary=f"{audit.name_of(author)}'s reply waits for a lead's approval",
        detail={"message_id": message.pk},
    )
    for lead in approvers_of(conversation):
        notify(
            lead,
            conversation,
            message,
            f"{audit.name_of(author)}'s reply on “{conversation.subject[:100]}” needs approval",
        )


def approvers_of(conversation: Conversation) -> list[User]:
    """Leads of the conversation's team, else every lead and admin of the workspace."""
    people = User.objects.filter(
        workspace_id=conversation.workspace_id,
        is_active=True,
        role__in=[Role.LEAD, Role.ADMIN],
    )
    if conversation.team_id is not None:
        on_team = people.filter(teams=conversation.team_id, role=Role.LEAD)
        if on_team.exists():
            return list(on_team)
    return list(people)


def approval_queue(*, user: User) -> QuerySet[Message]:
    """Held replies the reader may approve, oldest first."""
    from hubbub.care.selectors import visible_conversations

    if not permissions.can_manage_teams(user):
        return Message.objects.none()
    return (
        Message.objects.filter(
            state=DeliveryState.HELD,
            conversation__in=visible_conversations(user=user),
        )
        .select_related("conversation", "author__profile", "in_reply_to")
        .order_by("created_at", "id")
    )


def _access_held(actor: User, message_id: int) -> Message:
    permissions.check_can_manage_teams(actor)
    from hubbub.care.selectors import visible_conversations

    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation", "author__profile")
        .filter(Q(pk=message_id), conversation__in=visible_conversations(user=actor))
        .first()
    )
    if message is None:
        raise NotFound("No such reply.", code="message_not_found")
    if message.state != DeliveryState.HELD:
        raise Conflict(
            "Someone reviewed this reply already.",
            code="already_reviewed",
            details={"state": message.state},
        )
    return message


@transaction.atomic
def approve_message(*, actor: User, message_id: int, body: str | None = None) -> Message:
    """Let a held reply go out, as written or as the lead edited it."""
    from hubbub.care.outbound import check_public_length, enqueue

    message = _access_held(actor, message_id)
    edited = body is not None and body.strip() != message.body
    if body is not None and edited:
        text = body.strip()
        if not text:
            raise ValidationFailed("An approved reply cannot be empty.", field="body")
        check_public_length(text, platform=message.platform)
        message.body = text
    message.state = DeliveryState.QUEUED
    message.reviewed_by = actor
    message.reviewed_at = clock.now()
    message.save(update_fields=["body", "state", "reviewed_by", "reviewed_at"])
    enqueue(message)
    from hubbub.care.handoffs import customer_told

    customer_told(message.conversation, at=message.reviewed_at)
    how = "approved and edited" if edited else "approved"
    author = message.author
    audit.record(
        message.conversation,
        actor=actor,
        kind=ActivityKind.APPROVED,
        summary=f"{audit.name_of(actor)} {how} {audit.name_of(author)}'s reply",
        detail={"message_id": message.pk, "edited": edited},
    )
    if author is not None and author.pk != actor.pk:
        notify(author, message.conversation, message, f"{audit.name_of(actor)} {how} your reply")
    announce_change(message.conversation, what="message", actor=actor)
    return message


@transaction.atomic
def return_message(*, actor: User, message_id: int, comment: str) -> Message:
    """Send a held reply back to its author with a comment; the post is free to answer again."""
    message = _access_held(actor, message_id)
    comment = comment.strip()
    if not comment:
        raise ValidationFailed("Say what to change.", field="comment")
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(f"Keep it under {MAX_COMMENT} characters.", field="comment")
    message.state = DeliveryState.RETURNED
    message.reviewed_by = actor
    message.reviewed_at = clock.now()
    message.review_comment = comment
    message.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_comment"])
    author = message.author
    audit.record(
        message.conversation,
        actor=actor,
        kind=ActivityKind.RETURNED,
        summary=(
            f"{audit.name_of(actor)} sent {audit.name_of(author)}'s reply back: “{comment[:150]}”"
        ),
        detail={"message_id": message.pk},
    )
    if author is not None:
        notify(
            author,
            message.conversation,
            message,
            f"{audit.name_of(actor)} sent your reply back: {comment[:200]}",
        )
    announce_change(message.conversation, what="message", actor=actor)
    return message
