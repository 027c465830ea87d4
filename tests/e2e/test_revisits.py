"""Revisits over the real server: the revisit due time a closing fixes, revisit_overdue and its list
filter, RecordRevisit (once, by request_id, refused on an open case or a bad rating), and the linked
case a recurrence opens through the filing's path (verified, paid once, assigned, notified)."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest

from tests.e2e.compensation_support import (
    A,
    B,
    C,
    Clock,
    V,
    bad_field,
    call,
    db_rows,
    file,
    hotline,
    monitor,
    refused,
    register_dnd,
    story_calls,
)
from tests.e2e.conftest import CONSUMER
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

HOUR = 3600
DAY = 24 * HOUR


async def _closed(server: Any, *callers: str) -> Any:
    """A case filed on `callers` that owes nothing (no calls from them), confirmed resolved: CLOSED."""
    c = await file(server, *callers)
    assert c.status == V.COMPLAINT_STATUS_REJECTED, c
    return await hotline(server).ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True, resolved=True, satisfaction=4)
    )


def _revisit(case_id: str, recurred: bool, **kw: Any) -> Any:
    return V.RecordRevisitRequest(case_id=case_id, recurred=recurred, **kw)


async def _notices(server: Any, case_id: str) -> list[str]:
    rows = await db_rows(server, "SELECT kind FROM notifications WHERE case_id = %s ORDER BY seq", case_id)
    return [r[0] for r in rows]


async def test_closing_fixes_the_revisit_due_and_past_it_the_case_is_overdue_and_listed(server: Any) -> None:
    """revisit_due = closed_at + 7 days, set in the closing; revisit_overdue once the clock passes it
    (DUE_STATE_REVISIT_OVERDUE lists it); a revisit ends it. An open case has none."""
    await register_dnd(server)
    clock = Clock(server)
    open_case = await file(server, C)
    assert not open_case.HasField("revisit_due") and not open_case.HasField("closed_at")
    closed = await _closed(server, B)
    assert closed.status == V.COMPLAINT_STATUS_CLOSED and closed.stage == V.STAGE_CONSUMER_CONFIRMED
    assert closed.revisit_due.ToSeconds() - closed.closed_at.ToSeconds() == 7 * DAY
    assert not closed.revisit_overdue and not closed.HasField("revisit")
    rows = await db_rows(server, "SELECT revisit_due - closed_at FROM complaints WHERE case_id = %s", closed.case_id)
    assert [r[0].total_seconds() for r in rows] == [7 * DAY]
    listing = V.ListComplaintsRequest(due_state=V.DUE_STATE_REVISIT_OVERDUE)
    assert list((await hotline(server).ListComplaints(listing)).complaints) == []
    clock.advance(7 * DAY + 60)
    late = await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=closed.case_id))
    assert late.revisit_overdue
    assert [c.case_id for c in (await hotline(server).ListComplaints(listing)).complaints] == [closed.case_id]
    done = await hotline(server).RecordRevisit(_revisit(closed.case_id, False))
    assert not done.revisit_overdue and done.revisit_due == closed.revisit_due
    assert list((await hotline(server).ListComplaints(listing)).complaints) == []


async def test_a_revisit_not_recurred_records_it_once_and_opens_nothing(server: Any, desk: Any) -> None:
    """Stage REVISITED by the principal, a history entry, the REVISIT notice, the note masked; nothing
    else opened. The same request_id again answers the case; a second revisit is FAILED_PRECONDITION."""
    await register_dnd(server)
    line, label = await desk("hotline zhao", "hotline")
    closed = await _closed(server, B)
    cases_before = await db_rows(server, "SELECT count(*) FROM complaints")
    req = _revisit(closed.case_id, False, rating=5, note="quiet since; she is on 13800138000", request_id="rv-1")
    done = await line.RecordRevisit(req)
    assert done.stage == V.STAGE_REVISITED and done.status == V.COMPLAINT_STATUS_CLOSED
    assert (done.timeline[-1].stage, done.timeline[-1].actor) == (V.STAGE_REVISITED, label)
    r = done.revisit
    assert (r.actor, r.recurred, r.rating, r.note, r.recurrence_case_id) == (
        label,
        False,
        5,
        "quiet since; she is on +86138****8000",
        "",
    )
    assert (done.history[-1].action, done.history[-1].actor) == ("revisited", label)
    assert await _notices(server, closed.case_id) == ["ACCEPTED", "VERDICT", "REVISIT"]
    assert await db_rows(server, "SELECT count(*) FROM complaints") == cases_before
    assert await db_rows(server, "SELECT count(*) FROM complaint_revisits WHERE note LIKE '%%13800138000%%'") == [(0,)]
    again = await line.RecordRevisit(req)
    assert again.revisit == done.revisit and len(again.history) == len(done.history)
    second = await refused(line.RecordRevisit, _revisit(closed.case_id, False, request_id="rv-2"))
    assert second.code() == grpc.StatusCode.FAILED_PRECONDITION and "revisited already" in (second.details() or "")
    assert await db_rows(server, "SELECT count(*) FROM complaint_revisits") == [(1,)]
    assert await _notices(server, closed.case_id) == ["ACCEPTED", "VERDICT", "REVISIT"]


async def test_an_open_case_or_a_bad_rating_is_refused_and_nothing_is_written(server: Any, desk: Any) -> None:
    """RecordRevisit on a case not CLOSED is FAILED_PRECONDITION; a rating outside 0-5 INVALID_ARGUMENT
    naming `rating`; a compliance token may not revisit."""
    await story_calls(server)
    line, _ = await desk("hotline zhao", "hotline")
    open_case = await file(server, A)
    refusal = await refused(line.RecordRevisit, _revisit(open_case.case_id, True))
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION and "CLOSED" in (refusal.details() or "")
    closed = await _closed(server, C)
    assert bad_field(await refused(line.RecordRevisit, _revisit(closed.case_id, False, rating=6))) == "rating"
    auditor, _ = await desk("auditor sun", "compliance")
    denied = await refused(auditor.RecordRevisit, _revisit(closed.case_id, False))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await db_rows(server, "SELECT count(*) FROM complaint_revisits") == [(0,)]
    assert await _notices(server, open_case.case_id) == ["ACCEPTED", "VERDICT"]


async def test_a_recurrence_opens_a_linked_case_verified_against_the_new_calls(server: Any, desk: Any) -> None:
    """A call after closing, then a revisit that says it recurred: a new case for her, with the original's
    numbers and channel, calls from the closing to now, recurrence_of the original, verified and paid,
    assigned round-robin, ACCEPTED and VERDICT notices; the original is REVISITED with its REVISIT notice
    and names the new case. All in the revisit's transaction; a replay opens nothing more."""
    clock = Clock(server)
    await register_dnd(server)
    await monitor(server)
    operator, _ = await desk("op-a", "hotline")
    await operator.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=True))
    closed = await _closed(server, C)
    new_call = await call(server, C)
    clock.advance(3 * DAY)
    line, label = await desk("hotline zhao", "hotline")
    req = _revisit(closed.case_id, True, rating=2, note="they call again", request_id="rv-9")
    done = await line.RecordRevisit(req)
    assert done.stage == V.STAGE_REVISITED and done.revisit.recurred
    new_id = done.revisit.recurrence_case_id
    assert re.fullmatch(r"DNC-\d{8}-\d{6}", new_id)
    assert "new case " + new_id in done.history[-1].note
    linked = await line.GetComplaint(V.GetComplaintRequest(case_id=new_id))
    assert linked.recurrence_of == closed.case_id and linked.consumer_number_masked == closed.consumer_number_masked
    assert linked.channel == closed.channel and [f.caller_number for f in linked.findings] == [C]
    assert linked.occurred_after == closed.closed_at
    assert linked.occurred_before.ToSeconds() == done.revisit.at.ToSeconds()
    assert closed.case_id in linked.description and "they call again" in linked.description
    assert linked.status == V.COMPLAINT_STATUS_VERIFIED
    assert list(linked.findings[0].call_ids) == [new_call] and linked.findings[0].payout_id
    assert linked.assignee == "op-a"
    assert linked.timeline[0].actor == label and "recurrence_of" in [h.action for h in linked.history]
    assert await _notices(server, closed.case_id) == ["ACCEPTED", "VERDICT", "REVISIT"]
    assert await _notices(server, new_id) == ["ACCEPTED", "VERDICT"]
    assert await db_rows(
        server, "SELECT recurred, rating, recurrence_case_id FROM complaint_revisits WHERE case_id = %s", closed.case_id
    ) == [(True, 2, new_id)]
    status = await line.GetComplaintStatus(
        V.GetComplaintStatusRequest(case_id=closed.case_id, consumer_number=CONSUMER)
    )
    assert (status.revisit_due, status.revisited_at, status.recurrence_case_id) == (
        closed.revisit_due,
        done.revisit.at,
        new_id,
    )
    linked_status = await line.GetComplaintStatus(V.GetComplaintStatusRequest(case_id=new_id, consumer_number=CONSUMER))
    assert linked_status.recurrence_of == closed.case_id and not linked_status.HasField("revisit_due")
    again = await line.RecordRevisit(req)
    assert again.revisit.recurrence_case_id == new_id
    assert await db_rows(server, "SELECT count(*) FROM complaints WHERE recurrence_of = %s", closed.case_id) == [(1,)]
    assert await db_rows(server, "SELECT count(*) FROM payouts") == [(1,)]


async def test_a_recurrence_of_a_pair_already_paid_is_already_compensated(server: Any) -> None:
    """The original paid A; a new call from A after closing and a recurrence: the linked case is
    ALREADY_COMPENSATED, linked to the case that paid, and no second payout is booked."""
    await story_calls(server)
    c = await file(server, A)
    payout_id = c.findings[0].payout_id
    await hotline(server).MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=payout_id, payment_reference="BANK-1"))
    closed = await hotline(server).ConfirmResolution(V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True))
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    await call(server, A)
    done = await hotline(server).RecordRevisit(_revisit(c.case_id, True, note="she says 13800138000 rings daily"))
    linked = await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=done.revisit.recurrence_case_id))
    assert linked.status == V.COMPLAINT_STATUS_ALREADY_COMPENSATED
    f = linked.findings[0]
    assert (f.verdict, f.payout_id, f.compensated_by_case_id) == (V.VERDICT_ALREADY_COMPENSATED, payout_id, c.case_id)
    assert await db_rows(server, "SELECT count(*) FROM payouts") == [(1,)]
    # The linked case is hers like the original (same keyed hash): her erasure covers both, and the
    # revisit's note loses her masked number.
    erased = await hotline(server).ForgetConsumer(V.ForgetConsumerRequest(consumer_number=CONSUMER))
    assert erased.complaints_erased == 2
    assert await db_rows(server, "SELECT count(*) FROM complaints WHERE consumer_sealed IS NOT NULL") == [(0,)]
    assert await db_rows(server, "SELECT note FROM complaint_revisits") == [("she says [erased] rings daily",)]


async def test_a_recurrence_for_an_erased_consumer_is_refused_saying_so(server: Any) -> None:
    """After ForgetConsumer the case has no number to open a new case for: FAILED_PRECONDITION, nothing
    written; a revisit that did not recur is still recorded."""
    await register_dnd(server)
    closed = await _closed(server, C)
    await hotline(server).ForgetConsumer(V.ForgetConsumerRequest(consumer_number=CONSUMER))
    refusal = await refused(hotline(server).RecordRevisit, _revisit(closed.case_id, True))
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION and "erased" in (refusal.details() or "")
    assert await db_rows(server, "SELECT count(*) FROM complaint_revisits") == [(0,)]
    done = await hotline(server).RecordRevisit(_revisit(closed.case_id, False, note="she did not want to talk"))
    assert done.stage == V.STAGE_REVISITED
    assert await _notices(server, closed.case_id) == ["ACCEPTED", "VERDICT", "REVISIT"]


async def test_revisits_from_the_command_line(server: Any) -> None:
    """`complaint revisit` records it; `complaint show` prints the due time and the revisit;
    `complaint list --due revisit-overdue` lists the late ones."""
    await register_dnd(server)
    clock = Clock(server)
    closed = await _closed(server, C)
    shown = await cli(server, "complaint", "show", closed.case_id)
    assert shown.returncode == 0, shown.stderr
    assert "revisit due" in shown.stdout and "OVERDUE" not in shown.stdout
    clock.advance(8 * DAY)
    listed = await cli(server, "complaint", "list", "--due", "revisit-overdue")
    assert listed.returncode == 0 and closed.case_id in listed.stdout, listed.stderr
    missing = await cli(server, "complaint", "revisit", closed.case_id)
    assert missing.returncode != 0
    done = await cli(server, "complaint", "revisit", closed.case_id, "--not-recurred", "--rating", "4", "--note", "ok")
    assert done.returncode == 0, done.stderr
    assert "the problem did not recur" in done.stdout and "4 of 5" in done.stdout and "REVISITED" in done.stdout
    listed = await cli(server, "complaint", "list", "--due", "revisit-overdue")
    assert listed.returncode == 0 and closed.case_id not in listed.stdout
