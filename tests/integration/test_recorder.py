"""The recorder against real Redis and PostgreSQL: exactly once into call_log, whatever kills it and when."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from structlog.testing import capture_logs

from dncgate.domain.calls import CallEvent
from dncgate.domain.types import Category, Decision, Reason
from dncgate.embedded import EmbeddedRedis
from dncgate.service.recorder import Recorder
from dncgate.store.calls import CallStream, encode_event
from dncgate.store.hot import LEGACY_CALLS
from dncgate.store.recorder import _STAGING, GROUP, CallLogWriter, StreamGroup, entry_id, find_event, stream_events
from tests.integration.support import (
    CALLER,
    CONSUMER,
    check_input,
    key_of,
    new_call_id,
    stream_entries,
    stream_length,
)
from tests.wait import until

pytestmark = pytest.mark.integration


def recorder(app: Any, consumer: str = "host-a", *, pool: Any = None, **kw: Any) -> Recorder:
    """A recorder over the test stores that waits only briefly for new entries."""
    kw.setdefault("block_ms", 20)
    return Recorder(StreamGroup(app.redis, app.hot.layout.streams), CallLogWriter(pool or app.pool), consumer, **kw)


def own_stream(app: Any) -> bytes:
    """CONSUMER's shard's stream, where every event of hers goes."""
    return app.hot.layout.streams[app.hot.layout.shard(key_of(app, CONSUMER))]


def event(app: Any, **changes: Any) -> CallEvent:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "call_id": new_call_id(now),
        "at": now,
        "caller_e164": CALLER,
        "callee_key": key_of(app, CONSUMER).hex(),
        "callee_masked": "+86138****8000",
        "agent_id": "agent-1",
        "org_id": "acme",
        "campaign_id": "spring",
        "category": Category.FINANCE,
        "decision": Decision.ALLOW,
        "reason": Reason.NOT_REGISTERED,
        "violation": False,
        "request_id": "",
    }
    return CallEvent(**(fields | changes))


async def append(app: Any, n: int) -> list[str]:
    """Append n call events to the stream as the gateway does; returns their call ids."""
    events = [event(app) for _ in range(n)]
    if events:
        await CallStream(app.redis, app.hot.layout).append(events)
    return [e.call_id for e in events]


def entries_of(events: list[CallEvent], first: int = 1) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Stream entries for these events as XREADGROUP returns them, with made-up stream ids from `first`."""
    return [(b"%d-0" % (first + i), encode_event(e)) for i, e in enumerate(events)]


async def logged(app: Any) -> list[str]:
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT call_id FROM call_log")).fetchall()
    return [r[0] for r in rows]


async def in_stream(app: Any) -> dict[bytes, str]:
    """Stream id (as the recorder names it) -> call id of every entry still in the streams."""
    return {entry_id(stream, sid): f.get(b"id", b"").decode() for stream, sid, f in await stream_entries(app.redis)}


async def assert_nothing_lost(app: Any, expected: list[str]) -> None:
    """Every call is in call_log or still in the stream, and call_log holds nothing else."""
    rows = await logged(app)
    assert len(rows) == len(set(rows))
    assert set(rows) <= set(expected)
    assert set(expected) <= set(rows) | set((await in_stream(app)).values())


async def kill(task: asyncio.Task[None]) -> None:
    """Cancel until the task is gone: redis-py sometimes swallows a cancellation that lands mid-command."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def drain_all(rec: Recorder) -> int:
    total = 0
    while n := await rec.drain_once(block=False):
        total += n
    return total


async def test_drained_calls_land_in_call_log_once_and_leave_the_stream(app: Any) -> None:
    """Checks drained in batches appear in call_log with their fields, and the stream is emptied behind them."""
    results = await app.gateway.check_many([check_input(CONSUMER) for _ in range(25)])
    rec = recorder(app, batch=10)
    assert [await rec.drain_once() for _ in range(4)] == [10, 10, 5, 0]
    assert sorted(await logged(app)) == sorted(r.call_id for r in results)
    assert await stream_length(app.redis) == 0
    async with app.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT caller_e164, callee_key, callee_masked, org_id, decision, reason, violation"
                " FROM call_log WHERE call_id = %s",
                (results[0].call_id,),
            )
        ).fetchone()
    assert row is not None
    assert tuple(row) == (
        CALLER,
        key_of(app, CONSUMER),
        "+86138****8000",
        "acme",
        "ALLOW",
        "NOT_REGISTERED",
        False,
    )


async def test_an_event_delivered_twice_is_recorded_once(app: Any) -> None:
    """The same call event appended again (a redelivery) adds no second row."""
    events = [event(app) for _ in range(5)]
    await CallStream(app.redis, app.hot.layout).append(events)
    rec = recorder(app)
    await drain_all(rec)
    await CallStream(app.redis, app.hot.layout).append(events)
    entries = await rec.fetch(block=False)
    report = await rec.commit(entries)
    assert (report.inserted, report.duplicates) == (0, 5)
    assert sorted(await logged(app)) == sorted(e.call_id for e in events)


async def test_a_crash_after_reading_before_committing_loses_nothing(app: Any) -> None:
    """Entries read by a recorder that dies before committing stay in the stream and are recorded on restart."""
    expected = await append(app, 30)
    crashed = recorder(app, "host-a")
    assert len(await crashed.fetch()) == 30  # ... and host-a dies here
    assert await logged(app) == []
    await drain_all(recorder(app, "host-b"))  # another recorder's trim must not touch host-a's entries
    assert await stream_length(app.redis) == 30
    assert await recorder(app, "host-a").drain_once() == 30
    assert sorted(await logged(app)) == sorted(expected)
    assert await stream_length(app.redis) == 0


async def test_a_crash_after_committing_before_acknowledging_duplicates_nothing(app: Any) -> None:
    """A restarted recorder re-reads its committed but unacknowledged entries and adds no row twice."""
    expected = await append(app, 30)
    crashed = recorder(app, "host-a")
    await crashed.commit(await crashed.fetch())  # ... and host-a dies before XACK
    restarted = recorder(app, "host-a")
    entries = await restarted.fetch()
    assert len(entries) == 30
    report = await restarted.commit(entries)
    assert (report.inserted, report.duplicates) == (0, 30)
    await restarted.ack(entries)
    await restarted.trim()
    assert sorted(await logged(app)) == sorted(expected)
    assert await stream_length(app.redis) == 0


async def test_a_restart_trims_what_a_crashed_recorder_acknowledged_but_did_not_trim(app: Any) -> None:
    """Acknowledged entries left behind by a crash before XTRIM are trimmed by the next start."""
    await append(app, 8)
    crashed = recorder(app, "host-a")
    entries = await crashed.fetch()
    await crashed.commit(entries)
    await crashed.ack(entries)  # ... and host-a dies before trimming
    assert await stream_length(app.redis) == 8
    assert await recorder(app, "host-a").drain_once() == 0
    assert await stream_length(app.redis) == 0


async def test_a_dead_consumers_entries_are_claimed_only_once_idle(app: Any) -> None:
    """Entries a vanished pod left pending are taken over after claim_idle_ms, not before."""
    expected = await append(app, 12)
    await recorder(app, "pod-1").fetch()  # pod-1 is gone for good
    assert await recorder(app, "pod-2").drain_once() == 0  # 30 s idle by default: not yet

    async def idle_50_ms() -> bool:
        pending = await app.redis.xpending_range(own_stream(app), GROUP, "-", "+", 100, consumername="pod-1")
        return len(pending) == 12 and all(p["time_since_delivered"] >= 50 for p in pending)

    await until(idle_50_ms, what="pod-1's entries idle for 50 ms")
    assert await recorder(app, "pod-3", claim_idle_ms=50).drain_once() == 12
    assert sorted(await logged(app)) == sorted(expected)
    assert await stream_length(app.redis) == 0


async def test_the_stream_is_trimmed_only_behind_committed_entries(app: Any) -> None:
    """While a slow recorder holds uncommitted entries, trimming stops at the oldest of them."""
    first = await append(app, 5)
    fast = recorder(app, "fast", batch=5)
    assert await fast.drain_once() == 5
    assert await stream_length(app.redis) == 0
    await append(app, 5)
    slow = recorder(app, "slow", batch=5)
    held = await slow.fetch()
    later = await append(app, 5)
    assert await fast.drain_once() == 5
    remaining = await in_stream(app)
    assert {sid for sid, _ in held} <= set(remaining)  # not committed: still there
    assert set(later) <= set(remaining.values())  # committed, but behind an uncommitted one: kept
    assert not set(first) & set(remaining.values())
    await slow.commit(held)
    await slow.ack(held)
    assert await slow.trim() == 10
    assert await stream_length(app.redis) == 0


async def test_a_malformed_entry_is_dead_lettered_and_does_not_block_the_stream(app: Any) -> None:
    """An undecodable entry goes to call_dead_letter with a warning; the calls around it are recorded."""
    good = await append(app, 3)
    bad_id = entry_id(own_stream(app), await app.redis.xadd(own_stream(app), {b"id": b"not-a-call", b"cat": b"\xff"}))
    good += await append(app, 3)
    with capture_logs() as logs:
        assert await recorder(app).drain_once() == 7
    assert sorted(await logged(app)) == sorted(good)
    assert await stream_length(app.redis) == 0
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT stream_id, fields, error FROM call_dead_letter")).fetchall()
    assert [(r[0], r[1]["id"], r[2].split(":")[0]) for r in rows] == [(bad_id.decode(), "not-a-call", "KeyError")]
    assert [e["stream_id"] for e in logs if e["event"] == "call_event_dead_lettered"] == [bad_id.decode()]


async def test_a_row_postgresql_refuses_is_dead_lettered_alone(app: Any) -> None:
    """A call PostgreSQL cannot store (a NUL in a text field) is set aside; the rest of its batch is kept."""
    events = [event(app) for _ in range(4)]
    poison = event(app, org_id="ac\x00me")
    await CallStream(app.redis, app.hot.layout).append([*events[:2], poison, *events[2:]])
    assert await recorder(app).drain_once() == 5
    assert sorted(await logged(app)) == sorted(e.call_id for e in events)
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT fields, error FROM call_dead_letter")).fetchall()
    assert [(r[0]["id"], r[0]["org"]) for r in rows] == [(poison.call_id, "ac\\x00me")]
    assert rows[0][1].startswith("DataError")


async def test_an_event_with_an_impossible_time_is_dead_lettered_not_retried_forever(app: Any) -> None:
    """A call time no datetime can hold is set aside like any malformed entry; searches of the stream skip it."""
    good = await append(app, 2)
    bad = event(app)
    stream = own_stream(app)
    bad_id = entry_id(stream, await app.redis.xadd(stream, encode_event(bad) | {b"us": b"9" * 30}))  # type: ignore[arg-type]
    now = datetime.now(UTC)
    found = await stream_events(
        app.redis, app.hot.layout, bad.callee_key, now - timedelta(minutes=1), now + timedelta(minutes=1)
    )
    assert [e.call_id for e in found] == good
    assert await find_event(app.redis, app.hot.layout, bad.call_id) is None
    assert await recorder(app).drain_once() == 3
    assert sorted(await logged(app)) == sorted(good)
    assert await stream_length(app.redis) == 0
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT stream_id, error FROM call_dead_letter")).fetchall()
    assert [(r[0], r[1].split(":")[0]) for r in rows] == [(bad_id.decode(), "ValueError")]


async def test_duplicates_and_a_refused_row_in_one_batch_are_told_apart(app: Any) -> None:
    """A redelivered call and a call repeated within the batch count as duplicates, the refused one is dead-lettered."""
    a, b, c = (event(app) for _ in range(3))
    poison = event(app, agent_id="agent\x00")
    writer = CallLogWriter(app.pool)
    await writer.commit(entries_of([a]))
    report = await writer.commit(entries_of([a, b, poison, c, b], first=10))
    assert (report.inserted, report.duplicates) == (2, 2)
    assert [(d.stream_id, d.error.split(":")[0]) for d in report.dead] == [(b"12-0", "DataError")]
    assert sorted(await logged(app)) == sorted(e.call_id for e in (a, b, c))
    d = event(app)
    report = await writer.commit(entries_of([d, d], first=20))  # no poison: the staged batch as a whole
    assert (report.inserted, report.duplicates, report.dead) == (1, 1, [])
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT stream_id, fields FROM call_dead_letter")).fetchall()
    assert [(r[0], r[1]["id"]) for r in rows] == [("12-0", poison.call_id)]


async def test_batches_share_a_pooled_connection_with_other_users(app: Any) -> None:
    """On one pooled connection, batches leave no staged rows for its next user, and keep working after a
    batch that created the staging table was rolled back and after the connection's temporary tables were
    discarded."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        app.database_url, min_size=1, max_size=1, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    try:
        writer = CallLogWriter(pool)
        report = await writer.commit(entries_of([event(app), event(app, org_id="\x00")]))  # rolled back, redone
        assert (report.inserted, len(report.dead)) == (1, 1)
        assert (await writer.commit(entries_of([event(app) for _ in range(3)], first=10))).inserted == 3
        async with pool.connection() as conn:  # e.g. a gRPC service, with the recorder inline
            staged = await (await conn.execute(f"SELECT count(*) FROM {_STAGING}")).fetchone()
            assert staged == (0,)
            await conn.execute("DISCARD ALL")
        assert (await writer.commit(entries_of([event(app) for _ in range(2)], first=20))).inserted == 2
        assert (await writer.commit(entries_of([event(app) for _ in range(2)], first=30))).inserted == 2
    finally:
        await pool.close()
    assert len(await logged(app)) == 8


@pytest.mark.parametrize("seed", range(6))
async def test_random_crash_points_never_lose_or_duplicate_a_call(app: Any, seed: int) -> None:
    """Recorders on two hosts crashing at random steps, restarted at random, record every call exactly once."""
    rng = random.Random(seed)
    expected: list[str] = []
    steps = ("fetch", "commit", "ack", "trim")
    for _ in range(15):
        expected += await append(app, rng.randint(0, 40))
        rec = recorder(
            app, rng.choice(("host-a", "host-b")), batch=rng.randint(1, 25), claim_idle_ms=rng.choice((0, 30_000))
        )
        for _ in range(rng.randint(0, 3)):
            await rec.drain_once(block=False)
        crash_after = rng.choice((*steps, None))  # None: it stops cleanly after the batch
        entries = await rec.fetch(block=False)
        if crash_after != "fetch":
            await rec.commit(entries)
            if crash_after != "commit":
                await rec.ack(entries)
                if crash_after != "ack":
                    await rec.trim()
        await assert_nothing_lost(app, expected)
    for host in ("host-a", "host-b"):
        await drain_all(recorder(app, host))
    rows = await logged(app)
    assert sorted(rows) == sorted(expected)
    assert await stream_length(app.redis) == 0


async def test_cancelling_the_loop_at_random_moments_loses_and_duplicates_nothing(app: Any) -> None:
    """The run() loop killed (cancelled) at arbitrary awaits and restarted records every call exactly once."""
    rng = random.Random(2026)
    expected = await append(app, 400)
    for _ in range(20):
        task = asyncio.create_task(recorder(app, "host-a", batch=rng.randint(5, 60)).run())
        await asyncio.sleep(rng.uniform(0, 0.03))
        await kill(task)
        await assert_nothing_lost(app, expected)
        expected += await append(app, rng.randint(0, 30))
    await drain_all(recorder(app, "host-a"))
    assert sorted(await logged(app)) == sorted(expected)
    assert await stream_length(app.redis) == 0


async def test_the_loop_survives_a_postgresql_outage_and_a_restart_resumes(app: Any) -> None:
    """With PostgreSQL unreachable run() logs and retries, acknowledges nothing, and stops when asked."""
    expected = await append(app, 10)
    unreachable: AsyncConnectionPool[Any] = AsyncConnectionPool(
        "postgresql://127.0.0.1:9/none?connect_timeout=1", open=False, timeout=0.2
    )
    await unreachable.open(wait=False)
    try:
        rec = recorder(app, "host-a", pool=unreachable)
        with capture_logs() as logs:
            task = asyncio.create_task(rec.run())
            await until(
                lambda: sum(e["event"] == "recorder_store_unavailable" for e in logs) >= 2,
                what="the recorder failing, then failing again on its retry",
            )
            assert not task.done()
            rec.stop()
            await asyncio.wait_for(task, 5)
    finally:
        await unreachable.close()
    assert any(e["event"] == "recorder_store_unavailable" for e in logs)
    assert await logged(app) == []
    assert await stream_length(app.redis) == 10
    assert await recorder(app, "host-a").drain_once() == 10
    assert sorted(await logged(app)) == sorted(expected)


async def test_the_loop_survives_a_redis_restart_and_recreates_its_group(
    app: Any, private_redis: EmbeddedRedis
) -> None:
    """After Redis comes back empty, the running recorder recreates the group and records new calls."""
    rec = recorder(app, "host-a")
    with capture_logs() as logs:
        task = asyncio.create_task(rec.run())
        try:
            await until(
                lambda: app.redis.exists(own_stream(app)), what="the recorder's group created (with its stream)"
            )
            private_redis.stop()
            await until(
                lambda: any(e["event"] == "recorder_store_unavailable" for e in logs),
                what="the recorder seeing Redis gone",
            )
            assert not task.done()
            private_redis.start()
            expected = await append(app, 5)

            async def all_logged() -> bool:
                return sorted(await logged(app)) == sorted(expected)

            await until(all_logged, what="the new calls in call_log")
            assert sorted(await logged(app)) == sorted(expected)
        finally:
            rec.stop()
            await asyncio.wait_for(task, 15)


async def test_events_of_every_shard_are_recorded_once_and_every_stream_emptied(app: Any) -> None:
    """Checks of callees spread over all the shards land in their shards' streams, and one recorder
    drains every stream into call_log, each call once."""
    numbers = [f"139{i:08d}" for i in range(400)]
    results = await app.gateway.check_many([check_input(n) for n in numbers])
    layout = app.hot.layout
    lengths = [await app.redis.xlen(s) for s in layout.streams]
    assert all(lengths) and sum(lengths) == len(numbers)  # every shard got some
    for r in results:
        shard = layout.shard(app.gateway.keyer.digest(r.callee_e164))
        ids = [f[b"id"].decode() for _, f in await app.redis.xrange(layout.streams[shard])]
        assert r.call_id in ids
    await drain_all(recorder(app, batch=50))
    assert sorted(await logged(app)) == sorted(r.call_id for r in results)
    assert await stream_length(app.redis) == 0


async def test_the_old_single_stream_is_drained_after_an_upgrade(app: Any) -> None:
    """Events left in `dnc:calls` by the layout before shards (some already read, never acknowledged,
    by the old recorder's group) are all recorded, once, beside the new streams' events."""
    old = [event(app) for _ in range(30)]
    for e in old:
        await app.redis.xadd(LEGACY_CALLS, encode_event(e))  # type: ignore[arg-type]
    await app.redis.xgroup_create(LEGACY_CALLS, GROUP, id="0")
    await app.redis.xreadgroup(GROUP, "old-pod", {LEGACY_CALLS: ">"}, count=10)  # the old pod died holding these
    new = await append(app, 5)
    await drain_all(recorder(app, "new-pod", claim_idle_ms=0))
    assert sorted(await logged(app)) == sorted([e.call_id for e in old] + new)
    assert await app.redis.xlen(LEGACY_CALLS) == 0
    # An old gateway still running in a rolling upgrade writes there once more: recorded too.
    late = event(app)
    await app.redis.xadd(LEGACY_CALLS, encode_event(late))  # type: ignore[arg-type]
    await drain_all(recorder(app, "new-pod"))
    assert late.call_id in await logged(app)


async def test_an_old_single_stream_without_a_group_is_drained_and_none_is_made_when_absent(app: Any) -> None:
    """A `dnc:calls` the old recorder never read gets a group and is drained; a fresh Redis gets no such stream."""
    await drain_all(recorder(app))
    assert not await app.redis.exists(LEGACY_CALLS)
    old = event(app)
    await app.redis.xadd(LEGACY_CALLS, encode_event(old))  # type: ignore[arg-type]
    await drain_all(recorder(app, "other"))
    assert await logged(app) == [old.call_id]


async def test_two_replicas_split_the_streams_entries_between_them(app: Any) -> None:
    """Two recorders reading all streams through the same groups each record a share, none twice."""
    numbers = [f"139{i:08d}" for i in range(300)]
    results = await app.gateway.check_many([check_input(n) for n in numbers])
    a, b = recorder(app, "pod-a", batch=3), recorder(app, "pod-b", batch=3)
    got = {"pod-a": 0, "pod-b": 0}
    while True:
        na, nb = await a.drain_once(block=False), await b.drain_once(block=False)
        got["pod-a"] += na
        got["pod-b"] += nb
        if not na and not nb:
            break
    assert got["pod-a"] and got["pod-b"] and sum(got.values()) == len(results)
    assert sorted(await logged(app)) == sorted(r.call_id for r in results)
