"""Customers writing to the brand directly (email, chat, webhooks): one contact, one timeline."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.care import inbound, services
from hubbub.care.models import (
    EMAIL,
    Activity,
    ActivityKind,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
)
from hubbub.care.tests.factories import START, arrives
from hubbub.crm.models import Identity

pytestmark = pytest.mark.django_db


def writes(cast: Cast, channel: str, handle: str, body: str, **fields: object) -> inbound.Received:
    values: dict[str, object] = {
        "workspace_id": cast.brightwave.pk,
        "channel": channel,
        "handle": handle,
        "name": "Ana Ruiz",
        "body": body,
        "received_at": START,
        **fields,
    }
    return inbound.receive(inbound.CustomerMessage(**values))  # type: ignore[arg-type]


def test_a_first_email_opens_a_conversation_for_a_new_contact(cast: Cast) -> None:
    received = writes(
        cast,
        EMAIL,
        "Ana@Example.com",
        "My order 1182 never arrived and nobody answers.",
        subject="Where is my order?",
        team_id=cast.care.pk,
    )

    conversation = received.conversation
    assert received.created
    assert conversation.platform == EMAIL
    assert conversation.customer_handle == "ana@example.com"
    assert conversation.subject == "Where is my order?"
    assert conversation.team_id == cast.care.pk
    assert conversation.status == ConversationStatus.NEW
    assert conversation.contact is not None
    assert conversation.contact.email == "ana@example.com"
    message = received.message
    assert message.kind == MessageKind.CUSTOMER
    assert message.platform == EMAIL
    assert message.sender_name == "Ana Ruiz"
    assert Activity.objects.filter(conversation=conversation, kind=ActivityKind.OPENED).exists()


def test_triage_reads_a_direct_message_like_a_post(cast: Cast) -> None:
    received = writes(
        cast, EMAIL, "ana@example.com", "This is terrible, I want a refund now. Cancel it!"
    )

    triage = received.message.details["triage"]
    assert triage["sentiment"] == "negative"
    assert triage["priority"] > 0
    conversation = Conversation.objects.get(pk=received.conversation.pk)
    assert conversation.sentiment == "negative"
    assert conversation.priority == triage["priority"]


def test_the_next_email_of_the_same_customer_joins_their_conversation(cast: Cast) -> None:
    first = writes(cast, EMAIL, "ana@example.com", "Where is my order?")
    second = writes(cast, EMAIL, "ANA@example.com", "Any news?")

    assert not second.created
    assert second.conversation.pk == first.conversation.pk
    assert Message.objects.filter(conversation=first.conversation).count() == 2


def test_a_customer_who_posts_then_emails_then_chats_has_one_conversation(cast: Cast) -> None:
    posted = arrives(cast, "ana.bsky.social", author_name="Ana Ruiz", platform="bluesky")
    # She answers the mail the brand sent her: the address becomes one of Ana's identities.
    emailed = writes(
        cast,
        EMAIL,
        "ana@example.com",
        "Here are my order details.",
        conversation_id=posted.pk,
        trusted_thread=True,
    )
    # Later she chats on the brand's site, as the signed-in user the site vouches for,
    # with the same address.
    contact = emailed.conversation.contact
    assert contact is not None
    chat_identity = inbound.crm.Seen("chat", "w1:user:ana-42", "Ana")
    inbound.crm.link_identity(contact=contact, seen=chat_identity, verified=True)
    chatted = writes(cast, "chat", "w1:user:ana-42", "Hello, still waiting on 1182")

    assert emailed.conversation.pk == posted.pk
    assert chatted.conversation.pk == posted.pk
    assert set(Identity.objects.filter(contact=contact).values_list("platform", flat=True)) == {
        "bluesky",
        "email",
        "chat",
    }
    kinds = [m.platform for m in Message.objects.filter(conversation=posted).order_by("id")]
    assert kinds == ["email", "chat"]


def test_a_message_threaded_by_a_copied_header_is_filed_flagged_and_merges_no_one(
    cast: Cast,
) -> None:
    posted = arrives(cast, "ana.bsky.social", author_name="Ana Ruiz", platform="bluesky")

    copied = writes(cast, EMAIL, "eve@evil.test", "Send it here", conversation_id=posted.pk)

    assert copied.conversation.pk == posted.pk
    assert copied.message.details["unknown_sender"] is True
    posted.refresh_from_db()
    assert posted.contact is not None
    assert not posted.contact.identities.filter(platform=EMAIL).exists()


def test_a_post_by_a_customer_who_emailed_first_joins_the_email_conversation(
    cast: Cast,
) -> None:
    emailed = writes(cast, EMAIL, "ana@example.com", "Order 1182 is late")
    contact = emailed.conversation.contact
    assert contact is not None
    inbound.crm.link_identity(contact=contact, seen=inbound.crm.Seen("bluesky", "ana.test"))

    posted = arrives(cast, "ana.test", platform="bluesky")

    assert posted.pk == emailed.conversation.pk


def test_a_reply_to_a_resolved_conversation_reopens_it(cast: Cast) -> None:
    first = writes(cast, EMAIL, "ana@example.com", "Where is my order?")
    services.change_status(
        actor=cast.cara, conversation_id=first.conversation.pk, status=ConversationStatus.RESOLVED
    )

    again = writes(
        cast, EMAIL, "ana@example.com", "It came back broken", conversation_id=first.conversation.pk
    )

    assert again.conversation.pk == first.conversation.pk
    assert Conversation.objects.get(pk=first.conversation.pk).status == ConversationStatus.OPEN


def test_a_reply_to_a_closed_conversation_opens_a_new_one_for_the_same_contact(
    cast: Cast,
) -> None:
    first = writes(cast, EMAIL, "ana@example.com", "Where is my order?")
    Conversation.objects.filter(pk=first.conversation.pk).update(status=ConversationStatus.CLOSED)

    again = writes(
        cast,
        EMAIL,
        "ana@example.com",
        "About that old order",
        conversation_id=first.conversation.pk,
        received_at=START + dt.timedelta(days=3),
    )

    assert again.created
    assert again.conversation.pk != first.conversation.pk
    assert again.conversation.contact_id == first.conversation.contact_id


def test_a_conversation_of_another_workspace_is_never_joined(cast: Cast) -> None:
    theirs = inbound.receive(
        inbound.CustomerMessage(
            workspace_id=cast.elsewhere.pk,
            channel=EMAIL,
            handle="x@example.com",
            name="",
            body="hi",
            received_at=START,
        )
    )

    ours = writes(cast, EMAIL, "ana@example.com", "hi", conversation_id=theirs.conversation.pk)

    assert ours.conversation.pk != theirs.conversation.pk
    assert ours.conversation.workspace_id == cast.brightwave.pk
