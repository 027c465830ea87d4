"""Call ids: 32 hex digits, ordered by the millisecond they were made in, never repeated."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dncgate.domain.registry import epoch_us
from dncgate.service import checks


def new_call_id(at: datetime) -> str:
    return checks.new_call_id(epoch_us(at))


NOW = datetime(2026, 11, 23, 14, 30, 0, 123_000, tzinfo=UTC)
MS = timedelta(milliseconds=1)
instants = st.datetimes(datetime(2025, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC))


def test_a_call_id_is_32_lowercase_hex_digits() -> None:
    """The id fits a UUID-sized column and a Redis stream field as plain hex."""
    assert re.fullmatch(r"[0-9a-f]{32}", new_call_id(NOW))


def test_a_call_id_starts_with_the_unix_milliseconds() -> None:
    """The first 12 hex digits are the milliseconds since the epoch."""
    assert int(new_call_id(NOW)[:12], 16) == 1_795_444_200_123


def test_ids_made_in_the_same_millisecond_differ() -> None:
    """80 random bits keep ids unique even when the clock does not move."""
    ids = {new_call_id(NOW) for _ in range(10_000)}
    assert len(ids) == 10_000
    assert {i[:12] for i in ids} == {new_call_id(NOW)[:12]}


def test_an_id_from_a_later_millisecond_sorts_after() -> None:
    """Ids compare as strings in the order of their milliseconds, whatever the random part."""
    earlier = [new_call_id(NOW) for _ in range(200)]
    later = [new_call_id(NOW + MS) for _ in range(200)]
    assert max(earlier) < min(later)


def test_sub_millisecond_differences_do_not_change_the_time_prefix() -> None:
    """Microseconds within a millisecond share the prefix (the order inside it is random)."""
    assert new_call_id(NOW)[:12] == new_call_id(NOW + timedelta(microseconds=999))[:12]


def test_the_time_zone_of_now_does_not_matter() -> None:
    """The same instant written in Beijing time gives the same prefix."""
    assert new_call_id(NOW)[:12] == new_call_id(NOW.astimezone(ZoneInfo("Asia/Shanghai")))[:12]


@given(instants, st.integers(1, 10**9))
def test_ids_are_time_ordered_across_milliseconds(now: datetime, step_ms: int) -> None:
    """For any instant up to 2037 and any later millisecond, the later id sorts after the earlier one."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    assert new_call_id(now) < new_call_id(now + step_ms * MS)
    assert int(new_call_id(now)[:12], 16) == (now - datetime(1970, 1, 1, tzinfo=UTC)) // MS


def test_the_time_prefix_is_exact_for_every_whole_millisecond() -> None:
    """2038-01-30 08:31:15.621 UTC must encode millisecond 2148453075621, not ...620."""
    at = datetime(2038, 1, 30, 8, 31, 15, 621_000, tzinfo=UTC)
    assert int(new_call_id(at)[:12], 16) == 2_148_453_075_621
