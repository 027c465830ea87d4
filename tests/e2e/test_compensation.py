"""The hotline story end to end over real gRPC: verified at once, paid once per consumer and caller, ever."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.e2e.compensation_support import (
    ORG,
    A,
    B,
    C,
    Clock,
    V,
    call,
    db_rows,
    file,
    hotline,
    story_calls,
    verdicts,
    yuan,
)
from tests.e2e.conftest import CONSUMER

pytestmark = pytest.mark.e2e

DAY = 24 * 3600


async def test_the_hotline_story_verifies_two_callers_and_owes_200_yuan(server) -> None:
    """Two callers VERIFIED with their call ids, the misremembered one NO_MATCHING_CALL, 200.00 CNY owed."""
    calls = await story_calls(server)
    c = await file(server, A, B, C, description="calls about flats")
    filed_on = c.created_at.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))  # the hotline's date
    assert c.case_id == f"DNC-{filed_on:%Y%m%d}-000001"
    assert re.fullmatch(r"DNC-\d{8}-\d{6}", c.case_id)
    assert c.status == V.COMPLAINT_STATUS_PARTIALLY_VERIFIED
    assert verdicts(c) == [(A, "VERDICT_VERIFIED"), (B, "VERDICT_VERIFIED"), (C, "VERDICT_NO_MATCHING_CALL")]
    assert [list(f.call_ids) for f in c.findings] == [calls[A], calls[B], []]
    assert [yuan(f.amount) for f in c.findings] == [("CNY", 100, 0), ("CNY", 100, 0), ("CNY", 0, 0)]
    assert yuan(c.total_compensation) == ("CNY", 200, 0)
    assert all(f.payout_id.startswith("PO-") for f in c.findings[:2]) and c.findings[2].payout_id == ""
    assert c.consumer_number_masked == "+86138****8000"
    assert c.resolution_due.ToSeconds() - c.created_at.ToSeconds() == 72 * 3600
    assert c.first_response_due.ToSeconds() - c.created_at.ToSeconds() == 24 * 3600
    assert [h.action for h in c.history] == ["filed", "partially_verified"]
    assert (await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=c.case_id))) == c


async def test_calling_again_the_next_day_is_already_compensated_and_owes_nothing(server) -> None:
    """The same numbers a day later: a new case, ALREADY_COMPENSATED (not REJECTED) and linked to the
    case that paid, with the first payouts and 0 owed."""
    await story_calls(server)
    first = await file(server, A, B, C)
    Clock(server).advance(DAY)
    again = await file(server, A, B)
    assert verdicts(again) == [(A, "VERDICT_ALREADY_COMPENSATED"), (B, "VERDICT_ALREADY_COMPENSATED")]
    assert [f.payout_id for f in again.findings] == [f.payout_id for f in first.findings[:2]]
    assert yuan(again.total_compensation) == ("CNY", 0, 0)
    assert again.status == V.COMPLAINT_STATUS_ALREADY_COMPENSATED and again.case_id != first.case_id
    assert [f.compensated_by_case_id for f in again.findings] == [first.case_id, first.case_id]
    assert [f.compensated_by_case_id for f in first.findings] == ["", "", ""]
    assert [h.action for h in again.history] == ["filed", "already_compensated"]
    assert len(await db_rows(server, "SELECT 1 FROM payouts")) == 2


async def test_fifty_operators_filing_at_once_book_exactly_one_payout_per_caller(server) -> None:
    """50 concurrent FileComplaints: one payout per pair in PostgreSQL and every reply agrees with it."""
    await story_calls(server)
    replies = await asyncio.gather(*(file(server, A, B, C) for _ in range(50)))
    payouts = dict(await db_rows(server, "SELECT caller_e164, payout_id FROM payouts"))
    assert sorted(payouts) == [A, B]
    for caller in (A, B):
        got = [f for r in replies for f in r.findings if f.caller_number == caller]
        assert len(got) == 50
        assert sum(f.verdict == V.VERDICT_VERIFIED for f in got) == 1
        assert sum(f.verdict == V.VERDICT_ALREADY_COMPENSATED for f in got) == 49
        assert {f.payout_id for f in got} == {payouts[caller]}
    assert sum(r.total_compensation.units for r in replies) == 200
    for r in replies:
        owed = [f for f in r.findings if f.verdict == V.VERDICT_VERIFIED]
        assert r.total_compensation.units == 100 * len(owed)
        # C never called, so a case owing anything is partially verified; one owing nothing was
        # compensated by the case that won, which its findings name.
        assert r.status == (V.COMPLAINT_STATUS_PARTIALLY_VERIFIED if owed else V.COMPLAINT_STATUS_ALREADY_COMPENSATED)
    assert len({r.case_id for r in replies}) == 50
    booked = await db_rows(
        server,
        "SELECT p.case_id, f.case_id FROM payouts p JOIN complaint_findings f USING (payout_id)"
        " WHERE f.verdict = 'VERIFIED'",
    )
    assert len(booked) == 2 and all(p == f for p, f in booked)


async def test_the_same_request_id_returns_the_same_complaint_and_writes_nothing(server) -> None:
    """A retried FileComplaint (even concurrently) is the first one's case, with nothing new written."""
    await story_calls(server)
    replies = await asyncio.gather(*(file(server, A, B, request_id="hotline-7") for _ in range(5)))
    assert len({r.case_id for r in replies}) == 1
    assert all(r == replies[0] for r in replies)
    again = await file(server, A, B, request_id="hotline-7")
    assert again == replies[0]
    assert len(await db_rows(server, "SELECT 1 FROM complaints")) == 1
    assert len(await db_rows(server, "SELECT 1 FROM complaint_history")) == 2


async def test_a_request_id_reused_for_another_consumer_is_already_exists(server) -> None:
    """The same request_id for someone else's complaint is refused, not silently answered."""
    await file(server, A, request_id="r1")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await file(server, A, consumer="13912345678", request_id="r1")
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("consumer", "callers", "field"),
    [("", [A], "consumer_number"), ("12345", [A], "consumer_number"), (CONSUMER, [], "caller_numbers")],
)
async def test_bad_complaints_are_invalid_argument_naming_the_field(server, consumer, callers, field) -> None:
    """A missing or invalid consumer number, or no caller at all, is INVALID_ARGUMENT on that field."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await file(server, *callers, consumer=consumer)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(info.value)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == [field]


async def test_an_unparsable_caller_is_a_finding_not_an_error(server) -> None:
    """Text that is no number comes back as typed, NO_MATCHING_CALL; numbers in any format are normalised."""
    await story_calls(server)
    c = await file(server, "027-5900-1111", "not a number", "+86 27 5900 1111")
    assert verdicts(c) == [(A, "VERDICT_VERIFIED"), ("not a number", "VERDICT_NO_MATCHING_CALL")]


async def test_an_unknown_case_is_not_found(server) -> None:
    """GetComplaint of a case that does not exist is NOT_FOUND."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await hotline(server).GetComplaint(V.GetComplaintRequest(case_id="DNC-20260101-999999"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_complaint_filed_right_after_the_call_finds_it(server) -> None:
    """No waiting for the recorder: a call checked a moment ago is already evidence."""
    await story_calls(server)
    fresh = await call(server, C)
    c = await file(server, C)
    assert (verdicts(c), list(c.findings[0].call_ids)) == ([(C, "VERDICT_VERIFIED")], [fresh])


async def test_the_violation_report_names_the_agent(server) -> None:
    """ReportViolations counts the story's three violating calls and two verified findings for agent a17."""
    await story_calls(server)
    await file(server, A, B, C)
    r = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id=ORG))
    assert [(a.agent_id, a.violating_calls, a.verified_complaints) for a in r.agents] == [("a17", 3, 2)]
    assert (r.org_id, r.violating_calls, r.verified_complaints) == (ORG, 3, 2)
