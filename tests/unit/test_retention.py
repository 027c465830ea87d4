"""Which monthly partitions to have and which to drop (domain/retention.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dncgate.domain import retention as r


def test_months_are_utc_calendar_months() -> None:
    """Midnight in Shanghai on the 1st is still the previous month in UTC."""
    shanghai = timezone(timedelta(hours=8))
    assert r.month_of(datetime(2026, 12, 1, 5, 0, tzinfo=shanghai)) == date(2026, 11, 1)
    assert r.add_months(date(2026, 11, 1), 3) == date(2027, 2, 1)
    assert r.add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert r.month_end(date(2026, 12, 1)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_current_month_and_those_ahead_are_wanted() -> None:
    now = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert r.months_ahead(now, 3) == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]


def test_only_months_wholly_past_the_horizon_expire() -> None:
    """The horizon falls in June: May goes, June (partly within the retention) stays."""
    now = datetime(2031, 6, 15, 12, tzinfo=UTC)
    months = [date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)]
    assert r.horizon(now, 1825) == now - timedelta(days=1825)
    assert r.expired(months, now, 1825) == [date(2026, 5, 1)]
    assert r.expired(months, now, r.KEEP_FOREVER) == []


def test_partition_names_round_trip_and_other_tables_are_not_months() -> None:
    assert r.partition_name("call_log", date(2027, 3, 1)) == "call_log_p202703"
    assert r.parse_partition("call_log", "call_log_p202703") == date(2027, 3, 1)
    for other in ("call_log_default", "call_log_p2027", "call_log_p202713", "call_outcome_p202703"):
        assert r.parse_partition("call_log", other) is None


@pytest.mark.parametrize(("text", "days"), [("0", 0), ("180", 180), ("1825", 1825)])
def test_retention_is_zero_or_at_least_180_days(text: str, days: int) -> None:
    assert r.retention_days(text) == days


@pytest.mark.parametrize("text", ["-1", "1", "179", "36501", "1e3", ""])
def test_other_retentions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        r.retention_days(text)
