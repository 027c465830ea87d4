"""The one place the drivers' errors become a store error: `StoreUnavailable` (domain/errors.py).

Adapters raise `StoreUnavailable` instead of what redis-py, psycopg or the OS raised, so a use case
catches one type and imports no driver. What counts as a store failing:

* every `redis.exceptions.RedisError` (a lost connection, a timeout, and replies such as READONLY,
  OOM or WRONGTYPE: the command did not do its work), and on a Redis Cluster every
  `RedisClusterException` (no node holds a slot during a failover, the slot map cannot be read);
* `psycopg.OperationalError` (a lost connection, a server shutting down, `PoolTimeout`) and
  `psycopg.InterfaceError` (a connection already closed). Not the errors an adapter handles itself
  (a `UniqueViolation` it turns into a replay, a `DataError` it dead-letters): they are caught
  inside the adapter, before `translated` sees them;
* `OSError` and `TimeoutError` raised by a driver's socket or its own wait.

`asyncio.CancelledError` is not an `Exception` and always passes through: a caller's own deadline
(`asyncio.timeout` turns its cancellation into `TimeoutError` outside the adapter) stays the caller's.

The interceptor keeps `as_store_error` as a safety net for an adapter not yet behind `translated`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import psycopg
import redis.exceptions

from dncgate.domain.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

DRIVER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.RedisError,
    redis.exceptions.RedisClusterException,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    OSError,
    TimeoutError,
)
# Inside a PostgreSQL adapter's block: only psycopg's own outages (it wraps socket errors in them).
# An OSError there may be the caller's (a feed whose client went away) and stays what it was.
PG_ERRORS: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError)


def store_error(exc: Exception) -> StoreUnavailable:
    """The StoreUnavailable standing for a driver's outage `exc` (one of DRIVER_ERRORS)."""
    if isinstance(exc, redis.exceptions.RedisError | redis.exceptions.RedisClusterException):
        store = "Redis"
    elif isinstance(exc, psycopg.Error):
        store = "PostgreSQL"
    else:
        store = "a store"
    return StoreUnavailable(f"{store} did not answer; nothing was changed halfway", type(exc).__name__)


def as_store_error(exc: BaseException) -> StoreUnavailable | None:
    """`exc` as a StoreUnavailable if it is one or a driver's outage (see the module), else None."""
    if isinstance(exc, StoreUnavailable):
        return exc
    return store_error(exc) if isinstance(exc, DRIVER_ERRORS) else None


def translated(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """An adapter's coroutine method, raising StoreUnavailable where its driver raised an outage."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except DRIVER_ERRORS as exc:
            raise store_error(exc) from exc

    return call


@contextlib.asynccontextmanager
async def pg_outages() -> AsyncIterator[None]:
    """A PostgreSQL adapter's block, raising StoreUnavailable where psycopg reported an outage."""
    try:
        yield
    except PG_ERRORS as exc:
        raise store_error(exc) from exc
