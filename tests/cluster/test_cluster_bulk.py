"""Bulk writes on a real Redis Cluster (a pipeline per primary, store/fanout.py) leave what one node holds.

The suite's single-node app is the reference: its journal rebuilt onto its own Redis and onto the
cluster gives the same registry hashes, field by field; so does a catch-up onto an empty cluster (the
import's bulk script); and a rebuild during which a slot migrates to another primary (ASK while it
moves, MOVED after) still leaves every field where the single node has it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest
import redis as sync_redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from dncgate.domain.registry import Consent, Schedule
from dncgate.service import sync
from dncgate.service.registry import RegistryService
from dncgate.store.bulk import BulkHotWriter
from dncgate.store.hot import HotRegistry
from tests.cluster.conftest import Cluster
from tests.cluster.test_cluster_layout import _journal

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

Dump = dict[bytes, dict[bytes, bytes]]
_REGISTRY_KEYS = (b"dncr*", b"dncc*")


async def _single_dump(app: Any) -> Dump:
    out: Dump = {}
    client = app.hot.client
    for pattern in _REGISTRY_KEYS:
        async for key in client.scan_iter(match=pattern, count=1000):
            out[key] = await client.hgetall(key)
    return out


def _cluster_dump(cluster: Cluster) -> Dump:
    """Every registry hash on every primary (a key found on two would be a split bucket: refused)."""
    out: Dump = {}
    for port in cluster.primaries():
        with sync_redis.Redis(port=port) as r:
            for pattern in _REGISTRY_KEYS:
                for key in r.scan_iter(match=pattern, count=1000):
                    assert key not in out, f"{key!r} on two primaries"
                    out[key] = r.hgetall(key)
    return out


def _cluster_hot(app: Any, client: RedisCluster, cls: type[HotRegistry] = HotRegistry) -> HotRegistry:
    return cls(client, app.hot.bits, app.hot.fingerprint, app.hot.shards)


async def _reference(app: Any, monkeypatch: pytest.MonkeyPatch) -> Dump:
    """Random registry writes, then the single node rebuilt from them (in batches of 16: many batches)."""
    await _journal(app, random.Random(140))
    monkeypatch.setattr(sync, "_BATCH", 16)
    await sync.rebuild(app.journal, app.hot)
    dump = await _single_dump(app)
    assert len(dump) > 200
    assert any(k.startswith(b"dncc") for k in dump)
    return dump


async def test_a_rebuild_onto_the_cluster_leaves_every_field_the_single_node_rebuild_does(
    app: Any, cluster_client: RedisCluster, redis_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preferences, consents and org-list fields, rebuilt in many batches, each sent as a pipeline per
    primary: the cluster's hashes are the single node's, key by key and field by field."""
    expected = await _reference(app, monkeypatch)
    hot = _cluster_hot(app, cluster_client)
    report = await sync.rebuild(app.journal, hot)
    assert report.numbers > 100 and report.consents > 50
    assert await hot.is_ready()
    assert _cluster_dump(redis_cluster) == expected


async def test_a_catch_up_onto_an_empty_cluster_writes_what_the_single_node_rebuild_does(
    app: Any, cluster_client: RedisCluster, redis_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catch-up's bulk script (the import's), a pipeline per primary, re-applies every consumer of
    the journal onto an empty cluster: the same hashes as the single node's rebuild."""
    expected = await _reference(app, monkeypatch)
    hot = _cluster_hot(app, cluster_client)
    registry = RegistryService(
        app.journal,
        hot,
        app.gateway.keyer,
        region=app.settings.default_region,
        default_mode=app.settings.mode,
        bulk=BulkHotWriter(hot),
    )
    assert await sync.catch_up(registry, app.journal, hot) > 100
    assert _cluster_dump(redis_cluster) == expected
    assert 0 < await hot.applied_seq() <= await app.hot.applied_seq()  # its consumers' highest seq


class _Migrating(HotRegistry):
    """A HotRegistry whose rebuild moves one slot to another primary while it writes: the slot of the
    first batch's first number is set migrating (its keys moved, so every write to it gets ASK), and the
    move is finished before the next batch that has a number in it (whose writes then get MOVED)."""

    cluster: Cluster
    slot: int | None = None
    source = target = 0
    finished = False

    async def load(
        self,
        schedules: Iterable[tuple[bytes, Schedule]],
        consents: Iterable[tuple[bytes, str, str, Consent]],
        org_lists: Iterable[tuple[bytes, str]] = (),
    ) -> None:
        schedules, consents, org_lists = list(schedules), list(consents), list(org_lists)
        keys = [s[0] for s in schedules] + [c[0] for c in consents] + [o[0] for o in org_lists]
        slots = {key_slot(self.layout.readies[self.layout.shard(k)]) for k in keys}
        if self.slot is None:
            self.slot = key_slot(self.layout.readies[self.layout.shard(keys[0])])
            assert isinstance(self.client, RedisCluster)
            self.source = int(self.client.nodes_manager.get_node_from_slot(self.slot).port)
            self.target = _begin_migration(self.cluster, self.slot, self.source)
        elif not self.finished and self.slot in slots:
            _finish_migration(self.cluster, self.slot, self.source, self.target)
            self.finished = True
        await super().load(schedules, consents, org_lists)


def _ids(cluster: Cluster) -> dict[int, str]:
    ids = {}
    for p in cluster.primaries():
        with sync_redis.Redis(port=p) as r:
            ids[p] = r.execute_command("CLUSTER", "MYID").decode()
    return ids


def _move_keys(slot: int, source: int, target: int) -> None:
    with sync_redis.Redis(port=source) as src:
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)


def _begin_migration(cluster: Cluster, slot: int, source: int) -> int:
    """Set `slot` importing on another primary and migrating on `source`, its keys moved; that primary's port."""
    ids = _ids(cluster)
    target = next(p for p in ids if p != source)
    with sync_redis.Redis(port=source) as src, sync_redis.Redis(port=target) as dst:
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    _move_keys(slot, source, target)
    return target


def _finish_migration(cluster: Cluster, slot: int, source: int, target: int) -> None:
    """Move what is left of `slot` and give it to `target` on every primary (as `redis-cli --cluster reshard`)."""
    _move_keys(slot, source, target)
    ids = _ids(cluster)
    for p in ids:
        with sync_redis.Redis(port=p) as r:
            r.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])


async def test_a_rebuild_survives_a_slot_migrated_while_it_writes(
    app: Any, cluster_client: RedisCluster, redis_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot set migrating before the rebuild's first batch and given to its new primary midway: the
    writes that got ASK or MOVED are sent again through redis-py's routed pipeline, and the cluster ends
    up holding every field of the single node's rebuild, the slot's keys all on the new primary."""
    expected = await _reference(app, monkeypatch)
    hot = _cluster_hot(app, cluster_client, _Migrating)
    assert isinstance(hot, _Migrating)
    hot.cluster = redis_cluster
    await sync.rebuild(app.journal, hot)
    assert hot.slot is not None and hot.finished
    assert _cluster_dump(redis_cluster) == expected
    assert int(cluster_client.nodes_manager.get_node_from_slot(hot.slot).port) == hot.target  # the map read again
    with sync_redis.Redis(port=hot.source) as src, sync_redis.Redis(port=hot.target) as dst:
        assert src.execute_command("CLUSTER", "COUNTKEYSINSLOT", hot.slot) == 0
        assert dst.execute_command("CLUSTER", "COUNTKEYSINSLOT", hot.slot) > 0
    assert await hot.is_ready()
