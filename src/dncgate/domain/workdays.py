"""Working days: deadlines counted on the Chinese public-holiday calendar, adjusted working weekends included.

A deadline of N working days from a moment ends at the end of the Nth working day after the day of
that moment, in the calendar's local time (Asia/Shanghai for China's calendar). This is how Chinese
law counts a period in days (Civil Code art. 201 and 203; the Civil Procedure Law counts the same way):
the day on which the period starts is not counted, counting begins with the next day, and the last day
lasts until 24:00. A regulator's "reply within 15 working days" of a complaint received on a Monday
morning or on a Monday at 23:50 is therefore due on the same day, and a complaint received on a
Saturday starts counting on Monday. The end of a day is represented as its last microsecond
(23:59:59.999999 local), so the due time is still on the due day (`due.date()` in the zone is the day
a person would name) and a case is overdue when `now > due`.

Under this convention, counting on from a deadline continues from its day:
`add_workdays(add_workdays(t, a), b) == add_workdays(t, a + b)`.

The calendar is data, not a rule: China publishes each year's schedule (which weekdays are holidays,
which weekends are worked instead) the winter before. A year the calendar does not know is counted on
weekdays alone; `WorkCalendar.unknown_years` says which years a count relied on that for, so the
caller can warn (the domain does not log).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

_DAY = timedelta(days=1)
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days are worked: Monday to Friday, minus the public holidays, plus the adjusted working weekends.

    `holidays` are days off that would otherwise be worked (a holiday falling on a weekend may be listed
    too: it changes nothing); `adjusted_workdays` are the Saturdays and Sundays worked to make up for a
    long holiday. `known_years` are the years whose schedule these sets hold in full; every listed day
    lies in one of them.
    """

    holidays: frozenset[date] = frozenset()
    adjusted_workdays: frozenset[date] = frozenset()
    known_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        both = self.holidays & self.adjusted_workdays
        if both:
            raise ValueError(f"{min(both).isoformat()} is listed both as a holiday and as a working day")
        weekdays = {d for d in self.adjusted_workdays if d.weekday() < _SATURDAY}
        if weekdays:
            day = min(weekdays)
            raise ValueError(
                f"{day.isoformat()} is a {day.strftime('%A')}: only a Saturday or Sunday can be an adjusted working day"
            )
        outside = {d for d in self.holidays | self.adjusted_workdays if d.year not in self.known_years}
        if outside:
            raise ValueError(f"{min(outside).isoformat()} lies in a year the calendar does not claim to know")

    def is_workday(self, day: date) -> bool:
        """Whether `day` is worked: an adjusted working weekend is, a holiday is not, else Monday to Friday."""
        if day in self.adjusted_workdays:
            return True
        return day.weekday() < _SATURDAY and day not in self.holidays

    def knows(self, year: int) -> bool:
        """Whether the official schedule of `year` is in this calendar (otherwise: weekdays only)."""
        return year in self.known_years

    def unknown_years(self, first: date, last: date) -> tuple[int, ...]:
        """The years from `first` to `last` (both included) counted on weekdays alone, in order."""
        return tuple(y for y in range(first.year, last.year + 1) if y not in self.known_years)

    def overridden_by(self, other: WorkCalendar) -> WorkCalendar:
        """This calendar with each year `other` knows replaced, whole, by `other`'s schedule of that year."""
        return WorkCalendar(
            holidays=_merge(self.holidays, other.holidays, other.known_years),
            adjusted_workdays=_merge(self.adjusted_workdays, other.adjusted_workdays, other.known_years),
            known_years=self.known_years | other.known_years,
        )


def _merge(base: Iterable[date], override: Iterable[date], years: frozenset[int]) -> frozenset[date]:
    return frozenset(d for d in base if d.year not in years) | frozenset(override)


def nth_workday_after(day: date, n: int, calendar: WorkCalendar) -> date:
    """The Nth working day after `day`, not counting `day` itself; `day` itself for n = 0."""
    if n < 0:
        raise ValueError(f"a number of working days cannot be negative: {n}")
    while n:
        day += _DAY
        if calendar.is_workday(day):
            n -= 1
    return day


def add_workdays(start: datetime, n: int, zone: tzinfo, calendar: WorkCalendar) -> datetime:
    """The deadline N working days from `start`: the end of the Nth working day after its day in `zone`.

    `start` must be aware. The result is 23:59:59.999999 of that day in `zone` (see the module's
    docstring for why); n = 0 gives the end of the start day itself.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("the start of a deadline must be an aware datetime")
    due = nth_workday_after(start.astimezone(zone).date(), n, calendar)
    return datetime.combine(due, time.max, tzinfo=zone)


def counted_days(start: datetime, due: datetime, zone: tzinfo) -> tuple[date, date] | None:
    """The first and last day a deadline from `start` to `due` counted, or None if it counted none."""
    first = start.astimezone(zone).date() + _DAY
    last = due.astimezone(zone).date()
    return (first, last) if first <= last else None
