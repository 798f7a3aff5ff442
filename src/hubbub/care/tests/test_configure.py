"""Inbox settings: team calendars and assignment, SLA policies, capacity; leads only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import configure
from hubbub.care.models import AgentLoad, SlaPolicy, TeamSettings
from hubbub.care.tests.factories import arrives
from hubbub.core.errors import Forbidden, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


def calendar(**fields: object) -> configure.TeamCalendarInput:
    values: dict[str, object] = {
        "auto_assign": True,
        "time_zone": "Europe/London",
        "hours": dict.fromkeys(range(5), ("09:00", "17:00")),
        "holidays": ["2026-12-25", " ", "2026-12-28"],
        **fields,
    }
    return configure.TeamCalendarInput(**values)  # type: ignore[arg-type]


def policy(**fields: object) -> configure.PolicyInput:
    values: dict[str, object] = {
        "name": "Standard",
        "channel": "",
        "min_priority": 0,
        "first_response_minutes": 60,
        "next_response_minutes": None,
        "resolution_minutes": None,
        **fields,
    }
    return configure.PolicyInput(**values)  # type: ignore[arg-type]


def test_a_lead_sets_a_team_s_calendar_and_automatic_assignment(cast: Cast) -> None:
    saved = configure.save_team_settings(actor=cast.lee, team_id=cast.care.pk, wanted=calendar())
    assert saved.auto_assign
    assert saved.business_hours["0"] == [["09:00", "17:00"]]
    assert "5" not in saved.business_hours  # Saturday closed
    assert saved.holidays == ["2026-12-25", "2026-12-28"]
    around = configure.save_team_settings(
        actor=cast.lee, team_id=cast.care.pk, wanted=calendar(around_the_clock=True)
    )
    assert around.business_hours == {}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "not a time zone"),
        ({"hours": {0: ("17:00", "09:00")}}, "closes after it opens"),
        ({"hours": {0: ("nine", "17:00")}}, "09:00"),
        ({"hours": {}}, "Open at least one day"),
        ({"holidays": ["25/12/2026"]}, "is not a date"),
    ],
)
def test_a_bad_calendar_is_refused_with_what_to_fix(
    cast: Cast, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        configure.save_team_settings(
            actor=cast.lee, team_id=cast.care.pk, wanted=calendar(**fields)
        )
    assert not TeamSettings.objects.exists()


def test_a_new_policy_puts_clocks_on_open_conversations(cast: Cast) -> None:
    conversation = arrives(cast, "tom.example", 0)
    assert conversation.sla_due_at is None
    configure.save_sla_policy(actor=cast.lee, wanted=policy())
    conversation.refresh_from_db()
    assert conversation.sla_policy is not None
    assert conversation.sla_due_at is not None
    configure.delete_sla_policy(actor=cast.lee, policy_id=conversation.sla_policy.pk)
    conversation.refresh_from_db()
    assert conversation.sla_due_at is None


def test_agents_cannot_change_settings_and_other_workspaces_cannot_reach_them(
    cast: Cast,
) -> None:
    with pytest.raises(Forbidden):
        configure.save_sla_policy(actor=cast.cara, wanted=policy())
    with pytest.raises(Forbidden):
        configure.save_team_settings(actor=cast.cara, team_id=cast.care.pk, wanted=calendar())
    mine = configure.save_sla_policy(actor=cast.lee, wanted=policy())
    with pytest.raises(NotFound):
        configure.delete_sla_policy(actor=cast.otto, policy_id=mine.pk)
    with pytest.raises(NotFound):
        configure.save_team_settings(actor=cast.otto, team_id=cast.care.pk, wanted=calendar())
    with pytest.raises(NotFound):  # a department is not a care team
        configure.save_team_settings(actor=cast.lee, team_id=cast.billing.pk, wanted=calendar())
    assert SlaPolicy.objects.count() == 1


def test_capacity_is_set_per_person(cast: Cast) -> None:
    configure.set_capacity(actor=cast.lee, member_id=cast.cara.pk, capacity=3)
    assert AgentLoad.objects.get(user=cast.cara).capacity == 3
    with pytest.raises(ValidationFailed):
        configure.set_capacity(actor=cast.lee, member_id=cast.cara.pk, capacity=500)


def test_the_settings_page_saves_a_policy_and_shows_agents_a_read_only_view(cast: Cast) -> None:
    lead = Client()
    lead.force_login(cast.lee)
    saved = lead.post(
        reverse("care:save_settings", args=["policy"]),
        {
            "name": "Urgent <b>now</b>",
            "channel": "bluesky",
            "min_priority": "70",
            "first_response_minutes": "15",
        },
        follow=True,
    )
    assert b"SLA policy saved." in saved.content
    assert b"Urgent &lt;b&gt;now&lt;/b&gt;" in saved.content
    refused = lead.post(
        reverse("care:save_settings", args=["policy"]),
        {"name": "x", "first_response_minutes": "soon"},
        follow=True,
    )
    assert b"Give whole minutes." in refused.content
    agent = Client()
    agent.force_login(cast.cara)
    page = agent.get(reverse("care:settings"))
    assert b"you can read them" in page.content
    assert b"Add policy" not in page.content
    assert (
        agent.post(reverse("care:save_settings", args=["policy"]), {"name": "x"}).status_code == 302
    )
    assert SlaPolicy.objects.count() == 1


def test_a_lead_sets_the_update_policy_and_the_re_open_period_on_the_page(cast: Cast) -> None:
    lead = Client()
    lead.force_login(cast.lee)
    form = {"time_zone": "UTC", "around_the_clock": "1"}

    saved = lead.post(
        reverse("care:save_item", args=["team", cast.care.pk]),
        {**form, "update_every_hours": "24", "reopen_within_days": "14"},
        follow=True,
    )
    refused = lead.post(
        reverse("care:save_item", args=["team", cast.care.pk]),
        {**form, "update_every_hours": "9999", "reopen_within_days": "3"},
        follow=True,
    )

    assert b"Team settings saved" in saved.content
    assert b"Updates every 1 to 720 hours" in refused.content
    settings = TeamSettings.objects.get(team=cast.care)
    assert settings.update_every_hours == 24
    assert settings.reopen_within_days == 14
    lead.post(
        reverse("care:save_item", args=["team", cast.care.pk]),
        {**form, "update_every_hours": "", "reopen_within_days": ""},
    )
    settings.refresh_from_db()
    assert settings.update_every_hours is None  # no policy
    assert settings.reopen_within_days == 7  # the default
