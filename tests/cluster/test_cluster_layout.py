"""The registry's layout on a real Redis Cluster: one Check touches one slot, whichever primary holds it.

The suite's single-node app (its journal, PostgreSQL and gateway) is the reference: the same registry,
rebuilt from its journal onto the cluster, answers every Check and CheckBatch as the single node does,
without a CROSSSLOT error, for callees on all three primaries. The recorder drains every shard's stream
from the cluster into call_log, and complaint evidence finds a call still undrained on the consumer's
own stream.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from dncgate.bootstrap import build_gateway
from dncgate.domain.types import Category, Mode, Reason, Source
from dncgate.service import sync
from dncgate.service.gateway import Gateway
from dncgate.service.recorder import Recorder
from dncgate.service.registry import RegistryService
from dncgate.store.bulk import BulkHotWriter
from dncgate.store.evidence import CallEvidence
from dncgate.store.hot import HotRegistry
from dncgate.store.pg import Database
from dncgate.store.recorder import CallLogWriter, StreamGroup
from tests.integration.support import CALLER, FakeClock, check_input, key_of
from tests.redis_cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
NUMBERS = [f"139{i:08d}" for i in range(300)]
ORGS = ["acme", "globex", "initech"]


async def _journal(app: Any, rng: random.Random) -> None:
    """Random registry writes through the single-node app (journal and its Redis): do-not-disturb for
    some categories, consents of orgs and agents, org lists, one org in monitor mode."""
    for n in NUMBERS:
        roll = rng.random()
        if roll < 0.5:
            cats = rng.choice([[], [Category.FINANCE], [Category.REAL_ESTATE, Category.HEALTH]])
            await app.registry.set_preference(n, True, cats, Source.APP, None, None, actor="test")
        if rng.random() < 0.3:
            agent = rng.choice(["", "agent-1"])
            await app.registry.grant_consent(n, rng.choice(ORGS), agent, None, "form", None, actor="test")
        if rng.random() < 0.1:
            await app.registry.add_to_org_list(rng.choice(ORGS), n, "asked", None, actor="test")
    await app.registry.set_org_policy("globex", Mode.MONITOR, None, actor="test")


def _cluster_gateway(app: Any, client: RedisCluster, multiplex: bool = False) -> tuple[HotRegistry, Gateway]:
    """A gateway on the cluster: through redis-py's cluster client, or (`multiplex`) a multiplexed
    connection per primary (`store/slots.py`)."""
    hot = HotRegistry(client, app.hot.bits, app.hot.fingerprint, app.hot.shards)
    gateway = build_gateway(app.settings, hot, app.gateway.keyer, multiplex=multiplex, per_shard=True)
    gateway.org_caps.caps, gateway.org_caps.monitors = app.gateway.org_caps.caps, app.gateway.org_caps.monitors
    return hot, gateway


def _requests(rng: random.Random) -> list[Any]:
    reqs = []
    for i, n in enumerate(NUMBERS):
        callee = n if rng.random() > 0.03 else "not a number"
        org, agent = rng.choice(ORGS), rng.choice(["", "agent-1", "agent-2"])
        category = rng.choice(list(Category))
        reqs.append(check_input(callee, org=org, agent=agent, category=category, request_id=f"r{i}"))
    return reqs


def _answer(r: Any) -> tuple[Any, ...]:
    return (r.verdict, r.callee_e164, r.callee_masked, r.request_id)


@pytest.mark.parametrize("multiplex", [False, True], ids=["redis-py cluster client", "a connection per primary"])
async def test_checks_on_the_cluster_answer_as_on_one_node_for_callees_on_every_primary(
    app: Any, cluster_client: RedisCluster, redis_cluster: Cluster, multiplex: bool
) -> None:
    """The registry rebuilt from the journal onto the cluster answers every single Check and every
    CheckBatch (one script call per shard) exactly as the single node does; the callees' keys are on
    all three primaries, and no call fails (a CROSSSLOT error would fail it closed)."""
    rng = random.Random(14)
    await _journal(app, rng)
    hot, gateway = _cluster_gateway(app, cluster_client, multiplex)
    assert (gateway.lane.mux is not None) is multiplex
    report = await sync.rebuild(app.journal, hot)
    assert report.numbers > 100
    assert await hot.is_ready()
    clock = FakeClock(NOW.timestamp())
    app.gateway.clock = gateway.clock = clock
    try:
        reqs = _requests(rng)
        on_node = [await app.gateway.check(r) for r in reqs]
        on_cluster = [await gateway.check(r) for r in reqs]
        assert [_answer(r) for r in on_cluster] == [_answer(r) for r in on_node]
        assert Reason.REGISTRY_UNAVAILABLE not in {r.verdict.reason for r in on_cluster}
        assert {Reason.REGISTERED, Reason.CONSENT_ON_FILE, Reason.NOT_REGISTERED, Reason.ORG_LIST} <= {
            r.verdict.reason for r in on_cluster
        }
        batch_node = await app.gateway.check_many(reqs)
        batch_cluster = await gateway.check_many(reqs)
        assert [_answer(r) for r in batch_cluster] == [_answer(r) for r in batch_node] == [_answer(r) for r in on_node]
    finally:
        await gateway.aclose()
    primaries = redis_cluster.primaries()
    assert len(primaries) == 3
    for p in primaries:  # every primary holds registry hashes and call streams
        node = cluster_client.get_node("127.0.0.1", p)
        assert node is not None
        assert await cluster_client.dbsize(target_nodes=node) > 0  # type: ignore[no-untyped-call]


async def test_registry_writes_on_the_cluster_are_read_by_the_next_check(
    app: Any, cluster_client: RedisCluster
) -> None:
    """The registry's own write path over the cluster (journal, then one transaction in the callee's
    slot): each change is what the next Check on the cluster reads."""
    hot, gateway = _cluster_gateway(app, cluster_client)
    await sync.rebuild(app.journal, hot)
    registry = RegistryService(
        app.journal,
        hot,
        app.gateway.keyer,
        region=app.settings.default_region,
        default_mode=app.settings.mode,
        bulk=BulkHotWriter(hot),
    )
    try:
        for n in NUMBERS[:20]:
            assert (await gateway.check(check_input(n))).verdict.reason is Reason.NOT_REGISTERED
            await registry.add_to_org_list("initech", n, "asked", None, actor="test")
            assert (await gateway.check(check_input(n, org="initech"))).verdict.reason is Reason.ORG_LIST
            await registry.set_preference(n, True, [], Source.APP, None, None, actor="test")
            assert (await gateway.check(check_input(n))).verdict.reason is Reason.REGISTERED
            await registry.grant_consent(n, "acme", "", None, "form", None, actor="test")
            assert (await gateway.check(check_input(n))).verdict.reason is Reason.CONSENT_ON_FILE
        assert not registry.dirty  # every apply reached the cluster
    finally:
        await gateway.aclose()


async def test_the_recorder_drains_every_shards_stream_of_the_cluster_into_call_log(
    app: Any, cluster_client: RedisCluster
) -> None:
    """Checks on the cluster append to their shards' streams on the three primaries; two recorders
    reading every stream (one command per stream, pipelined) record each call once, and empty them."""
    hot, gateway = _cluster_gateway(app, cluster_client)
    await sync.rebuild(app.journal, hot)
    try:
        results = await gateway.check_many([check_input(n) for n in NUMBERS])
    finally:
        await gateway.aclose()
    assert all(r.call_id for r in results)
    recorders = [
        Recorder(
            StreamGroup(cluster_client, hot.layout.streams, cluster=True),
            CallLogWriter(app.pool),
            name,
            batch=7,
            block_ms=0,
        )
        for name in ("pod-a", "pod-b")
    ]
    drained = [0, 0]
    while True:
        got = [await rec.drain_once(block=False) for rec in recorders]
        drained = [d + g for d, g in zip(drained, got, strict=True)]
        if not any(got):
            break
    assert all(drained) and sum(drained) == len(NUMBERS)
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT call_id FROM call_log")).fetchall()
    assert sorted(r[0] for r in rows) == sorted(r.call_id for r in results)
    pipe = cluster_client.pipeline(transaction=False)
    for stream in hot.layout.streams:
        pipe.xlen(stream)
    assert sum(await pipe.execute()) == 0


async def test_complaint_evidence_finds_an_undrained_call_on_the_consumers_own_stream(
    app: Any, cluster_client: RedisCluster
) -> None:
    """A call not yet drained is found by complaint verification in the consumer's shard's stream on the
    cluster (and a call to someone else is not)."""
    hot, gateway = _cluster_gateway(app, cluster_client)
    await sync.rebuild(app.journal, hot)
    try:
        mine = await gateway.check(check_input(NUMBERS[5]))
        await gateway.check(check_input(NUMBERS[6]))
    finally:
        await gateway.aclose()
    evidence = CallEvidence(Database(app.pool, 2.0), cluster_client, hot.layout)
    now = datetime.now(UTC)
    found = await evidence.calls_to(
        key_of(app, NUMBERS[5]), [CALLER], now - timedelta(minutes=5), now + timedelta(minutes=5)
    )
    assert [c.call_id for c in found] == [mine.call_id]


def _migrate_slot(cluster: Cluster, slot: int, owner: int) -> int:
    """Move one slot, keys and all, from its primary `owner` to another (CLUSTER SETSLOT, MIGRATE, as
    `redis-cli --cluster reshard` does); the port of its new primary."""
    import redis as sync_redis

    ports = cluster.primaries()
    ids = {}
    for p in ports:
        with sync_redis.Redis(port=p) as r:
            ids[p] = r.execute_command("CLUSTER", "MYID").decode()
    target = next(p for p in ports if p != owner)
    with sync_redis.Redis(port=owner) as src, sync_redis.Redis(port=target) as dst:
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner])
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
    for p in ports:
        with sync_redis.Redis(port=p) as r:
            r.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    return target


async def test_a_check_follows_its_slot_to_its_new_primary_after_a_reshard(
    app: Any, cluster_client: RedisCluster, redis_cluster: Cluster
) -> None:
    """A slot moved to another primary: the multiplexed lane, still sending to the old owner, gets
    MOVED, reads the slot map again and answers from the new owner; nothing fails closed."""
    from redis.crc import key_slot

    await app.registry.set_preference(NUMBERS[0], True, [], Source.APP, None, None, actor="test")
    hot, gateway = _cluster_gateway(app, cluster_client, multiplex=True)
    await sync.rebuild(app.journal, hot)
    try:
        assert (await gateway.check(check_input(NUMBERS[0]))).verdict.reason is Reason.REGISTERED
        slot = key_slot(hot.layout.readies[hot.layout.shard(key_of(app, NUMBERS[0]))])
        source = int(cluster_client.nodes_manager.get_node_from_slot(slot).port)
        target = _migrate_slot(redis_cluster, slot, source)
        for _ in range(3):
            assert (await gateway.check(check_input(NUMBERS[0]))).verdict.reason is Reason.REGISTERED
        [r] = await gateway.check_many([check_input(NUMBERS[0])])
        assert r.verdict.reason is Reason.REGISTERED
        assert int(cluster_client.nodes_manager.get_node_from_slot(slot).port) == target  # the map read again
    finally:
        await gateway.aclose()
