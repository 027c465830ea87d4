"""Working-day deadlines on China's calendar: Spring Festival, National Day, the adjusted working weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dncgate.calendars import package_calendar
from dncgate.domain.workdays import WorkCalendar, add_workdays, nth_workday_after

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = package_calendar()
WEEKDAYS_ONLY = WorkCalendar()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time.max, tzinfo=SHANGHAI)


def due(start: datetime, n: int, calendar: WorkCalendar = CHINA) -> datetime:
    return add_workdays(start, n, SHANGHAI, calendar)


# --- the convention ------------------------------------------------------------------------------


def test_a_deadline_ends_at_the_last_microsecond_of_its_day_in_shanghai() -> None:
    """One working day from Monday 10:00 is Tuesday 23:59:59.999999, Beijing time."""
    assert due(at(2026, 3, 9), 1) == end_of(2026, 3, 10)


def test_the_day_of_the_start_is_not_counted_whatever_its_hour() -> None:
    """Received at 00:00 or 23:59 on a Monday, a 5-working-day deadline is the next Monday's end."""
    assert due(at(2026, 3, 9, 0, 0), 5) == due(at(2026, 3, 9, 23, 59), 5) == end_of(2026, 3, 16)


def test_the_start_day_is_the_day_in_shanghai_not_in_utc() -> None:
    """16:30 UTC on a Thursday is already Friday in Beijing: one working day later is Monday, not Friday."""
    assert due(datetime(2026, 3, 12, 16, 30, tzinfo=UTC), 1) == end_of(2026, 3, 16)  # Friday 00:30 there
    assert due(datetime(2026, 3, 12, 15, 30, tzinfo=UTC), 1) == end_of(2026, 3, 13)  # Thursday 23:30 there


def test_received_on_a_weekend_counting_starts_on_monday() -> None:
    """From a Saturday, the first working day is the Monday after."""
    assert due(at(2026, 3, 14), 1) == end_of(2026, 3, 16)


def test_zero_working_days_is_the_end_of_the_start_day_even_a_holiday() -> None:
    """n = 0 counts nothing: the start day's own end."""
    assert due(at(2026, 2, 17), 0) == end_of(2026, 2, 17)


def test_a_negative_count_or_a_naive_start_is_refused() -> None:
    """Working days are counted forward from an instant that knows its zone."""
    with pytest.raises(ValueError, match="negative"):
        due(at(2026, 3, 9), -1)
    with pytest.raises(ValueError, match="aware"):
        due(datetime(2026, 3, 9, 10), 1)


# --- Spring Festival 2026: 15-23 February off, Saturdays 14 and 28 February worked -------------------


@pytest.mark.parametrize(
    ("day", "worked"),
    [
        (date(2026, 2, 13), True),  # Friday
        (date(2026, 2, 14), True),  # Saturday, worked for the festival
        (date(2026, 2, 15), False),  # Sunday, first day off
        (date(2026, 2, 16), False),  # Monday, off
        (date(2026, 2, 23), False),  # Monday, last day off
        (date(2026, 2, 24), True),  # Tuesday, back at work
        (date(2026, 2, 28), True),  # Saturday, worked
        (date(2026, 3, 1), False),  # Sunday
    ],
)
def test_spring_festival_2026_days_off_and_adjusted_saturdays(day: date, worked: bool) -> None:
    """The State Council's 2026 schedule: nine days off, two Saturdays worked."""
    assert CHINA.is_workday(day) is worked


def test_a_regulator_reply_across_spring_festival_2026_counts_both_working_saturdays() -> None:
    """From Friday 13 Feb, 15 working days: Sat 14, Tue 24 to Sat 28, then March: due Thursday 12 March."""
    assert due(at(2026, 2, 13), 15) == end_of(2026, 3, 12)
    assert due(at(2026, 2, 13), 15, WEEKDAYS_ONLY) == end_of(2026, 3, 6)  # what weekdays alone would say


def test_a_payout_booked_before_spring_festival_is_due_after_it() -> None:
    """From Friday 13 Feb, 5 working days: Sat 14, Tue 24, Wed 25, Thu 26, Fri 27."""
    assert due(at(2026, 2, 13), 5) == end_of(2026, 2, 27)
    assert due(at(2026, 2, 13), 1) == end_of(2026, 2, 14)  # the adjusted Saturday is the first


def test_received_on_the_adjusted_saturday_the_saturday_itself_is_not_counted() -> None:
    """Filed on Sat 14 Feb (a working day), the first working day after it is Tue 24 Feb."""
    assert due(at(2026, 2, 14), 1) == end_of(2026, 2, 24)
    assert due(at(2026, 2, 19), 1) == end_of(2026, 2, 24)  # filed during the holiday: the same


# --- National Day --------------------------------------------------------------------------------


def test_national_day_2025_with_mid_autumn_counts_sunday_28_sep_and_saturday_11_oct() -> None:
    """2025: 1-8 Oct off, Sun 28 Sep and Sat 11 Oct worked; 10 working days from Fri 26 Sep is Thu 16 Oct."""
    assert [CHINA.is_workday(date(2025, 9, 28)), CHINA.is_workday(date(2025, 10, 8))] == [True, False]
    assert due(at(2025, 9, 26), 10) == end_of(2025, 10, 16)
    assert due(at(2025, 9, 26), 15) == end_of(2025, 10, 23)


def test_national_day_2026_and_mid_autumn_before_it() -> None:
    """2026: 25-27 Sep and 1-7 Oct off, Sun 20 Sep and Sat 10 Oct worked; 15 from Sat 19 Sep is Thu 15 Oct."""
    assert due(at(2026, 9, 19), 15) == end_of(2026, 10, 15)
    assert due(at(2026, 9, 30, 16), 5) == end_of(2026, 10, 13)  # Thu 8, Fri 9, Sat 10, Mon 12, Tue 13


# --- the end of what is known --------------------------------------------------------------------


def test_a_year_no_schedule_covers_is_counted_on_weekdays_alone() -> None:
    """chinese-calendar stops at 2026: 1 January 2027, a Friday, counts as a working day."""
    assert not CHINA.knows(2027)
    assert due(at(2026, 12, 21), 15) == end_of(2027, 1, 11)
    assert CHINA.unknown_years(date(2026, 12, 22), date(2027, 1, 11)) == (2027,)


def test_an_operator_schedule_for_2027_takes_new_years_day_off() -> None:
    """With 1 January 2027 a holiday, 15 working days from Mon 21 Dec 2026 end on Tue 12 Jan 2027."""
    schedule = WorkCalendar(holidays=frozenset({date(2027, 1, 1)}), known_years=frozenset({2027}))
    calendar = CHINA.overridden_by(schedule)
    assert due(at(2026, 12, 21), 15, calendar) == end_of(2027, 1, 12)
    assert calendar.unknown_years(date(2026, 12, 22), date(2027, 1, 12)) == ()


def test_an_override_replaces_the_whole_year_it_knows_and_nothing_else() -> None:
    """A 2026 schedule of one holiday drops the package's Spring Festival 2026 but keeps 2025's National Day."""
    calendar = CHINA.overridden_by(WorkCalendar(holidays=frozenset({date(2026, 10, 1)}), known_years=frozenset({2026})))
    assert calendar.is_workday(date(2026, 2, 16)) and not calendar.is_workday(date(2026, 2, 14))
    assert not calendar.is_workday(date(2026, 10, 1))
    assert not calendar.is_workday(date(2025, 10, 8))


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        (
            dict(holidays={date(2026, 2, 14)}, adjusted_workdays={date(2026, 2, 14)}, known_years={2026}),
            "both",
        ),
        (dict(adjusted_workdays={date(2026, 2, 17)}, known_years={2026}), "Tuesday"),
        (dict(holidays={date(2027, 1, 1)}, known_years={2026}), "does not claim"),
    ],
)
def test_a_calendar_that_contradicts_itself_is_refused(calendar: dict[str, set[object]], message: str) -> None:
    """A day both off and worked, a weekday 'adjusted' to be worked, a day outside the known years."""
    with pytest.raises(ValueError, match=message):
        WorkCalendar(**{k: frozenset(v) for k, v in calendar.items()})  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------------

starts = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC))
counts = st.integers(min_value=0, max_value=60)
calendars = st.sampled_from([CHINA, WEEKDAYS_ONLY])


@given(starts, st.integers(min_value=1, max_value=60), calendars)
def test_a_deadline_ends_a_working_day(start: datetime, n: int, calendar: WorkCalendar) -> None:
    """For n >= 1, the due day is worked and the due time is its last microsecond in Shanghai."""
    end = due(start, n, calendar)
    assert calendar.is_workday(end.date()) and end.timetz() == time.max.replace(tzinfo=SHANGHAI)


@given(starts, counts, calendars)
def test_exactly_n_working_days_lie_after_the_start_day_up_to_the_due_day(
    start: datetime, n: int, calendar: WorkCalendar
) -> None:
    """The definition, checked by counting: n working days in (start day, due day]."""
    first, last = start.astimezone(SHANGHAI).date(), due(start, n, calendar).date()
    days = [first + timedelta(days=i) for i in range(1, (last - first).days + 1)]
    assert sum(calendar.is_workday(d) for d in days) == n


@given(starts, counts, counts, calendars)
def test_more_working_days_is_a_later_deadline(start: datetime, a: int, b: int, calendar: WorkCalendar) -> None:
    """Monotonic in n, strictly: each extra working day is a later day."""
    assert (due(start, a, calendar) < due(start, b, calendar)) == (a < b)


@given(starts, counts, counts, calendars)
def test_counting_on_from_a_deadline_is_counting_from_the_start(
    start: datetime, a: int, b: int, calendar: WorkCalendar
) -> None:
    """add(add(t, a), b) == add(t, a + b): an extension of b working days continues from the due day."""
    assert due(due(start, a, calendar), b, calendar) == due(start, a + b, calendar)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), counts)
def test_the_day_level_count_agrees_with_the_instant_level_one(day: date, n: int) -> None:
    """nth_workday_after is add_workdays' day: any moment of a day gives the same due day."""
    noon = datetime.combine(day, time(12), tzinfo=SHANGHAI)
    assert nth_workday_after(day, n, CHINA) == due(noon, n).date()
