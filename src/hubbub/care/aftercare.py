"""After a case is resolved: the customer's thanks are captured, their return re-opens it.

When a customer with no active conversation speaks again (a post the
pipeline threads, or an email, chat or webhook message), their most
recently resolved case decides what happens:

- praise (positive sentiment or the "praise" intent) within
  PRAISE_WITHIN_DAYS of the resolution is linked to that case, which stays
  resolved and is marked "praise captured"; the customer is offered to the
  CRM as an advocate candidate;
- anything else within the team's `reopen_within_days` re-opens the case:
  the customer came back about the same problem, so the team that solved it
  sees the whole story instead of a new conversation;
- later than that (or before the case was resolved: that is not coming
  back), a new conversation opens, as for anyone.

"The same author" is the same contact, or the same (platform, handle) for a
post whose author has no contact. A re-opened case must stay the customer's
one active conversation (a unique constraint): re-opening is checked against
the others and done in a savepoint, so a worker that opened one meanwhile
wins and this post simply joins it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from hubbub.accounts.models import User
from hubbub.care import audit
from hubbub.care.models import (
    ActivityKind,
    Conversation,
    ConversationMention,
    ConversationStatus,
    Message,
    PraiseCapture,
    TeamSettings,
)
from hubbub.care.services import PIPELINE, announce_change, notify, other_active_conversation
from hubbub.core import clock, origin
from hubbub.crm import services as crm
from hubbub.listening.models import Mention

PRAISE_WITHIN_DAYS = 30
# No resolved case older than this is read: longer than any window a lead can
# set (care.configure.MAX_REOPEN_DAYS) or the praise window.
LOOKBACK = dt.timedelta(days=366)

Customer = tuple[int, str, str]  # (workspace, platform, handle), as the thread step keys them


class Step(enum.StrEnum):
    PRAISE = "praise"
    REOPEN = "reopen"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class Followed:
    """What the thread step does for customers whose latest case is resolved."""

    praised: dict[Customer, Conversation]  # their posts are thanks for this case
    reopened: dict[Customer, Conversation]  # re-opened: their posts join it


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What a customer's direct message does to their recently resolved case."""

    step: Step  # PRAISE or REOPEN
    conversation: Conversation  # the resolved case, locked


# A kind word in a request ("Thanks! But the refund never came") asks for something.
ASKING = frozenset({"complaint", "question"})


def is_praise(*, sentiment: str, intent: str) -> bool:
    """Thanks, as triage labelled it: praise, or a positive message that asks nothing."""
    return intent == "praise" or (sentiment == "positive" and intent not in ASKING)


def reopen_days(conversation: Conversation) -> int:
    """How long after resolution the customer's return re-opens the case (its team's choice;
    the default for conversations without a team, or a team without care settings)."""
    team = conversation.team
    settings = getattr(team, "care_settings", None) if team is not None else None
    return TeamSettings.DEFAULT_REOPEN_DAYS if settings is None else settings.reopen_within_days


def next_step(resolved: Conversation, *, at: dt.datetime, praise: bool) -> Step:
    """What the customer's words at `at` do to their most recently resolved case."""
    if resolved.resolved_at is None or at < resolved.resolved_at:
        return Step.NEW
    since = at - resolved.resolved_at
    if praise and since <= dt.timedelta(days=PRAISE_WITHIN_DAYS):
        return Step.PRAISE
    days = reopen_days(resolved)
    if days and since <= dt.timedelta(days=days):
        return Step.REOPEN
    return Step.NEW


# --- The pipeline's thread step ----------------------------------------------------------


def follow_resolved_cases(
    by_customer: Mapping[Customer, Sequence[Mention]], contact_of: Mapping[Customer, int]
) -> Followed:
    """For customers with no active conversation: capture thanks, re-open recent cases.

    Within the thread step's transaction. `by_customer` holds each customer's
    new posts, oldest first. A customer's posts are thanks only if all of them
    are. One query for the whole batch when nobody's case is recent, a few
    more per case that takes thanks or re-opens.
    """
    resolved = _latest_resolved(by_customer, contact_of)
    keys_of: dict[int, list[Customer]] = {}
    for key, conversation in resolved.items():
        keys_of.setdefault(conversation.pk, []).append(key)
    praised: dict[Customer, Conversation] = {}
    reopening: dict[Customer, Conversation] = {}
    for keys in keys_of.values():
        # One person on two platforms at once: their posts decide together.
        conversation = resolved[keys[0]]
        mentions = [m for key in keys for m in by_customer[key]]
        step = next_step(
            conversation,
            at=min(m.posted_at for m in mentions),
            praise=all(is_praise(sentiment=m.sentiment, intent=m.intent) for m in mentions),
        )
        if step == Step.PRAISE:
            praised.update(dict.fromkeys(keys, conversation))
        elif step == Step.REOPEN:
            reopening.update(dict.fromkeys(keys, conversation))
    reopened = _reopen(reopening)
    if praised:
        _capture_posts(praised, by_customer, contact_of)
    return Followed(praised=praised, reopened=reopened)


def _latest_resolved(
    by_customer: Mapping[Customer, Sequence[Mention]], contact_of: Mapping[Customer, int]
) -> dict[Customer, Conversation]:
    """Each customer's most recently resolved case (locked), by contact, else by handle."""
    if not by_customer:
        return {}
    contact_ids = {contact_of[key] for key in by_customer if key in contact_of}
    loose = [key for key in by_customer if key not in contact_of]
    wanted = Q(contact_id__in=contact_ids)
    if loose:
        wanted |= Q(
            workspace_id__in={key[0] for key in loose},
            customer_handle__in={key[2] for key in loose},
        )
    oldest = min(mentions[0].posted_at for mentions in by_customer.values())
    by_contact: dict[int, Conversation] = {}
    by_handle: dict[Customer, Conversation] = {}
    for conversation in (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("team__care_settings")
        .filter(
            wanted,
            status=ConversationStatus.RESOLVED,
            merged_into__isnull=True,
            takes_new_mentions=True,
            resolved_at__gte=oldest - LOOKBACK,
        )
        .order_by("resolved_at", "id")
    ):
        # Ascending: the latest resolved wins.
        if conversation.contact_id is not None:
            by_contact[conversation.contact_id] = conversation
        by_handle[_key_of(conversation)] = conversation
    found: dict[Customer, Conversation] = {}
    for key in by_customer:
        contact_id = contact_of.get(key)
        case = by_contact.get(contact_id) if contact_id else by_handle.get(key)
        if case is not None:
            found[key] = case
    return found


def _reopen(reopening: dict[Customer, Conversation]) -> dict[Customer, Conversation]:
    """Re-open the cases, unless the customer has another active conversation by now."""
    if not reopening:
        return {}
    cases = {conversation.pk: conversation for conversation in reopening.values()}
    # The thread step found no active conversation of these customers by the
    # handle they posted from, nor by contact; a case of another identity
    # may still have one on its own handle (the unique constraint's key).
    taken = {
        _key_of(conversation)
        for conversation in Conversation.objects.filter(
            workspace_id__in={c.workspace_id for c in cases.values()},
            customer_handle__in={c.customer_handle for c in cases.values()},
            status__in=ConversationStatus.active(),
            takes_new_mentions=True,
        ).exclude(pk__in=cases.keys())
    }
    ids = [pk for pk, conversation in cases.items() if _key_of(conversation) not in taken]
    try:
        with transaction.atomic():  # a savepoint: another worker may have opened one meanwhile
            _set_open(ids)
    except IntegrityError:
        ids = [pk for pk in ids if _reopened_alone(pk)]
    now = clock.now()
    with origin.acting_from(PIPELINE):
        for pk in ids:
            conversation = cases[pk]
            _record_reopened(conversation, resolved_at=conversation.resolved_at, now=now)
            conversation.status = ConversationStatus.OPEN
            conversation.resolved_at = None
            # The SLA clocks restart with the thread step's refresh of every changed conversation.
            announce_change(conversation, what="status", actor=None)
    return {key: c for key, c in reopening.items() if c.pk in ids}


def _set_open(ids: list[int]) -> None:
    Conversation.objects.filter(pk__in=ids, status=ConversationStatus.RESOLVED).update(
        status=ConversationStatus.OPEN, resolved_at=None, updated_at=clock.now()
    )


def _reopened_alone(pk: int) -> bool:
    try:
        with transaction.atomic():
            _set_open([pk])
    except IntegrityError:
        return False
    return True


def _record_reopened(
    conversation: Conversation, *, resolved_at: dt.datetime | None, now: dt.datetime
) -> None:
    days = reopen_days(conversation)
    audit.record(
        conversation,
        actor=None,
        kind=ActivityKind.REOPENED,
        summary=f"Reopened: the customer wrote again within {days} day{'s' if days != 1 else ''}",
        detail={
            "resolved_at": None if resolved_at is None else resolved_at.isoformat(),
            "within_days": days,
            "at": now.isoformat(),
        },
    )


def _capture_posts(
    praised: dict[Customer, Conversation],
    by_customer: Mapping[Customer, Sequence[Mention]],
    contact_of: Mapping[Customer, int],
) -> None:
    """The thanks join the resolved case's timeline, which stays resolved."""
    ConversationMention.objects.bulk_create(
        [
            ConversationMention(conversation=conversation, mention=mention)
            for key, conversation in praised.items()
            for mention in by_customer[key]
        ],
        ignore_conflicts=True,  # another worker filed it a moment ago
    )
    PraiseCapture.objects.bulk_create(
        [
            PraiseCapture(conversation=conversation, mention=mention)
            for key, conversation in praised.items()
            for mention in by_customer[key]
        ],
        ignore_conflicts=True,
    )
    now = clock.now()
    cases: dict[int, Conversation] = {}
    mention_ids: dict[int, list[int]] = {}
    # The author's contact: the case's, else the one the thread step found for them.
    contacts: dict[int, int | None] = {}
    for key, conversation in praised.items():
        cases[conversation.pk] = conversation
        mention_ids.setdefault(conversation.pk, []).extend(m.pk for m in by_customer[key])
        contacts[conversation.pk] = (
            conversation.contact_id or contacts.get(conversation.pk) or contact_of.get(key)
        )
        latest = by_customer[key][-1].posted_at
        conversation.praise_captured_at = conversation.praise_captured_at or now
        conversation.last_activity_at = max(conversation.last_activity_at, latest)
    Conversation.objects.bulk_update(
        list(cases.values()), ["praise_captured_at", "last_activity_at"]
    )
    with origin.acting_from(PIPELINE):
        for pk, conversation in cases.items():
            _captured(
                conversation,
                contact_id=contacts[pk],
                detail={"mention_ids": mention_ids[pk]},
            )


def _captured(
    conversation: Conversation, *, contact_id: int | None, detail: dict[str, Any]
) -> None:
    audit.record(
        conversation,
        actor=None,
        kind=ActivityKind.PRAISE_CAPTURED,
        summary="The customer thanked us after the case was resolved",
        detail=detail,
    )
    if contact_id is not None:
        crm.offer_as_advocate(contact_id=contact_id)
    if conversation.assignee_id is not None:
        # Whoever resolved it hears the thanks (and sees it, should it ask after all).
        owner = User.objects.filter(pk=conversation.assignee_id, is_active=True).first()
        if owner is not None:
            notify(owner, conversation, None, f"Thanked: “{conversation.subject[:120]}”")
    announce_change(conversation, what="praise", actor=None)


# --- Direct channels (care.inbound) ------------------------------------------------------


def follow_up_of(
    *, contact_id: int, at: dt.datetime, sentiment: str, intent: str
) -> FollowUp | None:
    """The contact's resolved case that a direct message of theirs thanks or re-opens, if any.

    For a contact with no active conversation, within the caller's transaction
    (the case comes back locked). None: the message opens a new conversation.
    """
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("team__care_settings")
        .filter(
            contact_id=contact_id,
            status=ConversationStatus.RESOLVED,
            merged_into__isnull=True,
            takes_new_mentions=True,
            resolved_at__isnull=False,
        )
        .order_by("-resolved_at", "-id")
        .first()
    )
    if conversation is None:
        return None
    step = next_step(conversation, at=at, praise=is_praise(sentiment=sentiment, intent=intent))
    if step == Step.REOPEN and other_active_conversation(conversation) is not None:
        return None
    return None if step == Step.NEW else FollowUp(step, conversation)


def thanks_on_thread(
    conversation: Conversation, *, at: dt.datetime, sentiment: str, intent: str
) -> FollowUp | None:
    """A direct message threaded to a resolved case (a "thank you!" answering its own mail):
    thanks keep it resolved; anything else re-opens it the usual way (care.inbound)."""
    if conversation.status != ConversationStatus.RESOLVED:
        return None
    step = next_step(conversation, at=at, praise=is_praise(sentiment=sentiment, intent=intent))
    return FollowUp(step, conversation) if step == Step.PRAISE else None


def capture_message(conversation: Conversation, *, message: Message, contact_id: int) -> None:
    """A direct message thanks the brand for a resolved case: it stays resolved, marked.

    No PraiseCapture (that holds a public post): the message on the case is the thanks.
    """
    conversation.praise_captured_at = conversation.praise_captured_at or clock.now()
    conversation.last_activity_at = max(conversation.last_activity_at, message.created_at)
    conversation.save(update_fields=["praise_captured_at", "last_activity_at", "updated_at"])
    _captured(conversation, contact_id=contact_id, detail={"message_id": message.pk})


def record_reopened(conversation: Conversation, *, resolved_at: dt.datetime | None) -> None:
    """The audit entry of a case a direct message re-opened (care.inbound re-opens it)."""
    _record_reopened(conversation, resolved_at=resolved_at, now=clock.now())


def _key_of(conversation: Conversation) -> Customer:
    return (conversation.workspace_id, conversation.platform, conversation.customer_handle)
