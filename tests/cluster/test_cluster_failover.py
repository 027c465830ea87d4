"""kill -9 of a Redis Cluster primary under a bounded Check load, with a real gRPC server on the cluster.

Asserted: no ALLOW for a registered callee at any time; Checks answered from the registry again once
the replica is promoted; a journal write the cluster lacks (standing for one an old primary
acknowledged and the failover lost) re-applied after the failover; every call answered with a
call_id recorded in call_log, but for those answered in the last second before the kill (Redis
replicates asynchronously: what the dead primary had not yet sent its replica is gone, as the README
says).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from dncgate.config import Settings
from dncgate.domain.types import ALL_CATEGORIES_MASK, Source
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.conftest import start_server
from tests.e2e.conftest import check_request, gate, registry
from tests.integration.support import key_of
from tests.redis_cluster import Cluster
from tests.wait import until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

REGISTERED = [f"139{i:08d}" for i in range(0, 120, 2)]
UNREGISTERED = [f"139{i:08d}" for i in range(1, 120, 2)]
LOST = "13700000001"  # journalled, never applied to the cluster: as if the failover lost it
LOST_BEFORE_S = 1.0


async def test_a_killed_primary_fails_closed_then_recovers_with_the_journal_reapplied(
    settings: Settings, private_cluster: Cluster
) -> None:
    on_cluster = replace(settings, redis_url=private_cluster.url, redis_cluster=True, redis_timeout_ms=300)
    async with start_server(on_cluster) as server:
        reg, stub = registry(server), gate(server)
        for n in REGISTERED:
            await reg.SetPreference(
                registry_pb2.SetPreferenceRequest(number=n, do_not_disturb=True, source=common_pb2.SOURCE_APP)
            )
        async with server.app.journal.consumer(key_of(server.app, LOST)) as session:
            await session.append_preference(True, ALL_CATEGORIES_MASK, Source.APP, None, None, recorded_by="test")
        answers: list[tuple[float, str, Any]] = []  # (monotonic time, callee, response)
        stop = asyncio.Event()

        async def load() -> None:
            i = 0
            while not stop.is_set():
                callee = (REGISTERED + UNREGISTERED)[i % (2 * len(REGISTERED))]
                answers.append((time.monotonic(), callee, await stub.Check(check_request(callee), timeout=5)))
                i += 1

        loaders = [asyncio.create_task(load()) for _ in range(4)]
        try:
            await until(lambda: len(answers) > 200, 20, what="the load running")
            before = await stub.Check(check_request(LOST))
            assert before.reason == gateway_pb2.REASON_NOT_REGISTERED  # the cluster lacks the write
            victim = private_cluster.primaries()[0]
            killed_at = time.monotonic()
            private_cluster.kill(victim)

            async def recovered() -> bool:
                await asyncio.sleep(0)
                recent = [r for t, _, r in answers[-40:] if t > killed_at]
                return len(recent) == 40 and all(r.reason != gateway_pb2.REASON_REGISTRY_UNAVAILABLE for r in recent)

            await until(recovered, 60, what="Checks answered from the registry after the replica's promotion")
            recovered_after = time.monotonic() - killed_at
        finally:
            stop.set()
            await asyncio.gather(*loaders)
        unavailable = gateway_pb2.REASON_REGISTRY_UNAVAILABLE
        failed_closed = [r for t, _, r in answers if t > killed_at and r.reason == unavailable]
        assert failed_closed, "the kill did not reach the Checks"
        for _, callee, r in answers:
            if callee in REGISTERED:
                assert r.decision == gateway_pb2.DECISION_BLOCK, (callee, r)

        # The promotion is seen by the next probe of the primaries' run ids (every 0.5 s): Checks are held
        # while the journal's recent writes are re-applied, and the lost one is back.
        async def reapplied() -> Any:
            r = await stub.Check(check_request(LOST))
            return r if r.reason == gateway_pb2.REASON_REGISTERED else None

        after = await until(reapplied, 30, what="the write the cluster lacked re-applied from the journal")

        kept = {r.call_id for t, _, r in answers if r.call_id and not killed_at - LOST_BEFORE_S < t < killed_at}
        kept |= {after.call_id, before.call_id}

        async def recorded() -> bool:
            async with server.app.pool.connection() as conn:
                rows = await (await conn.execute("SELECT call_id FROM call_log")).fetchall()
            return kept <= {r[0] for r in rows}

        await until(recorded, 60, what="every answered call in call_log")
        print(f"failover: Checks answered from the registry again {recovered_after:.1f} s after the kill")
