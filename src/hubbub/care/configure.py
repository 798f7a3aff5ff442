"""How a workspace's care teams work: automatic assignment, calendars, SLA policies, capacity.

Leads and admins change these; every change applies to conversations from
then on (open clocks are recomputed when their conversation next moves, or
at once for the team whose calendar changed).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Team, TeamKind, User
from hubbub.care import automation, macros, sla
from hubbub.care.models import AgentLoad, Conversation, ConversationStatus, SlaPolicy, TeamSettings
from hubbub.core.errors import NotFound, ValidationFailed

MAX_HOLIDAYS = 400
MAX_ACKNOWLEDGEMENT = 200
MAX_CAPACITY = 200
# Clocks recomputed at once when a calendar or policy changes; the rest on their next event.
RECOMPUTE_AT_ONCE = 2000


@dataclass(frozen=True, slots=True)
class TeamCalendarInput:
    auto_assign: bool
    time_zone: str
    hours: Mapping[int, tuple[str, str]]  # weekday → ("09:00", "17:00"); missing = closed
    holidays: Sequence[str]  # ISO dates
    around_the_clock: bool = False
    auto_acknowledge: bool = False
    acknowledge_template: str = ""
    update_every_hours: int | None = None  # the update policy while a handoff is open
    reopen_within_days: int = TeamSettings.DEFAULT_REOPEN_DAYS


def _team(actor: User, team_id: int) -> Team:
    permissions.check_can_manage_teams(actor)
    team = Team.objects.filter(
        pk=team_id, workspace_id=accounts.workspace_id_of(actor), kind=TeamKind.TEAM
    ).first()
    if team is None:
        raise NotFound("No such care team.", code="team_not_found")
    return team


@transaction.atomic
def save_team_settings(*, actor: User, team_id: int, wanted: TeamCalendarInput) -> TeamSettings:
    """Automatic assignment and the SLA calendar of one care team."""
    team = _team(actor, team_id)
    try:
        zoneinfo.ZoneInfo(wanted.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationFailed("That is not a time zone.", field="time_zone") from error
    hours = {} if wanted.around_the_clock else _hours(wanted.hours)
    holidays = _holidays(wanted.holidays)
    settings, _ = TeamSettings.objects.select_for_update().get_or_create(team=team)
    settings.auto_assign = wanted.auto_assign
    settings.time_zone = wanted.time_zone
    settings.business_hours = hours
    settings.holidays = holidays
    settings.auto_acknowledge = wanted.auto_acknowledge
    settings.acknowledge_template = _acknowledgement(wanted.acknowledge_template)
    settings.update_every_hours = _update_every(wanted.update_every_hours)
    if not 0 <= wanted.reopen_within_days <= MAX_REOPEN_DAYS:
        raise ValidationFailed(
            f"Re-open within 0 to {MAX_REOPEN_DAYS} days.", field="reopen_within_days"
        )
    settings.reopen_within_days = wanted.reopen_within_days
    try:
        sla.calendar_of(settings)
    except ValueError as error:
        raise ValidationFailed(str(error), field="hours") from error
    settings.save()
    _recompute(Conversation.objects.filter(team=team))
    return settings


def _hours(hours: Mapping[int, tuple[str, str]]) -> dict[str, list[list[str]]]:
    cleaned: dict[str, list[list[str]]] = {}
    for day, (opening, closing) in sorted(hours.items()):
        if not 0 <= day <= 6:
            raise ValidationFailed("Days go from Monday (0) to Sunday (6).", field="hours")
        if not opening and not closing:
            continue  # closed that day
        try:
            start = dt.time.fromisoformat(opening)
            end = None if closing in {"24:00", "00:00"} else dt.time.fromisoformat(closing)
        except ValueError as error:
            raise ValidationFailed("Write times as 09:00.", field="hours") from error
        if end is not None and end <= start:
            raise ValidationFailed("A day closes after it opens.", field="hours")
        cleaned[str(day)] = [
            [start.strftime("%H:%M"), "24:00" if end is None else end.strftime("%H:%M")]
        ]
    if not cleaned:
        raise ValidationFailed("Open at least one day, or choose around the clock.", field="hours")
    return cleaned


MAX_UPDATE_HOURS = 24 * 30
MAX_REOPEN_DAYS = 365


def _update_every(hours: int | None) -> int | None:
    if hours is None or hours == 0:
        return None
    if not 1 <= hours <= MAX_UPDATE_HOURS:
        raise ValidationFailed(
            f"Updates every 1 to {MAX_UPDATE_HOURS} hours, or leave it empty.",
            field="update_every_hours",
        )
    return hours


def _acknowledgement(template: str) -> str:
    text = template.strip()
    if len(text) > MAX_ACKNOWLEDGEMENT:
        raise ValidationFailed(
            f"Keep the acknowledgement under {MAX_ACKNOWLEDGEMENT} characters.",
            field="acknowledge_template",
        )
    macros.check_variables(text, automation.VARIABLES, field="acknowledge_template")
    return text


def _holidays(days: Sequence[str]) -> list[str]:
    cleaned = set()
    for raw in days:
        text = raw.strip()
        if not text:
            continue
        try:
            cleaned.add(dt.date.fromisoformat(text).isoformat())
        except ValueError as error:
            raise ValidationFailed(
                f"“{text[:20]}” is not a date: write holidays as 2026-12-25.", field="holidays"
            ) from error
    if len(cleaned) > MAX_HOLIDAYS:
        raise ValidationFailed(f"At most {MAX_HOLIDAYS} holidays.", field="holidays")
    return sorted(cleaned)


@dataclass(frozen=True, slots=True)
class PolicyInput:
    name: str
    channel: str
    min_priority: int
    first_response_minutes: int
    next_response_minutes: int | None
    resolution_minutes: int | None


@transaction.atomic
def save_sla_policy(*, actor: User, wanted: PolicyInput, policy_id: int | None = None) -> SlaPolicy:
    """Add a policy, or change one; open conversations take it on their clocks."""
    permissions.check_can_manage_teams(actor)
    workspace_id = accounts.workspace_id_of(actor)
    name = " ".join(wanted.name.split())[:80]
    if not name:
        raise ValidationFailed("Name the policy.", field="name")
    if not 0 <= wanted.min_priority <= 100:
        raise ValidationFailed("Priority goes from 0 to 100.", field="min_priority")
    for field, minutes in (
        ("first_response_minutes", wanted.first_response_minutes),
        ("next_response_minutes", wanted.next_response_minutes),
        ("resolution_minutes", wanted.resolution_minutes),
    ):
        if minutes is not None and not 1 <= minutes <= 60 * 24 * 60:
            raise ValidationFailed("Targets go from 1 minute to 60 days.", field=field)
    policy = SlaPolicy(workspace_id=workspace_id)
    if policy_id is not None:
        found = SlaPolicy.objects.filter(pk=policy_id, workspace_id=workspace_id).first()
        if found is None:
            raise NotFound("No such policy.", code="policy_not_found")
        policy = found
    policy.name = name
    policy.channel = wanted.channel.strip().lower()[:20]
    policy.min_priority = wanted.min_priority
    policy.first_response_minutes = wanted.first_response_minutes
    policy.next_response_minutes = wanted.next_response_minutes
    policy.resolution_minutes = wanted.resolution_minutes
    policy.save()
    _recompute(Conversation.objects.filter(workspace_id=workspace_id))
    return policy


@transaction.atomic
def delete_sla_policy(*, actor: User, policy_id: int) -> None:
    permissions.check_can_manage_teams(actor)
    workspace_id = accounts.workspace_id_of(actor)
    deleted, _ = SlaPolicy.objects.filter(pk=policy_id, workspace_id=workspace_id).delete()
    if not deleted:
        raise NotFound("No such policy.", code="policy_not_found")
    _recompute(Conversation.objects.filter(workspace_id=workspace_id))


def _recompute(conversations: QuerySet[Conversation]) -> None:
    active = list(
        conversations.filter(status__in=ConversationStatus.active()).order_by("-priority")[
            :RECOMPUTE_AT_ONCE
        ]
    )
    sla.refresh_clocks(active)


@transaction.atomic
def set_capacity(*, actor: User, member_id: int, capacity: int) -> AgentLoad:
    """How many active conversations automatic assignment gives someone at most."""
    permissions.check_can_manage_teams(actor)
    member = accounts.access_member(user=actor, member_id=member_id)
    if not 0 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed(f"Capacity goes from 0 to {MAX_CAPACITY}.", field="capacity")
    load, _ = AgentLoad.objects.update_or_create(user=member, defaults={"capacity": capacity})
    return load
