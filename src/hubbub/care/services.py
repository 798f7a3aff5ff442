"""Writes of the care app: conversations, their status, priority, tags and notes.

Every change is recorded in the audit trail (care.audit) and announced with
an event after commit, so every inbox and conversation page updates live.
Assignment lives in care.assignment, outbound messages in care.outbound,
merge and split in care.merging.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.db.models.functions import Lower

from hubbub.accounts import permissions
from hubbub.accounts.models import Role, User
from hubbub.care import audit, automation, sla
from hubbub.care.events import (
    ConversationChanged,
    ConversationOpened,
    ConversationsArrived,
    NotificationCreated,
)
from hubbub.care.models import (
    ActivityKind,
    Conversation,
    ConversationMention,
    ConversationStatus,
    Handoff,
    HandoffState,
    Message,
    MessageKind,
    Notification,
    Tag,
)
from hubbub.core import clock, origin
from hubbub.core.errors import Conflict, HubbubError, NotFound, ValidationFailed
from hubbub.core.events import publish
from hubbub.crm import services as crm
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention, QueryKind

# How many of a customer's earlier unfiled mentions come along when a
# conversation opens: their recent story, not their whole history.
EARLIER_MENTIONS = 50
MAX_TAGS = 20
MAX_NOTE_LENGTH = 5000
# Queries about the brand itself make conversations; competitor and campaign
# mentions stay in Listening until an agent opens one.
CARE_QUERY_KINDS = (QueryKind.BRAND, QueryKind.PRODUCT)
# Changes the pipeline makes are recorded as coming from it, whatever process runs it.
PIPELINE = origin.Origin("pipeline")
# "@Dana" or "@dana.smith@brightwave.test" in a note.
AT_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


@dataclass(frozen=True, slots=True)
class Opened:
    conversation: Conversation
    created: bool


def access_for_work(*, actor: User, conversation_id: int, lock: bool = True) -> Conversation:
    """The conversation, locked for the caller's transaction, when the actor may work on it."""
    from hubbub.care.selectors import visible_conversations

    permissions.check_can_work_conversations(actor)
    conversations = visible_conversations(user=actor)
    if lock:
        conversations = conversations.select_for_update()
    try:
        return conversations.get(pk=conversation_id)
    except Conversation.DoesNotExist as error:
        raise NotFound("No such conversation.", code="conversation_not_found") from error


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
    conversation = _active_conversation_of(mention)
    created = conversation is None
    if conversation is None:
        try:
            with transaction.atomic():  # a savepoint: the customer's may have appeared meanwhile
                conversation = _new_conversation(mention, status=ConversationStatus.OPEN)
                conversation.opened_by = actor
                conversation.save(update_fields=["opened_by"])
        except IntegrityError:
            conversation = _active_conversation_of(mention)
            created = False
            if conversation is None:
                raise
    if created:
        audit.record(
            conversation,
            actor=actor,
            kind=ActivityKind.OPENED,
            summary=f"{audit.name_of(actor)} opened the conversation from a mention",
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
    refresh_from_timeline(conversation)
    publish(
        ConversationOpened(conversation_id=conversation.pk, created=created),
        workspace_id=conversation.workspace_id,
        team_ids=audience_of(conversation),
    )
    return Opened(conversation, created=created)


def _threads_of(workspace_id: int, platform: str, handle: str) -> QuerySet[Conversation]:
    """The customer's active conversation that takes their new mentions (one at most)."""
    return Conversation.objects.filter(
        workspace_id=workspace_id,
        platform=platform,
        customer_handle=handle,
        status__in=ConversationStatus.active(),
        takes_new_mentions=True,
    )


def _active_conversation_of(mention: Mention) -> Conversation | None:
    """The customer's active conversation: on this platform, else on any of their channels."""
    on_platform = (
        _threads_of(mention.workspace_id, mention.platform, mention.author_handle)
        .select_for_update()
        .first()
    )
    if on_platform is not None:
        return on_platform
    contact = crm.contact_for(workspace_id=mention.workspace_id, seen=_seen(mention))
    return active_conversation_of_contact(contact.pk)


def active_conversation_of_contact(contact_id: int) -> Conversation | None:
    """The contact's active conversation that takes new messages, locked; the latest if several."""
    return (
        Conversation.objects.select_for_update()
        .filter(
            contact_id=contact_id,
            status__in=ConversationStatus.active(),
            takes_new_mentions=True,
        )
        .order_by("-last_activity_at", "-id")
        .first()
    )


def _new_conversation(mention: Mention, *, status: ConversationStatus) -> Conversation:
    conversation = _unsaved_conversation(mention, first=mention, status=status)
    conversation.contact = crm.contact_for(workspace_id=mention.workspace_id, seen=_seen(mention))
    conversation.save()
    return conversation


def _seen(mention: Mention) -> crm.Seen:
    return crm.Seen(mention.platform, mention.author_handle, mention.author_name)


@transaction.atomic
def thread_mentions(*, mention_ids: Sequence[int]) -> list[int]:
    """File the pipeline's new mentions into conversations (within the caller's transaction).

    Each mention of a brand or product query joins its customer's active
    conversation; without one, it thanks for or re-opens their recently
    resolved case (care.aftercare), else opens a new conversation (status
    "new"). Copies of another post and posts without an author stay in
    Listening. Returns the ids of the conversations that changed. One query
    per step for the whole batch.
    """
    rows = list(
        Mention.objects.filter(
            pk__in=mention_ids,
            duplicate_of__isnull=True,
            conversation_link__isnull=True,
            queries__kind__in=CARE_QUERY_KINDS,
        )
        .exclude(author_handle="")
        .distinct()
        .order_by("posted_at", "id")
    )
    if not rows:
        return []
    by_customer: dict[tuple[int, str, str], list[Mention]] = {}
    for mention in rows:
        by_customer.setdefault(_customer_key(mention), []).append(mention)
    contact_of = _contacts_of(by_customer)
    conversations = _active_conversations(by_customer.keys(), contact_of)
    missing = [key for key in by_customer if key not in conversations]
    praised: set[int] = set()
    if missing:
        from hubbub.care import aftercare

        followed = aftercare.follow_resolved_cases(
            {key: by_customer[key] for key in missing}, contact_of
        )
        conversations.update(followed.reopened)
        praised = {conversation.pk for conversation in followed.praised.values()}
        missing = [
            key for key in missing if key not in conversations and key not in followed.praised
        ]
    if missing:
        # One new conversation per person, even when they wrote from two platforms at once.
        firsts: dict[int | tuple[int, str, str], tuple[int, str, str]] = {}
        for key in missing:
            firsts.setdefault(contact_of.get(key, key), key)
        Conversation.objects.bulk_create(
            [
                _unsaved_conversation(
                    by_customer[key][-1], first=by_customer[key][0], contact_id=contact_of.get(key)
                )
                for key in firsts.values()
            ],
            ignore_conflicts=True,  # another worker opened one for the same customer just now
        )
        conversations = _active_conversations(by_customer.keys(), contact_of)
    created = {conversations[key].pk for key in missing if key in conversations}
    ConversationMention.objects.bulk_create(
        [
            ConversationMention(conversation=conversations[key], mention=mention)
            for key, mentions in by_customer.items()
            if key in conversations
            for mention in mentions
        ],
        ignore_conflicts=True,
    )
    taken: dict[int, list[Mention]] = {}
    changed_by_pk: dict[int, Conversation] = {}
    for key, mentions in by_customer.items():
        if key in conversations:
            conversation = conversations[key]
            changed_by_pk[conversation.pk] = conversation
            taken.setdefault(conversation.pk, []).extend(mentions)
    changed = list(changed_by_pk.values())
    for conversation in changed:
        taken[conversation.pk].sort(key=lambda m: (m.posted_at, m.pk))
        _take_new_mentions(conversation, taken[conversation.pk])
    Conversation.objects.bulk_update(
        changed,
        [
            "status",
            "priority",
            "sentiment",
            "intent",
            "lang",
            "customer_followers",
            "customer_name",
            "snoozed_until",
            "last_activity_at",
            "last_inbound_at",
        ],
    )
    sla.refresh_clocks(changed)
    with origin.acting_from(PIPELINE):
        _record_openings(changed, created)
        if created:
            from hubbub.care.assignment import auto_assign

            auto_assign(conversation_ids=sorted(created))
        automation.acknowledge(
            [(conversation, taken[conversation.pk][-1]) for conversation in changed]
        )
    _announce_arrivals(changed, created)
    return [conversation.pk for conversation in changed] + sorted(praised - changed_by_pk.keys())


def _record_openings(changed: list[Conversation], created: set[int]) -> None:
    for conversation in changed:
        if conversation.pk in created:
            audit.record(
                conversation,
                actor=None,
                kind=ActivityKind.OPENED,
                summary="Opened by the listening pipeline from a mention",
            )


def _customer_key(mention: Mention) -> tuple[int, str, str]:
    return (mention.workspace_id, mention.platform, mention.author_handle)


def _key_of(conversation: Conversation) -> tuple[int, str, str]:
    return (conversation.workspace_id, conversation.platform, conversation.customer_handle)


def _contacts_of(
    by_customer: dict[tuple[int, str, str], list[Mention]],
) -> dict[tuple[int, str, str], int]:
    """Each customer's contact id, found or created, a few queries per workspace."""
    per_workspace: dict[int, list[crm.Seen]] = {}
    for (workspace_id, platform, handle), mentions in by_customer.items():
        per_workspace.setdefault(workspace_id, []).append(
            crm.Seen(platform, handle, mentions[-1].author_name)
        )
    found: dict[tuple[int, str, str], int] = {}
    for workspace_id, seen in per_workspace.items():
        for (platform, handle), contact_id in crm.contacts_for(workspace_id, seen).items():
            found[(workspace_id, platform, handle)] = contact_id
    return found


def _active_conversations(
    keys: Iterable[tuple[int, str, str]], contact_of: dict[tuple[int, str, str], int]
) -> dict[tuple[int, str, str], Conversation]:
    """The active conversation each customer's posts join: theirs on the platform, else
    their contact's on another channel (they emailed, then posted)."""
    wanted = set(keys)
    found = Conversation.objects.select_for_update().filter(
        workspace_id__in={key[0] for key in wanted},
        customer_handle__in={key[2] for key in wanted},
        status__in=ConversationStatus.active(),
        takes_new_mentions=True,
    )
    by_key = {_key_of(c): c for c in found if _key_of(c) in wanted}
    elsewhere = {contact_of[key] for key in wanted - by_key.keys() if key in contact_of}
    if elsewhere:
        by_contact: dict[int, Conversation] = {}
        for conversation in (
            Conversation.objects.select_for_update()
            .filter(
                contact_id__in=elsewhere,
                status__in=ConversationStatus.active(),
                takes_new_mentions=True,
            )
            .order_by("last_activity_at", "id")
        ):
            by_contact[conversation.contact_id] = conversation  # type: ignore[index]  # the latest wins
        for key in wanted - by_key.keys():
            if contact_of.get(key) in by_contact:
                by_key[key] = by_contact[contact_of[key]]
    return by_key


def _unsaved_conversation(
    latest: Mention,
    *,
    first: Mention,
    status: ConversationStatus = ConversationStatus.NEW,
    contact_id: int | None = None,
) -> Conversation:
    """A customer's conversation, about their `first` post, up to date with their `latest`."""
    return Conversation(
        workspace_id=latest.workspace_id,
        team_id=latest.team_id,
        status=status,
        priority=latest.priority,
        platform=latest.platform,
        customer_handle=latest.author_handle,
        customer_name=latest.author_name,
        contact_id=contact_id,
        subject=subject_of(first.text),
        last_activity_at=latest.posted_at,
        last_inbound_at=latest.posted_at,
    )


def _take_new_mentions(conversation: Conversation, mentions: list[Mention]) -> None:
    """The customer spoke again: triage follows their latest post, the clock wakes up."""
    latest = mentions[-1]
    if conversation.priority_set_by_id is None:
        scores = [m.priority for m in mentions if m.priority is not None]
        if conversation.priority is not None:
            scores.append(conversation.priority)
        conversation.priority = max(scores) if scores else None
    if conversation.last_inbound_at is None or latest.posted_at >= conversation.last_inbound_at:
        _follow(conversation, latest)
        conversation.customer_name = latest.author_name or conversation.customer_name
    conversation.last_activity_at = max(conversation.last_activity_at, latest.posted_at)
    conversation.snoozed_until = None
    if conversation.status == ConversationStatus.WAITING_CUSTOMER:
        conversation.status = ConversationStatus.OPEN


def _follow(conversation: Conversation, latest: Mention) -> None:
    """Triage, reach and the waiting clock follow the customer's latest post."""
    conversation.sentiment = latest.sentiment
    conversation.intent = latest.intent
    conversation.lang = latest.lang
    conversation.customer_followers = latest.author_followers
    conversation.last_inbound_at = latest.posted_at


def _announce_arrivals(changed: list[Conversation], created: set[int]) -> None:
    groups: dict[tuple[int, int | None], list[int]] = {}
    for conversation in changed:
        groups.setdefault((conversation.workspace_id, conversation.team_id), []).append(
            conversation.pk
        )
    for (workspace_id, team_id), ids in groups.items():
        publish(
            ConversationsArrived(
                conversation_ids=ids[:200], created=sum(1 for pk in ids if pk in created)
            ),
            workspace_id=workspace_id,
            team_ids=None if team_id is None else [team_id],
        )


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
        refresh_from_timeline(conversation)


def refresh_from_timeline(conversation: Conversation) -> None:
    """Priority, triage and last activity follow the conversation's mentions."""
    mentions = Mention.objects.filter(conversation_link__conversation=conversation)
    summary = mentions.aggregate(priority=Max("priority"), latest=Max("posted_at"))
    latest = mentions.order_by("-posted_at", "-id").first()
    if conversation.priority_set_by_id is None:
        conversation.priority = summary["priority"]
    if latest is not None:
        _follow(conversation, latest)
    conversation.last_activity_at = max(
        [at for at in (summary["latest"], _last_message_at(conversation)) if at is not None],
        default=clock.now(),
    )
    conversation.save(
        update_fields=[
            "priority",
            "sentiment",
            "intent",
            "lang",
            "customer_followers",
            "last_inbound_at",
            "last_activity_at",
            "updated_at",
        ]
    )
    sla.refresh_clocks([conversation])


def _last_message_at(conversation: Conversation) -> dt.datetime | None:
    return conversation.messages.aggregate(latest=Max("created_at"))["latest"]  # type: ignore[no-any-return]


def subject_of(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:119].rstrip() + "…"


def audience_of(conversation: Conversation) -> list[int] | None:
    return None if conversation.team_id is None else [conversation.team_id]


def announce_change(conversation: Conversation, *, what: str, actor: User | None) -> None:
    """Tell every inbox and open page of this conversation that it changed."""
    publish(
        ConversationChanged(
            conversation_id=conversation.pk,
            what=what,
            actor_id=None if actor is None else actor.pk,
            assignee_id=conversation.assignee_id,
            status=conversation.status,
        ),
        workspace_id=conversation.workspace_id,
        team_ids=audience_of(conversation),
    )


STATUS_TIMESTAMPS = {ConversationStatus.RESOLVED, ConversationStatus.CLOSED}


@transaction.atomic
def change_status(*, actor: User, conversation_id: int, status: str) -> Conversation:
    """Move a conversation to another status; resolving stamps the time, reopening clears it."""
    try:
        new = ConversationStatus(status)
    except ValueError as error:
        raise ValidationFailed("That is not a conversation status.", field="status") from error
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    old = ConversationStatus(conversation.status)
    if old == new:
        return conversation
    if new in ConversationStatus.active() and conversation.takes_new_mentions:
        _check_no_other_active(conversation)
    if new != ConversationStatus.WAITING_DEPARTMENT:
        check_no_open_handoff(conversation)
    conversation.status = new
    if new in STATUS_TIMESTAMPS:
        conversation.resolved_at = conversation.resolved_at or clock.now()
        conversation.snoozed_until = None
    else:
        conversation.resolved_at = None
    conversation.save(update_fields=["status", "resolved_at", "snoozed_until", "updated_at"])
    sla.status_changed(conversation, before=old)
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.STATUS,
        summary=f"{audit.name_of(actor)} changed the status from {old.label} to {new.label}",
        detail={"from": old.value, "to": new.value},
    )
    announce_change(conversation, what="status", actor=actor)
    return conversation


def check_no_open_handoff(conversation: Conversation) -> None:
    """Refuse, while a department has the problem, what would take it from them."""
    handoff = Handoff.objects.filter(
        conversation=conversation, state__in=HandoffState.active()
    ).first()
    if handoff is not None:
        raise Conflict(
            f"{handoff.department_name} still has this problem: it waits on them until they "
            "resolve it on their side, or you take it back.",
            code="handoff_open",
        )


def other_active_conversation(conversation: Conversation) -> Conversation | None:
    """The customer's other conversation that takes their new mentions, if one is active."""
    return (
        _threads_of(conversation.workspace_id, conversation.platform, conversation.customer_handle)
        .exclude(pk=conversation.pk)
        .first()
    )


def _check_no_other_active(conversation: Conversation) -> None:
    other = other_active_conversation(conversation)
    if other is not None:
        raise Conflict(
            "This customer has another open conversation: merge this one into it instead.",
            code="customer_has_open_conversation",
            details={"conversation_id": other.pk},
        )


@transaction.atomic
def set_priority(*, actor: User, conversation_id: int, priority: float | None) -> Conversation:
    """Set the priority by hand (0–100), or give it back to triage with None."""
    if priority is not None and not 0 <= priority <= 100:
        raise ValidationFailed("Priority goes from 0 to 100.", field="priority")
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    before = conversation.priority
    if priority is None:
        conversation.priority_set_by = None
        refresh_from_timeline(conversation)
        summary = f"{audit.name_of(actor)} gave the priority back to triage"
    else:
        conversation.priority = float(priority)
        conversation.priority_set_by = actor
        summary = f"{audit.name_of(actor)} set the priority to P{priority:.0f}"
    conversation.save(update_fields=["priority", "priority_set_by", "updated_at"])
    sla.refresh_clocks([conversation])
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.PRIORITY,
        summary=summary,
        detail={"from": before, "to": conversation.priority},
    )
    announce_change(conversation, what="priority", actor=actor)
    return conversation


def _clean_tag(name: str) -> str:
    return " ".join(name.split())[:40]


@transaction.atomic
def set_tags(*, actor: User, conversation_id: int, names: Sequence[str]) -> list[str]:
    """Replace a conversation's tags; new names become the workspace's tags."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    wanted: dict[str, str] = {}
    for name in names:
        if cleaned := _clean_tag(name):
            wanted.setdefault(cleaned.lower(), cleaned)
    if len(wanted) > MAX_TAGS:
        raise ValidationFailed(f"At most {MAX_TAGS} tags on a conversation.", field="tags")
    existing: dict[str, Tag] = {
        tag.name.lower(): tag
        for tag in Tag.objects.annotate(lowered=Lower("name")).filter(
            workspace_id=conversation.workspace_id, lowered__in=list(wanted)
        )
    }
    tags: list[Tag] = []
    for lowered, name in wanted.items():
        found = existing.get(lowered)
        if found is None:
            found, _ = Tag.objects.get_or_create(workspace_id=conversation.workspace_id, name=name)
        tags.append(found)
    before = sorted(conversation.tags.values_list("name", flat=True))
    conversation.tags.set(tags)
    after = sorted(tag.name for tag in tags)
    if before != after:
        audit.record(
            conversation,
            actor=actor,
            kind=ActivityKind.TAGGED,
            summary=f"{audit.name_of(actor)} set the tags to {', '.join(after) or 'none'}",
            detail={"from": before, "to": after},
        )
        added = {name.lower() for name in after} - {name.lower() for name in before}
        if added:
            _route_by_tag(conversation, added)
        announce_change(conversation, what="tags", actor=actor)
    return after


def _route_by_tag(conversation: Conversation, added: set[str]) -> None:
    """The first enabled routing rule for one of the new tags whose other conditions hold
    moves the conversation to its team (the assignee stays if they may see it there)."""
    from hubbub.care.assignment import can_be_assigned
    from hubbub.listening.models import RoutingRule
    from hubbub.listening.pipeline.route import Rule, fits

    rules = list(
        RoutingRule.objects.filter(workspace_id=conversation.workspace_id, enabled=True)
        .exclude(tag="")
        .select_related("team")
        .order_by("position", "id")
    )
    rules = [rule for rule in rules if rule.tag.lower() in added]
    if not rules:
        return
    query_ids = set(
        Mention.queries.through.objects.filter(
            mention__conversation_link__conversation=conversation
        ).values_list("query_id", flat=True)
    )
    rule = next(
        (
            rule
            for rule in rules
            if fits(
                Rule(rule.team_id, rule.query_id, rule.platform, rule.lang, rule.intent),
                query_ids=query_ids,
                platform=conversation.platform,
                lang=conversation.lang,
                intent=conversation.intent,
            )
        ),
        None,
    )
    if rule is None or rule.team_id == conversation.team_id:
        return
    left = conversation.team
    if left is not None:
        # The team it leaves hears too: it disappears from their inboxes.
        announce_change(conversation, what="routed", actor=None)
    conversation.team = rule.team
    if conversation.assignee is not None and not can_be_assigned(
        conversation.assignee, conversation
    ):
        conversation.assignee, conversation.assigned_at = None, None
    conversation.save(update_fields=["team", "assignee", "assigned_at", "updated_at"])
    audit.record(
        conversation,
        actor=None,
        kind=ActivityKind.ROUTED,
        summary=f"Routed from {left.name if left else 'no team'} to {rule.team.name} "
        f"by the rule “{rule.name}” (tagged {rule.tag})",
        detail={"rule_id": rule.pk, "team_id": rule.team_id},
    )


@transaction.atomic
def snooze(*, actor: User, conversation_id: int, until: dt.datetime | None) -> Conversation:
    """Hide a conversation from the queue until a time; the customer posting again wakes it."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    if until is not None and until <= clock.now():
        raise ValidationFailed("Snooze until a time in the future.", field="until")
    if conversation.status not in ConversationStatus.active():
        raise Conflict("Only active conversations can be snoozed.", code="not_active")
    conversation.snoozed_until = until
    conversation.save(update_fields=["snoozed_until", "updated_at"])
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.SNOOZED,
        summary=(
            f"{audit.name_of(actor)} snoozed the conversation until {until:%d %b %Y %H:%M} UTC"
            if until is not None
            else f"{audit.name_of(actor)} woke the conversation up"
        ),
        detail={"until": None if until is None else until.isoformat()},
    )
    announce_change(conversation, what="snoozed", actor=actor)
    return conversation


@transaction.atomic
def add_note(*, actor: User, conversation_id: int, body: str) -> Message:
    """An internal note, never shown to the customer; @name notifies that colleague."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    text = body.strip()
    if not text:
        raise ValidationFailed("Write something first.", field="body")
    if len(text) > MAX_NOTE_LENGTH:
        raise ValidationFailed(
            f"A note is at most {MAX_NOTE_LENGTH} characters; this one has {len(text)}.",
            field="body",
        )
    note = Message.objects.create(
        conversation=conversation,
        kind=MessageKind.NOTE,
        author=actor,
        body=text,
        sender_name=audit.name_of(actor),
    )
    conversation.last_activity_at = max(conversation.last_activity_at, note.created_at)
    conversation.save(update_fields=["last_activity_at", "updated_at"])
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.NOTE,
        summary=f"{audit.name_of(actor)} added a note",
        detail={"message_id": note.pk},
    )
    for person in mentioned_colleagues(conversation, text, author=actor):
        notify(
            person,
            conversation,
            note,
            f"{audit.name_of(actor)} mentioned you on “{conversation.subject[:120]}”",
        )
    announce_change(conversation, what="message", actor=actor)
    return note


def notify(person: User, conversation: Conversation, message: Message | None, text: str) -> None:
    """Tell one person something about a conversation: kept for their inbox, and live."""
    notification = Notification.objects.create(
        user=person, conversation=conversation, message=message, text=text[:300]
    )
    publish(
        NotificationCreated(
            notification_id=notification.pk, conversation_id=conversation.pk, text=notification.text
        ),
        workspace_id=conversation.workspace_id,
        user_id=person.pk,
    )


def mentioned_colleagues(conversation: Conversation, text: str, *, author: User) -> list[User]:
    """The people a note's @names point at, who may see the conversation.

    "@Dana" matches a display name's first word or the whole name without
    spaces ("@DanaSmith"), "@dana@brightwave.test" an email. A name that fits
    two people notifies neither: a wrong notification is worse than none.
    """
    wanted = {match.lower() for match in AT_MENTION.findall(text)}
    if not wanted:
        return []
    colleagues = User.objects.filter(
        workspace_id=conversation.workspace_id, is_active=True
    ).select_related("profile")
    if conversation.team_id is not None:
        colleagues = colleagues.filter(
            Q(teams=conversation.team_id) | Q(role__in=[Role.ADMIN, Role.LEAD])
        ).distinct()
    by_alias: dict[str, list[User]] = {}
    for person in colleagues:
        for alias in _aliases(person):
            by_alias.setdefault(alias, []).append(person)
    found: dict[int, User] = {}
    for name in wanted:
        people = by_alias.get(name, [])
        if len({p.pk for p in people}) == 1 and people[0].pk != author.pk:
            found[people[0].pk] = people[0]
    return list(found.values())


def _aliases(person: User) -> set[str]:
    aliases = {person.email.lower()}
    profile = getattr(person, "profile", None)
    if profile is not None and profile.display_name.strip():
        words = profile.display_name.lower().split()
        aliases |= {words[0], "".join(words), ".".join(words)}
    return aliases


@transaction.atomic
def mark_notifications_read(*, actor: User, conversation_id: int) -> int:
    """Opening a conversation reads the notifications about it."""
    return Notification.objects.filter(
        user=actor, conversation_id=conversation_id, read_at__isnull=True
    ).update(read_at=clock.now())


# --- the customer's profile ---------------------------------------------------------


class ProfileUnavailable(HubbubError):
    status = 502
    default_code = "profile_unavailable"


def refresh_customer_profile(*, actor: User, conversation_id: int) -> Conversation:
    """Read the customer's profile on their platform now and keep it on the conversation.

    The platform is asked outside any transaction (it may be slow); the
    figures are then written in one UPDATE.
    """
    from hubbub.connectors import profiles
    from hubbub.connectors.base import ConnectorError

    conversation = access_for_work(actor=actor, conversation_id=conversation_id, lock=False)
    try:
        profile = profiles.fetch_profile(
            workspace_id=conversation.workspace_id,
            platform=conversation.platform,
            handle=conversation.customer_handle,
        )
    except ConnectorError as error:
        raise ProfileUnavailable(error.message) from error
    kept = {
        "name": profile.name,
        "following": profile.following,
        "posts": profile.posts,
        "verified": profile.verified,
        "created_at": profile.created_at.isoformat() if profile.created_at else None,
        "url": profile.url if profile.url.lower().startswith(("https://", "http://")) else "",
        "extra": {
            k: v for k, v in profile.extra.items() if isinstance(v, int | float | str | bool)
        },
        "fetched_at": clock.now().isoformat(),
    }
    with transaction.atomic():
        conversation = access_for_work(actor=actor, conversation_id=conversation_id)
        if profile.followers is not None:
            conversation.customer_followers = profile.followers
        conversation.customer_profile = kept
        conversation.save(update_fields=["customer_followers", "customer_profile", "updated_at"])
    announce_change(conversation, what="profile", actor=actor)
    return conversation
