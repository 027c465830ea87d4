"""Fail-closed behaviour and recovery: Redis outage, restart with an empty Redis, health, reflection."""

from __future__ import annotations

from dataclasses import replace

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dncgate.embedded import EmbeddedRedis
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.conftest import start_server, sync_redis_client
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.wait import until

pytestmark = pytest.mark.e2e


async def _register(server) -> None:
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )


async def _wait_for_reason(server, reason: int, within_s: float = 10.0) -> gateway_pb2.CheckResponse:
    async def answered_so() -> gateway_pb2.CheckResponse | None:
        r = await gate(server).Check(check_request())
        return r if r.reason == reason else None

    return await until(answered_so, within_s, what=f"a Check answered with reason {reason}")


async def test_redis_outage_blocks_every_check_then_recovers_by_rebuilding(
    server, private_redis: EmbeddedRedis
) -> None:
    """With redis-server stopped, Check is BLOCK/REGISTRY_UNAVAILABLE; restarted empty, it is rebuilt."""
    await _register(server)
    private_redis.stop()
    try:
        for callee in (CONSUMER, "13900139000"):  # registered and unregistered alike
            r = await gate(server).Check(check_request(callee))
            assert (r.decision, r.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_REGISTRY_UNAVAILABLE)
    finally:
        private_redis.start()
    # Whatever the restarted Redis holds, the server must end up answering from the journal's state.
    r = await _wait_for_reason(server, gateway_pb2.REASON_REGISTERED)
    assert (r.decision, r.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_REGISTERED)


async def test_flushed_redis_fails_closed_until_rebuilt(server, stores) -> None:
    """An emptied Redis never answers ALLOW for a registered number; the watcher rebuilds it."""
    await _register(server)
    client = sync_redis_client(stores.redis_url, stores.cluster is not None)
    client.flushdb()
    client.close()
    r = await gate(server).Check(check_request())
    assert r.decision == gateway_pb2.DECISION_BLOCK
    r = await _wait_for_reason(server, gateway_pb2.REASON_REGISTERED)
    assert r.reason == gateway_pb2.REASON_REGISTERED


async def test_restart_rebuilds_redis_from_the_journal(settings, stores) -> None:
    """Stop the server, lose Redis, start again: the registry and org policies come back from PostgreSQL."""
    async with start_server(settings) as s:
        await _register(s)
        await registry(s).SetOrgPolicy(registry_pb2.SetOrgPolicyRequest(org_id="m-org", mode=common_pb2.MODE_MONITOR))
    client = sync_redis_client(stores.redis_url, stores.cluster is not None)
    client.flushdb()
    client.close()
    async with start_server(replace(settings, sync_interval_s=3600)) as s:
        r = await gate(s).Check(check_request())
        assert (r.decision, r.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_REGISTERED)
        m = await gate(s).Check(check_request(org_id="m-org"))
        assert (m.decision, m.violation) == (gateway_pb2.DECISION_ALLOW, True)


async def test_health_and_reflection_are_served(server) -> None:
    """grpc.health.v1 says SERVING and reflection lists the dncgate services."""
    health = health_pb2_grpc.HealthStub(server.channel)
    for name in ("", "dncgate.v1.CallGate", "dncgate.v1.Registry"):
        r = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)

    async def ask():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    services = set()
    async for reply in stub.ServerReflectionInfo(ask()):
        services |= {s.name for s in reply.list_services_response.service}
    assert {"dncgate.v1.CallGate", "dncgate.v1.Registry", "dncgate.v1.Compensation"} <= services
