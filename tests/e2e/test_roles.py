"""`serve --role`: one process per part, as deployed, over the same real Redis and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dncgate.v1 import registry_pb2
from tests.conftest import start_server
from tests.e2e.conftest import check_request, gate, registry
from tests.wait import until

pytestmark = pytest.mark.e2e


async def logged_call_ids(database_url: str) -> set[str]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (await conn.execute("SELECT call_id FROM call_log")).fetchall()
    return {r[0] for r in rows}


async def wait_until_logged(database_url: str, call_ids: set[str], within_s: float = 10.0) -> set[str]:
    """Every call_id in call_log, once `call_ids` are all there; AssertionError after `within_s`."""

    async def all_logged() -> bool:
        return call_ids <= await logged_call_ids(database_url)

    await until(all_logged, within_s, what=f"{len(call_ids)} call(s) in call_log")
    return await logged_call_ids(database_url)


async def listed_services(channel: Any) -> set[str]:
    async def ask() -> Any:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    services: set[str] = set()
    async for reply in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(ask()):
        services |= {s.name for s in reply.list_services_response.service}
    return services


async def test_the_all_role_records_checked_calls_in_the_background(server: Any) -> None:
    """In one process, a Check's call event reaches call_log without anyone asking."""
    r = await gate(server).Check(check_request())
    assert r.call_id in await wait_until_logged(server.app.database_url, {r.call_id})


async def test_a_clean_stop_records_the_last_calls_first(settings: Any) -> None:
    """Calls checked just before shutdown are in call_log once the server has stopped."""
    async with start_server(settings) as s:
        replies = [await gate(s).Check(check_request()) for _ in range(20)]
        database_url = s.app.database_url
    assert {r.call_id for r in replies} <= await logged_call_ids(database_url)


async def test_a_gateway_and_a_recorder_process_split_the_work(settings: Any) -> None:
    """A gateway-only server answers Checks; a recorder-only server serves just health and drains the stream."""
    async with (
        start_server(replace(settings, role="gateway")) as gateway_server,
        start_server(replace(settings, role="recorder", recorder_consumer="recorder-0")) as recorder_server,
    ):
        replies = [await gate(gateway_server).Check(check_request()) for _ in range(5)]
        ids = {r.call_id for r in replies}
        assert ids <= await wait_until_logged(settings.database_url, ids)

        health = health_pb2_grpc.HealthStub(recorder_server.channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await gate(recorder_server).Check(check_request())
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert not {s for s in await listed_services(recorder_server.channel) if s.startswith("dncgate.")}


async def test_a_gateway_role_serves_callgate_and_nothing_else(settings: Any) -> None:
    """Registry RPCs are UNIMPLEMENTED on a gateway-only server, and reflection lists only CallGate."""
    async with start_server(replace(settings, role="gateway")) as s:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await registry(s).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id="acme"))
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert {n for n in await listed_services(s.channel) if n.startswith("dncgate.")} == {"dncgate.v1.CallGate"}
