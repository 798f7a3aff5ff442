"""Writes of the care app: opening a conversation from a mention, keeping its priority."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from hubbub.accounts import permissions
from hubbub.accounts.models import User
from hubbub.care.events import ConversationOpened
from hubbub.care.models import Conversation, ConversationMention, ConversationStatus
from hubbub.core import clock
from hubbub.core.events import publish
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention

# How many of a customer's earlier unfiled mentions come along when a
# conversation opens: their recent story, not their whole history.
EARLIER_MENTIONS = 50


@dataclass(frozen=True, slots=True)
class Opened:
    conversation: Conversation
    created: bool


@transaction.atomic
def open_conversation(*, actor: User, mention_id: int) -> Opened:
    """The conversation for a mention: the one it is on, the customer's active one, or a new one.

    The customer's other mentions that no conversation holds yet, and that
    the actor may see, join it too: one customer, one conversation.
    """
    permissions.check_can_work_conversations(actor)
    visible = listening.visible_mentions(user=actor)
    mention = listening.access_mention(user=actor, mention_id=mention_id)
    on = ConversationMention.objects.select_related("conversation").filter(mention=mention).first()
    if on is not None:
        return Opened(on.conversation, created=False)
    conversation = (
        Conversation.objects.select_for_update()
        .filter(
            workspace_id=mention.workspace_id,
            platform=mention.platform,
            customer_handle=mention.author_handle,
            status__in=ConversationStatus.active(),
        )
        .order_by("-last_activity_at")
        .first()
    )
    created = conversation is None
    if conversation is None:
        conversation = Conversation.objects.create(
            workspace_id=mention.workspace_id,
            team_id=mention.team_id,
            status=ConversationStatus.OPEN,
            priority=mention.priority,
            platform=mention.platform,
            customer_handle=mention.author_handle,
            customer_name=mention.author_name,
            subject=_subject(mention.text),
            opened_by=actor,
            last_activity_at=mention.posted_at,
        )
    earlier = list(
        visible.filter(
            platform=mention.platform,
            author_handle=mention.author_handle,
            conversation_link__isnull=True,
        )
        .exclude(pk=mention.pk)
        .order_by("-posted_at")
        .values_list("pk", flat=True)[:EARLIER_MENTIONS]
    )
    ConversationMention.objects.bulk_create(
        [
            ConversationMention(conversation=conversation, mention_id=pk, added_by=actor)
            for pk in [mention.pk, *earlier]
        ],
        ignore_conflicts=True,  # another agent filed one of them a moment ago
    )
    _refresh(conversation)
    publish(
        ConversationOpened(conversation_id=conversation.pk, created=created),
        workspace_id=conversation.workspace_id,
        team_ids=None if conversation.team_id is None else [conversation.team_id],
    )
    return Opened(conversation, created=created)


@transaction.atomic
def refresh_conversation_of_mention(*, mention_id: int) -> None:
    """The conversation a mention is on, if any, takes its mentions' priority again.

    For services that change a mention's priority in their own transaction
    (an agent correcting its labels); the caller has checked the permission.
    """
    conversation = (
        Conversation.objects.select_for_update()
        .filter(mention_links__mention_id=mention_id)
        .first()
    )
    if conversation is not None:
        _refresh(conversation)


def _refresh(conversation: Conversation) -> None:
    """Priority and last activity follow the conversation's mentions."""
    summary = Mention.objects.filter(conversation_link__conversation=conversation).aggregate(
        priority=Max("priority"), latest=Max("posted_at")
    )
    conversation.priority = summary["priority"]
    conversation.last_activity_at = summary["latest"] or clock.now()
    conversation.save(update_fields=["priority", "last_activity_at", "updated_at"])


def _subject(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:119].rstrip() + "…"
