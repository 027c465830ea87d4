"""Concurrent registry writes: the per-consumer lock keeps Redis equal to the journal's last word."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from dncgate.domain.registry import consents_at, preference_at
from dncgate.domain.types import Decision, Mode, Source
from dncgate.service import sync
from dncgate.store.hot import decode_schedule
from tests.integration.support import CONSUMER, OTHER_CONSUMER, advisory_lock_waiters, check_input, key_of
from tests.wait import until

pytestmark = pytest.mark.integration

WRITERS = 50


async def _redis_mask(app: Any, number: str) -> int:
    pkey, field = app.hot.pref_location(key_of(app, number))
    return decode_schedule(await app.redis.hget(pkey, field)).mask


@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_preference_writes_leave_redis_equal_to_the_journal(app: Any, round_: int) -> None:
    """50 concurrent on/off writes for one number leave Redis holding exactly the journal's final state."""
    await asyncio.gather(
        *(
            app.registry.set_preference(CONSUMER, i % 2 == 0, [], Source.APP, None, None, actor="test")
            for i in range(WRITERS)
        )
    )
    changes = await app.journal.preference_changes(key_of(app, CONSUMER))
    assert len(changes) == WRITERS
    final = preference_at(changes, datetime.now(UTC))
    assert final is not None
    assert final.seq == max(c.seq for c in changes)  # applied one at a time: effective order is journal order
    assert await _redis_mask(app, CONSUMER) == final.mask
    assert await app.hot.applied_seq() == final.seq
    expected = Decision.BLOCK if final.do_not_disturb else Decision.ALLOW
    assert (await app.gateway.check(check_input(CONSUMER))).verdict.decision is expected


async def test_concurrent_consent_writes_leave_redis_equal_to_the_journal(app: Any) -> None:
    """50 concurrent grant/revoke calls for one org leave Redis's consent field matching the journal."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")

    async def flip(i: int) -> None:
        if i % 2:
            await app.registry.grant_consent(CONSUMER, "acme", "", None, f"call {i}", None, actor="test")
        else:
            await app.registry.revoke_consent(CONSUMER, "acme", "", None, actor="test")

    await asyncio.gather(*(flip(i) for i in range(WRITERS)))
    changes = await app.journal.consent_changes(key_of(app, CONSUMER))
    assert len(changes) == WRITERS
    granted = bool(consents_at(changes, datetime.now(UTC)))
    ckey, field = app.hot.consent_location(key_of(app, CONSUMER), "acme", "")
    assert (await app.redis.hget(ckey, field) is not None) == granted
    expected = Decision.ALLOW if granted else Decision.BLOCK
    assert (await app.gateway.check(check_input(CONSUMER))).verdict.decision is expected


async def test_concurrent_writes_for_different_numbers_do_not_interfere(app: Any) -> None:
    """Interleaved writes for two numbers each end with that number's own last journal entry in Redis."""
    calls = []
    for i in range(WRITERS):
        calls.append(app.registry.set_preference(CONSUMER, i % 3 != 0, [], Source.APP, None, None, actor="test"))
        calls.append(
            app.registry.set_preference(OTHER_CONSUMER, i % 2 == 0, [], Source.HOTLINE, None, None, actor="test")
        )
    await asyncio.gather(*calls)
    now = datetime.now(UTC)
    for number in (CONSUMER, OTHER_CONSUMER):
        final = preference_at(await app.journal.preference_changes(key_of(app, number)), now)
        assert final is not None
        assert await _redis_mask(app, number) == final.mask


@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_org_policy_writes_leave_the_checks_with_the_journals_mode(app: Any, round_: int) -> None:
    """50 concurrent MONITOR/ENFORCE switches for one org leave the Checks' copy with the journal's latest mode."""
    await asyncio.gather(
        *(
            app.registry.set_org_policy("acme", Mode.MONITOR if i % 2 else Mode.ENFORCE, None, actor="test")
            for i in range(WRITERS)
        )
    )
    policy = await app.registry.get_org_policy("acme")
    assert policy.explicit
    assert app.gateway.org_caps.monitors["acme"] is (policy.mode is Mode.MONITOR)


async def test_a_write_cancelled_while_waiting_for_the_lock_leaves_no_lock_behind(app: Any) -> None:
    """A set_preference cancelled mid-wait (a client deadline) leaks no advisory lock: a rebuild still runs."""
    async with app.journal.consumer(key_of(app, CONSUMER)):
        task = asyncio.create_task(
            app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
        )
        # Once it waits, the task holds the shared rebuild lock (taken in the same statement, first).
        await until(lambda: advisory_lock_waiters(app.database_url), what="the write waiting for the consumer's lock")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with app.pool.connection() as conn:
        held = await (
            await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).fetchone()
    assert held is not None
    assert held[0] == 0
    report = await asyncio.wait_for(sync.rebuild(app.journal, app.hot), 5)
    assert report.numbers == 0
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    assert (await app.gateway.check(check_input(CONSUMER))).verdict.decision is Decision.BLOCK
