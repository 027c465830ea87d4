"""The consumer's own lookup (GetComplaintStatus) over the real server: the right pair answers what she
may see, a wrong number is exactly an unknown case, lookups per case id are limited, and the role
`consumer` may call this one RPC only."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.conftest import start_server
from tests.e2e.compensation_support import A, B, C, V, file, hotline, refused, story_calls
from tests.e2e.conftest import CONSUMER
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e


def _ask(case_id: str, number: str) -> Any:
    return V.GetComplaintStatusRequest(case_id=case_id, consumer_number=number)


async def test_the_right_pair_answers_what_the_consumer_may_see(server: Any, desk: Any) -> None:
    """Her visible updates without their authors, the verdict per number she named, and her payouts;
    no internal note, no call id, no hotline principal; her number only masked."""
    await story_calls(server)
    case = await file(server, A, B, C)
    line = hotline(server)
    await line.AddComplaintUpdate(V.AddComplaintUpdateRequest(case_id=case.case_id, text="internal: org asked"))
    await line.AddComplaintUpdate(
        V.AddComplaintUpdateRequest(case_id=case.case_id, text="we are paying you", visible_to_consumer=True)
    )
    app, _ = await desk("consumer app", "consumer")  # the consumer app's backend
    # Any common format of her number: the keyed hash is the same.
    got = await app.GetComplaintStatus(_ask(case.case_id, "+86 138 0013 8000"))
    assert (got.case_id, got.status, got.consumer_number_masked) == (
        case.case_id,
        V.COMPLAINT_STATUS_PARTIALLY_VERIFIED,
        "+86138****8000",
    )
    assert [(u.text, u.kind) for u in got.updates] == [("we are paying you", V.UPDATE_KIND_PROGRESS)]
    # The stages with their times, not who moved them; the person in charge as her notice named her.
    assert [(e.stage, e.actor) for e in got.timeline] == [
        (V.STAGE_RECEIVED, ""),
        (V.STAGE_VERIFYING, ""),
        (V.STAGE_RESOLUTION_DRAFTED, ""),
    ]
    assert got.stage == V.STAGE_RESOLUTION_DRAFTED and all(e.HasField("at") for e in got.timeline)
    assert got.assignee == case.assignee != ""
    assert [(c.caller_number, c.verdict, c.amount.units) for c in got.callers] == [
        (A, V.VERDICT_VERIFIED, 100),
        (B, V.VERDICT_VERIFIED, 100),
        (C, V.VERDICT_NO_MATCHING_CALL, 0),
    ]
    assert [(p.caller_number, p.status, p.amount.units) for p in got.payouts] == [
        (A, V.PAYOUT_STATUS_PENDING, 100),
        (B, V.PAYOUT_STATUS_PENDING, 100),
    ]
    assert all(p.HasField("due_at") and not p.HasField("paid_at") for p in got.payouts)
    assert got.total_compensation.units == 200 and got.next_update_due.seconds > got.created_at.seconds
    shown = got.SerializeToString()
    assert b"13800138000" not in shown and b"internal" not in shown and b"test" not in shown


async def test_a_wrong_number_is_exactly_an_unknown_case(server: Any, desk: Any) -> None:
    """Same status, same message, no detail naming either; an unparsable number matches nothing too."""
    await story_calls(server)
    case = await file(server, A)
    app, _ = await desk("consumer app", "consumer")
    wrong = await refused(app.GetComplaintStatus, _ask(case.case_id, "13900139000"))
    unknown = await refused(app.GetComplaintStatus, _ask("DNC-20000101-999999", CONSUMER))
    garbage = await refused(app.GetComplaintStatus, _ask(case.case_id, "not a number"))
    answers = {(e.code(), e.details(), tuple(e.trailing_metadata() or ())) for e in (wrong, unknown, garbage)}
    assert len(answers) == 1, answers
    assert wrong.code() == grpc.StatusCode.NOT_FOUND
    assert case.case_id not in wrong.details() and "139" not in wrong.details()


async def test_missing_fields_are_named(server: Any) -> None:
    line = hotline(server)
    for request, field in ((_ask("", CONSUMER), "case_id"), (_ask("DNC-1", " "), "consumer_number")):
        err = await refused(line.GetComplaintStatus, request)
        bad = error_details_pb2.BadRequest()
        status = rpc_status.from_call(err)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and status is not None
        assert status.details[0].Unpack(bad) and bad.field_violations[0].field == field


async def test_lookups_per_case_id_are_limited_over_every_replica(server: Any) -> None:
    """The 11th lookup of one case id within a minute is RESOURCE_EXHAUSTED with RetryInfo, whether the
    pairs were right, wrong or from another replica (the count lives in Redis); another case id is not
    held back."""
    await story_calls(server)
    case = await file(server, A)
    other = await file(server, B)
    line = hotline(server)
    settings = dataclasses.replace(server.settings, data_dir=server.settings.data_dir.parent / "replica")
    async with start_server(settings, server.token) as replica:
        second = hotline(replica)
        for i in range(10):
            stub = line if i % 2 else second
            number = CONSUMER if i % 3 else "13900139000"
            try:
                await stub.GetComplaintStatus(_ask(case.case_id, number))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND
        err = await refused(second.GetComplaintStatus, _ask(case.case_id, CONSUMER))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.details()
    status = rpc_status.from_call(err)
    retry = error_details_pb2.RetryInfo()
    assert status is not None and any(d.Unpack(retry) for d in status.details)
    assert 0 < retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9 <= 60
    assert (await line.GetComplaintStatus(_ask(other.case_id, CONSUMER))).case_id == other.case_id


async def test_the_consumer_role_may_call_this_rpc_only(server: Any, desk: Any) -> None:
    app, _ = await desk("consumer app", "consumer")
    err = await refused(app.GetComplaint, V.GetComplaintRequest(case_id="DNC-20000101-000001"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_lookup_from_the_command_line(server: Any) -> None:
    """`complaint status CASE NUMBER` shows her view; a wrong number fails exactly as an unknown case."""
    await story_calls(server)
    case = await file(server, A, C)
    shown = await cli(server, "complaint", "status", case.case_id, "13800138000")
    assert shown.returncode == 0, shown.stderr
    assert case.case_id in shown.stdout and "100.00 CNY" in shown.stdout and "NO_MATCHING_CALL" in shown.stdout
    assert "13800138000" not in shown.stdout and "PENDING" in shown.stdout
    wrong = await cli(server, "complaint", "status", case.case_id, "13900139000")
    unknown = await cli(server, "complaint", "status", "DNC-20000101-999999", "13800138000")
    assert wrong.returncode == unknown.returncode != 0
    said = [
        (r.stdout + r.stderr).replace(case.case_id, "X").replace("DNC-20000101-999999", "X") for r in (wrong, unknown)
    ]
    assert said[0] == said[1] and "NOT_FOUND: no case with this case number and phone number" in said[0]
