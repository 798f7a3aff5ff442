"""Merging two conversations of one customer, and splitting a second issue off one.

A merge moves everything of one conversation into another (mentions,
messages, the chat visitor, handoffs, status-page updates, captured thanks)
and closes it, pointing at where it went; a split moves some mentions into a
new conversation that does not take the customer's next posts.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from hubbub.accounts.models import User
from hubbub.care import audit, sla
from hubbub.care.events import ConversationOpened
from hubbub.care.models import (
    ActivityKind,
    Conversation,
    ConversationMention,
    ConversationStatus,
    Handoff,
    HandoffState,
    Message,
    PraiseCapture,
    StatusUpdate,
)
from hubbub.care.services import (
    access_for_work,
    announce_change,
    audience_of,
    refresh_from_timeline,
    subject_of,
)
from hubbub.connectors.models import ChatVisitor
from hubbub.core import clock
from hubbub.core.errors import Conflict, ValidationFailed
from hubbub.core.events import publish
from hubbub.crm import services as crm


@transaction.atomic
def merge_conversations(*, actor: User, conversation_id: int, into_id: int) -> Conversation:
    """Move everything of one conversation into another of the same workspace, and close it.

    Its mentions and messages join the other's timeline (its audit trail
    stays with it); the merged one stays, closed, pointing at where it went,
    so old links still lead somewhere.
    """
    if conversation_id == into_id:
        raise ValidationFailed("A conversation cannot be merged into itself.", field="into")
    # Lock in id order so two opposite merges cannot deadlock.
    first, second = sorted([conversation_id, into_id])
    locked = {pk: access_for_work(actor=actor, conversation_id=pk) for pk in (first, second)}
    source, target = locked[conversation_id], locked[into_id]
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict("One of these conversations was merged already.", code="already_merged")
    _move_case_loop(source, target)
    ConversationMention.objects.filter(conversation=source).update(conversation=target)
    Message.objects.filter(conversation=source).update(conversation=target)
    # A chat visitor on the merged conversation goes on chatting on the target.
    ChatVisitor.objects.filter(conversation=source).update(conversation=target)
    if source.contact_id and target.contact_id and source.contact_id != target.contact_id:
        # The agent says these are one customer's: so are their identities.
        crm.merge_contacts(into=target.contact, other=source.contact)  # type: ignore[arg-type]
    source.status = ConversationStatus.CLOSED
    source.merged_into = target
    source.resolved_at = source.resolved_at or clock.now()
    source.takes_new_mentions = False
    source.save(
        update_fields=[
            "status",
            "merged_into",
            "resolved_at",
            "takes_new_mentions",
            "update_due_at",
            "updated_at",
        ]
    )
    if target.first_response_at is None or (
        source.first_response_at is not None and source.first_response_at < target.first_response_at
    ):
        target.first_response_at = source.first_response_at
        target.save(update_fields=["first_response_at"])
    refresh_from_timeline(target)
    name = audit.name_of(actor)
    audit.record(
        source,
        actor=actor,
        kind=ActivityKind.MERGED,
        summary=f"{name} merged this conversation into #{target.pk}",
        detail={"into": target.pk},
    )
    audit.record(
        target,
        actor=actor,
        kind=ActivityKind.MERGED,
        summary=f"{name} merged conversation #{source.pk} into this one",
        detail={"from": source.pk},
    )
    announce_change(source, what="merged", actor=actor)
    announce_change(target, what="merged", actor=actor)
    return target


def _move_case_loop(source: Conversation, target: Conversation) -> None:
    """Handoffs, status-page updates and captured thanks follow the merge (the survey stays:
    it rated the merged conversation's own resolution)."""
    open_handoffs = Handoff.objects.filter(
        conversation__in=[source, target], state__in=HandoffState.active()
    )
    if open_handoffs.count() > 1:
        raise Conflict(
            "Both conversations are with a department: take one handoff back first, so the "
            "customer's problem has one owner.",
            code="two_open_handoffs",
        )
    moves_open_handoff = open_handoffs.filter(conversation=source).exists()
    if moves_open_handoff and target.status not in ConversationStatus.active():
        raise Conflict(
            "A department has this problem: reopen the other conversation before merging "
            "into it, or take the handoff back.",
            code="handoff_open",
        )
    # The surviving contact is the customer now: the one-open-handoff rule follows it.
    Handoff.objects.filter(conversation=source).update(
        conversation=target, contact_id=target.contact_id or source.contact_id
    )
    if moves_open_handoff:
        before = target.status
        target.status = ConversationStatus.WAITING_DEPARTMENT
        target.save(update_fields=["status"])
        sla.status_changed(target, before=before)
    StatusUpdate.objects.filter(conversation=source).update(conversation=target)
    PraiseCapture.objects.filter(conversation=source).update(conversation=target)
    if moves_open_handoff and source.update_due_at is not None and target.update_due_at is None:
        target.update_due_at = source.update_due_at
        target.save(update_fields=["update_due_at"])
    source.update_due_at = None


@transaction.atomic
def split_conversation(
    *, actor: User, conversation_id: int, mention_ids: Sequence[int]
) -> Conversation:
    """Move some of a conversation's mentions into a new conversation: a second issue.

    The new one keeps the team and assignee; the customer's next mentions
    still join the original.
    """
    source = access_for_work(actor=actor, conversation_id=conversation_id)
    wanted = set(mention_ids)
    moving = list(
        ConversationMention.objects.filter(conversation=source, mention_id__in=wanted)
        .select_related("mention")
        .order_by("mention__posted_at")
    )
    if not wanted or len(moving) != len(wanted):
        raise ValidationFailed("Choose mentions that are on this conversation.", field="mentions")
    if len(moving) == source.mention_links.count():
        raise ValidationFailed(
            "Leave at least one mention on the original conversation.", field="mentions"
        )
    first = moving[0].mention
    split = Conversation.objects.create(
        workspace_id=source.workspace_id,
        team_id=source.team_id,
        status=ConversationStatus.OPEN,
        priority=first.priority,
        platform=source.platform,
        customer_handle=source.customer_handle,
        customer_name=source.customer_name,
        contact_id=source.contact_id,
        subject=subject_of(first.text),
        takes_new_mentions=False,
        assignee_id=source.assignee_id,
        assigned_at=source.assigned_at,
        opened_by=actor,
        last_activity_at=first.posted_at,
    )
    ConversationMention.objects.filter(pk__in=[link.pk for link in moving]).update(
        conversation=split
    )
    refresh_from_timeline(split)
    refresh_from_timeline(source)
    name = audit.name_of(actor)
    count = f"{len(moving)} mention{'s' if len(moving) != 1 else ''}"
    audit.record(
        source,
        actor=actor,
        kind=ActivityKind.SPLIT,
        summary=f"{name} split {count} off into #{split.pk}",
        detail={"into": split.pk, "mentions": sorted(wanted)},
    )
    audit.record(
        split,
        actor=actor,
        kind=ActivityKind.SPLIT,
        summary=f"{name} split {count} off #{source.pk} into this conversation",
        detail={"from": source.pk, "mentions": sorted(wanted)},
    )
    announce_change(source, what="split", actor=actor)
    publish(
        ConversationOpened(conversation_id=split.pk, created=True),
        workspace_id=split.workspace_id,
        team_ids=audience_of(split),
    )
    return split
