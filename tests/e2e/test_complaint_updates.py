"""Updates and extensions of a case over the real server: the update clock, masking, attribution,
idempotency, the CLOSED case, and who may write them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import grpc
import psycopg
import pytest

from dncgate.api.convert import ts
from tests.e2e.compensation_support import A, Clock, V, bad_field, db_rows, file, hotline, refused, story_calls
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

HOUR = 3600


def _update(case_id: str, text: str, visible: bool = False, request_id: str = "") -> Any:
    return V.AddComplaintUpdateRequest(case_id=case_id, text=text, visible_to_consumer=visible, request_id=request_id)


async def _get(server: Any, case_id: str) -> Any:
    return await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=case_id))


async def test_only_visible_updates_move_the_update_clock_and_an_overdue_case_is_listed(server: Any, desk: Any) -> None:
    """Due 24 h after filing; an internal note moves nothing, a visible update restarts the clock; past
    it the case is update_overdue and listed so. Text is masked, the author is the token's principal,
    a replayed request_id writes nothing, and a compliance token may not write."""
    await story_calls(server)
    clock = Clock(server)
    line, label = await desk("hotline zhao", "hotline")
    c = await file(server, A)
    created = c.created_at.ToSeconds()
    assert (c.next_update_due.ToSeconds() - created, c.update_overdue) == (24 * HOUR, False)
    clock.advance(HOUR)
    noted = await line.AddComplaintUpdate(_update(c.case_id, "she called again from 138 0013 8000"))
    assert [(u.author, u.text, u.visible_to_consumer, u.kind) for u in noted.updates] == [
        (label, "she called again from +86138****8000", False, V.UPDATE_KIND_PROGRESS)
    ]
    assert noted.next_update_due == c.next_update_due
    clock.advance(HOUR)
    told = await line.AddComplaintUpdate(_update(c.case_id, "we asked the org for its call records", True, "u-1"))
    assert told.updates[-1].visible_to_consumer and told.updates[-1].author == label
    assert told.next_update_due.ToSeconds() == told.updates[-1].at.ToSeconds() + 24 * HOUR
    again = await line.AddComplaintUpdate(_update(c.case_id, "we asked the org for its call records", True, "u-1"))
    assert len(again.updates) == 2
    assert await db_rows(server, "SELECT count(*) FROM complaint_updates") == [(2,)]
    assert await db_rows(server, "SELECT text FROM complaint_updates WHERE text LIKE '%%13800138000%%'") == []
    listed = await line.ListComplaints(V.ListComplaintsRequest(update_overdue_only=True))
    assert list(listed.complaints) == []
    clock.advance(24 * HOUR + 60)
    late = await _get(server, c.case_id)
    assert late.update_overdue and late.next_update_due == told.next_update_due
    listed = await line.ListComplaints(V.ListComplaintsRequest(update_overdue_only=True))
    assert [x.case_id for x in listed.complaints] == [c.case_id]
    assert bad_field(await refused(line.AddComplaintUpdate, _update(c.case_id, "  "))) == "text"
    auditor, _ = await desk("auditor sun", "compliance")
    denied = await refused(auditor.AddComplaintUpdate, _update(c.case_id, "looked at it"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    extend = V.ExtendComplaintRequest(case_id=c.case_id, reason="x", new_resolution_due=ts(clock.service.now()))
    assert (await refused(auditor.ExtendComplaint, extend)).code() == grpc.StatusCode.PERMISSION_DENIED
    assert await db_rows(server, "SELECT count(*) FROM complaint_updates") == [(2,)]


async def test_an_extension_needs_a_reason_and_a_later_due_and_a_closed_case_takes_nothing(
    server: Any, desk: Any
) -> None:
    """ExtendComplaint moves resolution_due, shows the consumer its reason and restarts the update clock;
    a missing reason or an earlier due is INVALID_ARGUMENT naming the field; a replay changes nothing.
    Once CLOSED the case takes no update nor extension and has no update due."""
    await story_calls(server)
    clock = Clock(server)
    boss, label = await desk("supervisor qian", "supervisor")
    c = await file(server, A)
    due = c.resolution_due.ToDatetime()
    later = ts(due + timedelta(hours=48))

    def extend(reason: str, until: Any, request_id: str = "") -> Any:
        return V.ExtendComplaintRequest(
            case_id=c.case_id, reason=reason, new_resolution_due=until, request_id=request_id
        )

    assert bad_field(await refused(boss.ExtendComplaint, extend("", later))) == "reason"
    earlier = ts(due - timedelta(hours=1))
    assert bad_field(await refused(boss.ExtendComplaint, extend("carrier", earlier))) == "new_resolution_due"
    assert bad_field(await refused(boss.ExtendComplaint, V.ExtendComplaintRequest(case_id=c.case_id, reason="r"))) == (
        "new_resolution_due"
    )
    clock.advance(HOUR)
    moved = await boss.ExtendComplaint(extend("waiting for the carrier; she is on 13800138000", later, "e-1"))
    assert moved.resolution_due == later
    u = moved.updates[-1]
    assert (u.kind, u.visible_to_consumer, u.author, u.text) == (
        V.UPDATE_KIND_EXTENSION,
        True,
        label,
        "waiting for the carrier; she is on +86138****8000",
    )
    assert (u.previous_resolution_due, u.new_resolution_due) == (c.resolution_due, later)
    assert (moved.history[-1].actor, moved.history[-1].action) == (label, "extended")
    assert "waiting for the carrier" in moved.history[-1].note and "13800138000" not in moved.history[-1].note
    assert moved.next_update_due.ToSeconds() == u.at.ToSeconds() + 24 * HOUR
    replay = await boss.ExtendComplaint(extend("more", ts(due + timedelta(hours=96)), "e-1"))
    assert (replay.resolution_due, len(replay.updates), len(replay.history)) == (
        later,
        1,
        len(moved.history),
    )
    with pytest.raises(psycopg.errors.RaiseException):
        await db_rows(server, "UPDATE complaint_updates SET text = 'rewritten'")
    await hotline(server).MarkPayoutPaid(
        V.MarkPayoutPaidRequest(payout_id=c.findings[0].payout_id, payment_reference="BANK-9")
    )
    closed = await hotline(server).ConfirmResolution(V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True))
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    assert (closed.HasField("next_update_due"), closed.update_overdue) == (False, False)
    refusal = await refused(boss.AddComplaintUpdate, _update(c.case_id, "one more thing", True))
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION
    refusal = await refused(boss.ExtendComplaint, extend("later still", ts(due + timedelta(hours=200))))
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION
    clock.advance(100 * HOUR)
    assert not (await _get(server, c.case_id)).update_overdue
    assert len((await _get(server, c.case_id)).updates) == 1


async def test_update_extend_and_show_from_the_command_line(server: Any) -> None:
    """`complaint update` and `complaint extend` print the case; `show` lists the updates and says
    OVERDUE once the next update's due time has passed."""
    await story_calls(server)
    clock = Clock(server)
    c = await file(server, A)
    done = await cli(server, "complaint", "update", c.case_id, "--text", "asked the org for records", "--visible")
    assert done.returncode == 0, done.stderr
    assert "asked the org for records" in done.stdout and "update to the consumer" in done.stdout
    until = (c.resolution_due.ToDatetime() + timedelta(days=2)).isoformat() + "+00:00"
    done = await cli(server, "complaint", "extend", c.case_id, "--reason", "carrier records", "--until", until)
    assert done.returncode == 0, done.stderr
    assert "extension: resolution due" in done.stdout and "carrier records" in done.stdout
    assert "OVERDUE" not in done.stdout
    clock.advance(25 * HOUR)
    shown = await cli(server, "complaint", "show", c.case_id)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"next update due\s+\S+ \S+ OVERDUE", shown.stdout), shown.stdout
