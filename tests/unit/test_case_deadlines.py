"""Regulator replies, major cases and erasure in the domain: which update goes where, and what is overdue."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dncgate import calendars
from dncgate.domain import case as cases
from dncgate.domain.case import Channel, Status, UpdateKind
from dncgate.domain.erasure import check_erasable
from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from tests.unit.test_case_updates import T0, H, case

BEIJING = ZoneInfo("Asia/Shanghai")


def test_a_regulator_reply_goes_on_regulator_cases_only_and_in_every_status() -> None:
    """FAILED_PRECONDITION on another channel; on a regulator case even CLOSED takes it."""
    with pytest.raises(FailedPrecondition, match="CHANNEL_REGULATOR"):
        cases.check_update_kind(case(), UpdateKind.REGULATOR_REPLY)
    for status in Status:
        cases.check_update_kind(replace(case(status), channel=Channel.REGULATOR), UpdateKind.REGULATOR_REPLY)


def test_a_progress_statement_goes_on_major_cases_only_and_is_always_visible() -> None:
    """Not major: FAILED_PRECONDITION; major: allowed until CLOSED, and shown to the consumer either way."""
    with pytest.raises(FailedPrecondition, match="major"):
        cases.check_update_kind(case(), UpdateKind.PROGRESS_STATEMENT)
    major = replace(case(), major_since=T0, progress_statement_due=T0 + 240 * H)
    cases.check_update_kind(major, UpdateKind.PROGRESS_STATEMENT)
    with pytest.raises(FailedPrecondition):
        cases.check_update_kind(replace(major, status=Status.CLOSED), UpdateKind.PROGRESS_STATEMENT)
    assert cases.visible_for(UpdateKind.PROGRESS_STATEMENT, False)
    assert not cases.visible_for(UpdateKind.REGULATOR_REPLY, False)
    with pytest.raises(InvalidArgument, match="kind"):
        cases.check_update_kind(case(), UpdateKind.EXTENSION)


def test_only_an_open_case_not_yet_major_can_be_escalated() -> None:
    """A settled case or one already major: FAILED_PRECONDITION."""
    cases.check_escalatable(case(Status.VERIFIED))
    with pytest.raises(FailedPrecondition, match="REJECTED"):
        cases.check_escalatable(case(Status.REJECTED))
    with pytest.raises(FailedPrecondition, match="major already"):
        cases.check_escalatable(replace(case(), major_since=T0, progress_statement_due=T0 + H))


def test_a_deadline_is_overdue_only_past_its_due_time_and_unmet() -> None:
    """Not before the due time, not once met (even late), never without a due time."""
    due = T0 + 10 * H
    c = replace(case(), regulator_reply_due=due, major_since=T0, progress_statement_due=due)
    assert not c.regulator_reply_overdue(due) and c.regulator_reply_overdue(due + timedelta(microseconds=1))
    assert c.progress_statement_overdue(due + H)
    met = replace(c, regulator_replied_at=due + 5 * H, progress_statement_at=due + 5 * H)
    assert not met.regulator_reply_overdue(due + 9 * H) and not met.progress_statement_overdue(due + 9 * H)
    assert not case().regulator_reply_overdue(T0 + 9999 * H) and not case().major


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        ("2026-02-06T10:00", 15, "2026-03-05"),  # Spring Festival off, Saturdays 14 and 28 February worked
        ("2026-02-13T23:50", 10, "2026-03-05"),  # the filing day is never counted, however late
        ("2026-09-18T16:30", 10, "2026-10-09"),  # Sunday 20 September worked; Mid-Autumn and 1-7 October off
        ("2026-10-09T15:00", 10, "2026-10-22"),  # Saturday 10 October worked
    ],
)
def test_the_regulator_and_major_deadlines_on_china_s_2026_calendar(start: str, days: int, due: str) -> None:
    """The package's calendar, as the service counts (calendars.Workdays.add): the end of the due day."""
    workdays = calendars.Workdays(calendars.package_calendar())
    at = workdays.add(datetime.fromisoformat(start).replace(tzinfo=BEIJING).astimezone(UTC), days)
    assert at.astimezone(BEIJING).date().isoformat() == due and at.astimezone(BEIJING).hour == 23


def test_an_erasure_waits_for_every_pending_payout_and_names_them() -> None:
    """Pending payouts: FAILED_PRECONDITION with their ids in order; none: allowed."""
    check_erasable([])
    with pytest.raises(FailedPrecondition, match="PO-a, PO-b"):
        check_erasable(["PO-b", "PO-a"])
