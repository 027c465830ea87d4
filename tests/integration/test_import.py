"""Bulk imports over real stores: chunks journaled by COPY in stream order, Redis equal to the journal's fold."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate import phone
from dncgate.domain.errors import Unavailable
from dncgate.domain.imports import ImportRow, import_row
from dncgate.domain.registry import epoch_us, schedule_of
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Source
from dncgate.embedded import EmbeddedRedis
from dncgate.service.importer import RegistryImporter
from dncgate.store.hot import encode_schedule
from tests.integration.support import (
    CONSUMER,
    CONSUMER_E164,
    advisory_lock_waiters,
    check_input,
    key_of,
    registry_hashes,
)
from tests.wait import until

pytestmark = pytest.mark.integration

NATIONAL = int(Source.NATIONAL_REGISTRY)


def number(i: int) -> str:
    return f"1391234{i:04d}"


def row(text: str, dnd: bool = True, categories: Sequence[int] = (), effective: datetime | None = None) -> ImportRow:
    return import_row(text, dnd, categories, NATIONAL, epoch_us(effective) if effective else None)


async def feed(rows: Sequence[ImportRow], per_message: int = 13) -> AsyncIterator[list[ImportRow]]:
    """The rows as the servicer hands them over: in messages of a few rows."""
    for start in range(0, len(rows), per_message):
        yield list(rows[start : start + per_message])
        await asyncio.sleep(0)


async def journal_of(app: Any) -> dict[bytes, list[Any]]:
    """Every consumer's preference journal, oldest entry first."""
    async with app.pool.connection() as conn:
        cur = await conn.execute("SELECT DISTINCT consumer_key FROM preference_journal")
        keys = [bytes(r[0]) for r in await cur.fetchall()]
    return {k: await app.journal.preference_changes(k) for k in keys}


async def assert_redis_is_the_fold_of_the_journal(app: Any) -> int:
    """For every consumer in the journal, Redis holds exactly schedule_of(its journal, now); returns how many."""
    journals = await journal_of(app)
    now = datetime.now(UTC)
    for key, changes in journals.items():
        pkey, field = app.hot.pref_location(key)
        assert await app.redis.hget(pkey, field) == encode_schedule(schedule_of(changes, now)), key.hex()
    return len(journals)


async def test_rows_spanning_several_chunks_are_all_journaled_in_stream_order(app: Any) -> None:
    """Numbers recurring across chunks and apply slices keep the feed's order in the journal; Redis follows."""
    rows = [row(number(i % 9), dnd=(i // 9) % 2 == 0, categories=[1 + i % 9]) for i in range(40)]
    summary = await RegistryImporter(app.registry, chunk_rows=7, apply_rows=4).run(
        feed(rows, per_message=3), actor="test"
    )
    assert (summary.rows, summary.accepted, summary.invalid) == (40, 40, 0)
    for n in range(9):
        changes = await app.journal.preference_changes(key_of(app, number(n)))
        expected = [(dnd, mask) for text, dnd, mask, *_ in rows if text == number(n)]
        assert [(c.do_not_disturb, c.categories_mask) for c in changes] == expected
        assert all(c.source is Source.NATIONAL_REGISTRY for c in changes)
    assert await assert_redis_is_the_fold_of_the_journal(app) == 9
    async with app.pool.connection() as conn:
        top = await (await conn.execute("SELECT max(seq) FROM preference_journal")).fetchone()
    assert await app.hot.applied_seq() == top[0]


async def test_invalid_rows_are_counted_and_reported_with_their_row_numbers(app: Any) -> None:
    """Bad numbers, categories and sources are reported by 1-based row with a reason; the rest is imported."""
    rows = [
        row(number(1)),
        row("12345"),
        row(number(2), categories=[0]),
        row(""),
        import_row(number(3), True, [], 0, None),
        row("+86 138-0013-8000"),
        row("not a number"),
    ]
    summary = await RegistryImporter(app.registry, chunk_rows=2).run(feed(rows, per_message=3), actor="test")
    assert (summary.rows, summary.accepted, summary.invalid) == (7, 2, 5)
    assert summary.invalid_rows == [
        (2, "number: is not a valid phone number"),
        (3, "categories[0]: CATEGORY_UNSPECIFIED is not a category"),
        (4, "number: is required"),
        (5, "source: is required"),
        (7, "number: is not a valid phone number"),
    ]
    assert set(await journal_of(app)) == {key_of(app, number(1)), key_of(app, CONSUMER)}


async def test_only_the_first_hundred_invalid_rows_are_listed(app: Any) -> None:
    """250 bad rows are all counted, the first 100 listed; the good rows after them still go in."""
    rows = [row("garbage") for _ in range(250)] + [row(number(i)) for i in range(5)]
    summary = await RegistryImporter(app.registry, chunk_rows=3).run(feed(rows, per_message=50), actor="test")
    assert (summary.rows, summary.accepted, summary.invalid) == (255, 5, 250)
    assert [n for n, _ in summary.invalid_rows] == list(range(1, 101))


async def test_journal_rows_are_keyed_by_the_digest_and_hold_no_number(app: Any) -> None:
    """preference_journal and Redis hold the keyed hash of each number, never the number itself."""
    await RegistryImporter(app.registry).run(feed([row(CONSUMER), row("+86 139 1234 0007")]), actor="test")
    keyer = phone.NumberKeyer(app.settings.resolve_pepper())
    assert set(await journal_of(app)) == {keyer.digest(CONSUMER_E164), keyer.digest("+8613912340007")}
    async with app.pool.connection() as conn:
        dump = str(await (await conn.execute("SELECT * FROM preference_journal")).fetchall())
    redis_dump = repr(await registry_hashes(app.redis))
    for text in ("13800138000", "13912340007", "1380013", "1391234"):
        assert text not in dump and text not in redis_dump


async def test_an_import_folds_each_numbers_existing_entries_with_the_imported_ones(app: Any) -> None:
    """A number with a do-not-disturb scheduled next week keeps it after an import switching it off now."""
    next_week = datetime.now(UTC) + timedelta(days=7)
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, next_week, None, actor="test")
    await app.registry.set_preference(number(1), True, [Category.FINANCE], Source.APP, None, None, actor="test")
    rows = [row(CONSUMER, dnd=False), row(number(1), categories=[Category.HEALTH]), row(number(2))]
    await RegistryImporter(app.registry).run(feed(rows), actor="test")
    pkey, field = app.hot.pref_location(key_of(app, CONSUMER))
    assert await app.redis.hget(pkey, field) == b"0|%d:%d" % (epoch_us(next_week), ALL_CATEGORIES_MASK)
    assert await assert_redis_is_the_fold_of_the_journal(app) == 3
    finance = check_input(number(1), category=Category.FINANCE)  # the import replaced finance by health
    assert (await app.gateway.check(finance)).verdict.decision is Decision.ALLOW
    assert (await app.gateway.check(check_input(number(2)))).verdict.decision is Decision.BLOCK


async def test_effective_from_defaults_to_the_start_of_the_import(app: Any) -> None:
    """Rows without a time take the import's start; a row dated next week blocks only from then."""
    before = datetime.now(UTC)
    next_week = before + timedelta(days=7)
    await RegistryImporter(app.registry, chunk_rows=1).run(
        feed([row(number(1)), row(number(2), effective=next_week)]), actor="test"
    )
    first = (await app.journal.preference_changes(key_of(app, number(1))))[0]
    assert before <= first.effective_from <= first.recorded_at
    second = (await app.journal.preference_changes(key_of(app, number(2))))[0]
    assert second.effective_from == next_week
    assert (await app.gateway.check(check_input(number(1)))).verdict.decision is Decision.BLOCK
    assert (await app.gateway.check(check_input(number(2)))).verdict.decision is Decision.ALLOW


async def test_sending_the_same_feed_again_changes_no_answer(app: Any) -> None:
    """Without a request id an import is appended again, and the fold (what Checks read) stays the same."""
    rows = [row(number(i), dnd=i % 3 != 0, categories=[1 + i % 9]) for i in range(30)]
    await RegistryImporter(app.registry, chunk_rows=8).run(feed(rows), actor="test")
    first = await registry_hashes(app.redis)
    await RegistryImporter(app.registry, chunk_rows=8).run(feed(rows), actor="test")
    assert await registry_hashes(app.redis) == first
    assert sum(len(c) for c in (await journal_of(app)).values()) == 60


async def test_an_import_cut_short_finishes_the_chunks_it_started_and_no_other(app: Any) -> None:
    """When the feed breaks off (the client gone), started chunks reach journal and Redis; the rest is dropped."""

    async def broken() -> AsyncIterator[list[ImportRow]]:
        yield [row(number(i)) for i in range(10)]  # a whole chunk: started at once
        yield [row(number(i)) for i in range(10, 14)]  # not yet a chunk
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await RegistryImporter(app.registry, chunk_rows=10).run(broken(), actor="test")
    assert set(await journal_of(app)) == {key_of(app, number(i)) for i in range(10)}
    assert await assert_redis_is_the_fold_of_the_journal(app) == 10


async def test_an_import_that_cannot_reach_redis_leaves_every_journaled_number_to_the_sync_loop(
    app: Any, private_redis: EmbeddedRedis
) -> None:
    """With Redis down the import fails UNAVAILABLE; what it journaled is marked dirty and re-applied later."""
    private_redis.stop()
    try:
        with pytest.raises(Unavailable):
            await RegistryImporter(app.registry, chunk_rows=4).run(
                feed([row(number(i)) for i in range(20)], 4), actor="test"
            )
    finally:
        private_redis.start()
    journaled = set(await journal_of(app))
    assert journaled and journaled <= app.registry.dirty
    for key in list(app.registry.dirty):
        await app.registry.reapply(key)
    assert await assert_redis_is_the_fold_of_the_journal(app) == len(journaled)


async def test_an_import_waits_to_apply_until_a_single_write_in_flight_has_reached_redis(app: Any) -> None:
    """A single write that read its journal before the import's COPY cannot leave Redis without the import.

    The write is held between its journal read and its Redis write (as set_preference does it, under the
    consumer's lock): the import's chunk commits meanwhile but waits to apply, so it applies last.
    """
    key = key_of(app, CONSUMER)
    importer = RegistryImporter(app.registry)
    async with app.journal.consumer(key) as session:
        change, _ = await session.append_preference(
            True, ALL_CATEGORIES_MASK, Source.APP, None, None, recorded_by="test"
        )
        stale = schedule_of(await session.preference_changes(), app.registry.now())
        task = asyncio.create_task(importer.run(feed([row(CONSUMER, dnd=False)]), actor="test"))

        async def committed_and_waiting() -> bool:
            return (
                len(await app.journal.preference_changes(key)) == 2
                and await advisory_lock_waiters(app.database_url) > 0
            )

        await until(committed_and_waiting, what="the import's row committed and its apply waiting for the lock")
        assert len(await app.journal.preference_changes(key)) == 2  # the import's row is committed ...
        assert not task.done()  # ... and its apply waits for the write in flight
        await app.hot.apply(key, stale, {}, change.seq)
    await task
    assert await assert_redis_is_the_fold_of_the_journal(app) == 1
    assert (await app.gateway.check(check_input(CONSUMER))).verdict.decision is Decision.ALLOW


@pytest.mark.parametrize("round_", range(2))
async def test_concurrent_single_writes_during_an_import_leave_redis_equal_to_the_journal(
    app: Any, round_: int
) -> None:
    """SetPreference calls on numbers inside an import, while it runs, leave Redis == fold(journal) for all."""
    numbers = [number(i) for i in range(600)]
    rows = [row(n, dnd=k % 2 == 0, categories=[1 + k]) for k in range(2) for n in numbers]
    done = asyncio.Event()

    async def writer(seed: int) -> int:
        rng, writes = random.Random(seed), 0
        while not done.is_set() or writes == 0:
            await app.registry.set_preference(
                rng.choice(numbers[:50]), rng.random() < 0.5, [], Source.APP, None, None, actor="test"
            )
            writes += 1
        return writes

    writers = [asyncio.create_task(writer(round_ * 100 + i)) for i in range(6)]
    importer = RegistryImporter(app.registry, chunk_rows=40, apply_rows=15)
    summary = await importer.run(feed(rows, per_message=25), actor="test")
    done.set()
    writes = sum(await asyncio.gather(*writers))
    assert summary.accepted == len(rows)
    assert writes >= 6
    assert await assert_redis_is_the_fold_of_the_journal(app) == len(numbers)
