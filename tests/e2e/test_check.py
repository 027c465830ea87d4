"""Check, CheckStream and CheckBatch through a real gRPC server over real Redis and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.wait import until

pytestmark = pytest.mark.e2e

ALLOW, BLOCK = gateway_pb2.DECISION_ALLOW, gateway_pb2.DECISION_BLOCK


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


async def register(server, number: str = CONSUMER, *categories: int, dnd: bool = True) -> registry_pb2.Preference:
    return await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(
            number=number, do_not_disturb=dnd, categories=list(categories), source=common_pb2.SOURCE_APP
        )
    )


async def test_unregistered_number_is_allowed_and_normalised(server) -> None:
    """A number nobody registered is ALLOW/NOT_REGISTERED, with its E.164 and a call id."""
    r = await gate(server).Check(check_request("+86 138-0013-8000"))
    assert (r.decision, r.reason) == (ALLOW, gateway_pb2.REASON_NOT_REGISTERED)
    assert r.callee_e164 == "+8613800138000"
    assert len(r.call_id) == 32
    assert not r.violation


async def test_registered_number_is_blocked_in_any_format(server) -> None:
    """After SetPreference in the app, the same consumer is blocked whatever format the dialer sends."""
    await register(server, "13800138000")
    for text in ("13800138000", "+8613800138000", "0086 138 0013 8000", "１３８００１３８０００"):
        r = await gate(server).Check(check_request(text))
        assert (r.decision, r.reason) == (BLOCK, gateway_pb2.REASON_REGISTERED), text


async def test_registration_for_another_category_does_not_block(server) -> None:
    """Do-not-disturb for finance only leaves a real-estate call allowed."""
    await register(server, CONSUMER, common_pb2.CATEGORY_FINANCE)
    r = await gate(server).Check(check_request(category=common_pb2.CATEGORY_REAL_ESTATE))
    assert r.decision == ALLOW
    r = await gate(server).Check(check_request(category=common_pb2.CATEGORY_FINANCE))
    assert (r.decision, r.reason) == (BLOCK, gateway_pb2.REASON_REGISTERED)


async def test_consent_allows_until_it_expires(server) -> None:
    """An org-wide consent allows the call; once expired the registration blocks again."""
    await register(server)
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id="wuhan-01", expires_at=ts(expires))
    )
    r = await gate(server).Check(check_request(agent_id="a99"))
    assert (r.decision, r.reason) == (ALLOW, gateway_pb2.REASON_CONSENT_ON_FILE)

    async def no_longer_allowed() -> gateway_pb2.CheckResponse | None:
        answer = await gate(server).Check(check_request(agent_id="a99"))
        return answer if answer.decision != ALLOW else None

    # At most a second past the expiry: the consent must lapse on time, not eventually.
    within_s = max((expires - datetime.now(UTC)).total_seconds(), 0) + 1.0
    r = await until(no_longer_allowed, within_s, what="the expired consent to stop allowing the call")
    assert (r.decision, r.reason) == (BLOCK, gateway_pb2.REASON_REGISTERED)


async def test_agent_consent_covers_only_that_agent_and_can_be_revoked(server) -> None:
    """A consent to agent a17 allows a17, not a18, and stops once revoked."""
    await register(server)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id="wuhan-01", agent_id="a17")
    )
    assert (await gate(server).Check(check_request(agent_id="a17"))).decision == ALLOW
    assert (await gate(server).Check(check_request(agent_id="a18"))).decision == BLOCK
    await registry(server).RevokeConsent(
        registry_pb2.RevokeConsentRequest(consumer_number=CONSUMER, org_id="wuhan-01", agent_id="a17")
    )
    assert (await gate(server).Check(check_request(agent_id="a17"))).decision == BLOCK


async def test_monitor_mode_allows_and_flags_the_violation(server) -> None:
    """An org in monitor mode dials a registered number but the reply carries violation=true."""
    await register(server)
    await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(org_id="wuhan-01", mode=common_pb2.MODE_MONITOR)
    )
    r = await gate(server).Check(check_request())
    assert (r.decision, r.reason, r.violation) == (ALLOW, gateway_pb2.REASON_REGISTERED, True)
    other = await gate(server).Check(check_request(org_id="other-org"))
    assert (other.decision, other.violation) == (BLOCK, False)
    policy = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id="other-org"))
    assert (policy.mode, policy.explicit) == (common_pb2.MODE_ENFORCE, False)


async def test_garbage_callee_is_invalid_number_not_an_error(server) -> None:
    """An impossible callee is BLOCK/INVALID_NUMBER; the request itself succeeds."""
    for text in ("abc", "12345", "+86 1", "１２"):
        r = await gate(server).Check(check_request(text))
        assert (r.decision, r.reason, r.callee_e164) == (BLOCK, gateway_pb2.REASON_INVALID_NUMBER, ""), text


@pytest.mark.parametrize("field", ["callee_number", "caller_number", "org_id"])
async def test_missing_required_field_is_invalid_argument_naming_it(server, field: str) -> None:
    """A request without callee, caller or org is INVALID_ARGUMENT with a BadRequest naming the field."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gate(server).Check(check_request(**{field: ""}))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(info.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == [field]


async def test_check_stream_answers_in_order_and_echoes_request_ids(server) -> None:
    """CheckStream returns one response per request, in order, with the request_id echoed."""
    await register(server, "13800138001")
    numbers = ["13800138000", "13800138001", "garbage"] * 20

    async def requests():
        for i, n in enumerate(numbers):
            yield check_request(n, request_id=f"r{i}")

    responses = [r async for r in gate(server).CheckStream(requests())]
    assert [r.request_id for r in responses] == [f"r{i}" for i in range(len(numbers))]
    expected = [gateway_pb2.REASON_NOT_REGISTERED, gateway_pb2.REASON_REGISTERED, gateway_pb2.REASON_INVALID_NUMBER]
    assert [r.reason for r in responses] == expected * 20


async def test_check_batch_scrubs_a_list_and_counts(server) -> None:
    """CheckBatch answers every request in order and counts allowed and blocked."""
    registered = [f"1380013{i:04d}" for i in range(0, 1000, 4)]
    for n in registered:
        await register(server, n)
    batch = [check_request(f"1380013{i:04d}", request_id=str(i)) for i in range(1000)]
    r = await gate(server).CheckBatch(gateway_pb2.CheckBatchRequest(requests=batch))
    assert len(r.responses) == 1000
    assert (r.allowed, r.blocked) == (750, 250)
    assert [x.request_id for x in r.responses] == [str(i) for i in range(1000)]
    assert all((x.decision == BLOCK) == (i % 4 == 0) for i, x in enumerate(r.responses))


async def test_check_batch_over_the_limit_is_rejected(server) -> None:
    """A batch larger than the configured maximum is INVALID_ARGUMENT on `requests`."""
    batch = [check_request() for _ in range(server.settings.max_batch + 1)]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gate(server).CheckBatch(gateway_pb2.CheckBatchRequest(requests=batch))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requests" in info.value.details()


async def test_every_check_reaches_the_call_log(server) -> None:
    """Each Check is logged under its call_id and the in-server recorder drains it into PostgreSQL."""
    r1 = await gate(server).Check(check_request())
    r2 = await gate(server).Check(check_request("nonsense"))

    async def both_logged() -> list[tuple[str, str, str, str, bytes, str]]:
        async with server.app.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT call_id, decision, reason, caller_e164, callee_key, callee_masked FROM call_log"
                " WHERE call_id = ANY(%s) ORDER BY at, call_id",
                ([r1.call_id, r2.call_id],),
            )
            rows = await cur.fetchall()
        return rows if len(rows) >= 2 else []

    rows = await until(both_logged, what="both calls in call_log")
    assert sorted(r[0] for r in rows) == sorted([r1.call_id, r2.call_id])
    by_id = {r[0]: r for r in rows}
    assert by_id[r1.call_id][1:4] == ("ALLOW", "NOT_REGISTERED", "+862759001234")
    assert by_id[r2.call_id][1:3] == ("BLOCK", "INVALID_NUMBER")
    assert len(by_id[r1.call_id][4]) == 32  # the keyed hash, not the number
    assert "13800138000" not in by_id[r1.call_id][5]


@pytest.mark.parametrize(
    ("field", "value"),
    [("agent_id", "a\x1f17"), ("campaign_id", "x" * 129), ("org_id", "org\nid"), ("request_id", "r\x00")],
)
async def test_control_characters_or_overlong_ids_are_invalid_argument(server, field: str, value: str) -> None:
    """Ids are logged with every call: a control character or more than 128 characters is refused, by name."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gate(server).Check(check_request(**{field: value}))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(info.value)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == [field]


async def test_one_log_line_per_request_of_our_services_none_for_health(server) -> None:
    """Each CallGate request logs one `rpc` line with its status and masked callee; health probes log nothing."""
    import structlog
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from structlog.testing import LogCapture

    capture = LogCapture()
    old = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        await gate(server).Check(check_request("+86 138-0013-8000"))
        with pytest.raises(grpc.aio.AioRpcError):
            await gate(server).Check(check_request("+86 138-0013-8000", caller_number=""))
        await health_pb2_grpc.HealthStub(server.channel).Check(health_pb2.HealthCheckRequest())
    finally:
        structlog.configure(**old)
    logs = capture.entries
    lines = [e for e in logs if e["event"] == "rpc"]
    assert [(e["method"], e["status"]) for e in lines] == [("Check", "OK"), ("Check", "INVALID_ARGUMENT")]
    assert lines[0]["callee"] == "+86138****8000" and lines[0]["decision"] == "ALLOW"
    assert "13800138000" not in repr(logs)
