"""Approvals: an agent's public reply waits for a lead, who approves, edits or sends it back."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from hubbub.accounts.models import AgentProfile
from hubbub.accounts.services import set_needs_approval
from hubbub.accounts.tests.factories import Cast
from hubbub.care import approvals, outbound
from hubbub.care.models import Activity, ActivityKind, Conversation, DeliveryState, Notification
from hubbub.care.tests.factories import arrives
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hubbub.core.models import EventRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_reply(cast: Cast) -> tuple[Conversation, int]:
    ChannelAccount.objects.create(
        workspace=cast.brightwave, platform="bluesky", transport=Transport.SANDBOX, name="Sandbox"
    )
    set_needs_approval(actor=cast.lee, member_id=cast.cara.pk, needs_approval=True)
    cast.cara.profile.refresh_from_db()
    conversation = arrives(cast, "tom.example", 0, team=cast.care)
    message = outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Hi Tom")
    return conversation, message.pk


class TestHolding:
    def test_the_reply_of_an_agent_who_needs_approval_waits_and_the_lead_is_told(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        conversation, message_id = held_reply
        assert conversation.messages.get().state == DeliveryState.HELD
        assert not DBTaskResult.objects.exists()  # nothing goes out yet
        told = Notification.objects.get()
        assert told.user == cast.lee
        assert told.text == "Cara's reply on “Brightwave broadband is down again” needs approval"
        assert [m.pk for m in approvals.approval_queue(user=cast.lee)] == [message_id]
        assert not approvals.approval_queue(user=cast.cara).exists()

    def test_a_held_reply_holds_the_post_against_a_second_answer(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        conversation, _ = held_reply
        with pytest.raises(Conflict, match="Cara is sending"):
            outbound.send_reply(
                actor=cast.lee,
                conversation_id=conversation.pk,
                body="Me",
                confirm_not_mine=True,
            )

    def test_private_messages_are_not_held(self, cast: Cast) -> None:
        ChannelAccount.objects.create(
            workspace=cast.brightwave,
            platform="mastodon",
            transport=Transport.SANDBOX,
            name="Sandbox",
        )
        AgentProfile.objects.filter(user=cast.cara).update(needs_approval=True)
        cast.cara.profile.refresh_from_db()
        conversation = arrives(cast, "tom.example", 0, platform="mastodon", team=cast.care)
        message = outbound.send_reply(
            actor=cast.cara, conversation_id=conversation.pk, body="DM", private=True
        )
        assert message.state == DeliveryState.QUEUED

    def test_only_leads_and_admins_mark_people_as_needing_approval(self, cast: Cast) -> None:
        with pytest.raises(Forbidden):
            set_needs_approval(actor=cast.cara, member_id=cast.nico.pk, needs_approval=True)


class TestReview:
    def test_approving_queues_it_and_tells_the_author(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        conversation, message_id = held_reply
        approved = approvals.approve_message(actor=cast.lee, message_id=message_id)
        assert (approved.state, approved.reviewed_by) == (DeliveryState.QUEUED, cast.lee)
        assert DBTaskResult.objects.count() == 1
        told = Notification.objects.get(user=cast.cara)
        assert told.text == "Lee approved your reply"
        event = EventRecord.objects.filter(kind="notification_created", user_id=cast.cara.pk)
        assert event.count() == 1
        trail = Activity.objects.get(conversation=conversation, kind=ActivityKind.APPROVED)
        assert trail.summary == "Lee approved Cara's reply"
        with pytest.raises(Conflict, match="reviewed this reply already"):
            approvals.approve_message(actor=cast.ada, message_id=message_id)

    def test_a_lead_can_edit_before_approving_within_the_platform_limit(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        _, message_id = held_reply
        with pytest.raises(ValidationFailed, match="Bluesky takes 300"):
            approvals.approve_message(actor=cast.lee, message_id=message_id, body="x" * 301)
        edited = approvals.approve_message(
            actor=cast.lee, message_id=message_id, body="Hi Tom, so sorry.\n– Cara"
        )
        assert edited.body == "Hi Tom, so sorry.\n– Cara"
        assert Notification.objects.get(user=cast.cara).text == "Lee approved and edited your reply"

    def test_sending_back_needs_a_comment_and_frees_the_post(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        conversation, message_id = held_reply
        with pytest.raises(ValidationFailed):
            approvals.return_message(actor=cast.lee, message_id=message_id, comment=" ")
        returned = approvals.return_message(
            actor=cast.lee, message_id=message_id, comment="Apologise first, then ask for a DM."
        )
        assert returned.state == DeliveryState.RETURNED
        assert "sent your reply back: Apologise first" in (
            Notification.objects.get(user=cast.cara).text
        )
        again = outbound.send_reply(
            actor=cast.cara, conversation_id=conversation.pk, body="Sorry Tom! Can you DM us?"
        )
        assert again.state == DeliveryState.HELD

    def test_agents_cannot_approve_and_other_teams_leads_cannot_see_it(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        _, message_id = held_reply
        with pytest.raises(Forbidden):
            approvals.approve_message(actor=cast.cara, message_id=message_id)
        with pytest.raises(NotFound):  # another workspace's admin: it does not exist for them
            approvals.approve_message(actor=cast.otto, message_id=message_id)

    def test_the_approvals_page_approves_with_htmx_and_escapes_the_draft(
        self, cast: Cast, held_reply: tuple[Conversation, int]
    ) -> None:
        conversation, message_id = held_reply
        client = Client()
        client.force_login(cast.lee)
        page = client.get(reverse("care:approvals"))
        assert b"Hi Tom" in page.content
        inbox = client.get(reverse("web:inbox"))
        assert b'data-count="approvals">1<' in inbox.content
        done = client.post(
            reverse("care:review", args=[message_id, "approve"]),
            {"body": "Hi <b>Tom</b>\n– Cara"},
            HTTP_HX_REQUEST="true",
        )
        assert b"Approved: it is on its way." in done.content
        assert b"Nothing waits for approval" in done.content
        message = conversation.messages.get()
        assert message.body == "Hi <b>Tom</b>\n– Cara"
        view = client.get(reverse("care:conversation", args=[conversation.pk]))
        assert b"Hi &lt;b&gt;Tom&lt;/b&gt;" in view.content
        outsider = Client()
        outsider.force_login(cast.otto)
        refused = outsider.post(
            reverse("care:review", args=[message_id, "return"]), {"comment": "x"}
        )
        assert refused.status_code == 404
        with pytest.raises(NotFound):
            approvals.return_message(actor=cast.ada, message_id=999999, comment="x")
