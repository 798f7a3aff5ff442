"""Reads of the care app, scoped to what the reader may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Role, User
from hubbub.care.models import Conversation, ConversationStatus
from hubbub.core.errors import NotFound
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention


def visible_conversations(*, user: User) -> QuerySet[Conversation]:
    """Leads, admins and read-only people see every conversation; others their teams'."""
    conversations = Conversation.objects.filter(workspace_id=accounts.workspace_id_of(user))
    if not Role(user.role).sees_every_team:
        conversations = conversations.filter(
            Q(team__isnull=True) | Q(team_id__in=accounts.own_team_ids(user))
        )
    return conversations


def inbox(*, user: User, limit: int = 50) -> QuerySet[Conversation]:
    """Active conversations, most urgent first, then the most recently active."""
    return (
        visible_conversations(user=user)
        .filter(status__in=ConversationStatus.active())
        .select_related("team")
        .annotate(mention_count=Count("mention_links"))
        .order_by("-priority", "-last_activity_at", "-id")[:limit]
    )


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: Conversation
    mentions: list[Mention]  # the timeline so far, oldest first
    hidden: int  # mentions on it the reader may not see (routed to another team)


def conversation_view(*, user: User, conversation_id: int, limit: int = 500) -> ConversationView:
    try:
        conversation = (
            visible_conversations(user=user)
            .select_related("team", "opened_by__profile")
            .get(pk=conversation_id)
        )
    except Conversation.DoesNotExist as error:
        raise NotFound("No such conversation.", code="conversation_not_found") from error
    visible = listening.visible_mentions(user=user).filter(
        conversation_link__conversation=conversation
    )
    hidden = (
        Mention.objects.filter(conversation_link__conversation=conversation)
        .exclude(pk__in=visible.values("pk"))
        .count()
    )
    mentions = list(visible.order_by("posted_at", "id")[:limit])
    return ConversationView(conversation, mentions, hidden=hidden)


def conversation_of_mention(*, user: User, mention_id: int) -> int | None:
    """The id of the conversation a mention is on, when the reader may see that conversation."""
    return (
        visible_conversations(user=user)
        .filter(mention_links__mention_id=mention_id)
        .values_list("pk", flat=True)
        .first()
    )
