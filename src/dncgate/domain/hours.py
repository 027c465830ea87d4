"""Calling hours: the daily window, in the callee's local time, when telemarketing calls may ring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class CallingHours:
    """A daily window [start, end) in minutes after local midnight; 0-1440 means always open."""

    start_minute: int = 9 * 60
    end_minute: int = 21 * 60

    def __post_init__(self) -> None:
        if not (0 <= self.start_minute < self.end_minute <= 1440):
            raise ValueError("calling hours must satisfy 00:00 <= start < end <= 24:00")

    @classmethod
    def parse(cls, text: str) -> CallingHours:
        """Parse `HH:MM-HH:MM` (e.g. `09:00-21:00`; `00:00-24:00` turns the rule off)."""
        try:
            start, end = (part.strip() for part in text.split("-"))
            return cls(_minutes(start), _minutes(end))
        except ValueError as exc:
            raise ValueError(f"calling hours {text!r}: expected HH:MM-HH:MM, {exc}") from None

    @property
    def always_open(self) -> bool:
        return self.start_minute == 0 and self.end_minute == 1440

    def is_open(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return self.start_minute <= minute < self.end_minute

    def next_opening(self, zone: ZoneInfo, now: datetime) -> datetime:
        """The first instant at or after `now` when the window is open in `zone`."""
        local = now.astimezone(zone)
        if self.is_open(local):
            return now
        start = time(self.start_minute // 60, self.start_minute % 60)
        day = local.date() if local.hour * 60 + local.minute < self.start_minute else local.date() + timedelta(1)
        return datetime.combine(day, start, tzinfo=zone)

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    h, m = int(hours), int(minutes)
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(f"{hhmm!r} is not a time of day")
    return h * 60 + m


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def window_check(hours: CallingHours, zones: Sequence[ZoneInfo], now: datetime) -> datetime | None:
    """None when a call may ring now in every zone of the number; else when it next may.

    A number whose region spans several time zones is called only when the window is open in all of
    them: we cannot tell which one the consumer is in. If the zones never share an open moment in the
    next two days, the far end of that horizon is returned rather than a time that is not open.
    """
    if hours.always_open or all(hours.is_open(now.astimezone(z)) for z in zones):
        return None
    candidate = now
    horizon = now + timedelta(days=2)
    while candidate < horizon:
        candidate = max(hours.next_opening(z, candidate) for z in zones)
        if all(hours.is_open(candidate.astimezone(z)) for z in zones):
            return candidate
        candidate += timedelta(minutes=1)
    return horizon
