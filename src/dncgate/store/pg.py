"""PostgreSQL connections for the adapters: on an RPC's path, every wait is bounded.

A checkout on an RPC's own task (see `dncgate.deadline`) waits for a pooled connection, and then for
the statements run on it, at most `min(time left to the RPC's deadline, DNCGATE_DB_TIMEOUT_MS)`. Past
it, or when PostgreSQL fails (connection lost, server shutting down), the adapter raises `StoreUnavailable`,
answered as UNAVAILABLE. Everything else (rebuilds, imports, migrations, the sync loop) waits as long as
the pool lets it (30 s for a connection) and its statements are not cut; a failure there raises
`StoreUnavailable` too (store/errors.py).

Why a timer around the checked-out work rather than a `statement_timeout`: a server-side timeout
cannot end a wait on a server that does not answer (stopped by SIGSTOP, or behind a network
partition); setting it per checkout costs a round trip (`SET`, or `SET LOCAL` in every transaction);
and a pool-wide `options=-c statement_timeout` would cut rebuilds and imports too. A timer costs no
round trip, and when it cancels a statement psycopg asks the server to cancel it, so a statement
waiting for a lock on a live server ends there too. On a server that does not answer, psycopg would
wait 5 s for that request and 5 s more for the statement: a second cancellation, `_SECOND_CANCEL_S`
later, makes it close the connection at once instead (its handling of a second interruption), and the
pool replaces the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from dncgate import deadline
from dncgate.domain.errors import StoreUnavailable
from dncgate.store.errors import pg_outages

Conn = psycopg.AsyncConnection[Any]

_SECOND_CANCEL_S = 0.1
_RETRY = "try again (a change retried with its request_id is made once)"


class _Expiry:
    """Cancels the task holding a connection at its deadline, and once more shortly after."""

    __slots__ = ("cancels", "handle", "loop", "task")

    def __init__(self, budget_s: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.loop = asyncio.get_running_loop()
        self.cancels = 0
        self.handle: asyncio.TimerHandle | None = self.loop.call_later(budget_s, self._fire, True)

    @property
    def expired(self) -> bool:
        return self.cancels > 0

    def _fire(self, first: bool) -> None:
        if self.task.cancel():
            self.cancels += 1
        self.handle = self.loop.call_later(_SECOND_CANCEL_S, self._fire, False) if first else None

    def disarm(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def settle(self) -> bool:
        """Take back this timer's cancellations; whether the task is still being cancelled by another."""
        for _ in range(self.cancels):
            self.task.uncancel()
        self.cancels = 0
        return self.task.cancelling() > 0


class Database:
    """The pool, and the bound on an RPC's waits for it."""

    def __init__(self, pool: AsyncConnectionPool[Any], rpc_timeout_s: float) -> None:
        self.pool = pool
        self.rpc_timeout_s = rpc_timeout_s

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection for a block; on an RPC's own task, bounded as the module says."""
        remaining = deadline.rpc_time_remaining()
        if remaining is None:
            async with pg_outages(), self.pool.connection() as conn:
                yield conn
            return
        budget = min(remaining, self.rpc_timeout_s)
        if budget <= 0:
            raise StoreUnavailable(
                f"no time was left before the request's deadline to ask PostgreSQL; {_RETRY}", "deadline"
            )
        expiry = _Expiry(budget)
        try:
            async with self.pool.connection(timeout=budget) as conn:
                try:
                    yield conn
                finally:
                    expiry.disarm()  # the pool takes the connection back (or closes it) undisturbed
        except BaseException as exc:
            expiry.disarm()
            expired = expiry.expired
            if expired and expiry.settle():
                raise  # cancelled by someone else as well (the client went away): stay cancelled
            timed_out = isinstance(exc, PoolTimeout) or (
                expired and isinstance(exc, asyncio.CancelledError | psycopg.OperationalError)
            )
            if timed_out:
                raise StoreUnavailable(
                    f"PostgreSQL did not answer within {budget * 1000:.0f} ms; {_RETRY}", type(exc).__name__
                ) from exc
            if isinstance(exc, psycopg.OperationalError):
                raise StoreUnavailable(
                    f"PostgreSQL is unavailable (the connection failed); {_RETRY}", type(exc).__name__
                ) from exc
            raise
        expiry.disarm()
        if expiry.expired:
            expiry.settle()  # the cancellation was swallowed on the way (the block finished anyway)
