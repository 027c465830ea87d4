"""The catch-up after a restart: folded, sliced re-applies that leave Redis as a rebuild would."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from dncgate.domain.registry import Consent, Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK, Decision, Reason, Source
from dncgate.service import catchup, sync
from dncgate.store.bulk import BulkHotWriter, ConsentState
from dncgate.store.catchup import Changed, PackedKeys, changed_since, preference_rows
from dncgate.store.hot import SEQ
from tests.integration.support import (
    CONSUMER,
    OTHER_CONSUMER,
    VARIED_NUMBERS,
    check_input,
    key_of,
    registry_hashes,
    varied_registry,
)

pytestmark = pytest.mark.integration

NUMBERS = VARIED_NUMBERS


async def _last_consumer_seq(app: Any) -> int:
    """The highest seq of the preference and consent journals (org policies share the sequence)."""
    async with app.journal.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT greatest((SELECT max(seq) FROM preference_journal), (SELECT max(seq) FROM consent_journal))"
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _garble(app: Any) -> None:
    """Make every registry field wrong, and add preference fields for numbers that must have none."""
    client = app.redis
    for pattern in (b"dncr*", b"dncc*"):
        async for k in client.scan_iter(match=pattern, count=1000):
            for field in await client.hkeys(k):
                await client.hset(k, field, b"7")
    for number in NUMBERS:
        hkey, field = app.hot.pref_location(key_of(app, number))
        await client.hsetnx(hkey, field, b"127")


async def test_catch_up_leaves_redis_exactly_as_a_rebuild_would(app: Any) -> None:
    """After every field is garbled (the watermark at 0), catch_up writes back byte-identical preference and
    consent hashes, deleting the fields of numbers with nothing in force."""
    await varied_registry(app)
    expected = await registry_hashes(app.redis)
    await _garble(app)
    await app.redis.set(SEQ, 0)
    assert await registry_hashes(app.redis) != expected
    assert await sync.catch_up(app.registry, app.journal, app.hot) == len(NUMBERS)
    assert await registry_hashes(app.redis) == expected
    assert await app.hot.applied_seq() == await _last_consumer_seq(app)


async def _changed(app: Any) -> Changed:
    async with app.journal.pool.connection() as conn:
        return await changed_since(conn, 0, sync.CATCH_UP_WINDOW)


async def test_reapplying_in_many_small_slices_and_sections_gives_the_same_redis(app: Any) -> None:
    """Slices of seven consumers, sections of three slices (the last ones shorter), end in the same hashes."""
    await varied_registry(app)
    expected = await registry_hashes(app.redis)
    await _garble(app)
    await app.redis.set(SEQ, 0)
    changed = await _changed(app)
    assert len(changed.preferences) == changed.consumers == len(NUMBERS)
    assert 0 < len(changed.consents) < len(NUMBERS)
    seq = await catchup.reapply_many(app.registry, changed, slice_keys=7, section_keys=21)
    assert seq == await _last_consumer_seq(app) == await app.hot.applied_seq()
    assert await registry_hashes(app.redis) == expected


async def test_a_catch_up_cut_short_leaves_the_watermark_where_it_was(app: Any) -> None:
    """If a slice's Redis write fails, catch_up raises and dnc:seq does not move, so the next catch-up
    still finds every consumer; once Redis is sound again it applies them all."""
    await varied_registry(app)
    expected = await registry_hashes(app.redis)
    await app.redis.set(SEQ, 0)
    victim, _ = app.hot.pref_location(key_of(app, NUMBERS[-1]))
    saved = await app.redis.hgetall(victim)
    await app.redis.delete(victim)
    await app.redis.set(victim, b"not a hash")  # every HSET into this bucket now fails with WRONGTYPE
    with pytest.raises(redis.exceptions.ResponseError):
        await catchup.reapply_many(app.registry, await _changed(app), slice_keys=10, section_keys=30)
    assert await app.hot.applied_seq() == 0
    await app.redis.delete(victim)
    await app.redis.hset(victim, mapping=saved)
    assert await sync.catch_up(app.registry, app.journal, app.hot) == len(NUMBERS)
    assert await registry_hashes(app.redis) == expected


async def test_a_bulk_write_failing_part_way_does_not_raise_the_watermark(app: Any) -> None:
    """When an early script call of a bulk write fails, the calls after it still run (a pipeline), but
    dnc:seq stays: it is raised only once every write succeeded."""
    keys = [hashlib.sha256(b"%d" % i).digest() for i in range(1_200)]  # three script calls
    victim, _ = app.hot.pref_location(keys[0])
    await app.redis.set(victim, b"not a hash")
    await app.redis.set(SEQ, 0)
    writer = BulkHotWriter(app.hot)
    with pytest.raises(redis.exceptions.ResponseError):
        await writer.write([(k, Schedule(ALL_CATEGORIES_MASK)) for k in keys], 99)
    assert await app.hot.applied_seq() == 0
    hkey, field = app.hot.pref_location(keys[-1])
    assert await app.redis.hget(hkey, field) is not None  # the last call did run
    await app.redis.delete(victim)
    await writer.write([(k, Schedule(ALL_CATEGORIES_MASK)) for k in keys], 99)
    assert await app.hot.applied_seq() == 99


async def _journal_at(app: Any, number: str, recorded_at: datetime) -> int:
    """Journal a do-not-disturb recorded (and effective) at a past time, without applying it; its seq."""
    async with app.journal.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO preference_journal (consumer_key, do_not_disturb, categories, source, effective_from,"
            " recorded_at, recorded_by) VALUES (%s, true, %s, %s, %s, %s, 'test') RETURNING seq",
            (key_of(app, number), ALL_CATEGORIES_MASK, int(Source.APP), recorded_at, recorded_at),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _decision(app: Any, number: str) -> tuple[Decision, Reason]:
    v = (await app.gateway.check(check_input(number))).verdict
    return v.decision, v.reason


async def test_the_window_ends_at_the_journals_latest_entry_not_at_the_restart(app: Any) -> None:
    """A change left unapplied by a crash two hours ago, below a watermark raised just after it, is still
    re-applied at a restart now; one recorded an hour before the last entries is not re-read."""
    crash = datetime.now(UTC) - timedelta(hours=2)
    await _journal_at(app, "13700000001", crash - timedelta(hours=1))
    await _journal_at(app, CONSUMER, crash - timedelta(seconds=2))  # in flight at the crash
    await _journal_at(app, OTHER_CONSUMER, crash - timedelta(seconds=1))
    await app.registry.reapply(key_of(app, OTHER_CONSUMER))  # its apply finished: dnc:seq is past CONSUMER's entry
    assert await _decision(app, CONSUMER) == (Decision.ALLOW, Reason.NOT_REGISTERED)
    assert await sync.catch_up(app.registry, app.journal, app.hot) == 2
    assert await _decision(app, CONSUMER) == (Decision.BLOCK, Reason.REGISTERED)


async def test_caught_up_consumers_are_no_longer_dirty(app: Any) -> None:
    """A consumer waiting in the dirty set for a retry is clean once a catch-up has re-applied it."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    app.registry.dirty.add(key_of(app, CONSUMER))
    await sync.catch_up(app.registry, app.journal, app.hot)
    assert not app.registry.dirty


async def test_a_slices_rows_are_exactly_its_consumers_entries_however_dense_its_key_range(app: Any) -> None:
    """preference_rows reads a slice's entries whether its key range holds only its consumers, some others
    too (filtered out), or many others (read by the slice's keys instead)."""
    for i, number in enumerate(NUMBERS):
        await app.registry.set_preference(number, True, [], Source.APP, None, None, actor="test")
        if i % 4 == 0:
            await app.registry.set_preference(number, False, [], Source.ADMIN, None, None, actor="test")
    keys = sorted(key_of(app, n) for n in NUMBERS)
    entries: dict[bytes, list[tuple[bytes, int, int, int]]] = {}
    async with app.journal.pool.connection() as conn:
        for row in await preference_rows(conn, PackedKeys.of(keys)):
            entries.setdefault(row[0], []).append(row)
        assert sorted(entries) == keys and sum(map(len, entries.values())) == len(NUMBERS) * 5 // 4
        some_others = [k for i, k in enumerate(keys[40:100]) if i % 5]  # its range holds a few others
        for subset in (keys[10:30], some_others, keys[::2], keys[::17], keys[5:6], []):
            rows = await preference_rows(conn, PackedKeys.of(subset))
            assert sorted(rows) == sorted(r for k in subset for r in entries[k]), len(subset)
            assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # a consumer's entries come together


async def test_bulk_writes_land_where_hot_registry_writes_them_in_any_key_order(app: Any) -> None:
    """BulkHotWriter, given keys in any order, schedules of every shape (some deleting) and consents, leaves
    the same hashes as HotRegistry.load writing the same state."""
    rng = random.Random(7)
    keys = [hashlib.sha256(b"k%d" % i).digest() for i in range(3_000)]
    rng.shuffle(keys)
    shapes = [Schedule(ALL_CATEGORIES_MASK), Schedule(6), Schedule(0), Schedule(0, ((2_000_000_000_000_000, 8),))]
    schedules = [(k, shapes[rng.randrange(len(shapes))]) for k in keys]
    expires = datetime(2031, 1, 1, tzinfo=UTC)
    consents: list[ConsentState] = [(k, "acme", "", Consent("acme", "", expires)) for k in keys[:50]]
    consents += [(k, "acme", "a7", Consent("acme", "a7")) for k in keys[50:90]]
    await BulkHotWriter(app.hot).write(schedules, 0, consents)
    written = await registry_hashes(app.redis)
    await app.redis.flushdb()
    await app.hot.load(schedules, [(k, o, a, c) for k, o, a, c in consents if c is not None])
    assert await registry_hashes(app.redis) == written


async def _changes(app: Any) -> int:
    """Writes Redis has logged (AOF) and would replicate since its last save (on a cluster, every primary's)."""
    if isinstance(app.redis, RedisCluster):
        infos = await app.redis.info("persistence", target_nodes=RedisCluster.PRIMARIES)
        return sum(int(info["rdb_changes_since_last_save"]) for info in infos.values())
    return int((await app.redis.info("persistence"))["rdb_changes_since_last_save"])


async def test_re_applying_what_redis_already_holds_writes_nothing_to_its_log(app: Any) -> None:
    """A catch-up of consumers Redis already holds sets no field (the append-only file, read back at every
    start, does not grow by a million writes per restart); garbled fields are still rewritten."""
    await varied_registry(app)
    expected = await registry_hashes(app.redis)
    await app.redis.set(SEQ, 0)
    before = await _changes(app)
    assert await sync.catch_up(app.registry, app.journal, app.hot) == len(NUMBERS)
    assert await _changes(app) - before <= 2  # the watermark, and the org's mode written back
    await _garble(app)
    before = await _changes(app)
    await sync.catch_up(app.registry, app.journal, app.hot)
    assert await _changes(app) - before > len(NUMBERS)
    assert await registry_hashes(app.redis) == expected
