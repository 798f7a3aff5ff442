"""The SLA clock: business time in a team's opening hours, holidays and time zone."""

from __future__ import annotations

import datetime as dt
from calendar import FRIDAY, MONDAY, SUNDAY, THURSDAY, TUESDAY, WEDNESDAY
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.care.business_hours import (
    Calendar,
    Pause,
    add_business_time,
    business_time_between,
    due_with_pauses,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
ONE_DAY = dt.timedelta(days=1)
NINE_TO_FIVE = Calendar.weekdays("Europe/London")
# Christmas Day is a Friday in 2026; Boxing Day falls on the Saturday, so the
# bank holiday moves to Monday the 28th.
CHRISTMAS = (dt.date(2026, 12, 25), dt.date(2026, 12, 26), dt.date(2026, 12, 28))


def london(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def instant(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC. Python adds, subtracts and orders datetimes that share a
    tzinfo by wall clock, and never finds a skipped or repeated wall time equal to
    one in another zone, so a test about real time compares in UTC."""
    return moment.astimezone(dt.UTC)


def sundays(time_zone: str, *shifts: tuple[dt.time, dt.time | None]) -> Calendar:
    return Calendar.weekly(time_zone, {SUNDAY: shifts})


class TestAWorkingDay:
    # 2026-06-16 is a Tuesday, in British Summer Time (UTC+1).

    def test_inside_hours_the_clock_runs_in_real_time(self) -> None:
        assert add_business_time(NINE_TO_FIVE, london(6, 16, 10), 3 * HOUR) == london(6, 16, 13)

    def test_before_opening_the_clock_starts_at_opening(self) -> None:
        assert add_business_time(NINE_TO_FIVE, london(6, 16, 7), HOUR) == london(6, 16, 10)

    def test_after_closing_the_clock_rolls_to_the_next_morning(self) -> None:
        assert add_business_time(NINE_TO_FIVE, london(6, 16, 18), HOUR) == london(6, 17, 10)

    def test_a_target_used_up_at_closing_is_due_at_closing_not_next_morning(self) -> None:
        assert add_business_time(NINE_TO_FIVE, london(6, 16, 16), HOUR) == london(6, 16, 17)

    def test_only_open_hours_count_between_two_moments(self) -> None:
        assert business_time_between(NINE_TO_FIVE, london(6, 16, 7), london(6, 16, 20)) == 8 * HOUR

    def test_nothing_passes_between_a_moment_and_an_earlier_one(self) -> None:
        elapsed = business_time_between(NINE_TO_FIVE, london(6, 16, 15), london(6, 16, 10))
        assert elapsed == dt.timedelta(0)

    def test_a_zero_target_is_due_at_once_even_out_of_hours(self) -> None:
        assert add_business_time(NINE_TO_FIVE, london(6, 16, 22), dt.timedelta(0)) == london(
            6, 16, 22
        )

    def test_answers_are_in_utc_whatever_zone_the_question_was_in(self) -> None:
        due = add_business_time(NINE_TO_FIVE, london(6, 16, 10), HOUR)
        assert (due, due.tzinfo) == (utc(6, 16, 10), dt.UTC)

    def test_split_shifts_skip_the_break(self) -> None:
        weekdays = dict.fromkeys(
            (MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY),
            ((dt.time(8), dt.time(12)), (dt.time(13), dt.time(17))),
        )
        split = Calendar.weekly("Europe/London", weekdays)
        assert add_business_time(split, london(6, 16, 11), 2 * HOUR) == london(6, 16, 14)


class TestWeekendsAndHolidays:
    def test_friday_evening_to_monday_skips_the_weekend(self) -> None:
        # 2026-06-19 is a Friday.
        assert add_business_time(NINE_TO_FIVE, london(6, 19, 16), 2 * HOUR) == london(6, 22, 10)
        assert business_time_between(NINE_TO_FIVE, london(6, 19, 16), london(6, 22, 10)) == (
            2 * HOUR
        )

    def test_christmas_and_the_boxing_day_bank_holiday_are_skipped(self) -> None:
        calendar = Calendar.weekdays("Europe/London", holidays=CHRISTMAS)
        # Christmas Eve is a Thursday; the next working day is Tuesday the 29th.
        assert add_business_time(calendar, london(12, 24, 16), 2 * HOUR) == london(12, 29, 10)

    def test_a_team_open_every_day_still_closes_on_christmas_and_boxing_day(self) -> None:
        every_day = dict.fromkeys(range(7), ((dt.time(9), dt.time(17)),))
        calendar = Calendar.weekly("Europe/London", every_day, holidays=CHRISTMAS[:2])
        assert add_business_time(calendar, london(12, 24, 16), 2 * HOUR) == london(12, 27, 10)

    def test_a_week_of_targets_crosses_a_month_of_holidays(self) -> None:
        december = [dt.date(2026, 12, day) for day in range(1, 32)]
        calendar = Calendar.weekdays("Europe/London", holidays=december)
        # Monday 30 November 13:00: four hours that day, then 36 from Friday 1 January.
        due = add_business_time(calendar, london(11, 30, 13), 40 * HOUR)
        assert due == dt.datetime(2027, 1, 7, 13, tzinfo=LONDON)


class TestDaylightSaving:
    # London: clocks go forward 01:00 GMT → 02:00 BST on Sunday 29 March 2026
    # and back 02:00 BST → 01:00 GMT on Sunday 25 October 2026.

    def test_four_hours_from_the_saturday_before_clocks_go_forward(self) -> None:
        due = add_business_time(NINE_TO_FIVE, london(3, 28, 12), 4 * HOUR)
        # Monday 09:00 BST is 08:00 UTC: done at 13:00 BST, 12:00 UTC.
        assert due == utc(3, 30, 12)

    def test_four_hours_from_the_saturday_before_clocks_go_back(self) -> None:
        due = add_business_time(NINE_TO_FIVE, london(10, 24, 12), 4 * HOUR)
        # Monday 09:00 GMT is 09:00 UTC: done at 13:00 UTC.
        assert due == utc(10, 26, 13)

    @pytest.mark.parametrize("monday", [dt.date(2026, 3, 23), dt.date(2026, 10, 19)])
    def test_a_working_week_around_a_change_is_still_forty_hours(self, monday: dt.date) -> None:
        start = dt.datetime.combine(monday, dt.time(12), tzinfo=LONDON)
        week_later = start + dt.timedelta(days=7)  # wall-clock arithmetic: Monday noon again
        assert business_time_between(NINE_TO_FIVE, start, week_later) == 40 * HOUR

    def test_around_the_clock_the_repeated_hour_counts_twice(self) -> None:
        always = Calendar.always_open("Europe/London")
        assert business_time_between(always, london(10, 25), london(10, 26)) == 25 * HOUR
        assert add_business_time(always, london(10, 25), 24 * HOUR) == london(10, 25, 23)

    def test_around_the_clock_the_skipped_hour_does_not_count(self) -> None:
        always = Calendar.always_open("Europe/London")
        assert business_time_between(always, london(3, 29), london(3, 30)) == 23 * HOUR
        assert add_business_time(always, london(3, 29), 23 * HOUR) == london(3, 30)

    def test_a_night_shift_loses_the_hour_that_does_not_exist(self) -> None:
        # New York springs forward 02:00 → 03:00 on Sunday 8 March 2026.
        nights = sundays("America/New_York", (dt.time(0), dt.time(6)))
        sunday = dt.datetime(2026, 3, 8, tzinfo=NEW_YORK)
        assert business_time_between(nights, sunday, sunday + ONE_DAY) == 5 * HOUR

    def test_a_night_shift_gains_the_hour_that_happens_twice(self) -> None:
        # New York falls back 02:00 → 01:00 on Sunday 1 November 2026.
        nights = sundays("America/New_York", (dt.time(0), dt.time(6)))
        sunday = dt.datetime(2026, 11, 1, tzinfo=NEW_YORK)
        assert business_time_between(nights, sunday, sunday + ONE_DAY) == 7 * HOUR

    def test_a_shift_opening_in_the_skipped_hour_opens_when_the_clocks_jump(self) -> None:
        # 01:30 never shows in London on 29 March: clocks go from 00:59 GMT to 02:00 BST.
        calendar = sundays("Europe/London", (dt.time(1, 30), dt.time(3)))
        assert add_business_time(calendar, london(3, 28), dt.timedelta(minutes=1)) == utc(
            3, 29, 1, 1
        )
        assert business_time_between(calendar, london(3, 29), london(3, 30)) == HOUR

    def test_a_shift_closing_in_the_repeated_hour_closes_the_first_time(self) -> None:
        # 01:30 shows twice in London on 25 October: at 00:30 and at 01:30 UTC.
        calendar = sundays("Europe/London", (dt.time(0), dt.time(1, 30)))
        assert business_time_between(calendar, london(10, 25), london(10, 26)) == 90 * MINUTE
        assert add_business_time(calendar, london(10, 24), 90 * MINUTE) == utc(10, 25, 0, 30)

    def test_shifts_that_touch_add_up_to_the_whole_even_on_a_change(self) -> None:
        whole = sundays("Europe/London", (dt.time(0), dt.time(6)))
        halves = sundays(
            "Europe/London", (dt.time(0), dt.time(1, 30)), (dt.time(1, 30), dt.time(6))
        )
        for day in (london(3, 29), london(10, 25)):
            assert business_time_between(halves, day, day + ONE_DAY) == business_time_between(
                whole, day, day + ONE_DAY
            )


# Derandomized: CI sees the same examples every run (a failure is reproducible);
# run with --hypothesis-seed=random locally to explore further.
PROPERTY = settings(max_examples=150, deadline=None, database=None, derandomize=True)
ZONES = st.sampled_from([LONDON, NEW_YORK, dt.UTC])


def around(day: dt.date) -> st.SearchStrategy[dt.datetime]:
    """Aware moments within ten days of `day`, in one of several zones, including wall
    times that never happen or happen twice there."""
    middle = dt.datetime.combine(day, dt.time(12))
    return st.datetimes(
        min_value=middle - 10 * ONE_DAY, max_value=middle + 10 * ONE_DAY, timezones=ZONES
    )


MOMENTS = st.one_of(
    around(dt.date(2026, 3, 29)),  # London springs forward
    around(dt.date(2026, 3, 8)),  # New York springs forward
    around(dt.date(2026, 10, 25)),  # London falls back
    around(dt.date(2026, 11, 1)),  # New York falls back
    around(dt.date(2026, 12, 25)),
)
DURATIONS = st.timedeltas(min_value=dt.timedelta(0), max_value=100 * HOUR)
CALENDARS = {
    "nine to five in London, with Christmas": Calendar.weekdays(
        "Europe/London", holidays=CHRISTMAS
    ),
    "split shifts in London": Calendar.weekly(
        "Europe/London",
        {
            day: [(dt.time(8), dt.time(12, 30)), (dt.time(13, 30), dt.time(17, 45))]
            for day in range(6)
        },
    ),
    "Sunday nights in New York": sundays(
        "America/New_York", (dt.time(0), dt.time(1, 30)), (dt.time(2, 15), dt.time(6))
    ),
    "overnight in London": Calendar.weekly(
        "Europe/London",
        {day: [(dt.time(22), None)] for day in range(7)}
        | {day: [(dt.time(0), dt.time(2, 30)), (dt.time(22), None)] for day in range(1, 7)},
    ),
    "around the clock in London": Calendar.always_open("Europe/London", holidays=CHRISTMAS),
}
each_calendar = pytest.mark.parametrize("calendar", CALENDARS.values(), ids=CALENDARS.keys())


class TestAddingAndMeasuringAgree:
    """`add_business_time(start, d)` is the first instant by which d of business time has
    passed; these hold exactly, to the microsecond, for every start and duration."""

    @each_calendar
    @PROPERTY
    @given(start=MOMENTS, duration=DURATIONS)
    def test_measuring_up_to_the_due_time_gives_back_the_duration(
        self, calendar: Calendar, start: dt.datetime, duration: dt.timedelta
    ) -> None:
        due = add_business_time(calendar, start, duration)
        assert due >= instant(start)
        assert business_time_between(calendar, start, due) == duration

    @each_calendar
    @PROPERTY
    @given(start=MOMENTS, end=MOMENTS)
    def test_adding_what_was_measured_lands_at_the_end_or_at_the_last_closing_before_it(
        self, calendar: Calendar, start: dt.datetime, end: dt.datetime
    ) -> None:
        elapsed = business_time_between(calendar, start, end)
        due = add_business_time(calendar, start, elapsed)
        assert due <= max(instant(start), instant(end))
        assert business_time_between(calendar, due, end) == dt.timedelta(0)

    @each_calendar
    @PROPERTY
    @given(moments=st.lists(MOMENTS, min_size=3, max_size=3))
    def test_business_time_adds_up_over_consecutive_spans(
        self, calendar: Calendar, moments: list[dt.datetime]
    ) -> None:
        start, middle, end = sorted(moments, key=instant)
        assert business_time_between(calendar, start, middle) + business_time_between(
            calendar, middle, end
        ) == business_time_between(calendar, start, end)

    @PROPERTY
    @given(start=MOMENTS, duration=DURATIONS, end=MOMENTS)
    def test_around_the_clock_business_time_is_real_time(
        self, start: dt.datetime, duration: dt.timedelta, end: dt.datetime
    ) -> None:
        always = Calendar.always_open("Europe/London")
        assert add_business_time(always, start, duration) == instant(start) + duration
        real_time = instant(end) - instant(start)
        assert business_time_between(always, start, end) == max(real_time, dt.timedelta(0))


class TestWaitingOnTheCustomer:
    # Tuesday 16 June 2026, nine to five.

    def test_a_pause_from_ten_to_two_pushes_the_due_time_by_four_business_hours(self) -> None:
        pause = (london(6, 16, 10), london(6, 16, 14))
        assert add_business_time(NINE_TO_FIVE, london(6, 16, 9), 6 * HOUR) == london(6, 16, 15)
        due = due_with_pauses(NINE_TO_FIVE, london(6, 16, 9), 6 * HOUR, [pause])
        # Four more business hours after 15:00 on Tuesday: two that day, two on Wednesday.
        assert due == london(6, 17, 11)

    def test_nothing_is_due_while_the_conversation_is_still_waiting(self) -> None:
        pauses: list[Pause] = [(london(6, 16, 10), None)]
        assert due_with_pauses(NINE_TO_FIVE, london(6, 16, 9), 6 * HOUR, pauses) is None

    def test_a_target_missed_before_the_wait_began_stays_missed(self) -> None:
        pauses: list[Pause] = [(london(6, 16, 12), None)]
        due = due_with_pauses(NINE_TO_FIVE, london(6, 16, 9), 2 * HOUR, pauses)
        assert due == london(6, 16, 11)

    def test_a_pause_out_of_hours_changes_nothing(self) -> None:
        pauses: list[Pause] = [(london(6, 16, 18), london(6, 17, 8))]
        due = due_with_pauses(NINE_TO_FIVE, london(6, 16, 16), 2 * HOUR, pauses)
        assert due == london(6, 17, 10)

    def test_paused_time_does_not_count_as_elapsed(self) -> None:
        pauses: list[Pause] = [(london(6, 16, 10), london(6, 16, 14))]
        elapsed = business_time_between(
            NINE_TO_FIVE, london(6, 16, 9), london(6, 16, 17), pauses=pauses
        )
        assert elapsed == 4 * HOUR

    def test_a_pause_still_open_runs_to_the_end_of_the_measurement(self) -> None:
        pauses: list[Pause] = [(london(6, 16, 15), None)]
        elapsed = business_time_between(
            NINE_TO_FIVE, london(6, 16, 9), london(6, 17, 12), pauses=pauses
        )
        assert elapsed == 6 * HOUR

    def test_overlapping_pauses_in_any_order_are_not_counted_twice(self) -> None:
        pauses: list[Pause] = [
            (london(6, 16, 12), london(6, 16, 14)),
            (london(6, 16, 10), london(6, 16, 13)),
            (london(6, 16, 13, 30), london(6, 16, 13, 45)),
        ]
        elapsed = business_time_between(
            NINE_TO_FIVE, london(6, 16, 9), london(6, 16, 17), pauses=pauses
        )
        assert elapsed == 4 * HOUR

    @each_calendar
    @PROPERTY
    @given(
        start=MOMENTS,
        duration=DURATIONS,
        pauses=st.lists(st.tuples(MOMENTS, DURATIONS), max_size=4),
    )
    def test_measuring_up_to_the_due_time_gives_back_the_duration(
        self,
        calendar: Calendar,
        start: dt.datetime,
        duration: dt.timedelta,
        pauses: list[tuple[dt.datetime, dt.timedelta]],
    ) -> None:
        # Pause ends are real elapsed time after their start: add in UTC, since
        # adding to a London time is wall-clock arithmetic and can go backwards over DST.
        spans: list[Pause] = [
            (paused_at, paused_at.astimezone(dt.UTC) + length) for paused_at, length in pauses
        ]
        due = due_with_pauses(calendar, start, duration, spans)
        assert due is not None
        assert business_time_between(calendar, start, due, pauses=spans) == duration


class TestMistakesAreRefused:
    @pytest.mark.parametrize(
        "call",
        [
            lambda naive: add_business_time(NINE_TO_FIVE, naive, HOUR),
            lambda naive: business_time_between(NINE_TO_FIVE, naive, london(6, 16)),
            lambda naive: business_time_between(NINE_TO_FIVE, london(6, 16), naive),
            lambda naive: due_with_pauses(NINE_TO_FIVE, london(6, 16), HOUR, [(naive, None)]),
        ],
        ids=["add", "between from", "between to", "pause"],
    )
    def test_naive_datetimes_are_refused(self, call: Callable[[dt.datetime], object]) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            call(dt.datetime(2026, 6, 16, 10))

    def test_a_calendar_with_no_open_hours_fails_instead_of_searching_for_ever(self) -> None:
        never = Calendar.weekly("Europe/London", {})
        with pytest.raises(ValueError, match="No business hours"):
            add_business_time(never, london(6, 16), HOUR)
        with pytest.raises(ValueError, match="No business hours"):
            due_with_pauses(never, london(6, 16), HOUR, [])

    def test_years_of_holidays_fail_the_same_way(self) -> None:
        first = dt.date(2026, 1, 1)
        holidays = [first + day * ONE_DAY for day in range(4 * 366)]
        calendar = Calendar.weekdays("Europe/London", holidays=holidays)
        with pytest.raises(ValueError, match="No business hours"):
            add_business_time(calendar, london(1, 1), HOUR)

    def test_measuring_over_a_closed_calendar_is_simply_zero(self) -> None:
        never = Calendar.weekly("Europe/London", {})
        later = dt.datetime(2031, 1, 1, tzinfo=LONDON)
        assert business_time_between(never, london(1, 1), later) == dt.timedelta(0)

    def test_a_negative_target_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            add_business_time(NINE_TO_FIVE, london(6, 16), -HOUR)

    def test_a_pause_that_ends_before_it_starts_is_refused(self) -> None:
        pauses: list[Pause] = [(london(6, 16, 12), london(6, 16, 11))]
        with pytest.raises(ValueError, match="before it starts"):
            business_time_between(NINE_TO_FIVE, london(6, 16), london(6, 17), pauses=pauses)

    @pytest.mark.parametrize(
        ("shifts", "message"),
        [
            ([(dt.time(17), dt.time(9))], "split a shift past midnight"),
            ([(dt.time(9), dt.time(13)), (dt.time(12), dt.time(17))], "overlap"),
            ([(dt.time(22), None), (dt.time(23), dt.time(23, 30))], "overlap"),
        ],
    )
    def test_shifts_must_open_before_they_close_and_not_overlap(
        self, shifts: list[tuple[dt.time, dt.time | None]], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            Calendar.weekly("Europe/London", {MONDAY: shifts})

    def test_an_unknown_time_zone_is_refused(self) -> None:
        with pytest.raises(ValueError, match="Unknown time zone"):
            Calendar.weekdays("Europe/Atlantis")

    def test_holidays_must_be_dates(self) -> None:
        with pytest.raises(ValueError, match="dates, not datetimes"):
            Calendar.weekdays("Europe/London", holidays=[dt.datetime(2026, 12, 25)])

    def test_weekdays_run_from_monday_to_sunday(self) -> None:
        with pytest.raises(ValueError, match="Weekdays run"):
            Calendar.weekly("Europe/London", {7: [(dt.time(9), dt.time(17))]})
