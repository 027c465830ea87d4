"""Caller lines over gRPC: registered, listed, and used by complaints about calls that skipped the gateway."""

from __future__ import annotations

import re
import time
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.v1 import registry_pb2
from tests.e2e.compensation_support import ORG, A, B, V, db_rows, file, hotline, register_dnd, story_calls, verdicts
from tests.e2e.conftest import CONSUMER, registry
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

DAY = 24 * 3600
LINE = "+862759004444"


def ts(offset_s: float) -> Timestamp:
    """Now + offset, as a Timestamp."""
    t = Timestamp()
    t.FromNanoseconds(int((time.time() + offset_s) * 1e9))
    return t


async def register(server: Any, number: str = LINE, org: str = ORG, agent: str = "a17", **kw: Any) -> Any:
    return await registry(server).RegisterCallerLine(
        registry_pb2.RegisterCallerLineRequest(caller_number=number, org_id=org, agent_id=agent, **kw)
    )


async def test_a_registered_line_calling_a_dnd_consumer_without_a_check_is_paid_once(server) -> None:
    """No Check from the line: CALLED_OUTSIDE_GATEWAY naming org and agent, 100 yuan, VERIFIED; filed
    again: ALREADY_COMPENSATED, still one payout."""
    line = await register(server, "027-5900-4444", valid_from=ts(-60 * DAY))
    assert (line.caller_number, line.org_id, line.agent_id, line.live) == (LINE, ORG, "a17", True)
    assert line.recorded_by and not line.HasField("valid_to")
    await register_dnd(server)
    c = await file(server, LINE)
    assert verdicts(c) == [(LINE, "VERDICT_CALLED_OUTSIDE_GATEWAY")]
    [f] = c.findings
    assert (f.org_id, f.agent_id, list(f.call_ids), f.amount.units) == (ORG, "a17", [], 100)
    assert f.payout_id.startswith("PO-") and c.total_compensation.units == 100
    assert c.status == V.COMPLAINT_STATUS_VERIFIED
    again = await file(server, LINE)
    assert verdicts(again) == [(LINE, "VERDICT_ALREADY_COMPENSATED")]
    assert (again.findings[0].payout_id, again.findings[0].compensated_by_case_id) == (f.payout_id, c.case_id)
    assert again.total_compensation.units == 0
    assert len(await db_rows(server, "SELECT 1 FROM payouts")) == 1


async def test_a_line_registered_after_the_complaint_time_is_no_matching_call(server) -> None:
    """The line is judged at the window's end: registered from after it, it matches nothing."""
    await register(server, valid_from=ts(-2 * DAY))
    await register_dnd(server)
    c = await file(server, LINE, occurred_before=ts(-3 * DAY))
    assert verdicts(c) == [(LINE, "VERDICT_NO_MATCHING_CALL")]
    assert (c.findings[0].org_id, c.total_compensation.units) == ("", 0)


async def test_a_consumer_without_do_not_disturb_gets_no_payout(server) -> None:
    """A registered line, no Check, but no DND: NOT_REGISTERED_AT_CALL_TIME naming the line's owner, REJECTED."""
    await register(server, valid_from=ts(-60 * DAY))
    c = await file(server, LINE)
    assert verdicts(c) == [(LINE, "VERDICT_NOT_REGISTERED_AT_CALL_TIME")]
    assert (c.findings[0].org_id, c.findings[0].agent_id, c.total_compensation.units) == (ORG, "a17", 0)
    assert c.status == V.COMPLAINT_STATUS_REJECTED
    assert await db_rows(server, "SELECT 1 FROM payouts") == []


async def test_a_line_with_checks_on_record_gets_the_usual_verdicts(server) -> None:
    """The story's callers are registered lines, but their Checks are on record: VERIFIED on the calls."""
    await register(server, A, valid_from=ts(-60 * DAY))
    await register(server, B, valid_from=ts(-60 * DAY))
    calls = await story_calls(server)
    c = await file(server, A, B)
    assert verdicts(c) == [(A, "VERDICT_VERIFIED"), (B, "VERDICT_VERIFIED")]
    assert [list(f.call_ids) for f in c.findings] == [calls[A], calls[B]]
    assert [f.org_id for f in c.findings] == ["", ""]


async def test_report_violations_counts_calls_outside_the_gateway(server) -> None:
    """The story's three violating calls and two verified findings, plus one finding outside the gateway."""
    await register(server, valid_from=ts(-60 * DAY))
    await story_calls(server)
    await file(server, A, B, LINE)
    r = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id=ORG))
    assert [(a.agent_id, a.violating_calls, a.verified_complaints, a.calls_outside_gateway) for a in r.agents] == [
        ("a17", 3, 3, 1)
    ]
    assert (r.violating_calls, r.verified_complaints, r.calls_outside_gateway) == (3, 3, 1)
    other = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id="someone-else"))
    assert other.calls_outside_gateway == 0


async def test_another_owners_overlap_is_failed_precondition_and_the_journal_lists_history(server) -> None:
    """Another agent overlapping: FAILED_PRECONDITION naming the owner; ended and handed on, the list
    shows every entry, and --at the one in force."""
    await register(server, valid_from=ts(-60 * DAY))
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await register(server, agent="a18", valid_from=ts(-DAY))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "a17" in (e.value.details() or "")
    handover = ts(-10 * DAY)
    await register(server, valid_from=ts(-60 * DAY), valid_to=handover)
    await register(server, agent="a18", valid_from=handover)
    every = await registry(server).ListCallerLines(registry_pb2.ListCallerLinesRequest(caller_number=LINE))
    assert [(x.agent_id, x.live) for x in every.lines] == [("a17", False), ("a17", True), ("a18", True)]
    then = await registry(server).ListCallerLines(registry_pb2.ListCallerLinesRequest(org_id=ORG, at=ts(-20 * DAY)))
    assert [x.agent_id for x in then.lines] == ["a17"]
    await register_dnd(server)
    c = await file(server, LINE)
    assert (c.findings[0].verdict, c.findings[0].agent_id) == (V.VERDICT_CALLED_OUTSIDE_GATEWAY, "a18")


async def test_lines_register_and_list_from_the_command_line(server) -> None:
    """`dncgate lines register` journals a line as E.164; `lines list` shows it; `complaint file` names it."""
    made = await cli(
        server, "lines", "register", "027 5900 4444", "--org", ORG, "--agent", "a17", "--from", "2026-01-01"
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert LINE in made.stdout and "open-ended" in made.stdout
    refused = await cli(server, "lines", "register", LINE, "--org", "other", "--from", "2026-02-01")
    assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stdout
    bad = await cli(server, "lines", "register", "12", "--org", ORG)
    assert bad.returncode == 1 and "caller_number" in bad.stdout
    listed = await cli(server, "lines", "list", "--org", ORG)
    assert listed.returncode == 0 and LINE in listed.stdout and "a17" in listed.stdout
    at = await cli(server, "lines", "list", "--number", LINE, "--at", "2025-06-01T00:00:00+08:00")
    assert at.returncode == 0 and LINE not in at.stdout
    await register_dnd(server)
    filed = await cli(server, "complaint", "file", CONSUMER, "--caller", LINE)
    assert filed.returncode == 0 and "CALLED_OUTSIDE_GATEWAY" in filed.stdout
    assert re.search(rf"line of {ORG} / a17", filed.stdout), filed.stdout
    report = await cli(server, "report", "violations", "--org", ORG)
    assert re.search(r"a17\s+│\s+0\s+│\s+-\s+│\s+1\s+│\s+1\s+│\s+0", report.stdout), report.stdout
