"""A real `hubbub worker` sends an agent's reply to a local Mastodon, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from hubbub.accounts.tests.factories import Cast
from hubbub.care import outbound
from hubbub.care.models import Conversation, DeliveryState
from hubbub.care.tests.factories import arrives
from hubbub.connectors.mastodon.tests.fake import TOKEN, FakeMastodon, running_mastodon
from hubbub.connectors.models import ChannelAccount
from hubbub.testing import run_hubbub

pytestmark = pytest.mark.django_db(transaction=True)

ALLOW = {"HUBBUB_SAFE_HTTP_ALLOW": "127.0.0.1"}


@pytest.fixture
def mastodon(committed_cast: Cast) -> Iterator[FakeMastodon]:
    with running_mastodon() as fake:
        ChannelAccount.objects.create(
            workspace=committed_cast.brightwave,
            platform="mastodon",
            name="@brightwave@social.brightwave.test",
            base_url=fake.url,
            secret=TOKEN,
        )
        yield fake


def tom(cast: Cast) -> Conversation:
    return arrives(
        cast,
        "tom@mastodon.example",
        0,
        platform="mastodon",
        external_id="109998877",
        text="@brightwave my fibre has been down since Friday",
        team=cast.care,
    )


def test_the_worker_threads_the_reply_under_the_post_and_records_its_link(
    committed_cast: Cast, mastodon: FakeMastodon
) -> None:
    conversation = tom(committed_cast)
    message = outbound.send_reply(
        actor=committed_cast.cara, conversation_id=conversation.pk, body="So sorry, Tom."
    )
    result = run_hubbub("worker", "--batch", extra_env=ALLOW)
    assert result.returncode == 0, result.stderr
    (posted,) = mastodon.posted()
    assert posted.body["in_reply_to_id"] == "109998877"
    assert posted.body["status"] == "@tom@mastodon.example So sorry, Tom.\n– Cara"
    message.refresh_from_db()
    assert message.state == DeliveryState.SENT
    assert message.external_url.startswith("https://social.brightwave.test/@brightwave/")
    # A second worker run finds nothing to send: the reply went out once.
    assert run_hubbub("worker", "--batch", extra_env=ALLOW).returncode == 0
    assert len(mastodon.posted()) == 1


def test_after_a_transient_error_the_retry_posts_the_same_status_once(
    committed_cast: Cast, mastodon: FakeMastodon
) -> None:
    conversation = tom(committed_cast)
    message = outbound.send_reply(
        actor=committed_cast.cara, conversation_id=conversation.pk, body="Checking now."
    )
    mastodon.fail_next(503, "Service Unavailable")
    assert run_hubbub("worker", "--batch", extra_env=ALLOW).returncode == 0
    message.refresh_from_db()
    assert message.state == DeliveryState.QUEUED
    assert message.next_attempt_at is not None
    assert "Mastodon had an error (503)" in message.last_error
    # The retry job is due later; run what it runs, now.
    with override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.1"]):
        outbound.deliver(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (DeliveryState.SENT, 2)
    keys = {request.headers["Idempotency-Key"] for request in mastodon.posted()}
    assert keys == {f"hubbub-message-{message.pk}"}
