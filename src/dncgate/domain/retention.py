"""Monthly partitions of the call log, outcomes and notices: which months to have, which to drop (pure).

Months are UTC calendar months, named by their first day. A month is dropped only when all of it is
older than the retention horizon (now - retention days): a row is never dropped before its time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

KEEP_FOREVER = 0  # DNCGATE_CALL_LOG_RETENTION_DAYS=0: partitions are created, never dropped
# A shorter retention would drop calls a complaint may still be filed about and consent evidence
# China's draft rules keep at least five months: 180 days is the least accepted, besides 0.
MIN_RETENTION_DAYS = 180
MAX_RETENTION_DAYS = 36_500


def month_of(at: datetime) -> date:
    """The first day of the UTC month `at` is in."""
    utc = at.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def add_months(month: date, n: int) -> date:
    """The first day of the month `n` months after `month` (before it, for a negative n)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def month_end(month: date) -> datetime:
    """The first instant after the month (its partition's exclusive upper bound)."""
    return month_start(add_months(month, 1))


def months_ahead(now: datetime, ahead: int) -> list[date]:
    """The current month and the `ahead` after it: the partitions that must exist before rows arrive."""
    first = month_of(now)
    return [add_months(first, i) for i in range(ahead + 1)]


def horizon(now: datetime, retention_days: int) -> datetime | None:
    """The instant before which rows are past retention; None when they are kept forever."""
    return None if retention_days == KEEP_FOREVER else now - timedelta(days=retention_days)


def expired(months: list[date], now: datetime, retention_days: int) -> list[date]:
    """The months wholly before the retention horizon (their last instant is older than it), oldest first."""
    limit = horizon(now, retention_days)
    if limit is None:
        return []
    return sorted(m for m in months if month_end(m) <= limit)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month.year:04d}{month.month:02d}"


def parse_partition(table: str, name: str) -> date | None:
    """The month of a partition named by `partition_name`; None for any other table (the default)."""
    prefix = f"{table}_p"
    digits = name[len(prefix) :]
    if not name.startswith(prefix) or len(digits) != 6 or not digits.isdigit():
        return None
    year, month = int(digits[:4]), int(digits[4:])
    return date(year, month, 1) if 1 <= month <= 12 else None


def retention_days(text: str) -> int:
    """DNCGATE_CALL_LOG_RETENTION_DAYS: 0 (keep forever) or MIN..MAX days; ValueError otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an integer") from None
    if value == KEEP_FOREVER:
        return value
    if not MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"{value} is outside {MIN_RETENTION_DAYS}..{MAX_RETENTION_DAYS} (or 0 to keep every month forever)"
        )
    return value
