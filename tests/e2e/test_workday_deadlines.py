"""A regulator's reply and a major case's progress statement, due in working days on China's calendar,
over the real server: Spring Festival and National Day 2026 with their adjusted working weekends."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest

from dncgate.api.convert import ts
from tests.e2e.compensation_support import A, Clock, V, file, hotline, refused, story_calls
from tests.e2e.conftest import CONSUMER
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def end_of(day: str) -> datetime:
    """24:00 of a day in Beijing: the last microsecond of it, as a deadline is kept."""
    return datetime.combine(datetime.fromisoformat(day).date(), clock_time.max, tzinfo=BEIJING)


def stop_at(clock: Clock, moment: datetime) -> None:
    """Put the service's clock at `moment` (it runs on from there)."""
    clock.offset = moment.timestamp() - time.time()


def due(stamp: Any) -> datetime:
    return stamp.ToDatetime(tzinfo=BEIJING)


def _window() -> dict[str, Any]:
    """The calls of the story happen now (real time), whatever the service's clock says."""
    now = datetime.now(BEIJING)
    return {"occurred_after": ts(now - timedelta(hours=1)), "occurred_before": ts(now + timedelta(hours=1))}


def _reply(case_id: str, text: str, kind: int, visible: bool = False) -> Any:
    return V.AddComplaintUpdateRequest(case_id=case_id, text=text, kind=kind, visible_to_consumer=visible)


async def test_a_regulator_case_is_due_its_reply_in_15_working_days_across_spring_festival(server: Any) -> None:
    """Filed on Friday 6 February 2026: 15 working days skip 15-23 February and count the worked Saturdays
    14 and 28 February, so the reply is due at the end of Thursday 5 March (weekdays alone: 27 February).
    Past it unanswered, the case is overdue and listed so; the first reply records regulator_replied_at
    and ends it; the reply stays internal unless marked visible."""
    clock = Clock(server)
    stop_at(clock, beijing("2026-02-06T10:00"))
    stub = hotline(server)
    c = await stub.FileComplaint(
        V.FileComplaintRequest(consumer_number=CONSUMER, caller_numbers=[A], channel=V.CHANNEL_REGULATOR)
    )
    assert c.channel == V.CHANNEL_REGULATOR
    assert due(c.regulator_reply_due) == end_of("2026-03-05")
    assert not c.regulator_reply_overdue and not c.HasField("regulator_replied_at") and not c.major
    assert "regulator_reply_due" in [h.action for h in c.history]
    listed = await stub.ListComplaints(V.ListComplaintsRequest(regulator_reply_overdue_only=True))
    assert list(listed.complaints) == []
    stop_at(clock, beijing("2026-03-05T23:59"))
    assert not (await stub.GetComplaint(V.GetComplaintRequest(case_id=c.case_id))).regulator_reply_overdue
    stop_at(clock, beijing("2026-03-06T00:01"))
    late = await stub.GetComplaint(V.GetComplaintRequest(case_id=c.case_id))
    assert late.regulator_reply_overdue
    listed = await stub.ListComplaints(V.ListComplaintsRequest(regulator_reply_overdue_only=True))
    assert [x.case_id for x in listed.complaints] == [c.case_id]
    replied = await stub.AddComplaintUpdate(
        _reply(c.case_id, "replied to 12321: no call on record; she is on 13800138000", V.UPDATE_KIND_REGULATOR_REPLY)
    )
    u = replied.updates[-1]
    assert (u.kind, u.visible_to_consumer, u.text) == (
        V.UPDATE_KIND_REGULATOR_REPLY,
        False,
        "replied to 12321: no call on record; she is on +86138****8000",
    )
    assert replied.regulator_replied_at == u.at and not replied.regulator_reply_overdue
    # A reply to the regulator is not an update to the consumer: the update clock does not move.
    assert replied.next_update_due == late.next_update_due
    again = await stub.AddComplaintUpdate(_reply(c.case_id, "second letter", V.UPDATE_KIND_REGULATOR_REPLY, True))
    assert again.regulator_replied_at == u.at and again.updates[-1].visible_to_consumer
    listed = await stub.ListComplaints(V.ListComplaintsRequest(regulator_reply_overdue_only=True))
    assert list(listed.complaints) == []


async def test_a_regulator_reply_is_refused_on_a_case_from_another_channel(server: Any) -> None:
    """A hotline case has no regulator deadline, and a reply to the regulator on it is FAILED_PRECONDITION;
    EXTENSION is ExtendComplaint's, not AddComplaintUpdate's; an unknown kind is INVALID_ARGUMENT."""
    stub = hotline(server)
    c = await file(server, A)
    assert not c.HasField("regulator_reply_due") and not c.regulator_reply_overdue
    err = await refused(stub.AddComplaintUpdate, _reply(c.case_id, "reply", V.UPDATE_KIND_REGULATOR_REPLY))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "CHANNEL_REGULATOR" in (err.details() or "")
    err = await refused(stub.AddComplaintUpdate, _reply(c.case_id, "x", V.UPDATE_KIND_EXTENSION))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await refused(stub.AddComplaintUpdate, _reply(c.case_id, "x", 99))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await refused(stub.AddComplaintUpdate, _reply(c.case_id, "x", V.UPDATE_KIND_PROGRESS_STATEMENT))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "major" in (err.details() or "")
    assert list((await stub.GetComplaint(V.GetComplaintRequest(case_id=c.case_id))).updates) == []


async def test_a_case_escalated_at_filing_owes_its_statement_in_10_working_days_across_national_day(
    server: Any,
) -> None:
    """Major from Friday 18 September 2026: Sunday 20 September is worked, Mid-Autumn (25 September) and
    1-7 October are not, so the progress statement is due at the end of Friday 9 October. Past it the
    case is progress_statement_overdue until the statement (always visible) is recorded."""
    await story_calls(server)
    clock = Clock(server)
    stop_at(clock, beijing("2026-09-18T16:30"))
    stub = hotline(server)
    c = await file(server, A, escalate=True, **_window())
    assert c.major and c.status == V.COMPLAINT_STATUS_VERIFIED
    assert due(c.progress_statement_due) == end_of("2026-10-09")
    assert [h.action for h in c.history if h.action == "escalated"] == ["escalated"]
    stop_at(clock, beijing("2026-10-10T09:00"))
    late = await stub.GetComplaint(V.GetComplaintRequest(case_id=c.case_id))
    assert late.progress_statement_overdue
    stated = await stub.AddComplaintUpdate(
        _reply(c.case_id, "the org's records are with us", V.UPDATE_KIND_PROGRESS_STATEMENT, visible=False)
    )
    u = stated.updates[-1]
    assert (u.kind, u.visible_to_consumer) == (V.UPDATE_KIND_PROGRESS_STATEMENT, True)
    assert not stated.progress_statement_overdue
    # A visible statement restarts the update clock like any update to the consumer.
    assert stated.next_update_due.ToSeconds() == u.at.ToSeconds() + 24 * 3600
    err = await refused(stub.EscalateComplaint, V.EscalateComplaintRequest(case_id=c.case_id, reason="worse"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "major already" in (err.details() or "")


async def test_an_open_case_escalated_later_counts_from_that_day_under_the_principal(server: Any, desk: Any) -> None:
    """Escalated on Friday 9 October 2026 (after National Day): the worked Saturday 10 October counts, so
    the statement is due at the end of Thursday 22 October. The history names the principal and the
    masked reason; the reason is required; a settled case cannot be escalated; compliance may not."""
    await story_calls(server)
    clock = Clock(server)
    stop_at(clock, beijing("2026-09-30T11:00"))
    line, label = await desk("hotline zhao", "hotline")
    c = await file(server, A, **_window())
    assert not c.major and not c.HasField("progress_statement_due")
    stop_at(clock, beijing("2026-10-09T15:00"))
    missing = await refused(line.EscalateComplaint, V.EscalateComplaintRequest(case_id=c.case_id, reason=" "))
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT
    auditor, _ = await desk("auditor sun", "compliance")
    denied = await refused(auditor.EscalateComplaint, V.EscalateComplaintRequest(case_id=c.case_id, reason="r"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    request = V.EscalateComplaintRequest(
        case_id=c.case_id, reason="she reports threats; call her on 13800138000", request_id="esc-1"
    )
    major = await line.EscalateComplaint(request)
    assert major.major and due(major.progress_statement_due) == end_of("2026-10-22")
    entry = major.history[-1]
    assert (entry.action, entry.actor) == ("escalated", label)
    assert entry.note.endswith("she reports threats; call her on +86138****8000")
    assert (await line.EscalateComplaint(request)).history == major.history  # a replay writes nothing
    rejected = await file(server, "+862759009999", consumer="13900139000")
    assert rejected.status == V.COMPLAINT_STATUS_REJECTED
    err = await refused(line.EscalateComplaint, V.EscalateComplaintRequest(case_id=rejected.case_id, reason="r"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_the_command_line_escalates_replies_and_shows_the_due_times(server: Any) -> None:
    """`complaint file --escalate`, `update --kind regulator-reply|progress-statement`, `escalate`, and
    `show` with the due times and OVERDUE marks."""
    clock = Clock(server)
    stop_at(clock, beijing("2026-02-06T10:00"))
    filed = await cli(server, "complaint", "file", CONSUMER, "--caller", A, "--channel", "regulator", "--escalate")
    assert filed.returncode == 0, filed.stderr
    case_id = re.search(r"DNC-\d{8}-\d{6}", filed.stdout).group(0)  # type: ignore[union-attr]
    assert "regulator reply due" in filed.stdout and "progress statement due" in filed.stdout
    stop_at(clock, beijing("2026-03-20T10:00"))
    shown = await cli(server, "complaint", "show", case_id)
    assert shown.returncode == 0 and "OVERDUE: no reply yet" in shown.stdout
    assert "OVERDUE: no progress statement yet" in shown.stdout
    replied = await cli(server, "complaint", "update", case_id, "--kind", "regulator-reply", "--text", "answered")
    assert replied.returncode == 0, replied.stderr
    assert "reply to the regulator" in replied.stdout and "no reply yet" not in replied.stdout
    stated = await cli(server, "complaint", "update", case_id, "--kind", "progress-statement", "--text", "status")
    assert stated.returncode == 0 and "no progress statement yet" not in stated.stdout
    again = await cli(server, "complaint", "escalate", case_id, "--reason", "again")
    assert again.returncode != 0 and "major already" in again.stdout + again.stderr
