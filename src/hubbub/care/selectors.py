"""Reads of the care app, scoped to what the reader may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.cache import cache
from django.db.models import F, Prefetch, Q, QuerySet

from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Role, Team, TeamKind, User
from hubbub.care.models import (
    CASE_PAGE,
    CASE_PAGE_PLATFORMS,
    Activity,
    Attachment,
    Conversation,
    ConversationStatus,
    DeliveryState,
    Message,
    MessageKind,
    Notification,
    SlaPolicy,
    Tag,
    TeamSettings,
)
from hubbub.core import clock
from hubbub.core.errors import NotFound
from hubbub.crm import selectors as crm
from hubbub.crm.models import Identity
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention
from hubbub.listening.search import search_mentions
from hubbub.listening.selectors import PriorityReason


def visible_conversations(*, user: User) -> QuerySet[Conversation]:
    """Leads, admins and read-only people see every conversation; agents their teams' and
    those of no team; department members only their departments' (routed to them)."""
    conversations = Conversation.objects.filter(workspace_id=accounts.workspace_id_of(user))
    if user.role == Role.DEPARTMENT:
        # Handoffs show them the brief, never the care team's conversations.
        return conversations.filter(team_id__in=user.teams.values("pk"))
    if not Role(user.role).sees_every_team:
        # A subquery, not a list: one query fewer each time a page asks.
        conversations = conversations.filter(
            Q(team__isnull=True) | Q(team_id__in=user.teams.values("pk"))
        )
    return conversations


class InboxView(StrEnum):
    MINE = "mine"
    UNASSIGNED = "unassigned"
    TEAM = "team"
    ALL = "all"
    BREACHING = "breaching"
    UPDATE_DUE = "update_due"
    SNOOZED = "snoozed"
    DONE = "done"

    @property
    def label(self) -> str:
        return VIEW_LABELS[self]


VIEW_LABELS = {
    InboxView.MINE: "Mine",
    InboxView.UNASSIGNED: "Unassigned",
    InboxView.TEAM: "My teams",
    InboxView.ALL: "All open",
    InboxView.BREACHING: "Breaching soon",
    InboxView.UPDATE_DUE: "Update due",
    InboxView.SNOOZED: "Snoozed",
    InboxView.DONE: "Resolved",
}


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What the reader asked the inbox for; "" means any."""

    view: InboxView = InboxView.ALL
    channel: str = ""
    sentiment: str = ""
    intent: str = ""
    lang: str = ""
    tag: str = ""
    search: str = ""

    @property
    def narrowed(self) -> bool:
        return any((self.channel, self.sentiment, self.intent, self.lang, self.tag, self.search))


def _in_view(view: InboxView, *, user: User, now: dt.datetime) -> Q:
    awake = Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)
    active = Q(status__in=ConversationStatus.active())
    match view:
        case InboxView.MINE:
            return active & awake & Q(assignee=user)
        case InboxView.UNASSIGNED:
            return active & awake & Q(assignee__isnull=True)
        case InboxView.TEAM:
            return active & awake & Q(team_id__in=user.teams.values("pk"))
        case InboxView.BREACHING:
            # At risk and breached clocks are due within the hour too (or overdue).
            return active & awake & Q(sla_due_at__lte=now + BREACHING_WITHIN)
        case InboxView.UPDATE_DUE:
            # The team's update policy: the customer should have heard from us by now.
            return active & Q(update_due_at__lte=now)
        case InboxView.SNOOZED:
            return active & Q(snoozed_until__gt=now)
        case InboxView.DONE:
            return Q(status__in=[ConversationStatus.RESOLVED, ConversationStatus.CLOSED])
    return active & awake


# "Breaching soon": due within the hour, or overdue.
BREACHING_WITHIN = dt.timedelta(hours=1)


# Counts stop here ("999+"): past it a number tells an agent nothing more, and
# counting further would read every conversation of a long queue.
COUNT_CAP = 999


def inbox_counts(*, user: User) -> dict[InboxView, int]:
    """How many conversations each view holds, up to COUNT_CAP + 1 ("999+").

    One small query a view, each read from an index and stopped at the cap.
    """
    now = clock.now()
    visible = visible_conversations(user=user).order_by()
    return {
        view: visible.filter(_in_view(view, user=user, now=now))[: COUNT_CAP + 1].count()
        for view in InboxView
        if view != InboxView.DONE
    }


def inbox(
    *, user: User, wanted: InboxFilter = InboxFilter(), limit: int = 50
) -> list[Conversation]:
    """A view of the inbox, most urgent first, then the customer waiting longest."""
    wanted = wanted or InboxFilter()
    conversations = _filtered(user=user, wanted=wanted)
    order: list[Any] = [F("priority").desc(nulls_last=True), F("sla_due_at").asc(nulls_last=True)]
    if wanted.view == InboxView.BREACHING:
        order = [F("sla_due_at").asc(nulls_last=True), F("priority").desc(nulls_last=True)]
    if wanted.view == InboxView.DONE:
        order = [F("resolved_at").desc(nulls_last=True)]
    order += [F("last_inbound_at").asc(nulls_last=True), "-id"]
    return list(
        conversations.select_related("team", "assignee__profile")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .order_by(*order)[:limit]
    )


def _filtered(*, user: User, wanted: InboxFilter) -> QuerySet[Conversation]:
    conversations = visible_conversations(user=user).filter(
        _in_view(wanted.view, user=user, now=clock.now())
    )
    exact = {
        "platform": wanted.channel,
        "sentiment": wanted.sentiment,
        "intent": wanted.intent,
        "lang": wanted.lang,
    }
    conversations = conversations.filter(**{name: value for name, value in exact.items() if value})
    if wanted.tag:
        conversations = conversations.filter(tags__name__iexact=wanted.tag)
    if wanted.search.strip():
        conversations = conversations.filter(_matching(wanted.search, user=user))
    return conversations


def _matching(search: str, *, user: User) -> Q:
    """The words of any of the conversation's posts or its customer's handle (the full-text
    index of mentions; the subject is the first post), or the customer's name."""
    text = search.strip()[:200]
    mentions = search_mentions(listening.visible_mentions(user=user), text).values(
        "conversation_link__conversation_id"
    )
    return Q(pk__in=mentions) | Q(customer_name__icontains=text)


@dataclass(frozen=True, slots=True)
class InboxFacets:
    channels: list[str]
    languages: list[str]
    tags: list[str]


# The filters' choices change slowly; reading them from every active conversation
# on each refresh of every inbox would cost more than the list itself.
FACETS_SECONDS = 60


def inbox_facets(*, user: User) -> InboxFacets:
    """The values the inbox's filters offer: what active conversations actually have.

    Channels and languages are cached for a minute per workspace and audience
    (in Redis when configured, else per process); tags are read each time.
    """
    audience = "all" if Role(user.role).sees_every_team else str(user.pk)
    key = f"hubbub:inbox-facets:{accounts.workspace_id_of(user)}:{audience}"
    pairs: list[list[str]] | None = cache.get(key)
    if pairs is None:
        active = visible_conversations(user=user).filter(status__in=ConversationStatus.active())
        # order_by(): the model's default ordering would make DISTINCT return every row.
        pairs = [
            list(pair) for pair in active.order_by().values_list("platform", "lang").distinct()
        ]
        cache.set(key, pairs, FACETS_SECONDS)
    return InboxFacets(
        channels=sorted({platform for platform, _ in pairs}),
        languages=sorted({lang for _, lang in pairs if lang}),
        tags=list(
            Tag.objects.filter(workspace_id=accounts.workspace_id_of(user))
            .order_by("name")
            .values_list("name", flat=True)[:200]
        ),
    )


class EntryKind(StrEnum):
    MENTION = "mention"
    MESSAGE = "message"
    ACTIVITY = "activity"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: EntryKind
    at: dt.datetime
    item: Mention | Message | Activity


@dataclass(frozen=True, slots=True)
class Customer:
    handle: str
    name: str
    platform: str
    followers: int | None
    latest_post_url: str
    past: list[Conversation]
    # The same person elsewhere: Bluesky handle, email address, chat visitor …
    identities: list[Identity] = field(default_factory=list)
    email: str = ""


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: Conversation
    mentions: list[Mention]  # the customer's posts the reader may see, oldest first
    messages: list[Message]
    activities: list[Activity]
    hidden: int  # mentions on it the reader may not see (routed to another team)
    customer: Customer
    reasons: list[PriorityReason]
    assignable: list[User] = field(default_factory=list)

    @property
    def timeline(self) -> Iterator[TimelineEntry]:
        """Mentions, messages and the audit trail in one time order."""
        entries = [
            *(TimelineEntry(EntryKind.MENTION, m.posted_at, m) for m in self.mentions),
            *(TimelineEntry(EntryKind.MESSAGE, m.created_at, m) for m in self.messages),
            *(TimelineEntry(EntryKind.ACTIVITY, a.created_at, a) for a in self.activities),
        ]
        return iter(sorted(entries, key=lambda entry: entry.at))


def access_conversation(*, user: User, conversation_id: int) -> Conversation:
    try:
        return (
            visible_conversations(user=user)
            .select_related(
                "team",
                "assignee__profile",
                "opened_by__profile",
                "merged_into",
                "sla_policy",
                "contact",
            )
            .get(pk=conversation_id)
        )
    except Conversation.DoesNotExist as error:
        raise NotFound("No such conversation.", code="conversation_not_found") from error


def conversation_view(*, user: User, conversation_id: int, limit: int = 500) -> ConversationView:
    """Everything the conversation page shows, in a fixed number of queries."""
    conversation = access_conversation(user=user, conversation_id=conversation_id)
    on_it = Mention.objects.filter(conversation_link__conversation=conversation)
    visible = listening.visible_mentions(user=user).filter(
        conversation_link__conversation=conversation
    )
    hidden = on_it.count() - visible.count()
    mentions = list(visible.order_by("posted_at", "id")[:limit])
    messages = list(
        conversation.messages.select_related(
            "author__profile", "in_reply_to", "reviewed_by__profile"
        )
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.defer("data").order_by("id"))
        )
        .order_by("created_at", "id")[:limit]
    )
    activities = list(conversation.activities.order_by("created_at", "id")[:limit])
    top = max(
        (m for m in mentions if m.priority is not None), key=lambda m: m.priority or 0, default=None
    )
    return ConversationView(
        conversation=conversation,
        mentions=mentions,
        messages=messages,
        activities=activities,
        hidden=hidden,
        customer=_customer(user, conversation, mentions),
        reasons=listening.priority_reasons(top) if top is not None else _direct_reasons(messages),
        assignable=assignable_people(conversation),
    )


def _direct_reasons(messages: list[Message]) -> list[PriorityReason]:
    """Why a conversation of emails or chats ranks where it does: its latest message's triage."""
    for message in reversed(messages):
        if message.kind == MessageKind.CUSTOMER and isinstance(message.details, dict):
            triage = message.details.get("triage")
            if isinstance(triage, dict) and triage.get("reasons"):
                return listening.reasons_from(triage["reasons"])
    return []


def _customer(user: User, conversation: Conversation, mentions: list[Mention]) -> Customer:
    latest = mentions[-1] if mentions else None
    contact = conversation.contact
    theirs = visible_conversations(user=user)
    if contact is not None:
        theirs = theirs.filter(contact=contact)
    else:
        theirs = theirs.filter(
            platform=conversation.platform, customer_handle=conversation.customer_handle
        )
    past = list(theirs.exclude(pk=conversation.pk).order_by("-last_activity_at")[:10])
    link = latest.url if latest is not None else ""
    return Customer(
        handle=conversation.customer_handle,
        name=conversation.customer_name,
        platform=conversation.platform,
        followers=conversation.customer_followers,
        # Stored URLs come from the platforms: never render a javascript: link.
        latest_post_url=link if link.lower().startswith(("https://", "http://")) else "",
        past=past,
        identities=crm.identities_of(contact.pk) if contact is not None else [],
        email=contact.email if contact is not None else "",
    )


def assignable(conversation: Conversation) -> QuerySet[User]:
    """Who may be given this conversation: active agents of its team, and the leads
    and admins of its workspace (read-only people and departments never)."""
    people = User.objects.filter(
        workspace_id=conversation.workspace_id,
        is_active=True,
        role__in=[Role.AGENT, Role.LEAD, Role.ADMIN],
    )
    if conversation.team_id is not None:
        people = people.filter(
            Q(teams=conversation.team_id) | Q(role__in=[Role.LEAD, Role.ADMIN])
        ).distinct()
    return people


def assignable_people(conversation: Conversation) -> list[User]:
    """The people the assignee menu offers, online first."""
    people = assignable(conversation).select_related("profile")
    return sorted(
        people, key=lambda p: (p.profile.status != "online", p.profile.display_name.lower())
    )


def conversation_of_mention(*, user: User, mention_id: int) -> int | None:
    """The id of the conversation a mention is on, when the reader may see that conversation."""
    return (
        visible_conversations(user=user)
        .filter(mention_links__mention_id=mention_id)
        .values_list("pk", flat=True)
        .first()
    )


def unread_notifications(*, user: User, limit: int = 20) -> list[Notification]:
    return list(
        Notification.objects.filter(user=user, read_at__isnull=True)
        .select_related("conversation")
        .order_by("-created_at")[:limit]
    )


def team_settings(*, user: User) -> list[tuple[Team, TeamSettings | None]]:
    """The workspace's care teams with their settings (None: never configured)."""
    teams = list(
        accounts.visible_teams(user=user)
        .filter(kind=TeamKind.TEAM)
        .select_related("care_settings")
        .order_by("name")
    )
    return [(team, getattr(team, "care_settings", None)) for team in teams]


def sla_policies(*, user: User) -> list[SlaPolicy]:
    return list(SlaPolicy.objects.filter(workspace_id=accounts.workspace_id_of(user)))


def agents_with_capacity(*, user: User) -> list[User]:
    """People who take conversations, with their capacity (care_load) loaded."""
    return list(
        accounts.visible_members(user=user)
        .filter(is_active=True, role__in=[Role.AGENT, Role.LEAD])
        .select_related("profile", "care_load")
    )


def case_thread(conversation: Conversation, limit: int = 200) -> list[Message]:
    """What the customer sees on their case page: their messages and the brand's answers there.

    Never what came by email, chat or webhook: the page's reader holds a link
    that may have been public, and those channels have their own readers.
    """
    return list(
        conversation.messages.filter(
            Q(kind=MessageKind.CUSTOMER, platform__in=CASE_PAGE_PLATFORMS)
            | Q(kind=MessageKind.PRIVATE, platform=CASE_PAGE, state=DeliveryState.SENT)
        ).order_by("created_at", "id")[:limit]
    )


def access_attachment(*, user: User, attachment_id: int) -> Attachment:
    """An attachment of a conversation the user may see; NotFound otherwise."""
    attachment = (
        Attachment.objects.select_related("message").filter(pk=attachment_id, rejected="").first()
    )
    if attachment is None:
        raise NotFound("No such file.", code="attachment_not_found")
    access_conversation(user=user, conversation_id=attachment.message.conversation_id)
    return attachment
