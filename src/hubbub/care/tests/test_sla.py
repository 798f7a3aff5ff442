"""SLA clocks on conversations: policies, business hours, pauses, at risk, breaches."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.care import sla
from hubbub.care.models import (
    Conversation,
    ConversationStatus,
    SlaBreach,
    SlaPolicy,
    TeamSettings,
)
from hubbub.care.tests.factories import arrives
from hubbub.core.models import EventRecord

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NINE_TO_FIVE = {str(day): [["09:00", "17:00"]] for day in range(5)}


def london(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def policy(cast: Cast, **fields: object) -> SlaPolicy:
    values: dict[str, object] = {
        "workspace": cast.brightwave,
        "name": "Standard",
        "first_response_minutes": 60,
        "next_response_minutes": 120,
        "resolution_minutes": 24 * 60,
        **fields,
    }
    return SlaPolicy.objects.create(**values)


def opened_at(conversation: Conversation, at: dt.datetime) -> Conversation:
    """The conversation as if it had opened at `at` (creation times are the database's)."""
    Conversation.objects.filter(pk=conversation.pk).update(created_at=at, last_inbound_at=at)
    conversation.refresh_from_db()
    return conversation


@pytest.fixture
def london_office(cast: Cast) -> TeamSettings:
    settings: TeamSettings = TeamSettings.objects.create(
        team=cast.care,
        time_zone="Europe/London",
        business_hours=NINE_TO_FIVE,
        holidays=["2026-12-25", "2026-12-28"],
    )
    return settings


class TestPolicies:
    def test_the_channel_s_own_policy_wins_then_the_highest_priority_bar(self, cast: Cast) -> None:
        anything = policy(cast, name="Any channel")
        urgent = policy(cast, name="Urgent", min_priority=70, first_response_minutes=15)
        bluesky = policy(cast, name="Bluesky", channel="bluesky", first_response_minutes=30)
        policy(cast, name="Switched off", channel="bluesky", min_priority=90, enabled=False)
        calm = arrives(cast, "a.example", 0, priority=20.0, platform="mastodon")
        hot = arrives(cast, "b.example", 0, priority=95.0, platform="mastodon")
        on_bluesky = arrives(cast, "c.example", 0, priority=95.0, platform="bluesky")
        assert (calm.sla_policy, hot.sla_policy, on_bluesky.sla_policy) == (
            anything,
            urgent,
            bluesky,
        )

    def test_without_a_policy_there_is_no_clock(self, cast: Cast) -> None:
        conversation = arrives(cast, "a.example", 0)
        assert (conversation.sla_due_at, conversation.sla_state) == (None, "")


class TestBusinessHours:
    def test_a_friday_evening_complaint_is_due_on_monday_morning(
        self, cast: Cast, london_office: TeamSettings
    ) -> None:
        policy(cast)
        conversation = opened_at(
            arrives(cast, "a.example", 0, team=cast.care), london(11, 27, 16, 30)
        )
        sla.refresh_clocks([conversation], now=london(11, 27, 16, 31))
        assert conversation.first_response_due_at == london(11, 30, 9, 30)
        assert conversation.sla_state == "ok"

    def test_christmas_and_the_substitute_holiday_are_skipped(
        self, cast: Cast, london_office: TeamSettings
    ) -> None:
        policy(cast, first_response_minutes=120)
        conversation = opened_at(arrives(cast, "a.example", 0, team=cast.care), london(12, 24, 16))
        sla.refresh_clocks([conversation], now=london(12, 24, 16))
        # One hour on the 24th; the 25th is a holiday, then a weekend, then the 28th.
        assert conversation.first_response_due_at == london(12, 29, 10)

    def test_a_team_without_hours_counts_around_the_clock(self, cast: Cast) -> None:
        policy(cast)
        conversation = opened_at(arrives(cast, "a.example", 0), london(11, 28, 3))  # a Saturday
        sla.refresh_clocks([conversation], now=london(11, 28, 3))
        assert conversation.first_response_due_at == london(11, 28, 4)


class TestClocks:
    def test_waiting_on_the_customer_stops_the_clock(
        self, cast: Cast, london_office: TeamSettings
    ) -> None:
        policy(cast, first_response_minutes=240)
        conversation = opened_at(arrives(cast, "a.example", 0, team=cast.care), london(11, 24, 9))
        conversation.status = ConversationStatus.WAITING_CUSTOMER
        conversation.save()
        sla.status_changed(conversation, before="open", now=london(11, 24, 10))
        assert conversation.first_response_due_at is None  # paused
        conversation.status = ConversationStatus.OPEN
        conversation.save()
        sla.status_changed(conversation, before="waiting_customer", now=london(11, 24, 12))
        # Four business hours from 09:00, less the two paused: due at 15:00.
        assert conversation.first_response_due_at == london(11, 24, 15)

    def test_after_the_first_answer_the_customer_s_next_post_starts_the_next_response_clock(
        self, cast: Cast
    ) -> None:
        policy(cast)
        conversation = opened_at(arrives(cast, "a.example", 0), london(11, 24, 9))
        Conversation.objects.filter(pk=conversation.pk).update(
            first_response_at=london(11, 24, 9, 20), last_response_at=london(11, 24, 9, 20)
        )
        conversation.refresh_from_db()
        sla.refresh_clocks([conversation], now=london(11, 24, 9, 21))
        assert (conversation.first_response_due_at, conversation.next_response_due_at) == (
            None,
            None,
        )
        conversation.last_inbound_at = london(11, 24, 10)
        sla.refresh_clocks([conversation], now=london(11, 24, 10, 1))
        assert conversation.next_response_due_at == london(11, 24, 12)
        assert conversation.sla_due_at == london(11, 24, 12)

    def test_resolved_conversations_have_no_running_clock(self, cast: Cast) -> None:
        policy(cast)
        conversation = arrives(cast, "a.example", 0)
        assert conversation.sla_due_at is not None
        conversation.status = ConversationStatus.RESOLVED
        sla.refresh_clocks([conversation])
        assert (conversation.sla_due_at, conversation.sla_state) == (None, "")


class TestSweep:
    def test_a_clock_turns_at_risk_then_breached_and_the_breach_is_recorded_once(
        self, cast: Cast
    ) -> None:
        policy(cast, next_response_minutes=None, resolution_minutes=None)
        conversation = opened_at(arrives(cast, "a.example", 0), london(11, 24, 9))
        sla.refresh_clocks([conversation], now=london(11, 24, 9))
        assert conversation.sla_watch_at == london(11, 24, 9, 45)  # 15 minutes before
        assert sla.sweep(now=london(11, 24, 9, 30)) == 0  # nothing due yet
        assert sla.sweep(now=london(11, 24, 9, 46)) == 1
        conversation.refresh_from_db()
        assert conversation.sla_state == "at_risk"
        assert sla.sweep(now=london(11, 24, 10, 1)) == 1
        conversation.refresh_from_db()
        assert conversation.sla_state == "breached"
        assert conversation.sla_watch_at is None
        sla.sweep(now=london(11, 24, 10, 30))
        breach = SlaBreach.objects.get()
        assert (breach.metric, breach.due_at, breach.policy_name) == (
            "first_response",
            london(11, 24, 10),
            "Standard",
        )
        changes = EventRecord.objects.filter(kind="conversation_changed", payload__what="sla")
        assert changes.count() == 2

    def test_the_sweep_reads_only_the_conversations_whose_watch_time_came(
        self, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        policy(cast)
        for n in range(30):
            arrives(cast, f"c{n}.example", n)
        now = dt.datetime.now(dt.UTC)
        with django_assert_max_num_queries(3):  # type: ignore[operator]
            assert sla.sweep(now=now) == 0
        # 50 minutes on, every 60-minute clock is at risk: a fixed number of
        # queries to read and recompute them, plus one event each.
        with django_assert_max_num_queries(12 + 30):  # type: ignore[operator]
            assert sla.sweep(now=now + dt.timedelta(minutes=50)) == 30
