"""The web chat: visitors on the brand's own site talk to the care team without an account.

A visitor is known by a secret token their browser keeps (only its SHA-256
is stored). A site that signs its users in can prove who a visitor is with
HMAC-SHA256(widget secret, user id), computed on its server: a verified
user is the same contact on every device, and the email address the site
gives with it is trusted. An address a visitor merely types is kept to
answer by email, but never merges them with someone else's history.
Everything a visitor writes goes through care.inbound like an email does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from hubbub.accounts.models import Status, User
from hubbub.care import inbound
from hubbub.care.models import CHAT, Conversation, Message, MessageKind
from hubbub.connectors.models import ChatVisitor, ChatWidget
from hubbub.core import clock
from hubbub.core.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from hubbub.crm import services as crm

MAX_MESSAGE = 5000
MAX_USER_ID = 200
MESSAGES_PER_MINUTE = 12
SESSIONS_PER_HOUR_PER_ADDRESS = 30
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


# ---- widgets and visitors ----


def widget_for(key: str, *, origin: str) -> ChatWidget:
    """The enabled widget with this key, when the page's origin may embed it."""
    widget = ChatWidget.objects.filter(key=key, enabled=True).first()
    if widget is None:
        raise NotFound("No such chat.", code="widget_not_found")
    if not origin_allowed(widget, origin):
        raise Forbidden("This site may not use this chat.", code="origin_not_allowed")
    return widget


def origin_allowed(widget: ChatWidget, origin: str) -> bool:
    """Whether a page of `origin` may use the widget.

    Browsers name the page's origin on every cross-origin request and every
    POST; a same-origin GET, or a client that is no browser, names none, and
    CORS could not stop the latter anyway: the visitor's token guards the
    conversation, and rate limits guard the rest.
    """
    if not origin:
        return True
    allowed = {o.rstrip("/").lower() for o in widget.allowed_origins if isinstance(o, str)}
    return origin.rstrip("/").lower() in allowed


def user_hash(widget: ChatWidget, user_id: str) -> str:
    """What the brand's server computes to vouch for a signed-in user (hex HMAC-SHA256)."""
    return hmac.new(widget.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    visitor: ChatVisitor
    token: str  # "" when the visitor came with theirs


def _proved(widget: ChatWidget, value: str, given: str) -> bool:
    """Whether `given` is the site's HMAC of `value` (hex); odd input is simply not proof."""
    given = given.strip().lower()
    if not value or not given.isascii():
        return False
    return hmac.compare_digest(user_hash(widget, value).encode(), given.encode())


@transaction.atomic
def start_session(
    *,
    widget: ChatWidget,
    token: str = "",
    user_id: str = "",
    user_hash_given: str = "",
    name: str = "",
    email: str = "",
    email_hash_given: str = "",
    page_url: str = "",
    address: str = "",
) -> Session:
    """The visitor of this token, or a new one; a signed-in user is verified first.

    The site signs the user id (`user_hash`) and, to have Hubbub trust it, the
    address (`email_hash`, the HMAC of the address): an address the page
    merely passes could be anyone's, so it is kept to answer by email but
    joins no one's history.
    """
    if len(user_id) > MAX_USER_ID:
        raise ValidationFailed("That user id is too long.", field="user_id")
    if user_id and not _proved(widget, user_id, user_hash_given):
        raise Forbidden("Hubbub could not verify who you are.", code="identity_not_verified")
    email = _clean_email(email) if email else ""
    email_proved = bool(email) and _proved(widget, email, email_hash_given)
    if token:
        visitor = _visitor_of(widget, token)
        # A signed-in user's chat is theirs only: after they sign out (or another
        # person signs in on the same browser) the token opens nothing.
        if visitor is not None and visitor.user_id == user_id:
            visitor.last_seen_at = clock.now()
            visitor.page_url = page_url[:2000] or visitor.page_url
            visitor.save(update_fields=["last_seen_at", "page_url"])
            return Session(visitor, "")
    _limit(f"chat-session:{_address_key(address)}", SESSIONS_PER_HOUR_PER_ADDRESS, 3600)
    new_token = secrets.token_urlsafe(32)
    token_hash = _digest(new_token)
    seen = crm.Seen(CHAT, handle_of(widget.pk, user_id=user_id, token_hash=token_hash), name)
    contact = crm.contact_for(workspace_id=widget.workspace_id, seen=seen, verified=bool(user_id))
    if email_proved:
        # The site vouches for this address: the same person as whoever wrote from it.
        contact = crm.link_identity(
            contact=contact, seen=crm.Seen(crm.EMAIL, email, name), verified=True
        )
        crm.remember_email(contact, email)
    elif email and not contact.email:
        crm.remember_email(contact, email)
    visitor = ChatVisitor.objects.create(
        widget=widget,
        token_hash=token_hash,
        contact=contact,
        name=name[:120],
        email=email,
        user_id=user_id,
        page_url=page_url[:2000],
        last_seen_at=clock.now(),
    )
    return Session(visitor, new_token)


def handle_of(widget_id: int, *, user_id: str, token_hash: str) -> str:
    """The chat identity of a visitor: the site's user, or this browser's token."""
    if user_id:
        return f"w{widget_id}:user:{user_id}"
    return f"visitor:{token_hash[:20]}"


def _address_key(address: str) -> str:
    """Who a session limit counts: an IPv4 address, or an IPv6 /64 (one household's)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def visitor_for(widget: ChatWidget, token: str) -> ChatVisitor:
    visitor = _visitor_of(widget, token)
    if visitor is None:
        raise Forbidden("This chat session has ended; start a new one.", code="bad_token")
    return visitor


def _visitor_of(widget: ChatWidget, token: str) -> ChatVisitor | None:
    if not token or len(token) > 100:
        return None
    return (
        ChatVisitor.objects.select_related("contact")
        .filter(widget=widget, token_hash=_digest(token))
        .first()
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL.match(email):
        raise ValidationFailed("That does not look like an email address.", field="email")
    return email


def _limit(key: str, allowed: int, seconds: int) -> None:
    """A fixed-window counter in the cache: refuse past `allowed` in `seconds`."""
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        count = 1
    if count > allowed:
        raise RateLimited(
            f"You're sending messages quickly; try again in {seconds if seconds < 120 else 60} s.",
            details={"retry_after": min(seconds, 60)},
        )


# ---- writing ----


def visitor_writes(*, visitor: ChatVisitor, body: str) -> Message:
    """A visitor's chat message joins their conversation (a new one the first time)."""
    text = body.strip()
    if not text:
        raise ValidationFailed("Write your message first.", field="body")
    if len(text) > MAX_MESSAGE:
        raise ValidationFailed(f"Please keep it under {MAX_MESSAGE} characters.", field="body")
    _limit(f"chat-messages:{visitor.pk}", MESSAGES_PER_MINUTE, 60)
    widget = visitor.widget
    handle = _handle_of(visitor)
    with transaction.atomic():
        received = inbound.receive(
            inbound.CustomerMessage(
                workspace_id=widget.workspace_id,
                channel=CHAT,
                handle=handle,
                name=visitor.name or visitor.email or "Website visitor",
                body=text,
                received_at=clock.now(),
                details={"widget_id": widget.pk, "page_url": visitor.page_url},
                team_id=widget.team_id,
                conversation_id=visitor.conversation_id,
                verified=bool(visitor.user_id),
                trusted_thread=True,  # the visitor's own chat, by their token
            )
        )
        if visitor.conversation_id != received.conversation.pk:
            visitor.conversation = received.conversation
            visitor.save(update_fields=["conversation"])
    return received.message


def _handle_of(visitor: ChatVisitor) -> str:
    """The identity a visitor's messages are filed under (the one start_session created)."""
    return handle_of(visitor.widget_id, user_id=visitor.user_id, token_hash=visitor.token_hash)


@transaction.atomic
def leave_email(*, visitor: ChatVisitor, email: str, name: str = "") -> ChatVisitor:
    """No one is online: the visitor leaves an address, and the team answers by email.

    The address is the contact's way to reach them; it does not merge them
    with whoever else used it (a visitor cannot prove it is theirs).
    """
    email = _clean_email(email)
    visitor.email = email
    visitor.name = name.strip()[:120] or visitor.name
    visitor.save(update_fields=["email", "name"])
    crm.remember_email(visitor.contact, email)
    if visitor.conversation_id is not None:
        Conversation.objects.filter(pk=visitor.conversation_id, customer_name="").update(
            customer_name=visitor.name or email
        )
    return visitor


# ---- reading ----


def chat_messages(visitor: ChatVisitor, *, after: int = 0, limit: int = 200) -> list[Message]:
    """What the visitor sees: the chat's own messages on their conversation, never notes,
    public replies or other channels."""
    if visitor.conversation_id is None:
        return []
    return list(
        Message.objects.select_related("author__profile")
        .filter(
            conversation_id=visitor.conversation_id,
            platform=CHAT,
            kind__in=[MessageKind.CUSTOMER, MessageKind.PRIVATE],
            pk__gt=after,
        )
        .order_by("id")[:limit]
    )


def team_online(widget: ChatWidget) -> bool:
    """Whether an agent who can answer is online now (the widget's team, else anyone's)."""
    people = User.objects.filter(
        workspace_id=widget.workspace_id, is_active=True, profile__status=Status.ONLINE
    )
    if widget.team_id is not None:
        people = people.filter(teams=widget.team_id)
    return people.exists()


def reachable(conversation: Conversation) -> bool:
    """Whether a chat visitor is on this conversation, to answer in the chat."""
    return ChatVisitor.objects.filter(conversation=conversation).exists()


def last_seen(conversation: Conversation) -> dt.datetime | None:
    visitor = (
        ChatVisitor.objects.filter(conversation=conversation).order_by("-last_seen_at").first()
    )
    return visitor.last_seen_at if visitor is not None else None
