"""Messages customers send the brand directly: email, web chat and webhooks, one way in.

Each channel stores its raw input first (see connectors), then hands a
`CustomerMessage` to `receive`, which files it: the customer's contact is
found or created (its row locked, so two messages of one person arriving
at once are filed one after the other), the message joins the
conversation the channel threaded it to, else the contact's active
conversation on any channel, else a new one. Triage reads the text, the
SLA clock and the inbox follow, and everyone watching hears of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from hubbub.accounts.models import User
from hubbub.care import aftercare, audit, sla
from hubbub.care.events import ConversationOpened, ConversationsArrived
from hubbub.care.models import (
    CHAT,
    EMAIL,
    WEBHOOK,
    ActivityKind,
    Attachment,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
)
from hubbub.care.services import (
    PIPELINE,
    active_conversation_of_contact,
    announce_change,
    other_active_conversation,
)
from hubbub.core import clock, origin
from hubbub.core.errors import ValidationFailed
from hubbub.core.events import publish
from hubbub.crm import services as crm
from hubbub.crm.models import Contact

logger = logging.getLogger(__name__)

MAX_BODY = 100_000
CHANNEL_WORDS = {EMAIL: "by email", CHAT: "in the web chat", WEBHOOK: "through a webhook"}


@dataclass(frozen=True, slots=True)
class IncomingAttachment:
    filename: str
    content_type: str  # sniffed from the bytes
    declared_type: str
    size: int
    data: bytes  # empty when refused
    content_id: str = ""
    rejected: str = ""


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    workspace_id: int
    channel: str  # EMAIL, CHAT or WEBHOOK
    handle: str  # the customer on that channel: an address, a visitor, a source's id
    name: str
    body: str
    received_at: dt.datetime
    subject: str = ""
    html: str = ""  # sanitised already
    external_id: str = ""  # the channel's id (an email's Message-ID)
    details: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[IncomingAttachment, ...] = ()
    team_id: int | None = None  # where a new conversation goes
    # The conversation the channel threaded it to (a reply's headers, a case token,
    # the chat session); followed unless it is closed.
    conversation_id: int | None = None
    verified: bool = False  # the channel proved the identity (a site's HMAC)
    # The channel's threading proves the sender is the conversation's customer (they
    # answer the mail the brand sent them): their identity joins that contact. Without
    # it a threaded message is filed there but merges no one: headers and case tokens
    # can be copied by whoever saw a mail.
    trusted_thread: bool = False
    # An address the customer gave (a form's field): where email reaches them if
    # nothing better is known. Kept, never merged: anyone can type anyone's address.
    email: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    message: Message
    conversation: Conversation
    created: bool
    duplicate: bool = False  # filed before (the same mail through a second mailbox)


@transaction.atomic
def receive(incoming: CustomerMessage) -> Received:
    """File a customer's message into the right conversation (in one transaction)."""
    seen = crm.Seen(incoming.channel, incoming.handle, incoming.name)
    contact = crm.contact_for(
        workspace_id=incoming.workspace_id, seen=seen, verified=incoming.verified, lock=True
    )
    earlier = _filed_before(incoming)
    if earlier is not None:
        return Received(earlier, earlier.conversation, created=False, duplicate=True)
    conversation = _threaded(incoming)
    stranger = False
    if conversation is not None and conversation.contact_id != contact.pk:
        if incoming.trusted_thread or conversation.contact is None:
            # The channel proves this is the same conversation's customer.
            owner = conversation.contact or contact
            contact = crm.link_identity(contact=owner, seen=seen, verified=incoming.verified)
        else:
            stranger = True  # filed where it belongs, flagged, and merging no one
    if incoming.channel == EMAIL:
        crm.remember_email(contact, incoming.handle)
    elif incoming.email and not contact.email:
        crm.remember_email(contact, incoming.email)
    triage = _triage(incoming)
    follow_up = None
    if conversation is None:
        conversation = active_conversation_of_contact(contact.pk)
    if conversation is None:
        # No active conversation: the customer may be thanking for, or coming back
        # about, a case resolved lately (care.aftercare).
        follow_up = aftercare.follow_up_of(
            contact_id=contact.pk,
            at=incoming.received_at,
            sentiment=triage.get("sentiment", ""),
            intent=triage.get("intent", ""),
        )
        conversation = None if follow_up is None else follow_up.conversation
    elif not stranger:
        follow_up = aftercare.thanks_on_thread(
            conversation,
            at=incoming.received_at,
            sentiment=triage.get("sentiment", ""),
            intent=triage.get("intent", ""),
        )
    created = conversation is None
    if conversation is None:
        conversation = _new_conversation(incoming, contact)
    elif conversation.contact_id != contact.pk and not stranger:
        conversation.contact = contact
        conversation.save(update_fields=["contact", "updated_at"])
    praise = follow_up is not None and follow_up.step == aftercare.Step.PRAISE
    message = _store(incoming, conversation, stranger=stranger, triage=triage, praise=praise)
    if praise:
        # The case stays resolved: the thanks are kept on it, not a new request.
        aftercare.capture_message(conversation, message=message, contact_id=contact.pk)
    else:
        resolved_at = conversation.resolved_at
        customer_spoke(conversation, at=message.created_at, triage=triage)
        if follow_up is not None and conversation.status == ConversationStatus.OPEN:
            aftercare.record_reopened(conversation, resolved_at=resolved_at)
    if created:
        _opened(conversation, incoming)
    audit.record(
        conversation,
        actor=None,
        kind=ActivityKind.CUSTOMER_WROTE,
        summary=f"{message.sender_name} wrote {CHANNEL_WORDS.get(incoming.channel, '')}".strip(),
        detail={"message_id": message.pk, "channel": incoming.channel},
    )
    if not created:
        announce_change(conversation, what="message", actor=None)
    return Received(message, conversation, created)


def _threaded(incoming: CustomerMessage) -> Conversation | None:
    """The conversation the channel threaded this to, following merges; None if closed."""
    if incoming.conversation_id is None:
        return None
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(pk=incoming.conversation_id, workspace_id=incoming.workspace_id)
        .first()
    )
    hops = 0
    while conversation is not None and conversation.merged_into_id is not None and hops < 10:
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("contact")
            .filter(pk=conversation.merged_into_id)
            .first()
        )
        hops += 1
    if conversation is None or conversation.status == ConversationStatus.CLOSED:
        return None
    return conversation


def _new_conversation(incoming: CustomerMessage, contact: Contact) -> Conversation:
    handle = crm.normalise_handle(incoming.channel, incoming.handle)
    fields = {
        "workspace_id": incoming.workspace_id,
        "team_id": incoming.team_id,
        "platform": incoming.channel,
        "customer_handle": handle,
        "customer_name": incoming.name,
        "contact": contact,
        "subject": _subject(incoming),
        "last_activity_at": incoming.received_at,
    }
    try:
        with transaction.atomic():  # a savepoint: the unique index may find one after all
            return Conversation.objects.create(**fields)
    except IntegrityError:
        existing = (
            Conversation.objects.select_for_update()
            .filter(
                workspace_id=incoming.workspace_id,
                platform=incoming.channel,
                customer_handle=handle,
                status__in=ConversationStatus.active(),
                takes_new_mentions=True,
            )
            .first()
        )
        if existing is None:
            raise
        return existing


def _subject(incoming: CustomerMessage) -> str:
    text = (incoming.subject or incoming.body).strip().split("\n")[0]
    text = " ".join(text.split())
    return (text[:117] + "…") if len(text) > 120 else (text or "(no subject)")


def _filed_before(incoming: CustomerMessage) -> Message | None:
    """The message this one repeats (the same email through two mailboxes), if any.

    Asked with the contact's row locked: of two copies arriving at once, the
    second waits for the first and finds it.
    """
    if incoming.channel != EMAIL or not incoming.external_id:
        return None
    return (
        Message.objects.select_related("conversation")
        .filter(
            conversation__workspace_id=incoming.workspace_id,
            platform=EMAIL,
            kind=MessageKind.CUSTOMER,
            external_id=incoming.external_id[:255],
        )
        .first()
    )


def _store(
    incoming: CustomerMessage,
    conversation: Conversation,
    *,
    stranger: bool,
    triage: dict[str, Any],
    praise: bool = False,
) -> Message:
    details = dict(incoming.details)
    details["triage"] = triage
    if stranger:
        details["unknown_sender"] = True
    if praise:
        details["praise"] = True  # thanks for a resolved case (crm lists them with advocates)
    message = Message.objects.create(
        conversation=conversation,
        kind=MessageKind.CUSTOMER,
        platform=incoming.channel,
        body=incoming.body[:MAX_BODY],
        subject=incoming.subject[:300],
        html=incoming.html,
        details=details,
        external_id=incoming.external_id[:255],
        sender_name=(incoming.name or incoming.handle)[:80],
    )
    if incoming.attachments:
        Attachment.objects.bulk_create(
            [
                Attachment(
                    message=message,
                    filename=item.filename[:150],
                    content_type=item.content_type[:100],
                    declared_type=item.declared_type[:100],
                    size=item.size,
                    content_id=item.content_id[:255],
                    data=b"" if item.rejected else item.data,
                    rejected=item.rejected[:200],
                )
                for item in incoming.attachments
            ]
        )
    return message


def _triage(incoming: CustomerMessage) -> dict[str, Any]:
    """Sentiment, intent, urgency, language and priority of the text, as for a post.

    Triage that cannot run (a model missing) leaves the message unlabelled:
    a customer's message is filed whatever the models say.
    """
    from hubbub.intelligence.interface import classify_batch
    from hubbub.intelligence.language import detect_languages
    from hubbub.listening.pipeline.score import priority

    text = " ".join(filter(None, [incoming.subject, incoming.body[:2000]]))
    if not text.strip():
        return {}
    try:
        labels = classify_batch([text])[0]
        lang, _ = detect_languages([text])[0]
    except Exception:  # a model file missing or broken: file it unlabelled, say so in the log
        logger.exception("triage of a %s message failed", incoming.channel)
        return {}
    scored = priority(labels, followers=None, copies=0)
    return {
        "sentiment": labels.sentiment,
        "intent": labels.intent,
        "urgency": labels.urgency,
        "lang": lang,
        "priority": scored.score,
        "reasons": [
            {"factor": r.factor, "points": r.points, "label": r.label} for r in scored.reasons
        ],
    }


def customer_spoke(
    conversation: Conversation, *, at: dt.datetime, triage: dict[str, Any] | None = None
) -> None:
    """The customer wrote (the conversation is locked): it wakes up, reopens if it was
    waiting on them or resolved, and triage follows their latest words."""
    before = conversation.status
    conversation.last_inbound_at = at
    conversation.last_activity_at = max(conversation.last_activity_at, at)
    conversation.snoozed_until = None
    if conversation.status == ConversationStatus.WAITING_CUSTOMER or (
        conversation.status == ConversationStatus.RESOLVED
        and other_active_conversation(conversation) is None
    ):
        conversation.status = ConversationStatus.OPEN
        conversation.resolved_at = None
    if triage:
        conversation.sentiment = triage.get("sentiment", "")
        conversation.intent = triage.get("intent", "")
        conversation.lang = triage.get("lang", "")
        score = triage.get("priority")
        if conversation.priority_set_by_id is None and score is not None:
            conversation.priority = max(score, conversation.priority or 0.0)
    conversation.save(
        update_fields=[
            "last_inbound_at",
            "last_activity_at",
            "snoozed_until",
            "status",
            "resolved_at",
            "sentiment",
            "intent",
            "lang",
            "priority",
            "updated_at",
        ]
    )
    sla.status_changed(conversation, before=before)


def _opened(conversation: Conversation, incoming: CustomerMessage) -> None:
    from hubbub.care.assignment import auto_assign

    with origin.acting_from(PIPELINE):
        audit.record(
            conversation,
            actor=None,
            kind=ActivityKind.OPENED,
            summary=f"Opened by a message {CHANNEL_WORDS.get(incoming.channel, '')}".strip(),
        )
        auto_assign(conversation_ids=[conversation.pk])
    publish(
        ConversationOpened(conversation_id=conversation.pk, created=True),
        workspace_id=conversation.workspace_id,
        team_ids=None if conversation.team_id is None else [conversation.team_id],
    )
    publish(
        ConversationsArrived(conversation_ids=[conversation.pk], created=1),
        workspace_id=conversation.workspace_id,
        team_ids=None if conversation.team_id is None else [conversation.team_id],
    )


def post_for_customer(
    *, actor: User, conversation_id: int, text: str, subject: str = "", source: str = ""
) -> Message:
    """The brand's own system (through the API) adds what a customer sent it to a conversation:
    a form, a call-centre note of the customer's words, a message from another tool."""
    from hubbub.care.services import access_for_work

    with transaction.atomic():
        # Unlocked: receive locks the contact, then the conversation (one order for all).
        conversation = access_for_work(actor=actor, conversation_id=conversation_id, lock=False)
        if not text.strip():
            raise ValidationFailed("The message is empty.", field="text")
        return receive(
            CustomerMessage(
                workspace_id=conversation.workspace_id,
                channel=WEBHOOK,
                handle=(
                    f"api:contact-{conversation.contact_id}"
                    if conversation.contact_id
                    else f"api:conversation-{conversation.pk}"
                ),
                name=conversation.customer_name,
                body=text.strip(),
                subject=subject.strip()[:300],
                received_at=clock.now(),
                details={"source": source.strip()[:80] or "API", "posted_by": actor.pk},
                conversation_id=conversation.pk,
                verified=True,
                trusted_thread=True,  # the brand's own system, with a person's token
            )
        ).message
