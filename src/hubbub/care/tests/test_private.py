"""Getting the customer out of the lobby: a public invitation and the private thread, together."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import case_links, outbound, private
from hubbub.care.models import (
    Activity,
    ActivityKind,
    Conversation,
    ConversationStatus,
    DeliveryState,
    MessageKind,
)
from hubbub.care.tests.factories import arrives
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastodon_account(cast: Cast) -> ChannelAccount:
    return ChannelAccount.objects.create(
        workspace=cast.brightwave,
        platform="mastodon",
        name="@brightwave@social.example",
        base_url="https://social.example",
        secret="token",
    )


@pytest.fixture
def x_account(cast: Cast) -> ChannelAccount:
    # Hubbub cannot start direct messages on X; the sandbox, standing in for X,
    # posts in public only too.
    return ChannelAccount.objects.create(
        workspace=cast.brightwave,
        platform="x",
        transport=Transport.SANDBOX,
        name="@brightwave.example",
    )


def tom(cast: Cast, platform: str) -> Conversation:
    return arrives(
        cast,
        "tom@mastodon.example" if platform == "mastodon" else "tom.example",
        0,
        platform=platform,
        author_name="Tom Reyes",
        team=cast.care,
    )


class TestWithDirectMessages:
    def test_one_action_queues_the_public_invitation_and_the_direct_message(
        self, cast: Cast, mastodon_account: ChannelAccount
    ) -> None:
        conversation = tom(cast, "mastodon")
        invitation = private.invitation_for(agent=cast.cara, conversation=conversation)
        assert invitation.by_direct_message
        assert invitation.public_text.startswith("Hi Tom, sorry about this.")
        sent = private.move_to_private(
            actor=cast.cara,
            conversation_id=conversation.pk,
            public_text=invitation.public_text,
            private_text=invitation.private_text,
        )
        assert [(m.kind, m.state) for m in sent] == [
            (MessageKind.REPLY, DeliveryState.QUEUED),
            (MessageKind.PRIVATE, DeliveryState.QUEUED),
        ]
        assert sent[1].body.startswith("@tom@mastodon.example Hi Tom, Cara here.")
        moved = Activity.objects.get(conversation=conversation, kind=ActivityKind.MOVED_PRIVATE)
        assert moved.summary == "Cara moved the conversation to a direct message"

    def test_after_a_public_answer_only_the_direct_message_goes(
        self, cast: Cast, mastodon_account: ChannelAccount
    ) -> None:
        conversation = tom(cast, "mastodon")
        outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="On it")
        sent = private.move_to_private(
            actor=cast.cara,
            conversation_id=conversation.pk,
            public_text="ignored",
            private_text="Your account number, please?",
        )
        assert [m.kind for m in sent] == [MessageKind.PRIVATE]

    def test_nothing_is_sent_when_one_half_is_refused(
        self, cast: Cast, mastodon_account: ChannelAccount
    ) -> None:
        conversation = tom(cast, "mastodon")
        with pytest.raises(ValidationFailed):
            private.move_to_private(
                actor=cast.cara,
                conversation_id=conversation.pk,
                public_text="Hi! DM sent.",
                private_text="x" * 6000,
            )
        assert not conversation.messages.exists()


class TestThroughTheCasePage:
    def test_the_invitation_carries_the_case_link_and_the_customer_answers_there(
        self, cast: Cast, x_account: ChannelAccount
    ) -> None:
        conversation = tom(cast, "x")
        invitation = private.invitation_for(agent=cast.cara, conversation=conversation)
        assert not invitation.by_direct_message
        link = case_links.link_for(conversation)
        assert link in invitation.public_text
        with pytest.raises(ValidationFailed, match="Keep the case link"):
            private.move_to_private(
                actor=cast.cara, conversation_id=conversation.pk, public_text="Please DM us"
            )
        (public,) = private.move_to_private(
            actor=cast.cara, conversation_id=conversation.pk, public_text=invitation.public_text
        )
        assert public.kind == MessageKind.REPLY
        with pytest.raises(Conflict):  # no private route until the customer writes
            outbound.send_reply(
                actor=cast.cara, conversation_id=conversation.pk, body="hi", private=True
            )

        customer = Client()  # no account
        token = link.rstrip("/").rsplit("/", 1)[1]
        page = customer.get(reverse("care:case", args=[token]))
        assert b"We are on it" in page.content
        written = customer.post(
            reverse("care:case", args=[token]),
            {"body": "My account is 4411-2 <script>alert(1)</script>"},
            follow=True,
        )
        assert b"4411-2 &lt;script&gt;" in written.content
        conversation.refresh_from_db()
        (message,) = conversation.messages.filter(kind=MessageKind.CUSTOMER)
        assert message.sender_name == "Tom Reyes"
        assert conversation.last_inbound_at == message.created_at

        # The agent answers on the case page, where the customer reads it.
        answer = outbound.send_reply(
            actor=cast.cara,
            conversation_id=conversation.pk,
            body="Thanks Tom, engineer booked.",
            private=True,
        )
        assert (answer.state, answer.platform) == (DeliveryState.SENT, "case")
        again = customer.get(reverse("care:case", args=[token]))
        assert b"Thanks Tom, engineer booked." in again.content

    def test_the_customer_writing_reopens_a_case_waiting_on_them(
        self, cast: Cast, x_account: ChannelAccount
    ) -> None:
        conversation = tom(cast, "x")
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.WAITING_CUSTOMER
        )
        conversation.refresh_from_db()
        private.customer_writes(conversation=conversation, body="Here it is")  # claims it
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.OPEN

    def test_an_empty_or_flooding_customer_gets_a_clear_answer_and_keeps_the_text(
        self, cast: Cast, x_account: ChannelAccount
    ) -> None:
        conversation = tom(cast, "x")
        token = case_links.token_for(conversation)
        customer = Client()
        empty = customer.post(reverse("care:case", args=[token]), {"body": "  "})
        assert empty.status_code == 422
        assert b"Write your message first." in empty.content
        first = customer.post(reverse("care:case", args=[token]), {"body": "hello"})
        secret = first.cookies[f"hubbub_case_{conversation.pk}"].value
        for n in range(private.CUSTOMER_MESSAGES_PER_HOUR - 1):
            private.customer_writes(conversation=conversation, body=f"message {n}", secret=secret)
        flooded = customer.post(reverse("care:case", args=[token]), {"body": "one more"})
        assert flooded.status_code == 422
        assert b"many messages" in flooded.content
        assert b">one more</textarea>" in flooded.content


def test_only_the_browser_that_wrote_first_reads_the_private_thread(
    cast: Cast, x_account: ChannelAccount
) -> None:
    """The link may travel in a public reply: holding it is not enough to read private words."""
    conversation = tom(cast, "x")
    token = case_links.token_for(conversation)
    url = reverse("care:case", args=[token])
    customer, stranger = Client(), Client()
    customer.post(url, {"body": "My address is 12 Elm Road"})
    outbound.send_reply(
        actor=cast.cara, conversation_id=conversation.pk, body="Engineer at 2pm", private=True
    )
    mine = customer.get(url)
    assert b"12 Elm Road" in mine.content
    assert b"Engineer at 2pm" in mine.content
    seen = stranger.get(url)
    assert seen.status_code == 200
    assert b"12 Elm Road" not in seen.content
    assert b"Engineer at 2pm" not in seen.content
    assert b"continues privately in the browser that first wrote" in seen.content
    refused = stranger.post(url, {"body": "I am Tom, send me the details"})
    assert refused.status_code == 422
    assert conversation.messages.filter(kind=MessageKind.CUSTOMER).count() == 1
