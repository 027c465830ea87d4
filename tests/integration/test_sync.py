"""Keeping Redis in step with the journal: rebuild, ensure_loaded, catch-up, the sync loop, failed applies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import structlog

from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.domain.errors import Unavailable
from dncgate.domain.types import ALL_CATEGORIES_MASK, Decision, Mode, Reason, Source
from dncgate.embedded import EmbeddedRedis
from dncgate.service import sync
from dncgate.store.hot import LAYOUT_VERSION, LEGACY_MODES, LEGACY_READY
from tests.integration.support import (
    CONSUMER,
    OTHER_CONSUMER,
    advisory_lock_waiters,
    check_input,
    key_of,
    registry_hashes,
    stream_events,
    varied_registry,
)
from tests.reference import lookup
from tests.wait import until

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def _sync_loop(app: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(sync.run(app.registry, app.journal, app.hot, app.settings.sync_interval_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _decision(app: Any, number: str = CONSUMER, **kw: Any) -> tuple[Decision, Reason]:
    v = (await app.gateway.check(check_input(number, **kw))).verdict
    return v.decision, v.reason


async def _varied_registry(app: Any) -> None:
    """`support.varied_registry`, and a second org in enforce mode explicitly."""
    await varied_registry(app)
    await app.registry.set_org_policy("rival", Mode.ENFORCE, None, actor="test")


async def test_rebuild_from_the_journal_reproduces_the_same_redis_hashes(app: Any) -> None:
    """FLUSHDB then rebuild yields byte-identical registry hashes and org modes to the incremental writes."""
    await _varied_registry(app)
    before = await registry_hashes(app.redis)
    assert len(before) > 100
    await app.redis.flushdb()
    report = await sync.rebuild(app.journal, app.hot)
    assert await registry_hashes(app.redis) == before
    assert report.numbers == 120
    assert report.seq == await app.journal.max_seq()
    assert await app.hot.is_ready()


async def test_ensure_loaded_rebuilds_an_empty_redis(app: Any) -> None:
    """ensure_loaded on a flushed Redis rebuilds it from the journal and marks it ready."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.set_org_policy("acme", Mode.MONITOR, None, actor="test")
    await app.redis.flushdb()
    await sync.ensure_loaded(app.registry, app.journal, app.hot)
    assert await app.hot.is_ready()
    snap = await lookup(app.hot, key_of(app, CONSUMER), "acme", "agent-1")
    assert snap.schedule.mask == ALL_CATEGORIES_MASK


async def test_ensure_loaded_rebuilds_a_redis_laid_out_with_other_bucket_bits(app: Any) -> None:
    """A Redis loaded with another bucket size is treated as not loaded and rebuilt in this layout."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    shards = app.hot.shards
    for marker in app.hot.layout.readies:
        await app.redis.set(marker, b"%d/12/%d/%s" % (LAYOUT_VERSION, shards, app.hot.fingerprint.encode()))
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    await sync.ensure_loaded(app.registry, app.journal, app.hot)
    bits, fingerprint = app.settings.registry_bucket_bits, app.hot.fingerprint.encode()
    for marker in app.hot.layout.readies:
        assert await app.redis.get(marker) == b"%d/%d/%d/%s" % (LAYOUT_VERSION, bits, shards, fingerprint)
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)


async def test_ensure_loaded_rebuilds_a_redis_written_with_an_older_layout(app: Any) -> None:
    """A Redis of the layout before shards (one `dnc:ready`, untagged buckets, `dnc:mode`) reads as not
    loaded, is rebuilt in this layout (the old keys dropped), never misread."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.redis.flushdb()
    bits, fingerprint = app.settings.registry_bucket_bits, app.hot.fingerprint.encode()
    await app.redis.set(LEGACY_READY, b"2/%d/%s" % (bits, fingerprint))
    await app.redis.hset(LEGACY_MODES, "acme", "MONITOR")
    await app.redis.hset(b"dncr\x00\x01\x02", b"abcdef", b"254")
    assert not await app.hot.is_ready()
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    await sync.ensure_loaded(app.registry, app.journal, app.hot)
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
    assert not await app.redis.exists(LEGACY_READY, LEGACY_MODES, b"dncr\x00\x01\x02")


async def test_checks_fail_closed_while_the_registry_is_not_loaded(app: Any) -> None:
    """Without the shards' markers every Check, even for an unregistered number, is BLOCK
    REGISTRY_UNAVAILABLE."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.redis.delete(*app.hot.layout.readies)
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    assert await _decision(app, OTHER_CONSUMER) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    events = await stream_events(app.redis)
    assert [e.reason for e in events] == [Reason.REGISTRY_UNAVAILABLE] * 2
    await sync.rebuild(app.journal, app.hot)
    assert await _decision(app, OTHER_CONSUMER) == (Decision.ALLOW, Reason.NOT_REGISTERED)


async def _journal_only(app: Any, number: str) -> None:
    """Journal a do-not-disturb and a consent without applying them to Redis (a crash after commit)."""
    async with app.journal.consumer(key_of(app, number)) as session:
        await session.append_preference(True, ALL_CATEGORIES_MASK, Source.APP, None, None, recorded_by="test")
        await session.append_consent("acme", "agent-9", True, None, "form", None, recorded_by="test")


async def test_catch_up_reapplies_consumers_newer_than_the_redis_watermark(app: Any, monkeypatch: Any) -> None:
    """Journal rows above dnc:seq are applied by catch_up, and consumers at or below it are left alone."""
    monkeypatch.setattr(sync, "CATCH_UP_WINDOW", timedelta(0))
    await app.registry.set_preference(OTHER_CONSUMER, True, [], Source.APP, None, None, actor="test")
    watermark = await app.hot.applied_seq()
    await _journal_only(app, CONSUMER)
    assert await _decision(app) == (Decision.ALLOW, Reason.NOT_REGISTERED)
    assert await sync.catch_up(app.registry, app.journal, app.hot) == 1
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
    assert await _decision(app, agent="agent-9") == (Decision.ALLOW, Reason.CONSENT_ON_FILE)
    assert await app.hot.applied_seq() > watermark


async def test_catch_up_reapplies_recent_consumers_below_the_watermark(app: Any) -> None:
    """A consumer journalled but not applied before another's write moved dnc:seq on is still caught up."""
    await _journal_only(app, CONSUMER)
    await app.registry.set_preference(OTHER_CONSUMER, True, [], Source.APP, None, None, actor="test")
    assert await _decision(app) == (Decision.ALLOW, Reason.NOT_REGISTERED)
    assert await sync.catch_up(app.registry, app.journal, app.hot) == 2
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)


async def test_sync_loop_rebuilds_redis_after_a_flush(app: Any) -> None:
    """The background sync loop notices a flushed Redis and rebuilds it within a few intervals."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    async with _sync_loop(app):
        await app.redis.flushdb()
        assert await _decision(app) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
        await until(app.hot.is_ready, 10 * app.settings.sync_interval_s, what="Redis rebuilt")
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
    assert await _decision(app, OTHER_CONSUMER) == (Decision.ALLOW, Reason.NOT_REGISTERED)


async def test_redis_apply_failure_marks_the_consumer_dirty_and_the_loop_retries_it(app: Any) -> None:
    """A Redis error after the journal commit raises Unavailable, marks the consumer dirty, and sync re-applies it."""
    key = key_of(app, CONSUMER)
    pkey, _ = app.hot.pref_location(key)
    await app.redis.set(pkey, b"not a hash")  # every HSET on this bucket now fails with WRONGTYPE
    with pytest.raises(Unavailable):
        await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, "r-1", actor="test")
    assert key in app.registry.dirty
    assert len(await app.journal.preference_changes(key)) == 1
    await app.redis.delete(pkey)
    async with _sync_loop(app):
        await until(lambda: _is_clean(app), 10 * app.settings.sync_interval_s, what="no dirty consumer")
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
    again = await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, "r-1", actor="test")
    assert len(await app.journal.preference_changes(key)) == 1
    assert again.change.do_not_disturb is True


async def _is_clean(app: Any) -> bool:
    return not app.registry.dirty


async def test_redis_outage_fails_closed_and_recovers_through_the_sync_loop(
    settings: Settings, private_redis: EmbeddedRedis
) -> None:
    """With Redis down writes raise Unavailable and Checks BLOCK; once back, the loop rebuilds including the write."""
    url = private_redis.url
    async with open_app(settings) as app:  # settings point at private_redis (see tests/conftest.py)
        await sync.ensure_loaded(app.registry, app.journal, app.hot)
        await app.registry.set_preference(OTHER_CONSUMER, True, [], Source.APP, None, None, actor="test")
        private_redis.stop()
        with pytest.raises(Unavailable):
            await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
        assert key_of(app, CONSUMER) in app.registry.dirty
        assert await _decision(app, "13700000000") == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
        private_redis.start()
        assert private_redis.url == url
        async with _sync_loop(app):
            await until(
                lambda: _ready_and_clean(app),
                25 * app.settings.sync_interval_s,
                what="Redis rebuilt, no dirty consumer",
            )
        assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
        assert await _decision(app, OTHER_CONSUMER) == (Decision.BLOCK, Reason.REGISTERED)
        assert await _decision(app, "13700000000") == (Decision.ALLOW, Reason.NOT_REGISTERED)


async def _ready_and_clean(app: Any) -> bool:
    return await app.hot.is_ready() and not app.registry.dirty


async def test_a_revocation_committed_while_a_rebuild_waits_for_its_lock_is_in_the_rebuilt_redis(app: Any) -> None:
    """A consent revoked while a rebuild waits for the journal lock is not resurrected by that rebuild."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "form", None, actor="test")
    async with app.journal.consumer(key_of(app, CONSUMER)) as session:
        rebuilding = asyncio.create_task(sync.rebuild(app.journal, app.hot))
        await until(lambda: advisory_lock_waiters(app.database_url), what="the rebuild queued behind this writer")
        await session.append_consent("acme", "", False, None, "", None, recorded_by="test")
    await rebuilding
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)


async def test_a_rebuild_racing_live_writes_loses_none_of_them(app: Any) -> None:
    """Writes landing while a rebuild runs all end up in Redis exactly as a quiet rebuild would write them."""
    await _varied_registry(app)
    writes = [
        app.registry.set_preference(f"137{i:08d}", i % 2 == 0, [], Source.APP, None, None, actor="test")
        for i in range(60)
    ] + [
        app.registry.grant_consent(f"139{i:08d}", "rival", "", None, "x", None, actor="test") for i in range(0, 120, 3)
    ]
    await asyncio.gather(sync.rebuild(app.journal, app.hot), *writes, sync.rebuild(app.journal, app.hot))
    live = await registry_hashes(app.redis)
    await app.redis.flushdb()
    await sync.rebuild(app.journal, app.hot)
    assert await registry_hashes(app.redis) == live


async def test_replicas_loading_an_empty_redis_at_once_rebuild_it_only_once(app: Any) -> None:
    """Several replicas finding Redis empty together rebuild it once, not once each (each rebuild blocks all Checks)."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.redis.flushdb()
    with structlog.testing.capture_logs() as logs:
        await asyncio.gather(*(sync.ensure_loaded(app.registry, app.journal, app.hot) for _ in range(4)))
    assert [e["event"] for e in logs].count("registry_rebuilt") == 1
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
