"""Careful automation: opt-in acknowledgements, marked as automated, once per customer a day."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.care.models import Activity, ActivityKind, DeliveryState, Message, TeamSettings
from hubbub.care.tests.factories import arrives
from hubbub.connectors.models import ChannelAccount, Transport

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(cast: Cast) -> ChannelAccount:
    account: ChannelAccount = ChannelAccount.objects.create(
        workspace=cast.brightwave, platform="bluesky", transport=Transport.SANDBOX, name="Sandbox"
    )
    return account


def switch_on(cast: Cast, template: str = "") -> None:
    TeamSettings.objects.create(
        team=cast.care, auto_acknowledge=True, acknowledge_template=template
    )


def test_it_is_off_by_default(cast: Cast, sandbox: ChannelAccount) -> None:
    arrives(cast, "tom.example", 0, sentiment="negative", team=cast.care)
    assert not Message.objects.exists()


def test_a_complaint_is_acknowledged_once_signed_as_the_team_and_marked(
    cast: Cast, sandbox: ChannelAccount
) -> None:
    switch_on(cast)
    conversation = arrives(
        cast, "tom.example", 0, intent="complaint", author_name="Tom Reyes", team=cast.care
    )
    message = Message.objects.get()
    assert message.automated
    assert message.author is None
    assert message.state == DeliveryState.QUEUED
    assert message.body == (
        "Hi Tom, thanks for telling us. Someone from our team will look into this shortly.\n"
        "– Care (automated reply)"
    )
    assert message.in_reply_to == conversation.mention_links.get().mention
    trail = Activity.objects.get(conversation=conversation, kind=ActivityKind.AUTOMATED)
    assert trail.actor is None
    # The same customer's next complaint, an hour later: no second acknowledgement.
    arrives(cast, "tom.example", 60, intent="complaint", team=cast.care)
    assert Message.objects.count() == 1


def test_praise_and_neutral_questions_are_left_to_people(
    cast: Cast, sandbox: ChannelAccount
) -> None:
    switch_on(cast)
    arrives(cast, "maya.example", 0, intent="praise", sentiment="positive", team=cast.care)
    arrives(cast, "ana.example", 0, intent="question", sentiment="neutral", team=cast.care)
    assert not Message.objects.exists()


def test_a_day_later_the_customer_can_be_acknowledged_again(
    cast: Cast, sandbox: ChannelAccount
) -> None:
    switch_on(cast, template="Hi {customer_name}, we are on it: {case_link}")
    arrives(cast, "tom.example", 0, sentiment="negative", team=cast.care)
    first = Message.objects.get()
    assert "/case/" in first.body
    Message.objects.filter(pk=first.pk).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1, minutes=1)
    )
    arrives(cast, "tom.example", 2000, sentiment="negative", team=cast.care)
    assert Message.objects.filter(automated=True).count() == 2


def test_without_an_account_that_can_send_it_stays_quiet(cast: Cast) -> None:
    switch_on(cast)
    arrives(cast, "tom.example", 0, sentiment="negative", team=cast.care)
    assert not Message.objects.exists()
