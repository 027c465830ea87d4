"""window_check: may a number ring now in every one of its zones, and if not, when next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.domain.hours import CallingHours, window_check
from dncgate.phone import parse

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # UTC+05:45
NINE_TO_NINE = CallingHours()
US_BOTH_COASTS = (NEW_YORK, LOS_ANGELES)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def open_everywhere(hours: CallingHours, zones: tuple[ZoneInfo, ...], at: datetime) -> bool:
    return all(hours.is_open(at.astimezone(z)) for z in zones)


def test_a_call_inside_the_window_gets_none() -> None:
    """At 10:00 Beijing time there is nothing to wait for."""
    assert window_check(NINE_TO_NINE, (SHANGHAI,), datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)) is None


def test_a_late_call_to_china_waits_for_nine_the_next_morning() -> None:
    """22:30 Beijing (14:30 UTC) opens at 09:00 Beijing the next day (01:00 UTC)."""
    assert window_check(NINE_TO_NINE, (SHANGHAI,), utc(2026, 11, 23, 14, 30)) == utc(2026, 11, 24, 1, 0)


def test_an_early_call_to_china_waits_for_nine_the_same_morning() -> None:
    """06:00 Beijing opens at 09:00 Beijing three hours later."""
    assert window_check(NINE_TO_NINE, (SHANGHAI,), utc(2026, 11, 22, 22, 0)) == utc(2026, 11, 23, 1, 0)


def test_the_wait_crosses_midnight_in_the_callee_zone_only() -> None:
    """23:59:30 Beijing (15:59:30 UTC, same UTC date) opens at 09:00 Beijing on the next local date."""
    assert window_check(NINE_TO_NINE, (SHANGHAI,), utc(2026, 11, 23, 15, 59, 30)) == utc(2026, 11, 24, 1, 0)


def test_the_wait_ends_exactly_at_the_opening_minute() -> None:
    """08:59:59.999999 Beijing waits a microsecond, to 09:00:00."""
    now = datetime(2026, 11, 23, 8, 59, 59, 999_999, tzinfo=SHANGHAI)
    assert window_check(NINE_TO_NINE, (SHANGHAI,), now) == now + timedelta(microseconds=1)


def test_an_always_open_window_never_waits() -> None:
    """00:00-24:00 lets a call ring at 03:00 local in any zone."""
    assert window_check(CallingHours.parse("00:00-24:00"), US_BOTH_COASTS, utc(2026, 11, 23, 8, 0)) is None


def test_an_always_open_window_never_waits_even_without_zones() -> None:
    """With the rule off, the zones do not matter."""
    assert window_check(CallingHours.parse("00:00-24:00"), (), utc(2026, 11, 23, 8, 0)) is None


def test_a_number_spanning_both_us_coasts_rings_only_when_open_on_both() -> None:
    """10:00 in New York is 07:00 in Los Angeles: wait until 12:00 New York (09:00 Los Angeles)."""
    now = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
    opens = window_check(NINE_TO_NINE, US_BOTH_COASTS, now)
    assert opens == datetime(2026, 11, 23, 12, 0, tzinfo=NEW_YORK)
    assert opens is not None and opens.astimezone(LOS_ANGELES).hour == 9


def test_a_number_spanning_both_coasts_closes_with_the_east() -> None:
    """21:00 New York (18:00 Los Angeles) is closed; next is 12:00 New York the next day."""
    now = datetime(2026, 11, 23, 21, 0, tzinfo=NEW_YORK)
    assert window_check(NINE_TO_NINE, US_BOTH_COASTS, now) == datetime(2026, 11, 24, 12, 0, tzinfo=NEW_YORK)


def test_a_number_spanning_both_coasts_is_open_in_the_overlap() -> None:
    """15:00 New York is 12:00 Los Angeles: open in both."""
    assert window_check(NINE_TO_NINE, US_BOTH_COASTS, datetime(2026, 11, 23, 15, 0, tzinfo=NEW_YORK)) is None


def test_zone_order_does_not_change_the_answer() -> None:
    """The same zones in another order give the same opening time."""
    now = utc(2026, 11, 23, 3, 0)
    assert window_check(NINE_TO_NINE, US_BOTH_COASTS, now) == window_check(NINE_TO_NINE, US_BOTH_COASTS[::-1], now)


def test_zones_with_a_quarter_hour_offset_open_on_their_own_minute() -> None:
    """Shanghai (UTC+8) and Kathmandu (UTC+5:45) first share the window at 09:00 Kathmandu, 03:15 UTC."""
    assert window_check(NINE_TO_NINE, (SHANGHAI, KATHMANDU), utc(2026, 11, 23, 0, 0)) == utc(2026, 11, 23, 3, 15)


def test_spring_forward_opens_at_nine_daylight_time() -> None:
    """On 8 March 2026 New York jumps to EDT at 02:00: the window opens at 09:00 EDT = 13:00 UTC."""
    now = utc(2026, 3, 8, 6, 0)  # 01:00 EST
    assert window_check(NINE_TO_NINE, (NEW_YORK,), now) == utc(2026, 3, 8, 13, 0)


def test_fall_back_opens_at_nine_standard_time() -> None:
    """On 1 November 2026 New York returns to EST: the window opens at 09:00 EST = 14:00 UTC."""
    now = utc(2026, 11, 1, 5, 30)  # 01:30 EDT, before the repeated hour
    assert window_check(NINE_TO_NINE, (NEW_YORK,), now) == utc(2026, 11, 1, 14, 0)


def test_the_evening_before_spring_forward_waits_for_the_daylight_morning() -> None:
    """21:30 EST on 7 March opens at 09:00 EDT on 8 March: 11.5 wall-clock hours but only 10.5 real ones."""
    now = utc(2026, 3, 8, 2, 30)  # 21:30 EST on the 7th
    opens = window_check(NINE_TO_NINE, (NEW_YORK,), now)
    assert opens == utc(2026, 3, 8, 13, 0)
    assert opens - now == timedelta(hours=10, minutes=30)


def test_a_window_closing_at_midnight_reopens_the_next_evening() -> None:
    """22:00-24:00: at 00:00 local the next opening is 22:00 the same date."""
    hours = CallingHours.parse("22:00-24:00")
    now = datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    assert window_check(hours, (SHANGHAI,), now) == datetime(2026, 11, 24, 22, 0, tzinfo=SHANGHAI)


def test_a_us_toll_free_number_waits_for_a_moment_open_in_all_its_zones() -> None:
    """+1 800 spans Guam to Pago Pago: the answer is an instant open in every one of its 40-odd zones."""
    number = parse("+18002530000")
    zones = tuple(ZoneInfo(z) for z in number.zone_names)
    assert len(zones) > 10
    now = utc(2026, 7, 1, 12, 0)
    opens = window_check(NINE_TO_NINE, zones, now)
    assert opens is not None and opens > now
    assert open_everywhere(NINE_TO_NINE, zones, opens)
    assert not open_everywhere(NINE_TO_NINE, zones, opens - timedelta(minutes=1))


def test_zones_that_never_share_an_open_moment_get_the_two_day_horizon() -> None:
    """A one-hour window in Shanghai and New York never overlaps: the documented horizon comes back."""
    hours = CallingHours.parse("09:00-10:00")
    now = utc(2026, 11, 23, 0, 0)
    assert window_check(hours, (SHANGHAI, NEW_YORK), now) == now + timedelta(days=2)


# --- the opening time really is open, and the first such minute ----------------------------------

ZONES = [
    SHANGHAI,
    NEW_YORK,
    LOS_ANGELES,
    KATHMANDU,
    ZoneInfo("Europe/London"),
    ZoneInfo("Australia/Lord_Howe"),  # 30-minute daylight saving shift
    ZoneInfo("America/St_Johns"),  # UTC-03:30
    ZoneInfo("Pacific/Guam"),
    ZoneInfo("Pacific/Pago_Pago"),
]
# Windows start at 04:00 or later so no start falls inside a daylight-saving gap (those are at 00:00-03:00).
windows = st.integers(4 * 60, 1439).flatmap(lambda s: st.tuples(st.just(s), st.integers(s + 1, 1440)))
instants = st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC))


@settings(deadline=None, max_examples=150)
@given(windows, st.lists(st.sampled_from(ZONES), min_size=1, max_size=4, unique=True), instants)
def test_next_allowed_time_is_the_first_instant_open_in_every_zone(
    window: tuple[int, int], zones: list[ZoneInfo], now: datetime
) -> None:
    """None iff open now; otherwise an instant open in every zone, with no open minute before it."""
    hours = CallingHours(*window)
    opens = window_check(hours, zones, now)
    if opens is None:
        assert open_everywhere(hours, tuple(zones), now)
        return
    assert not open_everywhere(hours, tuple(zones), now)
    assert now < opens <= now + timedelta(days=2)
    # Every wall-clock boundary is on a whole UTC minute in these zones, so scanning minutes is exhaustive.
    first_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    scan = first_minute
    while scan < opens:
        assert not open_everywhere(hours, tuple(zones), scan), f"open at {scan}, answer was {opens}"
        scan += timedelta(minutes=1)
    if opens == now + timedelta(days=2):
        return  # the documented horizon: the zones share no open moment within two days
    assert open_everywhere(hours, tuple(zones), opens)
