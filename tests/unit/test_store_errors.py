"""store.errors: a driver's outage leaves an adapter as StoreUnavailable; nothing else is translated."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
import redis.exceptions

from dncgate.domain.errors import StoreUnavailable, Unavailable
from dncgate.store.errors import as_store_error, pg_outages, translated


class _Adapter:
    """Stands for an adapter: each method raises what its driver raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @translated
    async def call(self, value: int) -> int:
        if value:
            raise self.error
        return value


@pytest.mark.parametrize(
    ("error", "driver"),
    [
        (redis.exceptions.ConnectionError("lost"), "ConnectionError"),
        (redis.exceptions.ResponseError("WRONGTYPE"), "ResponseError"),
        (psycopg.OperationalError("server closed the connection"), "OperationalError"),
        (psycopg.InterfaceError("the connection is closed"), "InterfaceError"),
        (ConnectionResetError("reset"), "ConnectionResetError"),
        (TimeoutError(), "TimeoutError"),
    ],
)
async def test_a_drivers_outage_leaves_an_adapter_method_as_store_unavailable(error: Exception, driver: str) -> None:
    """Redis, PostgreSQL and socket failures become one StoreUnavailable naming the driver's error, chained to it."""
    with pytest.raises(StoreUnavailable) as caught:
        await _Adapter(error).call(1)
    assert isinstance(caught.value, Unavailable)
    assert caught.value.driver == driver and caught.value.__cause__ is error
    assert await _Adapter(error).call(0) == 0


@pytest.mark.parametrize(
    "error",
    [ValueError("bad"), psycopg.errors.UniqueViolation("duplicate"), psycopg.DataError("NUL"), KeyError("f")],
)
async def test_an_error_that_is_no_outage_leaves_an_adapter_as_it_was(error: Exception) -> None:
    """Programming and data errors (those adapters handle themselves, or bugs) are not translated."""
    with pytest.raises(type(error)) as caught:
        await _Adapter(error).call(1)
    assert caught.value is error
    assert as_store_error(error) is None


async def test_a_cancellation_passes_through_an_adapter_untouched() -> None:
    """A caller's cancellation (its own deadline) is never turned into a store error."""
    with pytest.raises(asyncio.CancelledError):
        await _Adapter(asyncio.CancelledError()).call(1)
    with pytest.raises(TimeoutError):  # asyncio.timeout's own TimeoutError is raised outside the adapter
        async with asyncio.timeout(0.01):
            await _Adapter(asyncio.CancelledError()).call(0)
            await asyncio.sleep(10)


async def test_a_postgresql_block_translates_psycopg_outages_only() -> None:
    """Inside `pg_outages`, psycopg's outages become StoreUnavailable; the caller's own OSError stays itself."""
    lost = psycopg.OperationalError("terminating connection due to administrator command")
    with pytest.raises(StoreUnavailable) as caught:
        async with pg_outages():
            raise lost
    assert caught.value.__cause__ is lost
    with pytest.raises(ConnectionResetError):
        async with pg_outages():
            raise ConnectionResetError("the client went away")
