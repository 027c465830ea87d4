"""Calling hours: parsing the window, and whether it is open at a local time."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dncgate.domain.hours import CallingHours

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hh: int, mm: int, ss: int = 0, us: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, ss, us, tzinfo=SHANGHAI)


# --- parse ----------------------------------------------------------------------------------------


def test_parse_reads_start_and_end_as_minutes_after_midnight() -> None:
    """09:00-21:00 is minutes 540 to 1260."""
    assert CallingHours.parse("09:00-21:00") == CallingHours(540, 1260)


def test_parse_tolerates_spaces_around_the_dash() -> None:
    """' 08:30 - 20:15 ' is the same as '08:30-20:15'."""
    assert CallingHours.parse(" 08:30 - 20:15 ") == CallingHours(510, 1215)


def test_the_default_window_is_nine_to_nine() -> None:
    """CallingHours() is 09:00-21:00, the usual telemarketing rule."""
    assert CallingHours() == CallingHours.parse("09:00-21:00")


def test_00_00_to_24_00_is_always_open() -> None:
    """The whole day switches the rule off."""
    hours = CallingHours.parse("00:00-24:00")
    assert (hours.start_minute, hours.end_minute, hours.always_open) == (0, 1440, True)


@pytest.mark.parametrize("text", ["00:00-23:59", "00:01-24:00", "09:00-21:00"])
def test_a_window_shorter_than_a_day_is_not_always_open(text: str) -> None:
    """Only exactly 00:00-24:00 turns the rule off."""
    assert not CallingHours.parse(text).always_open


def test_a_window_may_end_at_midnight() -> None:
    """22:00-24:00 is the last two hours of the day."""
    assert CallingHours.parse("22:00-24:00") == CallingHours(1320, 1440)


def test_str_gives_back_the_parsed_text() -> None:
    """The window prints as HH:MM-HH:MM with leading zeros, so config echoes read naturally."""
    assert str(CallingHours.parse("8:05-24:00")) == "08:05-24:00"
    assert str(CallingHours()) == "09:00-21:00"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "09:00",
        "9-21",
        "0900-2100",
        "09:00-21:00-22:00",
        "09:00–21:00",  # en dash
        "aa:bb-cc:dd",
        "09:60-21:00",
        "25:00-26:00",
        "09:00-24:01",
        "24:00-24:00",
        "21:00-09:00",
        "09:00-09:00",
        "-01:00-09:00",
        "09:00:00-21:00:00",
    ],
)
def test_parse_rejects_text_that_is_not_a_window(text: str) -> None:
    """Malformed, impossible, empty or inverted windows raise ValueError quoting the input."""
    with pytest.raises(ValueError, match="expected HH:MM-HH:MM") as err:
        CallingHours.parse(text)
    assert repr(text) in str(err.value)


def test_an_inverted_window_is_rejected_with_the_rule_it_breaks() -> None:
    """A window across midnight is not supported; the error says start must come before end."""
    with pytest.raises(ValueError, match="start < end"):
        CallingHours.parse("21:00-09:00")


@pytest.mark.parametrize(("start", "end"), [(-1, 100), (100, 1441), (600, 600), (700, 600)])
def test_constructing_an_impossible_window_fails(start: int, end: int) -> None:
    """The invariant 0 <= start < end <= 1440 is checked on construction, not only when parsing."""
    with pytest.raises(ValueError, match="calling hours must satisfy"):
        CallingHours(start, end)


# --- is_open --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (local(8, 59, 59, 999_999), False),
        (local(9, 0), True),
        (local(12, 0), True),
        (local(20, 59, 59, 999_999), True),
        (local(21, 0), False),
        (local(0, 0), False),
        (local(23, 59, 59), False),
    ],
)
def test_the_window_includes_its_start_and_excludes_its_end(at: datetime, open_: bool) -> None:
    """[09:00, 21:00): open from the first instant of 09:00 to the last instant before 21:00."""
    assert CallingHours().is_open(at) is open_


@pytest.mark.parametrize("at", [local(0, 0), local(3, 0), local(23, 59, 59, 999_999)])
def test_an_always_open_window_is_open_at_any_time(at: datetime) -> None:
    """00:00-24:00 includes midnight and the last instant of the day."""
    assert CallingHours.parse("00:00-24:00").is_open(at)


def test_a_window_ending_at_midnight_is_open_until_the_day_ends() -> None:
    """22:00-24:00 is open at 23:59:59 and closed at 00:00."""
    hours = CallingHours.parse("22:00-24:00")
    assert hours.is_open(local(23, 59, 59))
    assert not hours.is_open(local(0, 0))
    assert not hours.is_open(local(21, 59, 59))


def test_is_open_reads_the_wall_clock_of_the_datetime_it_is_given() -> None:
    """is_open looks at local hour and minute; converting to the callee's zone is the caller's job."""
    at = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai
    assert CallingHours().is_open(at)
    assert not CallingHours().is_open(at.astimezone(SHANGHAI))


windows = st.integers(0, 1439).flatmap(lambda s: st.tuples(st.just(s), st.integers(s + 1, 1440)))


@given(windows, st.times())
def test_is_open_is_exactly_membership_in_the_minute_range(window: tuple[int, int], t: time) -> None:
    """For any valid window and time of day, open iff start <= minute of day < end."""
    start, end = window
    minute = t.hour * 60 + t.minute
    at = datetime.combine(datetime(2026, 1, 1).date(), t, tzinfo=SHANGHAI)
    assert CallingHours(start, end).is_open(at) is (start <= minute < end)


# --- next_opening (one zone) --------------------------------------------------------------------


def test_next_opening_is_now_when_the_window_is_open() -> None:
    """Nothing to wait for: the same instant comes back."""
    now = local(10, 17, 3)
    assert CallingHours().next_opening(SHANGHAI, now) == now


def test_next_opening_before_the_window_is_the_same_morning() -> None:
    """At 07:30 the window opens at 09:00 that day."""
    assert CallingHours().next_opening(SHANGHAI, local(7, 30)) == local(9, 0)


def test_next_opening_after_the_window_is_the_next_morning() -> None:
    """At 21:00 the window opens at 09:00 the next day."""
    assert CallingHours().next_opening(SHANGHAI, local(21, 0)) == datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)


def test_next_opening_just_after_midnight_is_the_same_calendar_day() -> None:
    """At 00:05 local the window opens at 09:00 of that same date, not the next."""
    assert CallingHours().next_opening(SHANGHAI, local(0, 5)) == local(9, 0)


def test_next_opening_across_a_month_and_year_end() -> None:
    """At 22:00 on 31 December the window opens at 09:00 on 1 January."""
    now = datetime(2026, 12, 31, 22, 0, tzinfo=SHANGHAI)
    assert CallingHours().next_opening(SHANGHAI, now) == datetime(2027, 1, 1, 9, 0, tzinfo=SHANGHAI)
