"""CallGate.ReportCallOutcome through a real gRPC server over real Redis and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.service.recorder import Recorder
from dncgate.store.recorder import CallLogWriter, StreamGroup
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2
from tests.conftest import start_server
from tests.e2e.conftest import CONSUMER, check_request, gate, registry

pytestmark = pytest.mark.e2e

ALLOW, BLOCK = gateway_pb2.DECISION_ALLOW, gateway_pb2.DECISION_BLOCK
UNKNOWN_CALL_ID = "0" * 12 + "ab" * 10


def outcome(call_id: str, **kw: Any) -> gateway_pb2.ReportCallOutcomeRequest:
    return gateway_pb2.ReportCallOutcomeRequest(call_id=call_id, **kw)


async def stored_outcome(server: Any, call_id: str) -> tuple[Any, ...] | None:
    async with await psycopg.AsyncConnection.connect(server.app.database_url) as conn:
        cur = await conn.execute(
            "SELECT dialled, connected, duration_seconds, consumer_opted_out FROM call_outcome WHERE call_id = %s",
            (call_id,),
        )
        row = await cur.fetchone()
    return tuple(row) if row else None


async def in_call_opt_outs(server: Any) -> list[registry_pb2.Preference]:
    h = await registry(server).GetPreferenceHistory(registry_pb2.GetPreferenceHistoryRequest(number=CONSUMER))
    return [p for p in h.entries if p.source == common_pb2.SOURCE_IN_CALL]


def bad_request_fields(err: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(err)
    assert status is not None
    fields = []
    for detail in status.details:
        br = error_details_pb2.BadRequest()
        assert detail.Unpack(br)
        fields += [v.field for v in br.field_violations]
    return fields


async def test_an_in_call_opt_out_blocks_the_next_check_at_once(server: Any) -> None:
    """After "don't call me again" is reported, the next Check is BLOCK/REGISTERED, recorded as SOURCE_IN_CALL."""
    first = await gate(server).Check(check_request())
    assert first.decision == ALLOW
    r = await gate(server).ReportCallOutcome(
        outcome(first.call_id, dialled=True, connected=True, duration_seconds=42, consumer_opted_out=True)
    )
    assert (r.call_id, r.opt_out_registered) == (first.call_id, True)
    again = await gate(server).Check(check_request(category=common_pb2.CATEGORY_FINANCE))
    assert (again.decision, again.reason) == (BLOCK, gateway_pb2.REASON_REGISTERED)
    [entry] = await in_call_opt_outs(server)
    assert entry.do_not_disturb
    assert list(entry.categories) == []  # every category
    assert await stored_outcome(server, first.call_id) == (True, True, 42, True)


async def test_repeated_and_staged_reports_only_ever_add_information(server: Any) -> None:
    """The same report twice writes one opt-out; staged reports merge flags by OR and duration by maximum."""
    call = await gate(server).Check(check_request())
    await gate(server).ReportCallOutcome(outcome(call.call_id, dialled=True, request_id="d-1"))
    await gate(server).ReportCallOutcome(outcome(call.call_id, connected=True, duration_seconds=30))
    await gate(server).ReportCallOutcome(outcome(call.call_id, dialled=False, duration_seconds=5))
    assert await stored_outcome(server, call.call_id) == (True, True, 30, False)
    for _ in range(2):
        r = await gate(server).ReportCallOutcome(outcome(call.call_id, consumer_opted_out=True))
        assert r.opt_out_registered
    assert len(await in_call_opt_outs(server)) == 1
    assert await stored_outcome(server, call.call_id) == (True, True, 30, True)


async def test_an_unknown_call_id_is_not_found(server: Any) -> None:
    """A well-formed call id that no Check produced is NOT_FOUND, and nothing is stored."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gate(server).ReportCallOutcome(outcome(UNKNOWN_CALL_ID, dialled=True))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert await stored_outcome(server, UNKNOWN_CALL_ID) is None


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"call_id": ""}, "call_id"),
        ({"call_id": "not-a-call-id"}, "call_id"),
        ({"duration_seconds": -1}, "duration_seconds"),
    ],
)
async def test_malformed_reports_are_invalid_argument_naming_the_field(
    server: Any, fields: dict[str, Any], bad_field: str
) -> None:
    """A missing or malformed call_id, or a negative duration, is INVALID_ARGUMENT with a BadRequest for it."""
    call = await gate(server).Check(check_request())
    request = outcome(call.call_id, dialled=True)
    for name, value in fields.items():
        setattr(request, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gate(server).ReportCallOutcome(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(info.value) == [bad_field]


async def test_a_dialer_scoped_to_other_orgs_cannot_report_this_orgs_calls(server: Any) -> None:
    """A token scoped to another org is PERMISSION_DENIED (ORG_NOT_ALLOWED) and stores nothing; one
    scoped to the call's org reports it."""
    from tests.auth import aio_channel

    call = await gate(server).Check(check_request(org_id="wuhan-01"))
    outsider = await server.app.access.create("test", name="outsider", roles=["dialer"], orgs=["shanghai-02"])
    insider = await server.app.access.create("test", name="insider", roles=["dialer"], orgs=["wuhan-01"])
    async with aio_channel(server.target, outsider.token) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await gateway_pb2_grpc.CallGateStub(channel).ReportCallOutcome(
                outcome(call.call_id, dialled=True, consumer_opted_out=True)
            )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    status = rpc_status.from_call(info.value)
    assert status is not None
    reasons = []
    for detail in status.details:
        ei = error_details_pb2.ErrorInfo()
        if detail.Unpack(ei):
            reasons.append(ei.reason)
    assert reasons == ["ORG_NOT_ALLOWED"]
    assert await stored_outcome(server, call.call_id) is None
    assert await in_call_opt_outs(server) == []
    async with aio_channel(server.target, insider.token) as channel:
        r = await gateway_pb2_grpc.CallGateStub(channel).ReportCallOutcome(outcome(call.call_id, dialled=True))
    assert not r.opt_out_registered
    assert await stored_outcome(server, call.call_id) == (True, False, 0, False)


async def test_a_blocked_call_reported_as_dialled_is_stored_as_dialled(server: Any) -> None:
    """A dialler that dials despite a BLOCK says so, and the call's outcome records it as dialled."""
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )
    call = await gate(server).Check(check_request())
    assert call.decision == BLOCK
    r = await gate(server).ReportCallOutcome(outcome(call.call_id, dialled=True))
    assert not r.opt_out_registered
    assert await stored_outcome(server, call.call_id) == (True, False, 0, False)


async def test_an_opt_out_on_a_call_to_an_invalid_number_is_refused(server: Any) -> None:
    """With no valid callee there is nobody to register: FAILED_PRECONDITION, and nothing is stored."""
    call = await gate(server).Check(check_request("12345"))
    assert call.reason == gateway_pb2.REASON_INVALID_NUMBER
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gate(server).ReportCallOutcome(outcome(call.call_id, consumer_opted_out=True))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert await stored_outcome(server, call.call_id) is None


async def test_an_outcome_reported_before_the_recorder_drained_the_call_works(settings: Any) -> None:
    """With no recorder running the call is still in the stream; the outcome and opt-out go through."""
    async with start_server(replace(settings, role="gateway")) as s:
        call = await gate(s).Check(check_request())
        r = await gate(s).ReportCallOutcome(outcome(call.call_id, dialled=True, consumer_opted_out=True))
        assert r.opt_out_registered
        async with await psycopg.AsyncConnection.connect(s.app.database_url) as conn:
            logged = await (await conn.execute("SELECT count(*) FROM call_log")).fetchone()
        assert logged == (0,)
        assert await stored_outcome(s, call.call_id) == (True, True, 0, True)
        again = await gate(s).Check(check_request())
        assert (again.decision, again.reason) == (BLOCK, gateway_pb2.REASON_REGISTERED)
        # Drained later, the call joins its outcome in PostgreSQL.
        drainer = Recorder(StreamGroup(s.app.redis), CallLogWriter(s.app.pool), "late", block_ms=20)
        assert await drainer.drain_once() == 2
        async with await psycopg.AsyncConnection.connect(s.app.database_url) as conn:
            joined = await (
                await conn.execute(
                    "SELECT o.dialled FROM call_log l JOIN call_outcome o USING (call_id) WHERE call_id = %s",
                    (call.call_id,),
                )
            ).fetchone()
        assert joined == (True,)
