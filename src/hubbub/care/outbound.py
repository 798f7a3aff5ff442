"""Replies and private messages: written by an agent, sent by a background job, exactly once.

An agent's message is stored and its sending job enqueued in one
transaction (django-tasks' database backend writes the job row in it), so a
message is never lost and never sent without its row. The job claims the
message (queued → sending) in a short transaction, calls the platform with
no database lock held, then records the outcome. A retry sends the same
idempotency key, and the database refuses a second public reply to the same
customer post while one is waiting, queued, sending or sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum

from django.db import IntegrityError, transaction

from hubbub.accounts.models import User
from hubbub.care import approvals, audit, handoffs, macros, sla
from hubbub.care.models import (
    CASE_PAGE,
    CASE_PAGE_PLATFORMS,
    CHAT,
    EMAIL,
    ActivityKind,
    Conversation,
    ConversationStatus,
    DeliveryState,
    Message,
    MessageKind,
)
from hubbub.care.services import access_for_work, announce_change
from hubbub.connectors import outbound as connector
from hubbub.connectors.email import smtp
from hubbub.connectors.email.network import MailSecurity
from hubbub.connectors.models import ChannelAccount, Mailbox
from hubbub.core import clock
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 30 * 60.0
# A message left "sending" this long belonged to a worker that died mid-send.
STUCK_AFTER = dt.timedelta(minutes=10)
MAX_BODY = 5000


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """A channel the customer wrote to the brand on, and how an answer there reaches them."""

    channel: str  # EMAIL or CHAT
    tab: str  # "Email", "Chat"
    to: str  # "ana@example.com", "Ana in the web chat"
    sender: str  # "Dana at Acme <dana@acme.example>", or ""


@dataclass(frozen=True, slots=True)
class Composer:
    """What the composer needs to know about a conversation's channel."""

    platform: str
    account_name: str  # "" when no account can send here
    sandbox: bool
    limit: int | None
    signature: str
    private_route: PrivateRoute | None
    reply_targets: list[Mention]
    # Where the platform has no write API: a link to answer on the platform itself.
    answer_on_platform_label: str = ""
    answer_on_platform_url: str = ""
    # Email and chat, where the customer wrote to the brand directly.
    direct: tuple[DirectRoute, ...] = ()
    # Where the customer spoke last: the Reply tab answers there.
    answer_channel: str = ""

    @property
    def can_message_privately(self) -> bool:
        return self.private_route is not None

    @property
    def answer_route(self) -> DirectRoute | None:
        return next((r for r in self.direct if r.channel == self.answer_channel), None)

    @property
    def other_routes(self) -> tuple[DirectRoute, ...]:
        return tuple(r for r in self.direct if r.channel != self.answer_channel)

    @property
    def key(self) -> str:
        """Names what the composer offers, so a change replaces the preserved composer."""
        routes = "".join(r.channel[0] for r in self.direct)
        sending = "send" if self.account_name else "closed"
        return f"{self.private_route or 'none'}-{sending}-{routes}-{self.answer_channel}"


def composer_for(*, user: User, conversation: Conversation, mentions: list[Mention]) -> Composer:
    account = account_for(conversation)
    targets = [m for m in mentions if m.external_id][::-1][:10]
    direct = direct_routes(user, conversation)
    return Composer(
        platform=conversation.platform,
        account_name=account.name if account is not None and sends(account) else "",
        sandbox=account is not None and account.transport == "sandbox",
        limit=connector.limit_of(conversation.platform),
        signature=signature_of(user),
        private_route=private_route(conversation, account),
        reply_targets=targets,
        answer_on_platform_label=connector.answer_on_platform_label(conversation.platform),
        answer_on_platform_url=next((m.url for m in targets if _is_web_link(m.url)), ""),
        direct=direct,
        answer_channel=_answer_channel(conversation, mentions, direct),
    )


def direct_routes(user: User, conversation: Conversation) -> tuple[DirectRoute, ...]:
    """Email when a mailbox and the customer's address are known; chat when they chatted."""
    from hubbub.care import chat, mail

    routes: list[DirectRoute] = []
    if chat.reachable(conversation):
        name = conversation.customer_name or "the customer"
        routes.append(DirectRoute(CHAT, "Chat", f"{name} in the web chat", ""))
    contact = conversation.contact
    # Only a customer with an address can be emailed (every mail they sent gave one).
    emailable = conversation.platform == EMAIL or (contact is not None and bool(contact.email))
    recipient = mail.recipient_of(conversation) if emailable else ""
    mailbox = mail.mailbox_for(conversation) if recipient else None
    if mailbox is not None and recipient:
        first = audit.name_of(user).split(" ")[0]
        sender = mail.sender_for(user, mailbox, name=first)
        label = f"{sender.name} <{sender.address}>" + (" · sandbox" if mailbox.sandbox else "")
        routes.append(DirectRoute(EMAIL, "Email", recipient, label))
    return tuple(routes)


def _answer_channel(
    conversation: Conversation, mentions: list[Mention], direct: tuple[DirectRoute, ...]
) -> str:
    """The channel of the customer's latest words, when Hubbub can answer there."""
    if not direct:
        return conversation.platform
    latest_post = max((m.posted_at for m in mentions), default=None)
    latest_direct = (
        conversation.messages.filter(kind=MessageKind.CUSTOMER, platform__in=[EMAIL, CHAT])
        .order_by("-created_at", "-id")
        .values_list("platform", "created_at")
        .first()
    )
    reachable = {route.channel for route in direct}
    if (
        latest_direct is not None
        and latest_direct[0] in reachable
        and (latest_post is None or latest_direct[1] >= latest_post)
    ):
        return str(latest_direct[0])
    if not mentions and direct:
        return direct[0].channel
    return conversation.platform


def _is_web_link(url: str) -> bool:
    """Only http(s) links go into a page: a post's URL is the platform's (or a file's) word."""
    return url.lower().startswith(("https://", "http://"))


def signature_of(user: User) -> str:
    """How an agent signs a message: their signature, else "– their name"."""
    profile = getattr(user, "profile", None)
    if profile is None:
        return ""
    return profile.signature.strip() or f"– {profile.display_name}"


def signed(body: str, signature: str) -> str:
    body = body.strip()
    if not signature or body.endswith(signature):
        return body
    return f"{body}\n{signature}"


class PrivateRoute(StrEnum):
    DIRECT = "direct"  # the platform's direct messages
    CASE_PAGE = "case_page"  # the customer's secure case page, once they wrote there


def private_route(
    conversation: Conversation, account: ChannelAccount | None
) -> PrivateRoute | None:
    """How a private message reaches this customer, if it can.

    The sandbox behaves like the platform it stands in for: direct messages
    only where Hubbub can start them on that platform.
    """
    if account is not None and connector.can_message_privately(account.platform):
        return PrivateRoute.DIRECT
    # The customer wrote on the case page (not by email or in the chat: those answer there).
    if conversation.messages.filter(
        kind=MessageKind.CUSTOMER, platform__in=CASE_PAGE_PLATFORMS
    ).exists():
        return PrivateRoute.CASE_PAGE
    return None


def sends(account: ChannelAccount | None) -> bool:
    """Whether Hubbub can send through this account (its platform has a sender, or sandbox)."""
    return account is not None and connector.can_send(account.platform, account.transport)


def account_for(conversation: Conversation) -> ChannelAccount | None:
    return ChannelAccount.objects.filter(
        workspace_id=conversation.workspace_id, platform=conversation.platform, enabled=True
    ).first()


@transaction.atomic
def send_reply(
    *,
    actor: User,
    conversation_id: int,
    body: str,
    private: bool = False,
    in_reply_to_id: int | None = None,
    confirm_not_mine: bool = False,
    macro_id: int | None = None,
    follow_up: bool = False,
) -> Message:
    """Queue a public reply under the customer's post (or a private message), signed by the agent.

    `follow_up`: a public message after the case was resolved, under the
    customer's latest post even when that post has the brand's answer.

    Refused with a clear message, and nothing stored, when the text is empty
    or over the platform's limit, the channel cannot send, the post already
    has the brand's reply, or the conversation is someone else's and the
    agent has not confirmed.
    """
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    _check_mine(conversation, actor, confirmed=confirm_not_mine)
    account = account_for(conversation)
    route = private_route(conversation, account) if private else None
    if private and route is None:
        raise Conflict(
            f"{conversation.platform.capitalize()} has no private messages Hubbub can start: "
            "move the conversation to private to send the customer a link to their case.",
            code="no_private_messages",
        )
    if route != PrivateRoute.CASE_PAGE and not sends(account):
        raise Conflict(
            f"No account can send on {conversation.platform} yet: "
            "an admin connects one under Settings → Channels. Your draft is kept.",
            code="channel_closed",
        )
    target = _reply_target(actor, conversation, in_reply_to_id)
    text = connector.addressed(
        conversation.platform, signed(body, signature_of(actor)), conversation.customer_handle
    )
    _check_text(body, text, platform=conversation.platform, private=private)
    macro = None
    if macro_id is not None:
        macro = macros.access_macro(user=actor, macro_id=macro_id, conversation=conversation)
    kind = MessageKind.PRIVATE if private else MessageKind.REPLY
    if follow_up and not private:
        kind = MessageKind.FOLLOW_UP
    # Private messages are between the agent and the customer; public replies
    # of agents who need approval wait for a lead.
    held = kind != MessageKind.PRIVATE and approvals.needs_approval(actor)
    if kind == MessageKind.REPLY:
        _check_not_answered(target)
    # On the case page a message is "sent" when stored: the customer reads it there.
    on_case_page = route == PrivateRoute.CASE_PAGE
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation,
                kind=kind,
                author=actor,
                body=text,
                sender_name=audit.name_of(actor),
                signature=signature_of(actor),
                platform=CASE_PAGE if on_case_page else conversation.platform,
                in_reply_to=target,
                state=_first_state(held=held, on_case_page=on_case_page),
                sent_at=clock.now() if on_case_page else None,
                sandbox=account is not None and account.transport == "sandbox" and not on_case_page,
                macro=macro,
                macro_unedited=macro is not None
                and body.strip() == macros.render(macro, conversation=conversation, agent=actor),
            )
    except IntegrityError as error:
        # Another agent's reply to the same post committed a moment ago.
        _check_not_answered(target)
        raise Conflict("This post was answered a moment ago.", code="already_answered") from error
    if macro is not None:
        macros.note_use(macro=macro, message=message, conversation=conversation, actor=actor)
    if held:
        approvals.hold_for_approval(message, author=actor)
    elif on_case_page:
        _responded(conversation, at=message.created_at)
    else:
        enqueue(message)
    _wrote(conversation, message)
    if not held:  # a held reply tells the customer nothing until a lead lets it go
        handoffs.customer_told(conversation, at=message.created_at)
        where = "privately" if private else f"on {conversation.platform}"
        audit.record(
            conversation,
            actor=actor,
            kind=ActivityKind.REPLY_QUEUED,
            summary=f"{audit.name_of(actor)} sent a message {where}",
            detail={"message_id": message.pk, "in_reply_to": target.pk},
        )
    announce_change(conversation, what="message", actor=actor)
    return message


def _wrote(conversation: Conversation, message: Message) -> None:
    """The team wrote on the conversation: a new one is open now, and it moved."""
    if conversation.status == ConversationStatus.NEW:
        conversation.status = ConversationStatus.OPEN
    conversation.last_activity_at = max(conversation.last_activity_at, message.created_at)
    conversation.save(update_fields=["status", "last_activity_at", "updated_at"])


def _check_mine(conversation: Conversation, actor: User, *, confirmed: bool) -> None:
    if conversation.assignee_id not in (None, actor.pk) and not confirmed:
        raise Conflict(
            f"{audit.name_of(conversation.assignee)} has this conversation. "
            "Send anyway only if you agreed with them.",
            code="assigned_to_someone_else",
            details={"assignee_id": conversation.assignee_id},
        )


@transaction.atomic
def send_direct(
    *,
    actor: User,
    conversation_id: int,
    body: str,
    channel: str,
    confirm_not_mine: bool = False,
    macro_id: int | None = None,
) -> Message:
    """Answer on a channel the customer wrote to the brand on: an email, or the web chat.

    An email is queued for the sending job (the Message-ID is fixed now, so
    every attempt sends the same mail); a chat message is delivered when
    stored: the customer's widget reads it live.
    """
    from hubbub.care import chat, mail

    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    _check_mine(conversation, actor, confirmed=confirm_not_mine)
    details: dict[str, object] = {}
    external_id = ""
    sandbox = False
    if channel == EMAIL:
        mailbox = mail.mailbox_for(conversation)
        if mailbox is None:
            raise Conflict(
                "No mailbox can send yet: an admin adds one under Settings → Mailboxes. "
                "Your draft is kept.",
                code="channel_closed",
            )
        recipient = mail.recipient_of(conversation)
        if not recipient:
            raise Conflict(
                "Hubbub has no email address for this customer.", code="no_email_address"
            )
        details = {"to": recipient, "mailbox_id": mailbox.pk}
        external_id = mail.new_message_id(mailbox)
        sandbox = mailbox.sandbox
    elif channel == CHAT:
        if not chat.reachable(conversation):
            raise Conflict(
                "The customer has not chatted on this conversation.", code="no_chat_visitor"
            )
    else:
        raise ValidationFailed(f"Hubbub cannot answer on {channel!r}.", field="channel")
    text = signed(body, signature_of(actor))
    _check_text(body, text, platform=channel, private=True)
    macro = None
    if macro_id is not None:
        macro = macros.access_macro(user=actor, macro_id=macro_id, conversation=conversation)
    delivered_now = channel == CHAT
    message = Message.objects.create(
        conversation=conversation,
        kind=MessageKind.PRIVATE,
        author=actor,
        body=text,
        sender_name=audit.name_of(actor),
        signature=signature_of(actor),
        platform=channel,
        state=DeliveryState.SENT if delivered_now else DeliveryState.QUEUED,
        sent_at=clock.now() if delivered_now else None,
        external_id=external_id,
        details=details,
        sandbox=sandbox,
        macro=macro,
        macro_unedited=macro is not None
        and body.strip() == macros.render(macro, conversation=conversation, agent=actor),
    )
    if macro is not None:
        macros.note_use(macro=macro, message=message, conversation=conversation, actor=actor)
    if delivered_now:
        _responded(conversation, at=message.created_at)
    else:
        enqueue(message)
    _wrote(conversation, message)
    handoffs.customer_told(conversation, at=message.created_at)
    where = "an email" if channel == EMAIL else "a chat message"
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.REPLY_QUEUED,
        summary=f"{audit.name_of(actor)} sent {where}",
        detail={"message_id": message.pk, "channel": channel},
    )
    announce_change(conversation, what="message", actor=actor)
    return message


def _first_state(*, held: bool, on_case_page: bool) -> DeliveryState:
    if held:
        return DeliveryState.HELD
    return DeliveryState.SENT if on_case_page else DeliveryState.QUEUED


def _reply_target(actor: User, conversation: Conversation, mention_id: int | None) -> Mention:
    """The customer post to answer: the one chosen, else their latest on this conversation."""
    posts = listening.visible_mentions(user=actor).filter(
        conversation_link__conversation=conversation
    )
    if mention_id is not None:
        posts = posts.filter(pk=mention_id)
    target = posts.exclude(external_id="").order_by("-posted_at", "-id").first()
    if target is None:
        raise ValidationFailed(
            "There is no post of the customer on this conversation to answer.",
            field="in_reply_to",
        )
    return target


def _check_text(body: str, text: str, *, platform: str, private: bool) -> None:
    if not body.strip():
        raise ValidationFailed("Write something first.", field="body")
    if len(text) > MAX_BODY:
        raise ValidationFailed(f"A message is at most {MAX_BODY} characters.", field="body")
    if not private:
        check_public_length(text, platform=platform, body=body)


def check_public_length(text: str, *, platform: str, body: str | None = None) -> None:
    """Refuse a public post longer than the platform takes; `body` is the text unsigned."""
    limit = connector.limit_of(platform)
    if limit is None:
        return
    length = connector.text_length(platform, text)
    if length > limit:
        extra = length - connector.text_length(platform, body.strip()) if body else 0
        raise ValidationFailed(
            f"{platform.capitalize()} takes {limit} characters; this reply has {length}"
            + (f" with your signature ({extra})" if extra else "")
            + ". Shorten it, or move to a private message.",
            field="body",
        )


def latest_post_answered(*, actor: User, conversation: Conversation) -> bool:
    """Whether the customer's latest post already has the brand's public reply."""
    target = _reply_target(actor, conversation, None)
    return Message.objects.filter(
        in_reply_to=target, kind=MessageKind.REPLY, state__in=DeliveryState.claiming_the_post()
    ).exists()


def _check_not_answered(target: Mention) -> None:
    existing = (
        Message.objects.filter(
            in_reply_to=target,
            kind=MessageKind.REPLY,
            state__in=DeliveryState.claiming_the_post(),
        )
        .select_related("author__profile")
        .first()
    )
    if existing is not None:
        state = "has already sent" if existing.state == DeliveryState.SENT else "is sending"
        raise Conflict(
            f"{audit.name_of(existing.author)} {state} the brand's reply to this post. "
            "One public answer per post: add to it in a private message or a note.",
            code="already_answered",
            details={"message_id": existing.pk},
        )


def enqueue(message: Message, *, delay_seconds: float = 0) -> None:
    from hubbub.care.tasks import send_message

    task = send_message
    if delay_seconds:
        task = send_message.using(run_after=clock.now() + dt.timedelta(seconds=delay_seconds))
    task.enqueue(message.pk)


@transaction.atomic
def retry_message(*, actor: User, message_id: int) -> Message:
    """Send a failed message again (a new job; the same idempotency key)."""
    message = _access_message(actor, message_id)
    if message.state != DeliveryState.FAILED:
        raise Conflict("Only a failed message can be sent again.", code="not_failed")
    if message.kind == MessageKind.REPLY and message.in_reply_to is not None:
        _check_not_answered(message.in_reply_to)
    message.state = DeliveryState.QUEUED
    message.last_error = ""
    message.attempts = 0
    message.next_attempt_at = None
    message.save(update_fields=["state", "last_error", "attempts", "next_attempt_at"])
    enqueue(message)
    audit.record(
        message.conversation,
        actor=actor,
        kind=ActivityKind.REPLY_QUEUED,
        summary=f"{audit.name_of(actor)} sent a failed message again",
        detail={"message_id": message.pk},
    )
    announce_change(message.conversation, what="message", actor=actor)
    return message


def _access_message(actor: User, message_id: int) -> Message:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation", "in_reply_to")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    access_for_work(actor=actor, conversation_id=message.conversation_id, lock=False)
    return message


# ---- the job's side ----


@dataclass(frozen=True, slots=True)
class EmailOut:
    """A reply by email, ready for SMTP: nothing of it needs the database any more."""

    settings: smtp.SmtpSettings
    message: EmailMessage
    envelope_from: str
    recipients: tuple[str, ...]
    sandbox: bool = False  # a demo mailbox: accepted, never sent


@dataclass(frozen=True, slots=True)
class Claimed:
    message_id: int
    account: connector.Account | None = None  # a platform's message
    outgoing: connector.Outgoing | None = None
    email: EmailOut | None = None  # an email


def claim_for_sending(*, message_id: int) -> Claimed | None:
    """Take a queued message for sending (queued → sending); None if it is not queued.

    A short transaction of its own: no lock is held while the platform answers.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "in_reply_to", "author")
            .filter(pk=message_id, state=DeliveryState.QUEUED)
            .first()
        )
        if message is None:
            return None  # sent, failed or cancelled already: sent once
        message.state = DeliveryState.SENDING
        message.attempts += 1
        message.next_attempt_at = None
        message.claimed_at = clock.now()
        message.save(update_fields=["state", "attempts", "next_attempt_at", "claimed_at"])
        if message.platform == EMAIL:
            email = _email_out(message)
            if email is None:
                return None
            return Claimed(message_id=message.pk, email=email)
        account = account_for(message.conversation)
    if account is None:
        record_failure(message_id=message_id, error="The channel's account was removed.")
        return None
    target = message.in_reply_to
    return Claimed(
        message_id=message.pk,
        account=connector.Account(
            platform=account.platform,
            transport=account.transport,
            handle=account.handle,
            base_url=account.base_url,
            secret=account.secret,
        ),
        outgoing=connector.Outgoing(
            text=message.body,
            visibility=(
                connector.Visibility.DIRECT
                if message.kind == MessageKind.PRIVATE
                else connector.Visibility.PUBLIC
            ),
            recipient_handle=message.conversation.customer_handle,
            in_reply_to=target.external_id if target is not None else "",
            idempotency_key=f"hubbub-message-{message.pk}",
        ),
    )


def _email_out(message: Message) -> EmailOut | None:
    """The mail of a claimed email reply, or None (recorded as failed) if it cannot go."""
    from hubbub.care import mail

    mailbox = Mailbox.objects.filter(
        pk=message.details.get("mailbox_id"), workspace_id=message.conversation.workspace_id
    ).first()
    recipient = str(message.details.get("to", ""))
    if mailbox is None or not mailbox.enabled:
        record_failure(message_id=message.pk, error="The mailbox was removed or turned off.")
        return None
    try:
        email = mail.email_for(message, mailbox)
    except ValueError as error:  # an address or header the mail cannot carry
        record_failure(message_id=message.pk, error=f"This email cannot be sent: {error}")
        return None
    return EmailOut(
        settings=smtp.SmtpSettings(
            host=mailbox.smtp_host,
            port=mailbox.smtp_port,
            security=MailSecurity(mailbox.smtp_security),
            username=mailbox.smtp_username,
            password=mailbox.smtp_password,
        ),
        message=email,
        envelope_from=mailbox.address,
        recipients=(recipient,),
        sandbox=mailbox.sandbox,
    )


@transaction.atomic
def record_sent(*, message_id: int, delivered: connector.Delivered) -> None:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .get(pk=message_id)
    )
    now = clock.now()
    message.state = DeliveryState.SENT
    message.sent_at = now
    message.external_id = delivered.external_id[:255]
    url = delivered.url if delivered.url.startswith(("https://", "http://")) else ""
    message.external_url = url[:2000]
    message.last_error = ""
    message.save(update_fields=["state", "sent_at", "external_id", "external_url", "last_error"])
    conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
    _responded(conversation, at=now)
    audit.record(
        conversation,
        actor=None,
        kind=ActivityKind.REPLY_SENT,
        summary=f"{message.sender_name}'s message was "
        + ("accepted by the sandbox (not posted)" if message.sandbox else "sent"),
        detail={"message_id": message.pk, "external_id": message.external_id},
    )
    announce_change(conversation, what="message", actor=None)


def _responded(conversation: Conversation, *, at: dt.datetime) -> None:
    """The brand answered the customer: the response clocks stop."""
    conversation.first_response_at = conversation.first_response_at or at
    conversation.last_response_at = at
    conversation.save(update_fields=["first_response_at", "last_response_at", "updated_at"])
    sla.refresh_clocks([conversation])


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: 30 s, 60 s, 120 s … capped at 30 minutes."""
    base: float = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0 ** max(0, attempt - 1))
    delay = base * random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


@transaction.atomic
def record_failure(
    *, message_id: int, error: str, transient: bool = False, retry_after: float | None = None
) -> bool:
    """A send failed: try again later if it may help and attempts remain. True if requeued."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .get(pk=message_id)
    )
    if message.state not in (DeliveryState.SENDING, DeliveryState.QUEUED):
        return False
    message.last_error = error[:500]
    if transient and message.attempts < MAX_ATTEMPTS:
        delay = retry_delay(message.attempts, retry_after)
        message.state = DeliveryState.QUEUED
        message.next_attempt_at = clock.now() + dt.timedelta(seconds=delay)
        message.save(update_fields=["state", "last_error", "next_attempt_at"])
        enqueue(message, delay_seconds=delay)
        announce_change(message.conversation, what="message", actor=None)
        return True
    message.state = DeliveryState.FAILED
    message.save(update_fields=["state", "last_error"])
    audit.record(
        message.conversation,
        actor=None,
        kind=ActivityKind.REPLY_FAILED,
        summary=f"{message.sender_name}'s message failed: {error[:200]}",
        detail={"message_id": message.pk, "attempts": message.attempts},
    )
    announce_change(message.conversation, what="message", actor=None)
    return False


def deliver(*, message_id: int) -> None:
    """The job: claim, send, record. Safe to run twice for one message."""
    claimed = claim_for_sending(message_id=message_id)
    if claimed is None:
        return
    try:
        delivered = _send(claimed)
    except (connector.SendError, smtp.SmtpError) as error:
        record_failure(
            message_id=message_id,
            error=error.message,
            transient=error.transient,
            retry_after=getattr(error, "retry_after_seconds", None),
        )
        return
    except Exception as error:
        # A bug or an unexpected answer: keep the message, say what happened.
        logger.exception("sending message %s failed", message_id)
        record_failure(message_id=message_id, error=f"Unexpected error: {type(error).__name__}")
        return
    record_sent(message_id=message_id, delivered=delivered)


def _send(claimed: Claimed) -> connector.Delivered:
    if claimed.email is not None:
        out = claimed.email
        if out.sandbox:
            return connector.Delivered(external_id=str(out.message["Message-ID"]).strip("<> "))
        smtp.send_message(
            out.settings,
            out.message,
            envelope_from=out.envelope_from,
            recipients=out.recipients,
        )
        return connector.Delivered(external_id=str(out.message["Message-ID"]).strip("<> "))
    assert claimed.account is not None
    assert claimed.outgoing is not None
    return connector.send(claimed.account, claimed.outgoing)


@transaction.atomic
def requeue_stuck(*, older_than: dt.timedelta = STUCK_AFTER) -> int:
    """Messages left "sending" by a worker that died go back to the queue.

    The platform may have posted them; the idempotency key makes the retry
    harmless where the platform supports it.
    """
    stuck = list(
        Message.objects.select_for_update(skip_locked=True).filter(
            state=DeliveryState.SENDING,
            claimed_at__lt=clock.now() - older_than,
        )[:100]
    )
    for message in stuck:
        message.state = DeliveryState.QUEUED
        message.save(update_fields=["state"])
        enqueue(message)
    return len(stuck)
