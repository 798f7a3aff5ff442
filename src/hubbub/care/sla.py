"""SLA clocks: first response, next response and resolution, in each team's business hours.

A conversation takes the most specific enabled policy of its workspace: one
for its channel before one for any channel, then the highest minimum
priority it reaches. Its targets count business time in its team's calendar
(care.business_hours) and stand still while it waits on the customer.

`refresh_clocks` recomputes the due times whenever something that moves them
happens (the customer posts, the brand answers, the status or priority
changes); `sweep` runs every half minute in the worker and turns clocks that
ran out into "at risk" and "breached", records breaches for reports and tells
every inbox.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from hubbub.care import business_hours
from hubbub.care.business_hours import Calendar, Pause
from hubbub.care.models import (
    Conversation,
    ConversationStatus,
    SlaBreach,
    SlaMetric,
    SlaPause,
    SlaPolicy,
    TeamSettings,
)
from hubbub.core import clock

logger = logging.getLogger(__name__)

# A clock is at risk when this little is left: a quarter of its target, at most half an hour.
AT_RISK_SHARE = 0.25
AT_RISK_MOST = dt.timedelta(minutes=30)
SWEEP_BATCH = 500
CLOCK_FIELDS = [
    "sla_policy",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_due_at",
    "sla_state",
    "sla_watch_at",
]


class SlaState:
    NONE = ""
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"


def calendar_of(settings: TeamSettings | None) -> Calendar:
    """A team's calendar from its settings; around the clock when it set no hours."""
    if settings is None:
        return Calendar.always_open()
    holidays = [dt.date.fromisoformat(day) for day in settings.holidays or []]
    if not settings.business_hours:
        return Calendar.always_open(settings.time_zone, holidays=holidays)
    hours = {
        int(day): [(_time(opening), _closing(closing)) for opening, closing in shifts]
        for day, shifts in settings.business_hours.items()
    }
    return Calendar.weekly(settings.time_zone, hours, holidays=holidays)


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _closing(text: str) -> dt.time | None:
    return None if text in {"24:00", ""} else dt.time.fromisoformat(text)


def policy_for(conversation: Conversation, policies: Sequence[SlaPolicy]) -> SlaPolicy | None:
    """The most specific policy: its channel before any channel, then the highest priority bar."""
    priority = conversation.priority or 0
    fitting = [
        policy
        for policy in policies
        if policy.enabled
        and policy.channel in ("", conversation.platform)
        and policy.min_priority <= priority
    ]
    if not fitting:
        return None
    return max(fitting, key=lambda p: (p.channel != "", p.min_priority, -p.pk))


@dataclass(frozen=True, slots=True)
class Clocks:
    first_response: dt.datetime | None
    next_response: dt.datetime | None
    resolution: dt.datetime | None

    def due(self) -> list[tuple[SlaMetric, dt.datetime]]:
        pairs = [
            (SlaMetric.FIRST_RESPONSE, self.first_response),
            (SlaMetric.NEXT_RESPONSE, self.next_response),
            (SlaMetric.RESOLUTION, self.resolution),
        ]
        return [(metric, at) for metric, at in pairs if at is not None]


def clocks_of(
    conversation: Conversation,
    policy: SlaPolicy | None,
    calendar: Calendar,
    pauses: Sequence[Pause],
) -> Clocks:
    """When each target of `policy` falls due for the conversation; None when met or not set."""
    if policy is None or conversation.status not in ConversationStatus.active():
        return Clocks(None, None, None)
    opened = conversation.created_at

    def due(start: dt.datetime, minutes: int) -> dt.datetime | None:
        return business_hours.due_with_pauses(
            calendar, start, dt.timedelta(minutes=minutes), pauses
        )

    first = None
    if conversation.first_response_at is None:
        first = due(opened, policy.first_response_minutes)
    following = None
    waiting_since = conversation.last_inbound_at
    if (
        policy.next_response_minutes
        and conversation.first_response_at is not None
        and waiting_since is not None
        and (conversation.last_response_at is None or waiting_since > conversation.last_response_at)
    ):
        following = due(waiting_since, policy.next_response_minutes)
    resolution = due(opened, policy.resolution_minutes) if policy.resolution_minutes else None
    return Clocks(first, following, resolution)


def warning_of(policy: SlaPolicy, metric: SlaMetric) -> dt.timedelta:
    """How long before a clock runs out it counts as at risk."""
    minutes = {
        SlaMetric.FIRST_RESPONSE: policy.first_response_minutes,
        SlaMetric.NEXT_RESPONSE: policy.next_response_minutes,
        SlaMetric.RESOLUTION: policy.resolution_minutes,
    }[metric] or 0
    return min(AT_RISK_MOST, dt.timedelta(minutes=minutes) * AT_RISK_SHARE)


def state_of(clocks: Clocks, policy: SlaPolicy | None, now: dt.datetime) -> str:
    dues = clocks.due()
    if policy is None or not dues:
        return SlaState.NONE
    if any(at <= now for _, at in dues):
        return SlaState.BREACHED
    if any(at - warning_of(policy, metric) <= now for metric, at in dues):
        return SlaState.AT_RISK
    return SlaState.OK


def watch_time(clocks: Clocks, policy: SlaPolicy | None, now: dt.datetime) -> dt.datetime | None:
    """The next moment the state can change: a clock turning at risk, or running out."""
    if policy is None:
        return None
    moments = []
    for metric, at in clocks.due():
        warn = at - warning_of(policy, metric)
        moments += [moment for moment in (warn, at) if moment > now]
    return min(moments, default=None)


def refresh_clocks(
    conversations: Sequence[Conversation], *, now: dt.datetime | None = None
) -> list[int]:
    """Recompute and save the clocks of these conversations (a fixed number of queries).

    Returns the ids whose SLA state changed. In the caller's transaction.
    """
    if not conversations:
        return []
    now = now or clock.now()
    policies = _policies({c.workspace_id for c in conversations})
    calendars = _calendars({c.team_id for c in conversations if c.team_id is not None})
    pauses = _pauses([c.pk for c in conversations])
    changed: list[int] = []
    breaches: list[SlaBreach] = []
    for conversation in conversations:
        policy = policy_for(conversation, policies.get(conversation.workspace_id, []))
        calendar = calendars.get(conversation.team_id or 0, Calendar.always_open())
        try:
            clocks = clocks_of(conversation, policy, calendar, pauses.get(conversation.pk, []))
        except ValueError:
            # A calendar with no open hours: no clock can run, say so rather than fail.
            logger.warning("team %s has no business hours; SLA off", conversation.team_id)
            policy, clocks = None, Clocks(None, None, None)
        state = state_of(clocks, policy, now)
        if state != conversation.sla_state:
            changed.append(conversation.pk)
        conversation.sla_policy = policy
        conversation.first_response_due_at = clocks.first_response
        conversation.next_response_due_at = clocks.next_response
        conversation.resolution_due_at = clocks.resolution
        dues = [at for _, at in clocks.due()]
        conversation.sla_due_at = min(dues) if dues else None
        conversation.sla_state = state
        conversation.sla_watch_at = watch_time(clocks, policy, now)
        breaches.extend(_breaches(conversation, clocks, now))
    Conversation.objects.bulk_update(conversations, CLOCK_FIELDS)
    SlaBreach.objects.bulk_create(breaches, ignore_conflicts=True)  # each one recorded once
    return changed


def _breaches(conversation: Conversation, clocks: Clocks, now: dt.datetime) -> list[SlaBreach]:
    return [
        SlaBreach(
            conversation=conversation,
            workspace_id=conversation.workspace_id,
            team_id=conversation.team_id,
            policy_name=conversation.sla_policy.name if conversation.sla_policy else "",
            metric=metric,
            due_at=due_at,
        )
        for metric, due_at in clocks.due()
        if due_at <= now
    ]


def _policies(workspace_ids: Iterable[int]) -> dict[int, list[SlaPolicy]]:
    found: dict[int, list[SlaPolicy]] = defaultdict(list)
    for policy in SlaPolicy.objects.filter(workspace_id__in=list(workspace_ids), enabled=True):
        found[policy.workspace_id].append(policy)
    return found


def _calendars(team_ids: Iterable[int]) -> dict[int, Calendar]:
    calendars = {}
    for settings in TeamSettings.objects.filter(team_id__in=list(team_ids)):
        try:
            calendars[settings.team_id] = calendar_of(settings)
        except ValueError:
            logger.warning(
                "team %s has an invalid calendar; counting around the clock", settings.team_id
            )
    return calendars


def _pauses(conversation_ids: list[int]) -> dict[int, list[Pause]]:
    found: dict[int, list[Pause]] = defaultdict(list)
    for pause in SlaPause.objects.filter(conversation_id__in=conversation_ids).order_by(
        "started_at"
    ):
        found[pause.conversation_id].append((pause.started_at, pause.ended_at))
    return found


def status_changed(
    conversation: Conversation, *, before: str, now: dt.datetime | None = None
) -> None:
    """Pause the clock while waiting on the customer, restart it after; then refresh it."""
    now = now or clock.now()
    waiting = ConversationStatus.WAITING_CUSTOMER
    if conversation.status == waiting and before != waiting:
        SlaPause.objects.create(conversation=conversation, started_at=now)
        conversation.sla_paused_at = now
    elif before == waiting and conversation.status != waiting:
        SlaPause.objects.filter(conversation=conversation, ended_at__isnull=True).update(
            ended_at=now
        )
        conversation.sla_paused_at = None
    conversation.save(update_fields=["sla_paused_at"])
    refresh_clocks([conversation], now=now)


@transaction.atomic
def sweep(*, now: dt.datetime | None = None) -> int:
    """Turn clocks that ran low or out into "at risk" and "breached"; record breaches.

    Looks only at conversations whose watch time has come (shortly before
    their next clock can run low), so its cost follows the clocks about to
    change, not the size of the inbox. Returns how many changed state.
    """
    from hubbub.care.services import announce_change

    now = now or clock.now()
    due = list(
        Conversation.objects.select_for_update(skip_locked=True)
        .filter(status__in=ConversationStatus.active(), sla_watch_at__lte=now)
        .order_by("sla_watch_at")[:SWEEP_BATCH]
    )
    changed = set(refresh_clocks(due, now=now))
    for conversation in due:
        if conversation.pk in changed:
            announce_change(conversation, what="sla", actor=None)
    return len(changed)
