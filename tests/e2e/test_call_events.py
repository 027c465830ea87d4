"""Every answer that carries a call_id has its event stored; without a stored event, no call_id.

The server here runs on a redis-server of the test's own, so stopping it cannot hurt other tests. With
DNCGATE_TEST_REDIS_CLUSTER=1 the tests that do not stop it run on the suite's Redis Cluster instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from dncgate.config import Settings
from dncgate.embedded import EmbeddedRedis
from dncgate.store.calls import decode_event
from dncgate.store.hot import Layout
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.conftest import CLUSTER_MODE, Server, start_server, sync_redis_client, with_settings
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.integration.support import ALL_STREAMS

pytestmark = pytest.mark.e2e

UNREGISTERED = "13900139000"
INVALID = "12345"  # too short to be a number: INVALID_NUMBER
CALLEES = (CONSUMER, UNREGISTERED, INVALID)


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server for this test alone (short socket path under /tmp)."""
    with tempfile.TemporaryDirectory(prefix="dnc-") as d:
        server = EmbeddedRedis(Path(d)).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
async def own_server(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """A real gRPC server whose Redis is `own_redis` (on the cluster, the suite's cluster, unless the test
    asks for `own_redis`); its registry watcher idle (the tests set Redis's state)."""
    if CLUSTER_MODE and "own_redis" not in request.fixturenames:
        here = with_settings(settings, sync_interval_s=3600)
    else:
        own: EmbeddedRedis = request.getfixturevalue("own_redis")
        here = with_settings(settings, redis_url=own.url, redis_cluster=False, sync_interval_s=3600)
    async with start_server(here) as s:
        await registry(s).SetPreference(
            registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
        )
        yield s


async def _every_way(server: Server) -> list[gateway_pb2.CheckResponse]:
    """Each callee of CALLEES checked singly, over a stream, and in a batch: the responses in that order."""
    stub = gate(server)
    single = [await stub.Check(check_request(c, request_id=f"s-{i}")) for i, c in enumerate(CALLEES)]
    call = stub.CheckStream()
    streamed = []
    for i, c in enumerate(CALLEES):
        await call.write(check_request(c, request_id=f"t-{i}"))
        streamed.append(await call.read())
    await call.done_writing()
    batch = await stub.CheckBatch(
        gateway_pb2.CheckBatchRequest(requests=[check_request(c, request_id=f"b-{i}") for i, c in enumerate(CALLEES)])
    )
    return [*single, *streamed, *batch.responses]


def _stored(server: Server, call_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(decision, reason) of each call_id's event found in the stream, or already recorded in call_log.

    The stream is read first: the recorder trims an entry only after committing its row, so an event
    not in the stream then is in call_log by the time it is read.
    """
    client = _redis(server)
    try:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = [
            e
            for stream in ALL_STREAMS
            for e in client.xrange(stream)  # type: ignore[union-attr]
        ]
    finally:
        client.close()
    found = {e.call_id: (e.decision.value, e.reason.value) for e in (decode_event(f) for _, f in entries)}
    with psycopg.connect(server.settings.database_url or "") as conn:
        rows = conn.execute(
            "SELECT call_id, decision, reason FROM call_log WHERE call_id = ANY(%s)", (list(call_ids),)
        ).fetchall()
    for call_id, decision, reason in rows:
        found.setdefault(call_id, (decision, reason))
    return {c: found[c] for c in call_ids if c in found}


def _redis(server: Server) -> redis.Redis:
    return sync_redis_client(server.settings.redis_url or "", server.settings.redis_cluster)


def _names(r: Any) -> tuple[str, str]:
    decision = gateway_pb2.Decision.Name(r.decision).removeprefix("DECISION_")
    return decision, gateway_pb2.Reason.Name(r.reason).removeprefix("REASON_")


@pytest.mark.single_node_redis("stops its redis-server")
async def test_with_its_redis_stopped_every_answer_is_registry_unavailable_without_a_call_id(
    own_server: Server, own_redis: EmbeddedRedis
) -> None:
    """Redis down: valid and invalid callees alike, single, streamed and batched, get BLOCK / REGISTRY_UNAVAILABLE
    and an empty call_id, since no event could be stored to point to."""
    own_redis.stop()
    responses = await _every_way(own_server)
    assert len(responses) == 3 * len(CALLEES)
    for r in responses:
        assert (r.decision, r.reason, r.call_id) == (
            gateway_pb2.DECISION_BLOCK,
            gateway_pb2.REASON_REGISTRY_UNAVAILABLE,
            "",
        ), r


async def test_with_redis_up_every_answered_call_id_has_its_event_stored(own_server: Server) -> None:
    """Redis up: every answer, single, streamed and batched, carries a call_id whose event is stored
    with the same decision and reason."""
    responses = await _every_way(own_server)
    answered = {r.call_id: _names(r) for r in responses}
    assert "" not in answered and len(answered) == len(responses)
    assert {reason for _, reason in answered.values()} == {"REGISTERED", "NOT_REGISTERED", "INVALID_NUMBER"}
    assert _stored(own_server, list(answered)) == answered


async def test_with_the_registry_not_loaded_each_answer_points_to_its_stored_event(own_server: Server) -> None:
    """Redis up but the registry not loaded: the scripts log nothing, the gateway stores each event itself,
    and every answer (REGISTRY_UNAVAILABLE, or INVALID_NUMBER for an invalid callee) points to it."""
    client = _redis(own_server)
    try:
        client.delete(*Layout().readies)
    finally:
        client.close()
    responses = await _every_way(own_server)
    answered = {r.call_id: _names(r) for r in responses}
    assert "" not in answered and len(answered) == len(responses)
    assert set(answered.values()) == {("BLOCK", "REGISTRY_UNAVAILABLE"), ("BLOCK", "INVALID_NUMBER")}
    assert _stored(own_server, list(answered)) == answered
