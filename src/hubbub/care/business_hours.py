"""The SLA clock: business time counted in a team's opening hours, holidays and time zone.

An SLA target (first response, next response, resolution) is a duration of
business time. This module answers the two questions the inbox asks of it:
when is a target due (`add_business_time`, `due_with_pauses`), and how much
business time has passed (`business_time_between`). While a conversation waits
on the customer the clock is paused, and paused time does not count.

Opening hours are local wall-clock times on local dates, so they follow the
team's time zone through daylight-saving changes. Durations are real elapsed
time (differences of UTC instants): a 09:00–17:00 day is eight hours whether
clocks went forward or back that night, a 00:00–06:00 day is five hours when
clocks skip an hour inside it and seven when they repeat one.

Daylight-saving convention. A local time is placed at the first instant at
which the wall clock shows that time or later:

- a time that happens twice (clocks go back) is its first occurrence (fold=0);
- a time that never happens (clocks go forward) is the moment the clocks jump.

One rule for opening and closing alike keeps every bound in order, so shifts
that touch add up exactly (09:00–12:00 plus 12:00–17:00 is 09:00–17:00) and a
calendar open around the clock counts exactly the real time that passes. The
price is at the edge of a repeated hour: a shift that closes at 01:30 on the
night clocks go back from 02:00 to 01:00 closes the first time the clock
shows 01:30, and the repeated half hour after it is not counted.

The work is done stretch by stretch (one per shift per day), never minute by
minute, so a week's target over the holiday season is a few dozen steps.
Every datetime taken must be aware; every datetime returned is in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Shift = tuple[dt.time, dt.time | None]
"""Opening and closing local times; a closing of None is the midnight that ends the day."""

Pause = tuple[dt.datetime, dt.datetime | None]
"""When the clock stopped and when it restarted; None while it is still stopped."""

ONE_DAY = dt.timedelta(days=1)
MIDNIGHT = dt.time(0)

# A calendar with no open hours (or holidays listed for years on end) must fail
# rather than search for ever. Three years is longer than any real closure.
MAX_CLOSED_STRETCH = dt.timedelta(days=3 * 366)

# The end of a pause that has not ended: later than anything a calendar reaches.
_FOREVER = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Calendar:
    """When a team works: opening hours per weekday and holidays, in its time zone.

    `hours` has seven entries, Monday first, each a tuple of shifts in order;
    an empty tuple is a closed day. A shift past midnight is two shifts: one
    that closes at None (midnight) and one that opens at 00:00 the next day.
    `holidays` are local dates closed all day.
    """

    time_zone: str
    hours: tuple[tuple[Shift, ...], ...]
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"Unknown time zone {self.time_zone!r}.") from error
        if len(self.hours) != 7:
            raise ValueError(f"Give hours for seven weekdays, not {len(self.hours)}.")
        for weekday, shifts in enumerate(self.hours):
            _check_shifts(weekday, shifts)
        # A datetime is a date too, but never equal to one: it would match no day.
        if any(type(day) is not dt.date for day in self.holidays):
            raise ValueError("Holidays are dates, not datetimes.")

    @classmethod
    def weekly(
        cls,
        time_zone: str,
        hours: Mapping[int, Sequence[Shift]],
        *,
        holidays: Iterable[dt.date] = (),
    ) -> Calendar:
        """A calendar from shifts per weekday (0 is Monday); a weekday not given is closed."""
        if any(weekday not in range(7) for weekday in hours):
            raise ValueError("Weekdays run from 0 (Monday) to 6 (Sunday).")
        week = tuple(tuple(hours.get(weekday, ())) for weekday in range(7))
        return cls(time_zone, week, frozenset(holidays))

    @classmethod
    def weekdays(
        cls,
        time_zone: str,
        opening: dt.time = dt.time(9),
        closing: dt.time | None = dt.time(17),
        *,
        holidays: Iterable[dt.date] = (),
    ) -> Calendar:
        """Open Monday to Friday, by default 09:00–17:00."""
        return cls.weekly(
            time_zone, dict.fromkeys(range(5), ((opening, closing),)), holidays=holidays
        )

    @classmethod
    def always_open(cls, time_zone: str = "UTC", *, holidays: Iterable[dt.date] = ()) -> Calendar:
        """Open around the clock, every day (but holidays): business time is real time."""
        return cls.weekly(
            time_zone, dict.fromkeys(range(7), ((MIDNIGHT, None),)), holidays=holidays
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches instances by key

    def shifts_on(self, day: dt.date) -> tuple[Shift, ...]:
        """The shifts worked on a local date: none on a holiday."""
        return () if day in self.holidays else self.hours[day.weekday()]


def add_business_time(
    calendar: Calendar, start: dt.datetime, duration: dt.timedelta
) -> dt.datetime:
    """The first instant by which `duration` of business time has passed since `start`.

    A target used up exactly at closing time is due at closing, not at the next
    opening. Raises ValueError for a naive `start`, a negative duration, or a
    calendar with no business hours within three years.
    """
    start = _utc(start, "start")
    _check_duration(duration)
    if not duration:
        return start
    due = _spend(_stretches(calendar, start, until=None), duration)
    # Without an end, the stretches go on until the target is met or the cap raises.
    assert due is not None
    return due


def business_time_between(
    calendar: Calendar,
    start: dt.datetime,
    end: dt.datetime,
    *,
    pauses: Iterable[Pause] = (),
) -> dt.timedelta:
    """Business time from `start` to `end` (zero if `end` is not later), not counting pauses.

    A pause still open (ended at None) runs to `end`. Pauses may overlap and
    come in any order. Raises ValueError for naive datetimes or a pause that
    ends before it starts.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    spans = _merged(pauses)
    if end <= start:
        return dt.timedelta(0)
    stretches = _without(_stretches(calendar, start, until=end), spans)
    return sum((closing - opening for opening, closing in stretches), dt.timedelta(0))


def due_with_pauses(
    calendar: Calendar,
    start: dt.datetime,
    duration: dt.timedelta,
    pauses: Iterable[Pause],
) -> dt.datetime | None:
    """When `duration` of unpaused business time since `start` has passed, or None if never.

    None means the clock stopped (a pause still open) before the target was
    reached: nothing is due while the conversation waits on the customer. A
    target reached before that pause began keeps its due time, so a breach is
    not hidden by pausing afterwards. Raises ValueError as `add_business_time`
    and `business_time_between` do.
    """
    start = _utc(start, "start")
    _check_duration(duration)
    spans = _merged(pauses)
    if not duration:
        return start
    stopped_at = spans[-1][0] if spans and spans[-1][1] == _FOREVER else None
    return _spend(_without(_stretches(calendar, start, until=stopped_at), spans), duration)


def _check_shifts(weekday: int, shifts: tuple[Shift, ...]) -> None:
    previous_closing: dt.time | None = MIDNIGHT
    for opening, closing in shifts:
        if opening.tzinfo is not None or (closing is not None and closing.tzinfo is not None):
            raise ValueError("Opening hours are local times, without a time zone.")
        if previous_closing is None or opening < previous_closing:
            raise ValueError(f"Shifts on weekday {weekday} overlap or are out of order.")
        if closing is not None and closing <= opening:
            raise ValueError(
                f"A shift on weekday {weekday} closes at {closing} before opening at {opening}; "
                "split a shift past midnight in two."
            )
        previous_closing = closing


def _check_duration(duration: dt.timedelta) -> None:
    if duration < dt.timedelta(0):
        raise ValueError(f"A duration of business time cannot be negative ({duration}).")


def _utc(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not naive ({moment.isoformat()}).")
    return moment.astimezone(dt.UTC)


def _wall(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _instant(zone: ZoneInfo, local: dt.datetime) -> dt.datetime:
    """The first instant, in UTC, at which the wall clock in `zone` shows `local` or later."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    if _wall(first, zone) == local:
        return first  # it exists; if it happens twice, fold=0 is the first time
    # `local` is skipped when clocks go forward. Read with the offset before and
    # after the change, it falls either side of the jump; bisect for the jump.
    readings = (first, local.replace(tzinfo=zone, fold=1).astimezone(dt.UTC))
    before, after = min(readings), max(readings)
    resolution = dt.timedelta(microseconds=1)
    while after - before > resolution:
        middle = before + (after - before) // 2
        if _wall(middle, zone) >= local:
            after = middle
        else:
            before = middle
    return after


def _stretches(
    calendar: Calendar, since: dt.datetime, *, until: dt.datetime | None
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Open stretches of real time in UTC, in order, clipped to begin at `since` and end by
    `until`. Without `until` it goes on, but raises ValueError after MAX_CLOSED_STRETCH
    of local dates with no business time."""
    zone = calendar.zone
    # Starting a day early costs one day's shifts and cannot miss a shift still
    # running at `since` where clocks go back across midnight.
    day = since.astimezone(zone).date() - ONE_DAY
    last_day = None if until is None else until.astimezone(zone).date() + ONE_DAY
    last_open = day
    while last_day is None or day <= last_day:
        for opening, closing in calendar.shifts_on(day):
            begins = max(since, _instant(zone, dt.datetime.combine(day, opening)))
            closes_at = (
                dt.datetime.combine(day + ONE_DAY, MIDNIGHT)
                if closing is None
                else dt.datetime.combine(day, closing)
            )
            ends = _instant(zone, closes_at)
            if until is not None:
                ends = min(ends, until)
            if begins < ends:
                last_open = day
                yield begins, ends
        if last_day is None and day - last_open > MAX_CLOSED_STRETCH:
            raise ValueError(
                f"No business hours in {calendar.time_zone} within three years of "
                f"{since.isoformat()}: check the calendar's hours and holidays."
            )
        day += ONE_DAY


def _merged(pauses: Iterable[Pause]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Pauses in UTC, in order and merged where they overlap; an open one ends at _FOREVER."""
    spans = []
    for paused_at, resumed_at in pauses:
        begins = _utc(paused_at, "a pause's start")
        ends = _FOREVER if resumed_at is None else _utc(resumed_at, "a pause's end")
        if ends < begins:
            raise ValueError(f"A pause ends ({ends.isoformat()}) before it starts.")
        spans.append((begins, ends))
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for begins, ends in sorted(spans):
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged


def _without(
    stretches: Iterable[tuple[dt.datetime, dt.datetime]],
    spans: Sequence[tuple[dt.datetime, dt.datetime]],
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The parts of `stretches` outside every span; both in order, spans not overlapping."""
    first = 0  # the first span that may still cut a stretch
    for opening, closing in stretches:
        while first < len(spans) and spans[first][1] <= opening:
            first += 1
        begins = opening
        for paused_at, resumed_at in spans[first:]:
            if paused_at >= closing or begins >= closing:
                break
            if paused_at > begins:
                yield begins, paused_at
            begins = max(begins, resumed_at)
        if begins < closing:
            yield begins, closing


def _spend(
    stretches: Iterable[tuple[dt.datetime, dt.datetime]], duration: dt.timedelta
) -> dt.datetime | None:
    """Where a positive `duration` runs out over `stretches`; None if they end first."""
    remaining = duration
    for opening, closing in stretches:
        if remaining <= closing - opening:
            return opening + remaining
        remaining -= closing - opening
    return None
