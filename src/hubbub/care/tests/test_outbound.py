"""Replies and private messages: queued with their job in one transaction, sent once, signed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from hubbub.accounts.models import AgentProfile
from hubbub.accounts.tests.factories import Cast
from hubbub.care import assignment, outbound
from hubbub.care.models import Activity, ActivityKind, Conversation, DeliveryState, MessageKind
from hubbub.care.tests.factories import arrives, posted
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.connectors.outbound import text_length
from hubbub.connectors.sandbox import FAIL_MARKER
from hubbub.core import clock
from hubbub.core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(cast: Cast) -> ChannelAccount:
    account: ChannelAccount = ChannelAccount.objects.create(
        workspace=cast.brightwave,
        platform="bluesky",
        transport=Transport.SANDBOX,
        name="Brightwave (sandbox)",
        handle="brightwave.example",
    )
    return account


def jobs_for(message_id: int) -> list[DBTaskResult]:
    return [
        job
        for job in DBTaskResult.objects.filter(task_path="hubbub.care.tasks.send_message")
        if job.args_kwargs["args"] == [message_id]
    ]


def conversation_of(cast: Cast) -> Conversation:
    return arrives(cast, "tom.example", 0, text="Router dead again", team=cast.care)


class TestQueueing:
    def test_a_reply_is_stored_signed_and_its_job_enqueued_with_it(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        AgentProfile.objects.filter(user=cast.cara).update(signature="Cara · Brightwave Care")
        cast.cara.profile.refresh_from_db()
        conversation = conversation_of(cast)
        message = outbound.send_reply(
            actor=cast.cara, conversation_id=conversation.pk, body="  So sorry, Tom!  "
        )
        assert message.kind == MessageKind.REPLY
        assert message.state == DeliveryState.QUEUED
        assert message.body == "So sorry, Tom!\nCara · Brightwave Care"
        assert message.sender_name == "Cara"
        assert message.in_reply_to == conversation.mention_links.get().mention
        assert len(jobs_for(message.pk)) == 1
        conversation.refresh_from_db()
        assert conversation.status == "open"

    def test_a_rolled_back_reply_leaves_neither_message_nor_job(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)

        def reply_then_fail() -> None:
            with transaction.atomic():
                outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Hi")
                raise RuntimeError("the request failed after the service")

        with pytest.raises(RuntimeError):
            reply_then_fail()
        assert not conversation.messages.exists()
        assert not DBTaskResult.objects.exists()

    def test_over_the_platform_limit_is_refused_counting_the_signature(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        with pytest.raises(ValidationFailed) as refused:
            outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="x" * 295)
        assert refused.value.message == (
            "Bluesky takes 300 characters; this reply has 302 with your signature (7)."
            " Shorten it, or move to a private message."
        )
        assert not conversation.messages.exists()
        assert not DBTaskResult.objects.exists()

    def test_a_channel_without_an_account_says_so_and_keeps_nothing(self, cast: Cast) -> None:
        conversation = conversation_of(cast)
        with pytest.raises(Conflict, match="No account can send on bluesky"):
            outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Hi")

    def test_private_messages_need_a_platform_that_has_them(self, cast: Cast) -> None:
        # X replies go through the sandbox here, but Hubbub cannot start a DM on X.
        ChannelAccount.objects.create(
            workspace=cast.brightwave, platform="x", transport=Transport.SANDBOX, name="X"
        )
        conversation = arrives(cast, "tom", 0, platform="x", text="Router dead", team=cast.care)
        with pytest.raises(Conflict):
            outbound.send_reply(
                actor=cast.cara, conversation_id=conversation.pk, body="DM", private=True
            )


class TestOneAnswerPerPost:
    def test_a_second_public_reply_to_the_same_post_is_refused(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="On it")
        with pytest.raises(Conflict) as refused:
            outbound.send_reply(actor=cast.lee, conversation_id=conversation.pk, body="Me too")
        assert refused.value.code == "already_answered"
        assert "Cara is sending the brand's reply to this post" in refused.value.message
        # A reply to the customer's next post is fine.
        posted_again = posted(cast, "tom.example", 5, team=cast.care)
        from hubbub.care import services

        services.thread_mentions(mention_ids=[posted_again.pk])
        again = outbound.send_reply(actor=cast.lee, conversation_id=conversation.pk, body="Next")
        assert again.in_reply_to == posted_again

    def test_a_failed_reply_no_longer_holds_the_post(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        failed = outbound.send_reply(
            actor=cast.cara, conversation_id=conversation.pk, body=f"oops {FAIL_MARKER}"
        )
        outbound.deliver(message_id=failed.pk)
        failed.refresh_from_db()
        assert failed.state == DeliveryState.FAILED
        outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Better")

    def test_replying_to_someone_else_s_conversation_needs_a_confirmation(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        assignment.claim_conversation(actor=cast.cara, conversation_id=conversation.pk)
        with pytest.raises(Conflict, match="Cara has this conversation"):
            outbound.send_reply(actor=cast.lee, conversation_id=conversation.pk, body="Hi")
        sent = outbound.send_reply(
            actor=cast.lee, conversation_id=conversation.pk, body="Hi", confirm_not_mine=True
        )
        assert sent.author == cast.lee


class TestDelivery:
    def test_the_job_sends_once_and_records_the_first_response(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        message = outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Hi")
        outbound.deliver(message_id=message.pk)
        outbound.deliver(message_id=message.pk)  # a duplicate job: nothing happens
        message.refresh_from_db()
        assert (message.state, message.attempts, message.sandbox) == ("sent", 1, True)
        assert message.external_id.startswith("sandbox-")
        conversation.refresh_from_db()
        assert conversation.first_response_at == message.sent_at
        sent = Activity.objects.filter(conversation=conversation, kind=ActivityKind.REPLY_SENT)
        assert [a.summary for a in sent] == [
            "Cara's message was accepted by the sandbox (not posted)"
        ]

    def test_a_refused_message_fails_with_the_reason_and_can_be_sent_again(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        message = outbound.send_reply(
            actor=cast.cara, conversation_id=conversation.pk, body=f"Hi {FAIL_MARKER}"
        )
        outbound.deliver(message_id=message.pk)
        message.refresh_from_db()
        assert message.state == DeliveryState.FAILED
        assert message.last_error == "The sandbox was told to fail this message."
        again = outbound.retry_message(actor=cast.cara, message_id=message.pk)
        assert again.state == DeliveryState.QUEUED
        assert len(jobs_for(message.pk)) == 2
        with pytest.raises(Conflict):
            outbound.retry_message(actor=cast.cara, message_id=message.pk)

    def test_a_transient_failure_is_retried_later_then_given_up(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        message = outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Hi")
        for attempt in range(1, outbound.MAX_ATTEMPTS + 1):
            claimed = outbound.claim_for_sending(message_id=message.pk)
            assert claimed is not None
            assert claimed.outgoing.idempotency_key == f"hubbub-message-{message.pk}"
            requeued = outbound.record_failure(
                message_id=message.pk, error="503 from the platform", transient=True
            )
            assert requeued is (attempt < outbound.MAX_ATTEMPTS)
        message.refresh_from_db()
        assert (message.state, message.attempts) == ("failed", outbound.MAX_ATTEMPTS)
        # Immediate jobs carry the backend's "no time" (year 9999); retries a real time.
        later = [job.run_after for job in jobs_for(message.pk) if job.run_after.year < 9999]
        assert len(later) == outbound.MAX_ATTEMPTS - 1
        assert all(run_after > clock.now() for run_after in later)

    def test_backoff_doubles_and_honours_the_platform_s_retry_after(self) -> None:
        assert 24 <= outbound.retry_delay(1) <= 36
        assert 48 <= outbound.retry_delay(2) <= 72
        assert outbound.retry_delay(20) <= outbound.MAX_RETRY_SECONDS * 1.2
        assert outbound.retry_delay(1, retry_after=300) == 300

    def test_a_message_a_dead_worker_left_sending_goes_back_to_the_queue(
        self, cast: Cast, sandbox: ChannelAccount
    ) -> None:
        conversation = conversation_of(cast)
        message = outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Hi")
        outbound.claim_for_sending(message_id=message.pk)
        assert outbound.requeue_stuck() == 0  # still fresh
        type(message).objects.filter(pk=message.pk).update(
            claimed_at=clock.now() - dt.timedelta(minutes=11)
        )
        assert outbound.requeue_stuck() == 1
        message.refresh_from_db()
        assert message.state == DeliveryState.QUEUED
        outbound.deliver(message_id=message.pk)
        message.refresh_from_db()
        assert message.state == DeliveryState.SENT


class TestLengths:
    @pytest.mark.parametrize(
        ("platform", "text", "length"),
        [
            ("bluesky", "héllo 👋", 7),
            ("mastodon", "see https://example.com/a/very/long/path/indeed ok", 4 + 23 + 3),
            ("x", "two links http://a.example http://b.example", 10 + 46 + 1),
        ],
    )
    def test_each_platform_counts_its_own_way(self, platform: str, text: str, length: int) -> None:
        assert text_length(platform, text) == length
