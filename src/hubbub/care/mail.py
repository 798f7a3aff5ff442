"""Email in the care inbox: filing the mails a mailbox received, and writing the replies.

Filing reads the raw mail the sync stored (`connectors.InboundEmail`) and
decides where it goes, in this order: the headers (In-Reply-To and
References against the Message-IDs of the conversation's mails), then the
case token (`[#c123-…]` in the subject, or `+c123-…` in the address it was
sent to), then the sender's contact. Auto-replies, mailing lists and
bounces are recorded and never filed as a customer's words, so nothing
answers them and no mail loop starts; a bounce of one of our replies
marks that reply failed.

A reply goes out from the agent's own address ("Dana at Acme"
<dana@acme.example>) when it is in the mailbox's domain, with the
headers that make the customer's mail client thread it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage

from django.conf import settings
from django.db import transaction

from hubbub.accounts.models import User
from hubbub.care import audit, inbound
from hubbub.care.models import (
    EMAIL,
    ActivityKind,
    Conversation,
    DeliveryState,
    Message,
    MessageKind,
)
from hubbub.connectors.email import compose, mime, sniff
from hubbub.connectors.models import InboundEmail, InboundEmailState, Mailbox
from hubbub.core import clock
from hubbub.crm.models import Identity

logger = logging.getLogger(__name__)

# Filing a mail is tried this many times before it waits for an operator.
MAX_FILING_ATTEMPTS = 5
# "[#c123-4f9a0b1c2d3e]" in a subject, "+c123-4f9a0b1c2d3e@" in an address.
TOKEN = re.compile(r"\bc(\d{1,12})-([0-9a-f]{12})\b")
SUBJECT_TOKEN = re.compile(r"\[#(c\d{1,12}-[0-9a-f]{12})\]")


# ---- case tokens ----


def case_token(conversation: Conversation) -> str:
    """A short token naming the conversation, signed so it cannot be guessed: c123-4f9a0b1c2d3e."""
    return f"c{conversation.pk}-{_token_mac(conversation.workspace_id, conversation.pk)}"


def _token_mac(workspace_id: int, conversation_id: int) -> str:
    key = hashlib.sha256(f"hubbub.care.mail-token:{settings.SECRET_KEY}".encode()).digest()
    data = f"{workspace_id}:{conversation_id}".encode()
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:12]


def conversation_id_for_token(text: str, *, workspace_id: int) -> int | None:
    """The conversation a case token in `text` names, if its signature holds."""
    for match in TOKEN.finditer(text.lower()):
        conversation_id = int(match.group(1))
        if hmac.compare_digest(match.group(2), _token_mac(workspace_id, conversation_id)):
            return conversation_id
    return None


# ---- filing ----


@dataclass(frozen=True, slots=True)
class Filed:
    delivered: int
    ignored: int
    failed: int


def file_pending(*, limit: int = 50, mailbox_id: int | None = None) -> Filed:
    """File stored mails waiting to be filed, each in its own transaction."""
    waiting = InboundEmail.objects.filter(
        state__in=[InboundEmailState.ACCEPTED, InboundEmailState.FAILED],
        attempts__lt=MAX_FILING_ATTEMPTS,
    )
    if mailbox_id is not None:
        waiting = waiting.filter(mailbox_id=mailbox_id)
    counts = dict.fromkeys(InboundEmailState, 0)
    for pk in list(waiting.order_by("id").values_list("pk", flat=True)[:limit]):
        state = file_email(inbound_id=pk)
        if state is not None:
            counts[InboundEmailState(state)] += 1
    return Filed(
        delivered=counts[InboundEmailState.DELIVERED],
        ignored=counts[InboundEmailState.IGNORED],
        failed=counts[InboundEmailState.FAILED],
    )


def file_email(*, inbound_id: int) -> str | None:
    """File one stored mail; its state afterwards, or None if another worker has it."""
    try:
        with transaction.atomic():
            row = (
                InboundEmail.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("mailbox")
                .filter(
                    pk=inbound_id,
                    state__in=[InboundEmailState.ACCEPTED, InboundEmailState.FAILED],
                )
                .first()
            )
            if row is None:
                return None
            _file(row)
            return row.state
    except Exception as error:
        # A bug or a database error: the raw mail stays, with the reason, to try again.
        logger.exception("filing mail %s failed", inbound_id)
        InboundEmail.objects.filter(pk=inbound_id).update(
            state=InboundEmailState.FAILED,
            note=f"Filing failed: {type(error).__name__}: {error}"[:500],
        )
        _count_attempt(inbound_id)
        return InboundEmailState.FAILED


def _count_attempt(inbound_id: int) -> None:
    row = InboundEmail.objects.filter(pk=inbound_id).first()
    if row is not None:
        row.attempts += 1
        row.save(update_fields=["attempts"])


def _file(row: InboundEmail) -> None:
    parsed = mime.parse_email(bytes(row.raw))
    row.attempts += 1
    row.header_message_id = parsed.message_id[:255]
    reason = _not_a_customer_message(row, parsed)
    if reason:
        _done(row, InboundEmailState.IGNORED, reason)
        return
    mailbox = row.mailbox
    thread = _thread(parsed, workspace_id=row.workspace_id)
    received = inbound.receive(
        inbound.CustomerMessage(
            workspace_id=row.workspace_id,
            channel=EMAIL,
            handle=parsed.sender.address,
            name=parsed.sender.name,
            body=parsed.text,
            html=parsed.html,
            subject=parsed.subject,
            # A mail without a Message-ID gets one nobody can guess (it is matched
            # against the References of later mails).
            external_id=parsed.message_id or f"{secrets.token_hex(16)}@hubbub.invalid",
            received_at=row.server_received_at or row.accepted_at,
            details=_details(parsed, mailbox),
            attachments=tuple(_attachment(item) for item in parsed.attachments),
            team_id=mailbox.team_id,
            conversation_id=thread.conversation_id,
            trusted_thread=thread.trusted,
        )
    )
    if received.duplicate:
        _done(row, InboundEmailState.IGNORED, "A copy of a mail already filed")
        return
    row.filed_as = received.message
    _done(row, InboundEmailState.DELIVERED, "; ".join(parsed.problems)[:500])


def _done(row: InboundEmail, state: InboundEmailState, note: str) -> None:
    row.state = state
    row.note = note[:500]
    row.processed_at = clock.now()
    row.save(
        update_fields=[
            "state",
            "note",
            "processed_at",
            "attempts",
            "header_message_id",
            "filed_as",
        ]
    )


def _not_a_customer_message(row: InboundEmail, parsed: mime.ParsedEmail) -> str:
    """Why this mail is kept but not filed, or "" to file it."""
    if parsed.is_bounce:
        bounced = _record_bounce(parsed, workspace_id=row.workspace_id)
        return parsed.auto_reply or "Delivery failure report" + (
            f" for message {bounced}" if bounced else ""
        )
    if parsed.auto_reply:
        return f"Not answered: {parsed.auto_reply}"
    if not parsed.sender.address:
        return "No sender address: nobody to answer"
    if parsed.sender.address == row.mailbox.address.lower():
        return "Sent from this mailbox itself"
    if parsed.message_id and (
        InboundEmail.objects.filter(
            workspace_id=row.workspace_id,
            header_message_id=parsed.message_id[:255],
            state=InboundEmailState.DELIVERED,
        )
        .exclude(pk=row.pk)
        .exists()
        or Message.objects.filter(
            conversation__workspace_id=row.workspace_id,
            platform=EMAIL,
            external_id=parsed.message_id[:255],
        ).exists()
    ):
        return "A copy of a mail already filed"
    return ""


@dataclass(frozen=True, slots=True)
class Thread:
    conversation_id: int | None
    # The sender answers a mail the brand sent to this very address: they are the customer.
    trusted: bool = False


def _thread(parsed: mime.ParsedEmail, *, workspace_id: int) -> Thread:
    """The conversation this mail continues: by its headers, else by a case token."""
    ids = [i[:255] for i in (parsed.in_reply_to, *parsed.references) if i]
    if ids:
        earlier = (
            Message.objects.filter(
                conversation__workspace_id=workspace_id, platform=EMAIL, external_id__in=ids
            )
            .order_by("-created_at", "-id")
            .values("conversation_id", "kind", "details")
            .first()
        )
        if earlier is not None:
            details = earlier["details"] if isinstance(earlier["details"], dict) else {}
            wrote_to = details.get("to") if earlier["kind"] == MessageKind.PRIVATE else ""
            return Thread(earlier["conversation_id"], trusted=wrote_to == parsed.sender.address)
    subject_token = SUBJECT_TOKEN.search(parsed.subject.lower())
    places = [subject_token.group(1) if subject_token else "", *parsed.delivered_to]
    return Thread(conversation_id_for_token(" ".join(places), workspace_id=workspace_id))


def _record_bounce(parsed: mime.ParsedEmail, *, workspace_id: int) -> int | None:
    """A reply of ours bounced: it is marked failed, with the reason, on its timeline."""
    if not parsed.bounced_message_id:
        return None
    message = (
        Message.objects.select_for_update()
        .select_related("conversation")
        .filter(
            conversation__workspace_id=workspace_id,
            platform=EMAIL,
            kind=MessageKind.PRIVATE,
            external_id=parsed.bounced_message_id[:255],
        )
        .first()
    )
    if message is None:
        return None
    message.state = DeliveryState.FAILED
    message.last_error = "The customer's mail server returned it (bounced)."
    message.save(update_fields=["state", "last_error"])
    audit.record(
        message.conversation,
        actor=None,
        kind=ActivityKind.REPLY_FAILED,
        summary=f"{message.sender_name}'s email bounced: the customer's server returned it",
        detail={"message_id": message.pk},
    )
    from hubbub.care.services import announce_change

    announce_change(message.conversation, what="message", actor=None)
    return message.pk


def _details(parsed: mime.ParsedEmail, mailbox: Mailbox) -> dict[str, object]:
    return {
        "mailbox_id": mailbox.pk,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        # The thread's first mail and the latest ones, as replies must carry them.
        "references": list(parsed.references[:1]) + list(parsed.references[1:][-19:]),
        "from": parsed.sender.address,
        "reply_to": parsed.reply_to.address if parsed.reply_to is not None else "",
        "to": [a.address for a in parsed.to][:20],
        "cc": [a.address for a in parsed.cc][:20],
        "remote_hosts": list(parsed.remote_hosts)[:20],
        "problems": list(parsed.problems)[:20],
    }


def _attachment(item: mime.ParsedAttachment) -> inbound.IncomingAttachment:
    return inbound.IncomingAttachment(
        filename=item.filename,
        content_type=item.sniffed_type,
        declared_type=item.declared_type,
        size=item.size,
        data=item.content,
        content_id=item.content_id,
        rejected=item.rejected,
    )


# ---- replies ----


def mailbox_for(conversation: Conversation) -> Mailbox | None:
    """The mailbox the customer last wrote to, else their team's, else the workspace's first."""
    latest = (
        conversation.messages.filter(kind=MessageKind.CUSTOMER, platform=EMAIL)
        .order_by("-created_at", "-id")
        .values_list("details", flat=True)
        .first()
    )
    mailboxes = Mailbox.objects.filter(workspace_id=conversation.workspace_id, enabled=True)
    if isinstance(latest, dict) and isinstance(latest.get("mailbox_id"), int):
        written_to = mailboxes.filter(pk=latest["mailbox_id"]).first()
        if written_to is not None:
            return written_to
    if conversation.team_id is not None:
        of_team = mailboxes.filter(team_id=conversation.team_id).first()
        if of_team is not None:
            return of_team
    return mailboxes.order_by("id").first()


def recipient_of(conversation: Conversation) -> str:
    """Where an email to this customer goes: the latest address of theirs they wrote from
    (or asked replies to go to), else their contact's address.

    Only the customer's own addresses count: a stranger's mail filed on the
    conversation (its headers copied) never redirects the answers.
    """
    contact = conversation.contact
    if contact is None:
        return conversation.customer_handle if conversation.platform == EMAIL else ""
    theirs = set(
        Identity.objects.filter(contact=contact, platform=EMAIL).values_list("handle", flat=True)
    )
    latest = (
        conversation.messages.filter(kind=MessageKind.CUSTOMER, platform=EMAIL)
        .order_by("-created_at", "-id")
        .values_list("details", flat=True)[:20]
    )
    for details in latest:
        if not isinstance(details, dict):
            continue
        for address in (details.get("reply_to"), details.get("from")):
            if isinstance(address, str) and address in theirs:
                return address
    return contact.email


@dataclass(frozen=True, slots=True)
class Sender:
    name: str  # "Dana at Acme"
    address: str


def sender_for(agent: User | None, mailbox: Mailbox, *, name: str) -> Sender:
    """The agent's personal sender: their sender address (Settings › Your profile), else their
    sign-in address, when it is in the mailbox's domain; else the mailbox's address."""
    display = f"{name} at {mailbox.brand_name}" if name else mailbox.brand_name
    if agent is None or not mailbox.personal_senders:
        return Sender(display, mailbox.address)
    profile = getattr(agent, "profile", None)
    for own in (getattr(profile, "sender_address", ""), agent.email):
        if own and own.rpartition("@")[2].lower() == mailbox.domain:
            return Sender(display, own.lower())
    return Sender(display, mailbox.address)


def new_message_id(mailbox: Mailbox) -> str:
    """The Message-ID a reply gets when it is written, kept for every attempt."""
    return compose.new_message_id(mailbox.domain or "hubbub.invalid")


def email_for(message: Message, mailbox: Mailbox) -> EmailMessage:
    """The reply as it goes out: threaded under the customer's latest mail."""
    conversation = message.conversation
    parent = (
        conversation.messages.filter(
            platform=EMAIL, created_at__lte=message.created_at, kind=MessageKind.CUSTOMER
        )
        .exclude(pk=message.pk)
        .order_by("-created_at", "-id")
        .first()
    )
    parent_details = parent.details if parent is not None else {}
    references = tuple(parent_details.get("references", []) or [])
    parent_id = parent.external_id if parent is not None else ""
    subject = (parent.subject if parent is not None else "") or conversation.subject
    token = case_token(conversation)
    if f"[#{token}]" not in subject:
        subject = f"{subject} [#{token}]"
    first_name = (message.sender_name or "").split(" ")[0]
    sender = sender_for(message.author, mailbox, name=first_name)
    return compose.compose_reply(
        sender_name=sender.name,
        sender_address=sender.address,
        reply_to=mailbox.address if sender.address != mailbox.address else "",
        to=mime.Address(conversation.customer_name, message.details.get("to", "")),
        subject=subject,
        body_text=message.body,
        message_id_domain=mailbox.domain or "hubbub.invalid",
        in_reply_to=parent_id,
        references=(*references, parent_id) if parent_id else references,
        extra_headers={"X-Hubbub-Conversation": str(conversation.pk)},
        date=dt.datetime.now(tz=dt.UTC),
        message_id=message.external_id,
    )


# ---- showing a mail ----

CID = re.compile(r'data-cid="([^"]{1,255})"')


def display_html(message: Message, *, remote: bool = False) -> str:
    """The mail's sanitised HTML for the timeline: its own inline images from Hubbub, and
    remote images only when the agent asked (`remote`)."""
    from django.urls import reverse

    # Remote images first: that step sanitises again, with relative URLs (ours) refused.
    html = mime.html_with_remote(message.html) if remote else message.html
    inline = {
        a.content_id: reverse("care:attachment", args=[a.pk])
        for a in message.attachments.all()
        if a.content_id and not a.rejected and a.content_type in sniff.SAFE_INLINE_TYPES
    }
    if inline:
        html = CID.sub(
            lambda m: f'src="{inline[m.group(1)]}"' if m.group(1) in inline else m.group(0), html
        )
    return html
