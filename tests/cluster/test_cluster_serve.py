"""A real gRPC server with DNCGATE_REDIS_CLUSTER=true on the local Redis Cluster, end to end.

The registry is loaded onto the cluster from the journal at start; registry writes, single Checks,
CheckBatch and the recorder (inline) all go through redis-py's cluster client; every answered call is
in call_log once; health says SERVING; a SetOrgPolicy reaches the Checks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dncgate.bootstrap import cluster_seeds
from dncgate.config import ConfigError, Settings
from dncgate.store.slots import ClusterMultiplexer
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.conftest import start_server
from tests.e2e.conftest import check_request, gate, registry
from tests.redis_cluster import Cluster
from tests.wait import until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

NUMBERS = [f"139{i:08d}" for i in range(200)]


async def test_serve_on_the_cluster_answers_registers_records_and_follows_policies(
    settings: Settings, redis_cluster: Cluster, cluster_client: Any
) -> None:
    on_cluster = replace(settings, redis_url=redis_cluster.url, redis_cluster=True)
    async with start_server(on_cluster) as server:
        lane = server.app.gateway.lane
        assert isinstance(lane.mux, ClusterMultiplexer) and lane.per_shard  # a connection per primary
        reg, stub = registry(server), gate(server)
        for n in NUMBERS[::2]:
            await reg.SetPreference(
                registry_pb2.SetPreferenceRequest(number=n, do_not_disturb=True, source=common_pb2.SOURCE_APP)
            )
        single = [await stub.Check(check_request(n)) for n in NUMBERS[:20]]
        assert [r.reason for r in single] == [
            gateway_pb2.REASON_REGISTERED if i % 2 == 0 else gateway_pb2.REASON_NOT_REGISTERED for i in range(20)
        ]
        batch = await stub.CheckBatch(gateway_pb2.CheckBatchRequest(requests=[check_request(n) for n in NUMBERS]))
        assert [r.reason for r in batch.responses] == [
            gateway_pb2.REASON_REGISTERED if i % 2 == 0 else gateway_pb2.REASON_NOT_REGISTERED
            for i in range(len(NUMBERS))
        ]
        await reg.SetOrgPolicy(registry_pb2.SetOrgPolicyRequest(org_id="wuhan-01", mode=common_pb2.MODE_MONITOR))
        monitored = await stub.Check(check_request(NUMBERS[0]))
        assert (monitored.decision, monitored.violation) == (gateway_pb2.DECISION_ALLOW, True)
        answered = {r.call_id for r in [*single, *batch.responses, monitored]}
        assert "" not in answered

        async def recorded() -> bool:
            async with server.app.pool.connection() as conn:
                rows = await (await conn.execute("SELECT call_id FROM call_log")).fetchall()
            return {r[0] for r in rows} == answered

        await until(recorded, 30, what="every answered call in call_log (the recorder on the cluster's streams)")
        assert await server.app.probe.registry_readable()
        assert (await server.app.probe.redis_instance() or "").count(",") == 2  # the three primaries' run ids


def test_the_cluster_url_names_its_seed_nodes_and_credentials() -> None:
    """`redis://[user:password@]host:port[,host:port...]`: every seed; anything else is refused naming the variable."""
    assert cluster_seeds("redis://10.0.0.1:7000,10.0.0.2:7001") == (
        [("10.0.0.1", 7000), ("10.0.0.2", 7001)],
        {"ssl": False},
    )
    seeds, options = cluster_seeds("rediss://app:s%40cret@h1:7000/")
    assert seeds == [("h1", 7000)] and options == {"ssl": True, "username": "app", "password": "s@cret"}
    for bad in ("unix:///tmp/r.sock", "redis://h1", "redis://h1:port"):
        with pytest.raises(ConfigError, match="DNCGATE_REDIS_URL"):
            cluster_seeds(bad)
