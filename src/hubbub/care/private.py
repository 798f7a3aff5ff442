"""Getting the customer out of the lobby: one action takes the conversation private.

A short public reply invites the customer to continue privately, and the
private thread opens at once: a direct message where the platform has them,
otherwise the public reply carries a secure link to the case, where the
customer writes to the brand without an account. Either way the timeline
stays one conversation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

from django.db import transaction

from hubbub.accounts.models import User
from hubbub.care import audit, case_links, inbound, outbound
from hubbub.care.models import (
    CASE_PAGE_PLATFORMS,
    ActivityKind,
    CaseAccess,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
)
from hubbub.care.services import access_for_work, announce_change
from hubbub.core import clock
from hubbub.core.errors import Conflict, Forbidden, ValidationFailed

MAX_CUSTOMER_MESSAGE = 5000
# A case link is public to whoever holds it: cap what it can write.
CUSTOMER_MESSAGES_PER_HOUR = 20


@dataclass(frozen=True, slots=True)
class Invitation:
    by_direct_message: bool
    public_text: str
    private_text: str  # "" when the invitation carries the case link instead


def invitation_for(
    *, agent: User, conversation: Conversation, by_direct_message: bool | None = None
) -> Invitation:
    """The two messages the action sends, as the composer previews them (editable).

    `by_direct_message`: whether the platform has direct messages, when the
    caller knows it already (the composer does).
    """
    customer = conversation.greeting_name
    agent_name = audit.name_of(agent).split()[0]
    if by_direct_message is None:
        by_direct_message = _direct_messages(conversation)
    if by_direct_message:
        return Invitation(
            by_direct_message=True,
            public_text=(
                f"Hi {customer}, sorry about this. I've sent you a direct message "
                "so we can sort it out privately."
            ),
            private_text=(
                f"Hi {customer}, {agent_name} here. So we can look into this for you, "
                "could you send me the email address or account number on your account? "
                "Please never post those in public."
            ),
        )
    return Invitation(
        by_direct_message=False,
        public_text=(
            f"Hi {customer}, sorry about this. So we can sort it out privately, "
            f"please continue with us here: {case_links.link_for(conversation)}"
        ),
        private_text="",
    )


def _direct_messages(conversation: Conversation) -> bool:
    route = outbound.private_route(conversation, outbound.account_for(conversation))
    return route == outbound.PrivateRoute.DIRECT


@transaction.atomic
def move_to_private(
    *,
    actor: User,
    conversation_id: int,
    public_text: str,
    private_text: str = "",
    confirm_not_mine: bool = False,
) -> list[Message]:
    """Send the public invitation and open the private thread, together or not at all."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    by_direct_message = _direct_messages(conversation)
    if by_direct_message and not private_text.strip():
        raise ValidationFailed("Write the private message too.", field="private_text")
    if not by_direct_message and case_links.link_for(conversation) not in public_text:
        raise ValidationFailed(
            "Keep the case link in the public reply: it is how the customer reaches you.",
            field="public_text",
        )
    sent = []
    if not outbound.latest_post_answered(actor=actor, conversation=conversation):
        sent.append(
            outbound.send_reply(
                actor=actor,
                conversation_id=conversation_id,
                body=public_text,
                confirm_not_mine=confirm_not_mine,
            )
        )
    elif not by_direct_message:
        raise Conflict(
            "The customer's post has the brand's reply already, and this platform has no "
            "private messages: wait for their next post to send the case link.",
            code="already_answered",
        )
    if by_direct_message:
        sent.append(
            outbound.send_reply(
                actor=actor,
                conversation_id=conversation_id,
                body=private_text,
                private=True,
                confirm_not_mine=confirm_not_mine,
            )
        )
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.MOVED_PRIVATE,
        summary=f"{audit.name_of(actor)} moved the conversation to "
        + ("a direct message" if by_direct_message else "the private case page"),
        detail={"messages": [message.pk for message in sent]},
    )
    return sent


class CaseReader(Enum):
    """What a visitor of a case page may do."""

    HOLDER = "holder"  # wrote first from this browser: reads and writes the private thread
    NEWCOMER = "newcomer"  # nobody wrote yet: may write, and so claim the thread
    OUTSIDER = "outsider"  # someone else holds the thread: sees the status only


def case_reader(conversation: Conversation, secret: str) -> CaseReader:
    access = CaseAccess.objects.filter(conversation=conversation).first()
    if access is None:
        return CaseReader.NEWCOMER
    if secret and hmac.compare_digest(access.secret_hash, _digest(secret)):
        return CaseReader.HOLDER
    return CaseReader.OUTSIDER


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Written:
    message: Message
    new_secret: str  # set when this visit claimed the thread: the page keeps it in a cookie


@transaction.atomic
def customer_writes(*, conversation: Conversation, body: str, secret: str = "") -> Written:
    """A message from the customer through their case link joins the conversation's timeline.

    The first visitor to write claims the private thread (a new secret comes
    back); afterwards only that secret may write and read there.
    """
    text = body.strip()
    if not text:
        raise ValidationFailed("Write your message first.", field="body")
    if len(text) > MAX_CUSTOMER_MESSAGE:
        raise ValidationFailed(
            f"Please keep it under {MAX_CUSTOMER_MESSAGE} characters.", field="body"
        )
    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
    reader = case_reader(locked, secret)
    if reader == CaseReader.OUTSIDER:
        raise Forbidden(
            "This case continues privately in the browser that wrote first. If that was you, "
            "open the link there; otherwise write to us where you first did.",
            code="case_claimed",
        )
    new_secret = ""
    if reader == CaseReader.NEWCOMER:
        new_secret = secrets.token_urlsafe(32)
        CaseAccess.objects.create(conversation=locked, secret_hash=_digest(new_secret))
    recent = Message.objects.filter(
        conversation=locked,
        kind=MessageKind.CUSTOMER,
        platform__in=CASE_PAGE_PLATFORMS,
        created_at__gte=clock.now() - dt.timedelta(hours=1),
    ).count()
    if recent >= CUSTOMER_MESSAGES_PER_HOUR:
        raise Conflict(
            "You have sent many messages in the last hour; we will read them and answer.",
            code="too_many_messages",
        )
    if locked.status == ConversationStatus.CLOSED:
        raise Conflict(
            "This case is closed. Write to us where you first did to open a new one.",
            code="case_closed",
        )
    message = Message.objects.create(
        conversation=locked,
        kind=MessageKind.CUSTOMER,
        body=text,
        sender_name=locked.customer_name or locked.customer_handle,
    )
    inbound.customer_spoke(locked, at=message.created_at)
    audit.record(
        locked,
        actor=None,
        kind=ActivityKind.CUSTOMER_WROTE,
        summary=f"{message.sender_name} wrote privately through the case page",
        detail={"message_id": message.pk},
    )
    announce_change(locked, what="message", actor=None)
    return Written(message, new_secret)
