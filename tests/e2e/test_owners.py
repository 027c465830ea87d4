"""Owners, queue and stages over the real server: round-robin assignment (away, revoked and none
available, concurrent filings), AssignComplaint, SetOperatorAvailability, each filing's timeline, the
consumer's sign-off (not resolved reopens to the same assignee), and ListComplaints' new filters."""

from __future__ import annotations

import asyncio
import collections
import re
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.v1 import registry_pb2
from tests.e2e.compensation_support import (
    ORG,
    A,
    B,
    C,
    Clock,
    V,
    bad_field,
    call,
    db_rows,
    hotline,
    refused,
    story_calls,
)
from tests.e2e.conftest import CONSUMER, registry
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

HOUR = 3600
SYSTEM = "dncgate"


def _timeline(c: Any) -> list[tuple[str, str]]:
    return [(V.Stage.Name(e.stage).removeprefix("STAGE_"), e.actor) for e in c.timeline]


async def _operators(desk: Any, *names: str, role: str = "hotline", available: bool = True) -> list[Any]:
    """A stub per operator (a token of `role` named so), each marked available (or away) by herself."""
    stubs = []
    for name in names:
        stub, _ = await desk(name, role)
        await stub.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=available))
        stubs.append(stub)
    return stubs


async def _file_as(stub: Any, *callers: str, **kw: Any) -> Any:
    return await stub.FileComplaint(
        V.FileComplaintRequest(consumer_number=CONSUMER, caller_numbers=list(callers), **kw)
    )


async def test_new_cases_go_round_robin_over_the_available_operators(server: Any, desk: Any) -> None:
    """Three available operators get new cases in turn; one who goes away is skipped until she is back."""
    await _operators(desk, "op-a", "op-b", "op-c")
    filer, _ = await desk("filer li", "hotline")
    got = [(await _file_as(filer, C)).assignee for _ in range(6)]
    assert got == ["op-a", "op-b", "op-c", "op-a", "op-b", "op-c"]
    away = await hotline(server).SetOperatorAvailability(
        V.SetOperatorAvailabilityRequest(available=False, operator="op-b")
    )
    assert (away.name, away.available, away.assigned_count) == ("op-b", False, 2)
    assert away.updated_by.startswith("bootstrap-admin (token ")
    got = [(await _file_as(filer, C)).assignee for _ in range(4)]
    assert got == ["op-a", "op-c", "op-a", "op-c"]
    case = await _file_as(filer, C)
    assert case.assignee == "op-a" and [h.action for h in case.history] == ["filed", "rejected"]


async def test_with_no_operator_available_the_filer_keeps_the_case(server: Any, desk: Any) -> None:
    """Operators away, or with only a revoked token, get nothing: the case stays with its filer."""
    await _operators(desk, "op-away", available=False)
    await _operators(desk, "op-revoked")
    filer, _ = await desk("filer li", "hotline")
    assert (await _file_as(filer, C)).assignee == "op-revoked"
    (token_id,) = [r.id for r in await server.app.access.list() if r.name == "op-revoked"]
    await server.app.access.revoke("test", token_id)
    case = await _file_as(filer, C)
    assert case.assignee == "filer li"
    # An operator with a second, live token of the same name is back in the queue.
    await desk("op-revoked", "supervisor")
    assert (await _file_as(filer, C)).assignee == "op-revoked"


async def test_concurrent_filings_take_their_turns_one_after_another(server: Any, desk: Any) -> None:
    """20 filings at once over 4 available operators: 5 cases each, no operator skipped or doubled."""
    await _operators(desk, "op-1", "op-2", "op-3", "op-4")
    filer, _ = await desk("filer li", "hotline")
    filed = await asyncio.gather(*(_file_as(filer, C) for _ in range(20)))
    assert collections.Counter(c.assignee for c in filed) == {"op-1": 5, "op-2": 5, "op-3": 5, "op-4": 5}
    counts = await db_rows(server, "SELECT name, assigned_count FROM operators ORDER BY name")
    assert counts == [("op-1", 5), ("op-2", 5), ("op-3", 5), ("op-4", 5)]


async def test_setting_another_operators_availability_needs_a_supervisor(server: Any, desk: Any) -> None:
    """A hotline token sets its own availability only (someone else's is PERMISSION_DENIED, MISSING_ROLE,
    naming the field); a supervisor sets anyone's; a malformed name is INVALID_ARGUMENT naming operator."""
    line, label = await desk("op-a", "hotline")
    boss, boss_label = await desk("boss qian", "supervisor")
    own = await line.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=True))
    assert (own.name, own.available, own.updated_by) == ("op-a", True, label)
    same = await line.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=True, operator="op-a"))
    assert same.available
    denied = await refused(
        line.SetOperatorAvailability, V.SetOperatorAvailabilityRequest(available=True, operator="op-b")
    )
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    status = rpc_status.from_call(denied)
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    assert (info.reason, info.metadata["field"]) == ("MISSING_ROLE", "operator")
    set_by_boss = await boss.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(operator="op-a"))
    assert (set_by_boss.available, set_by_boss.updated_by) == (False, boss_label)
    bad = await refused(boss.SetOperatorAvailability, V.SetOperatorAvailabilityRequest(operator="op/a"))
    assert bad_field(bad) == "operator"
    auditor, _ = await desk("auditor sun", "compliance")
    refusal = await refused(auditor.SetOperatorAvailability, V.SetOperatorAvailabilityRequest(available=True))
    assert refusal.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_assign_complaint_hands_a_case_over_and_records_who_did(server: Any, desk: Any) -> None:
    """AssignComplaint moves the case to another live operator, in the history under the principal with
    the masked note; an unknown operator or a CLOSED case is FAILED_PRECONDITION; a replay writes nothing."""
    line, label = await desk("op-a", "hotline")
    await desk("op-b", "hotline")
    c = await _file_as(line, C)
    assert c.assignee == "op-a"
    moved = await line.AssignComplaint(
        V.AssignComplaintRequest(
            case_id=c.case_id, assignee="op-b", note="she asked for 13800138000's owner", request_id="as-1"
        )
    )
    assert moved.assignee == "op-b"
    assert (moved.history[-1].actor, moved.history[-1].action, moved.history[-1].note) == (
        label,
        "assigned",
        "op-a -> op-b: she asked for +86138****8000's owner",
    )
    again = await line.AssignComplaint(
        V.AssignComplaintRequest(
            case_id=c.case_id, assignee="op-b", note="she asked for 13800138000's owner", request_id="as-1"
        )
    )
    assert len(again.history) == len(moved.history)
    nobody = await refused(line.AssignComplaint, V.AssignComplaintRequest(case_id=c.case_id, assignee="op-z"))
    assert nobody.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert bad_field(await refused(line.AssignComplaint, V.AssignComplaintRequest(case_id=c.case_id))) == "assignee"
    assert bad_field(await refused(line.AssignComplaint, V.AssignComplaintRequest(assignee="op-b"))) == "case_id"
    missing = await refused(line.AssignComplaint, V.AssignComplaintRequest(case_id="DNC-1", assignee="op-b"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    closed = await line.ConfirmResolution(V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True))
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    late = await refused(line.AssignComplaint, V.AssignComplaintRequest(case_id=c.case_id, assignee="op-a"))
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION
    auditor, _ = await desk("auditor sun", "compliance")
    denied = await refused(auditor.AssignComplaint, V.AssignComplaintRequest(case_id=c.case_id, assignee="op-a"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_each_filing_shows_its_steps_in_the_timeline(server: Any, desk: Any) -> None:
    """Verified or partly: received, verifying, resolution drafted; rejected or already compensated:
    resolved; a disputed consent stays verifying. The filer enters received, dncgate the rest."""
    await story_calls(server)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG, agent_id="a17", evidence="form F-9")
    )
    await call(server, C)
    line, label = await desk("op-a", "hotline")
    drafted = [("RECEIVED", label), ("VERIFYING", SYSTEM), ("RESOLUTION_DRAFTED", SYSTEM)]
    resolved = [("RECEIVED", label), ("VERIFYING", SYSTEM), ("RESOLVED", SYSTEM)]
    verified = await _file_as(line, A)
    assert (verified.status, verified.stage) == (V.COMPLAINT_STATUS_VERIFIED, V.STAGE_RESOLUTION_DRAFTED)
    assert _timeline(verified) == drafted
    assert {e.at.ToSeconds() for e in verified.timeline} == {verified.created_at.ToSeconds()}
    partly = await _file_as(line, B, "+862759004444")
    assert (partly.status, _timeline(partly)) == (V.COMPLAINT_STATUS_PARTIALLY_VERIFIED, drafted)
    rejected = await _file_as(line, C)
    assert (rejected.status, rejected.stage, _timeline(rejected)) == (
        V.COMPLAINT_STATUS_REJECTED,
        V.STAGE_RESOLVED,
        resolved,
    )
    again = await _file_as(line, A)
    assert (again.status, _timeline(again)) == (V.COMPLAINT_STATUS_ALREADY_COMPENSATED, resolved)
    review = await _file_as(line, C, disputes_consent=True)
    assert (review.status, review.stage) == (V.COMPLAINT_STATUS_MANUAL_REVIEW, V.STAGE_VERIFYING)
    assert _timeline(review) == [("RECEIVED", label), ("VERIFYING", SYSTEM)]
    boss, boss_label = await desk("boss qian", "supervisor")
    decided = await boss.ReviewComplaint(
        V.ReviewComplaintRequest(case_id=review.case_id, decision=V.COMPLAINT_STATUS_VERIFIED, note="form forged")
    )
    assert _timeline(decided)[-1] == ("RESOLUTION_DRAFTED", boss_label)
    stored = await db_rows(server, "SELECT stage FROM complaints WHERE case_id = %s", review.case_id)
    assert stored == [("RESOLUTION_DRAFTED",)]


async def test_paying_and_confirming_move_the_stage_and_the_sign_off_is_kept(server: Any, desk: Any) -> None:
    """The last payout paid resolves the case (by dncgate); her confirmation with satisfaction closes it
    (consumer confirmed, by the principal) and is stored on the case."""
    await story_calls(server)
    line, label = await desk("op-a", "hotline")
    c = await _file_as(line, A)
    (payout_id,) = [f.payout_id for f in c.findings]
    await hotline(server).MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=payout_id, payment_reference="BANK-1"))
    paid = await line.GetComplaint(V.GetComplaintRequest(case_id=c.case_id))
    assert (paid.status, paid.stage, _timeline(paid)[-1]) == (
        V.COMPLAINT_STATUS_PAID,
        V.STAGE_RESOLVED,
        ("RESOLVED", SYSTEM),
    )
    assert not paid.HasField("resolved") and paid.satisfaction == 0
    closed = await line.ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True, resolved=True, satisfaction=5)
    )
    assert (closed.status, closed.stage) == (V.COMPLAINT_STATUS_CLOSED, V.STAGE_CONSUMER_CONFIRMED)
    assert _timeline(closed)[-1] == ("CONSUMER_CONFIRMED", label)
    assert (closed.HasField("resolved"), closed.resolved, closed.satisfaction, closed.remaining_issue) == (
        True,
        True,
        5,
        "",
    )
    stored = await db_rows(server, "SELECT resolved, satisfaction, remaining_issue FROM complaints")
    assert stored == [(True, 5, "")]


async def test_a_case_she_says_is_not_resolved_reopens_with_its_assignee(server: Any, desk: Any) -> None:
    """resolved=false, or a remaining issue although satisfied, reopens the case: back to verifying with
    the same assignee, her answer kept (the issue masked); without `resolved` an old client's
    satisfied=true closes as before. Satisfaction outside 0-5 is INVALID_ARGUMENT naming it."""
    clock = Clock(server)
    line, label = await desk("op-a", "hotline")
    await line.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=True))
    await desk("op-b", "hotline")
    c = await _file_as(line, C)
    await line.AssignComplaint(V.AssignComplaintRequest(case_id=c.case_id, assignee="op-b"))
    clock.advance(HOUR)
    for bad in (6, -1):
        err = await refused(
            line.ConfirmResolution, V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True, satisfaction=bad)
        )
        assert bad_field(err) == "satisfaction"
    reopened = await line.ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True, resolved=False, satisfaction=2)
    )
    assert (reopened.status, reopened.stage, reopened.assignee) == (
        V.COMPLAINT_STATUS_REOPENED,
        V.STAGE_VERIFYING,
        "op-b",
    )
    assert _timeline(reopened)[-1] == ("VERIFYING", label)
    assert (reopened.resolved, reopened.satisfaction) == (False, 2)
    decided = await hotline(server).ReviewComplaint(
        V.ReviewComplaintRequest(case_id=c.case_id, decision=V.COMPLAINT_STATUS_REJECTED, note="no call on record")
    )
    assert (decided.stage, decided.assignee) == (V.STAGE_RESOLVED, "op-b")
    remains = await line.ConfirmResolution(
        V.ConfirmResolutionRequest(
            case_id=c.case_id, satisfied=True, satisfaction=3, remaining_issue="13800138000 still gets calls"
        )
    )
    assert (remains.status, remains.stage, remains.resolved) == (V.COMPLAINT_STATUS_REOPENED, V.STAGE_VERIFYING, True)
    assert remains.remaining_issue == "+86138****8000 still gets calls"
    await hotline(server).ReviewComplaint(
        V.ReviewComplaintRequest(case_id=c.case_id, decision=V.COMPLAINT_STATUS_REJECTED, note="checked again")
    )
    old_client = await line.ConfirmResolution(V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True))
    assert (old_client.status, old_client.resolved, old_client.satisfaction) == (V.COMPLAINT_STATUS_CLOSED, True, 0)
    assert [s for s, _ in _timeline(old_client)] == [
        "RECEIVED",
        "VERIFYING",
        "RESOLVED",
        "VERIFYING",
        "RESOLVED",
        "VERIFYING",
        "RESOLVED",
        "CONSUMER_CONFIRMED",
    ]
    stored = await db_rows(
        server, "SELECT remaining_issue FROM complaints WHERE remaining_issue LIKE '%%13800138000%%'"
    )
    assert stored == []


async def test_list_complaints_filters_by_assignee_stage_and_due_state(server: Any, desk: Any) -> None:
    """assignee, stage and due_state narrow the list (and combine); an unknown stage or due state is
    INVALID_ARGUMENT naming it."""
    await story_calls(server)
    clock = Clock(server)
    a, _ = await desk("op-a", "hotline")
    b, _ = await desk("op-b", "hotline")
    drafted = await _file_as(a, A)
    rejected = await _file_as(b, C)
    later = await _file_as(b, C)

    async def ids(**kw: Any) -> list[str]:
        return [c.case_id for c in (await a.ListComplaints(V.ListComplaintsRequest(**kw))).complaints]

    assert await ids(assignee="op-a") == [drafted.case_id]
    assert await ids(assignee="op-b") == [later.case_id, rejected.case_id]
    assert await ids(stage=V.STAGE_RESOLUTION_DRAFTED) == [drafted.case_id]
    assert await ids(stage=V.STAGE_RESOLVED, assignee="op-b") == [later.case_id, rejected.case_id]
    assert await ids(stage=V.STAGE_RESOLVED, assignee="op-a") == []
    assert await ids(due_state=V.DUE_STATE_RESOLUTION_OVERDUE) == []
    clock.advance(73 * HOUR)
    # Open (VERIFIED) past its resolution due; REJECTED cases are settled, never overdue.
    assert await ids(due_state=V.DUE_STATE_RESOLUTION_OVERDUE) == [drafted.case_id]
    assert await ids(due_state=V.DUE_STATE_FIRST_RESPONSE_OVERDUE) == []
    assert await ids(due_state=V.DUE_STATE_UPDATE_OVERDUE, assignee="op-b") == [later.case_id, rejected.case_id]
    assert bad_field(await refused(a.ListComplaints, V.ListComplaintsRequest(stage=99))) == "stage"
    assert bad_field(await refused(a.ListComplaints, V.ListComplaintsRequest(due_state=99))) == "due_state"
    assert bad_field(await refused(a.ListComplaints, V.ListComplaintsRequest(assignee="op/a"))) == "assignee"


async def test_the_queue_and_the_sign_off_from_the_command_line(server: Any, desk: Any) -> None:
    """`operator available|away`, `complaint assign`, `complaint list --assignee --stage`, `complaint show`
    (assignee, stage, timeline) and `complaint confirm --not-resolved --satisfaction --remaining-issue`."""
    await desk("op-a", "hotline")
    await desk("op-b", "hotline")
    on = await cli(server, "operator", "available", "--operator", "op-a")
    assert on.returncode == 0 and "op-a" in on.stdout and "yes (available)" in on.stdout, on.stdout + on.stderr
    filed = await cli(server, "complaint", "file", CONSUMER, "--caller", C)
    case_id = re.search(r"DNC-\d{8}-\d{6}", filed.stdout).group(0)  # type: ignore[union-attr]
    assert re.search(r"assignee\s+op-a", filed.stdout) and "RESOLVED" in filed.stdout, filed.stdout
    moved = await cli(server, "complaint", "assign", case_id, "op-b", "--note", "she prefers op-b")
    assert moved.returncode == 0 and re.search(r"assignee\s+op-b", moved.stdout) and "she prefers op-b" in moved.stdout
    listed = await cli(server, "complaint", "list", "--assignee", "op-b", "--stage", "resolved")
    assert case_id in listed.stdout and "op-b" in listed.stdout
    none = await cli(server, "complaint", "list", "--assignee", "op-a", "--stage", "resolved")
    assert none.returncode == 0 and case_id not in none.stdout
    reopened = await cli(
        server, "complaint", "confirm", case_id, "--not-resolved", "--satisfaction", "2",
        "--remaining-issue", "13800138000 still gets calls",
    )  # fmt: skip
    assert reopened.returncode == 0, reopened.stdout + reopened.stderr
    assert "REOPENED" in reopened.stdout and re.search(r"stage\s+VERIFYING", reopened.stdout)
    assert "2 of 5" in reopened.stdout and "+86138****8000 still gets calls" in reopened.stdout
    shown = await cli(server, "complaint", "show", case_id)
    assert re.search(r"timeline", shown.stdout) and shown.stdout.count("VERIFYING") >= 2
    assert re.search(r"assignee\s+op-b", shown.stdout) and "13800138000" not in shown.stdout
    neither = await cli(server, "complaint", "confirm", case_id)
    assert neither.returncode == 2
    bad = await cli(server, "complaint", "confirm", case_id, "--resolved", "--satisfaction", "9")
    assert bad.returncode == 1 and "satisfaction" in bad.stderr
    away = await cli(server, "operator", "away")
    assert away.returncode == 0 and "bootstrap-admin" in away.stdout and "no (away)" in away.stdout
