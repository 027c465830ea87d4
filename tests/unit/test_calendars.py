"""The working-day calendar as built: chinese-calendar's data, the operator's holidays file, the warning."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from structlog.testing import capture_logs

from dncgate.calendars import Workdays, load, package_calendar, read_holidays_file
from dncgate.config import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time.max, tzinfo=SHANGHAI)


def write(tmp_path: Path, text: str, name: str = "holidays.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def unknown_year_warnings(logs: list[MutableMapping[str, Any]]) -> list[object]:
    return [e["year"] for e in logs if e["event"] == "workday_calendar_unknown_year"]


# --- chinese-calendar's data ---------------------------------------------------------------------


def test_the_package_calendar_agrees_with_chinese_calendar_on_every_day_it_knows() -> None:
    """Each day of 2004-2026 is a working day for us exactly when chinese_calendar.is_workday says so."""
    calendar = package_calendar()
    assert min(calendar.known_years) == 2004 and max(calendar.known_years) >= 2026
    day, last = date(2004, 1, 1), date(max(calendar.known_years), 12, 31)
    while day <= last:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_the_package_holds_the_official_2026_schedule() -> None:
    """The State Council's 2026 notice: the weekends worked, and the weekdays off, as published."""
    calendar = package_calendar()
    worked = sorted(d for d in calendar.adjusted_workdays if d.year == 2026)
    assert worked == [date(2026, m, d) for m, d in ((1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10))]
    off = sorted(d for d in calendar.holidays if d.year == 2026 and d.weekday() < 5)
    assert off == [
        *(date(2026, 1, d) for d in (1, 2)),  # New Year's Day
        *(date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23)),  # Spring Festival
        date(2026, 4, 6),  # Tomb-sweeping Day
        *(date(2026, 5, d) for d in (1, 4, 5)),  # Labour Day
        date(2026, 6, 19),  # Dragon Boat Festival
        date(2026, 9, 25),  # Mid-autumn Festival
        *(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),  # National Day
    ]


# --- the holidays file ---------------------------------------------------------------------------


def test_a_holidays_file_supplies_2027_and_silences_the_warning(tmp_path: Path) -> None:
    """With 1 Jan 2027 off in the file, 15 working days from Mon 21 Dec 2026 end on Tue 12 Jan, unwarned."""
    path = write(tmp_path, "date,kind,note\n2027-01-01,holiday,元旦\n2027-02-20,workday,春节\n")
    workdays = load(path)
    with capture_logs() as logs:
        assert workdays.add(datetime(2026, 12, 21, 9, tzinfo=SHANGHAI), 15) == end_of(2027, 1, 12)
        assert workdays.is_workday(date(2027, 2, 20))  # a Saturday the file says is worked
    assert unknown_year_warnings(logs) == []


def test_without_a_file_2027_is_weekdays_only_with_one_warning(tmp_path: Path) -> None:
    """The package stops at 2026: 1 Jan 2027 is counted as a Friday at work, and 2027 is warned about once."""
    workdays = load()
    with capture_logs() as logs:
        assert workdays.add(datetime(2026, 12, 21, 9, tzinfo=SHANGHAI), 15) == end_of(2027, 1, 11)
        workdays.add(datetime(2026, 12, 30, 9, tzinfo=SHANGHAI), 5)
        assert workdays.is_workday(date(2027, 1, 1))
        workdays.add(datetime(2027, 12, 28, 9, tzinfo=SHANGHAI), 5)  # into 2028: one more
    assert unknown_year_warnings(logs) == [2027, 2028]
    warning = next(e for e in logs if e["event"] == "workday_calendar_unknown_year")
    assert warning["log_level"] == "warning" and warning["known"] == "2004-2026"


def test_counting_only_inside_known_years_warns_about_nothing() -> None:
    """A count that ends on 31 Dec 2026, or counts no day at all, relies on no unknown year."""
    workdays = load()
    with capture_logs() as logs:
        workdays.add(datetime(2026, 12, 30, 9, tzinfo=SHANGHAI), 1)
        workdays.add(datetime(2026, 12, 31, 23, tzinfo=SHANGHAI), 0)
    assert unknown_year_warnings(logs) == []


def test_each_calendar_warns_once_per_year_of_its_own() -> None:
    """The once is per Workdays (one per process in the service), not per module."""
    with capture_logs() as logs:
        for _ in range(2):
            calendar = Workdays(package_calendar())
            calendar.is_workday(date(2030, 5, 1))
            calendar.is_workday(date(2030, 5, 2))
    assert unknown_year_warnings(logs) == [2030, 2030]


def test_the_file_replaces_the_package_for_the_years_it_names(tmp_path: Path) -> None:
    """A file for 2026 is all of 2026: the package's Spring Festival 2026 is gone; 2025 stays the package's."""
    calendar = load(write(tmp_path, "2026-10-09,holiday\n")).calendar
    assert calendar.is_workday(date(2026, 2, 16)) and not calendar.is_workday(date(2026, 2, 14))
    assert not calendar.is_workday(date(2026, 10, 9))
    assert not calendar.is_workday(date(2025, 1, 28))


def test_a_file_may_carry_a_bom_comments_blank_lines_and_any_case(tmp_path: Path) -> None:
    """What a spreadsheet or a hand edit produces is read: `# ...`, blank lines, `Holiday`, a BOM."""
    path = tmp_path / "h.csv"
    path.write_text(
        "# 2027, from the State Council notice\nDate,Kind\n\n 2027-01-01 , Holiday \n", encoding="utf-8-sig"
    )
    calendar = read_holidays_file(path)
    assert calendar.holidays == {date(2027, 1, 1)} and calendar.known_years == {2027}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("2027-01-01,holiday\n2027-02-30,holiday\n", 2, "'2027-02-30' is not a date written YYYY-MM-DD"),
        ("2027/01/01,holiday\n", 1, "not a date"),
        ("20270101,holiday\n", 1, "not a date"),
        ("# comment\n\n2027-01-01,rest\n", 3, "kind 'rest': expected holiday or workday"),
        ("2027-01-01\n", 1, "expected date,kind[,note], got 1 fields"),
        ("2027-01-01,holiday,note,extra\n", 1, "got 4 fields"),
        ("2027-01-01,holiday\n2027-01-02,workday\n2027-01-01,holiday\n", 3, "2027-01-01 is already listed on line 1"),
        ("2027-01-04,workday\n", 1, "2027-01-04 is a Monday: an adjusted working day is a Saturday or Sunday"),
        ('2027-01-01,holiday,"a note\nover two lines"\n2027-01-02,rest\n', 3, "kind 'rest'"),
        ("2027-01-01,holiday\ndate,kind\n", 2, "'date' is not a date"),
    ],
)
def test_a_bad_line_is_a_config_error_naming_the_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    """Each mistake is refused at start-up with `file:line: what is wrong`."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_holidays_file(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_a_missing_empty_or_undecodable_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that can't be read, or lists no dates, names the file."""
    with pytest.raises(ConfigError, match=r"missing\.csv: cannot read"):
        load(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="lists no dates"):
        read_holidays_file(write(tmp_path, "date,kind\n# nothing yet\n"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("2027-01-01,holiday,f\xeate\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.csv: cannot read"):
        read_holidays_file(latin)
