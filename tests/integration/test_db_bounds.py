"""store.pg.Database: an RPC's waits for PostgreSQL are bounded, everything else's are not (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from dncgate import deadline
from dncgate.domain.errors import Unavailable
from dncgate.domain.types import Source
from dncgate.store.pg import Database
from tests.integration.support import CONSUMER, key_of
from tests.reference import lookup

pytestmark = pytest.mark.integration

_LOCK = 0x7E57


class Clock:
    """An RPC's deadline as grpc reports it: seconds left, or None without one."""

    def __init__(self, seconds: float | None) -> None:
        self.until = None if seconds is None else time.monotonic() + seconds

    def time_remaining(self) -> float | None:
        return None if self.until is None else max(self.until - time.monotonic(), 0.0)


async def as_rpc(
    work: Callable[[], Awaitable[Any]], deadline_s: float | None = None
) -> tuple[BaseException | None, float]:
    """Run `work` as an RPC's task does (deadline recorded first); what it raised, and how long it took."""

    async def task() -> None:
        deadline.enter_rpc(Clock(deadline_s))
        await work()

    started = time.monotonic()
    try:
        await asyncio.create_task(task())
    except BaseException as exc:  # the outcome is the subject of the test
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


async def lock_waiters(app: Any) -> int:
    async with app.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted", (_LOCK,)
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


async def until(predicate: Callable[[], Coroutine[Any, Any, bool]], within_s: float = 5.0) -> bool:
    limit = time.monotonic() + within_s
    while not await predicate():
        if time.monotonic() > limit:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_an_rpc_waiting_on_a_lock_gets_unavailable_at_the_db_timeout_and_the_server_stops_waiting(
    app: Any,
) -> None:
    """A statement blocked on a lock ends with Unavailable at DNCGATE_DB_TIMEOUT_MS, and its wait ends server-side."""
    db = Database(app.pool, 0.3)
    async with await psycopg.AsyncConnection.connect(app.database_url, autocommit=True) as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))

        async def blocked() -> None:
            async with db.connection() as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))

        exc, took = await as_rpc(blocked)
        assert isinstance(exc, Unavailable)
        assert "did not answer within 300 ms" in exc.message
        assert 0.29 <= took < 1.0
        assert await until(lambda: _no_waiters(app)), "the cancelled statement is still waiting in PostgreSQL"
    async with db.connection() as conn:  # the pool is as good as before
        assert await (await conn.execute("SELECT 1")).fetchone() == (1,)


async def _no_waiters(app: Any) -> bool:
    return await lock_waiters(app) == 0


async def test_the_rpc_deadline_bounds_the_wait_when_it_is_nearer_than_the_db_timeout(app: Any) -> None:
    """With 0.2 s left to the RPC's deadline and a 5 s DNCGATE_DB_TIMEOUT_MS, a slow statement ends at 0.2 s."""
    db = Database(app.pool, 5.0)

    async def slow() -> None:
        async with db.connection() as conn:
            await conn.execute("SELECT pg_sleep(3)")

    exc, took = await as_rpc(slow, deadline_s=0.2)
    assert isinstance(exc, Unavailable)
    assert took < 0.8


async def test_work_off_an_rpc_is_not_cut_at_the_db_timeout(app: Any) -> None:
    """A rebuild, an import or the recorder (no RPC deadline recorded) runs statements longer than the bound."""
    db = Database(app.pool, 0.05)
    async with db.connection() as conn:
        await conn.execute("SELECT pg_sleep(0.3)")


async def test_an_rpc_without_a_deadline_is_still_bounded_by_the_db_timeout(app: Any) -> None:
    """A client that set no deadline gets Unavailable at DNCGATE_DB_TIMEOUT_MS, not a wait without end."""
    db = Database(app.pool, 0.2)

    async def slow() -> None:
        async with db.connection() as conn:
            await conn.execute("SELECT pg_sleep(3)")

    exc, took = await as_rpc(slow, deadline_s=None)
    assert isinstance(exc, Unavailable)
    assert took < 0.8


async def test_an_rpc_finds_no_free_connection_and_gets_unavailable_at_the_bound(app: Any) -> None:
    """With every pooled connection taken (as while PostgreSQL is down), the checkout ends at the bound, not 30 s."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        app.database_url, min_size=1, max_size=1, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    try:
        db = Database(pool, 0.3)
        async with pool.connection():

            async def checkout() -> None:
                async with db.connection():
                    pass

            exc, took = await as_rpc(checkout)
        assert isinstance(exc, Unavailable)
        assert "did not answer within 300 ms" in exc.message
        assert 0.29 <= took < 1.0
    finally:
        await pool.close()


async def test_an_rpc_cancelled_by_its_client_stays_cancelled(app: Any) -> None:
    """A cancellation from outside (the client went away) is not turned into Unavailable."""
    db = Database(app.pool, 5.0)
    started = asyncio.Event()

    async def rpc() -> None:
        deadline.enter_rpc(Clock(None))
        async with db.connection() as conn:
            started.set()
            await conn.execute("SELECT pg_sleep(3)")

    task = asyncio.create_task(rpc())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_change_cut_off_after_its_commit_is_left_to_the_sync_loop(app: Any) -> None:
    """SetPreference cut at its bound between the journal's commit and Redis is retried, never left stale."""
    app.registry.journal.db = Database(app.pool, 0.3)
    await app.redis.execute_command("CLIENT", "PAUSE", "1500", "WRITE")  # Redis stalls the apply
    try:
        exc, _ = await as_rpc(
            lambda: app.registry.set_preference(CONSUMER, True, [], Source.APP, None, "cut-after-commit", actor="test")
        )
    finally:
        await app.redis.execute_command("CLIENT", "UNPAUSE")
    assert isinstance(exc, Unavailable)
    assert key_of(app, CONSUMER) in app.registry.dirty
    assert [c.do_not_disturb for c in await app.journal.preference_changes(key_of(app, CONSUMER))] == [True]
    await app.registry.reapply(key_of(app, CONSUMER))  # what the sync loop does with the dirty set
    assert key_of(app, CONSUMER) not in app.registry.dirty
    assert (await lookup(app.hot, key_of(app, CONSUMER), "acme", "")).schedule.mask != 0
