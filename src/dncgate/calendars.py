"""The working-day calendar deadlines are counted on: chinese-calendar's schedule, an operator's file over it.

`load(holidays_file)` builds a `Workdays` for the service layer: the official schedules the
`chinese-calendar` package ships (2004 to 2026 in 1.11), with each year named in the operator's CSV file
replaced by the file's schedule of that year. A year neither knows is counted on weekdays alone, and
`Workdays` logs `workday_calendar_unknown_year` the first time a count relies on that for the year.

The file: one date per line, `date,kind[,note]`, the kind `holiday` (a day off) or `workday` (an
adjusted working Saturday or Sunday); an optional header line `date,kind`, blank lines and lines
starting with `#` are skipped. For each year it names, the file is that year's whole schedule.
"""

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog

from dncgate.config import ConfigError
from dncgate.domain.workdays import WorkCalendar, add_workdays, counted_days

log = structlog.get_logger("dncgate.calendars")

# China's public holidays are days in Beijing time, wherever the consumer is.
CHINA = ZoneInfo("Asia/Shanghai")
_KINDS = ("holiday", "workday")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Workdays:
    """Working-day deadlines on one calendar, in one zone; warns once per year it has to count on weekdays alone."""

    def __init__(self, calendar: WorkCalendar, zone: tzinfo = CHINA) -> None:
        self.calendar = calendar
        self.zone = zone
        self._warned: set[int] = set()
        self._lock = threading.Lock()

    def is_workday(self, day: date) -> bool:
        """Whether `day` is worked in China (weekdays only, with a warning, in a year no schedule covers)."""
        self._warn(self.calendar.unknown_years(day, day))
        return self.calendar.is_workday(day)

    def add(self, start: datetime, n: int) -> datetime:
        """The end of the Nth working day after `start`'s day (see dncgate.domain.workdays for the convention)."""
        due = add_workdays(start, n, self.zone, self.calendar)
        span = counted_days(start, due, self.zone)
        if span is not None:
            self._warn(self.calendar.unknown_years(*span))
        return due

    def _warn(self, years: Iterable[int]) -> None:
        with self._lock:
            new = [y for y in years if y not in self._warned]
            self._warned.update(new)
        for year in new:
            log.warning(
                "workday_calendar_unknown_year",
                year=year,
                counted="weekdays only",
                known=_ranges(self.calendar.known_years),
            )


def load(holidays_file: Path | None = None, zone: tzinfo = CHINA) -> Workdays:
    """The calendar of chinese-calendar, with the years `holidays_file` names taken from it instead."""
    calendar = package_calendar()
    if holidays_file is not None:
        calendar = calendar.overridden_by(read_holidays_file(holidays_file))
    return Workdays(calendar, zone)


def package_calendar() -> WorkCalendar:
    """The official schedules shipped by `chinese-calendar`: every year from its first to its last."""
    holidays: frozenset[date] = frozenset(chinese_calendar.holidays)
    workdays: frozenset[date] = frozenset(chinese_calendar.workdays)
    years = {d.year for d in holidays}
    return WorkCalendar(holidays, workdays, frozenset(range(min(years), max(years) + 1)))


def read_holidays_file(path: Path) -> WorkCalendar:
    """The schedule in an operator's CSV file; ConfigError naming `file:line` for a line that is wrong."""
    try:
        # utf-8-sig: a spreadsheet saving "CSV UTF-8" starts the file with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            # Each row that is neither blank nor a comment, with the line it ends on.
            rows = [(reader.line_num, row) for row in reader if not _skipped(row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the holidays file: {exc}") from None
    seen: dict[date, int] = {}
    holidays: set[date] = set()
    workdays: set[date] = set()
    for lineno, row in rows:
        if not seen and [c.strip().lower() for c in row[:2]] == ["date", "kind"]:
            continue  # the header
        where = f"{path}:{lineno}"
        day, kind = _parse_row(row, where)
        if day in seen:
            raise ConfigError(f"{where}: {day.isoformat()} is already listed on line {seen[day]}")
        seen[day] = lineno
        (holidays if kind == "holiday" else workdays).add(day)
    if not seen:
        raise ConfigError(f"{path}: the holidays file lists no dates (expected lines of date,kind)")
    return WorkCalendar(frozenset(holidays), frozenset(workdays), frozenset(d.year for d in seen))


def _skipped(row: list[str]) -> bool:
    return not any(c.strip() for c in row) or row[0].lstrip().startswith("#")


def _parse_row(row: list[str], where: str) -> tuple[date, str]:
    if len(row) not in (2, 3):
        raise ConfigError(f"{where}: expected date,kind[,note], got {len(row)} fields")
    text, kind = row[0].strip(), row[1].strip().lower()
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a date written YYYY-MM-DD") from None
    if kind not in _KINDS:
        raise ConfigError(f"{where}: kind {row[1].strip()!r}: expected holiday or workday")
    if kind == "workday" and day.weekday() < 5:
        raise ConfigError(f"{where}: {text} is a {day.strftime('%A')}: an adjusted working day is a Saturday or Sunday")
    return day, kind


def _ranges(years: Iterable[int]) -> str:
    """`2004-2026, 2028` for the years a calendar knows, or `none`."""
    spans: list[list[int]] = []
    for y in sorted(years):
        if spans and spans[-1][1] == y - 1:
            spans[-1][1] = y
        else:
            spans.append([y, y])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans) or "none"
