"""The multiplexed hot-path connection (store/resp.py) against a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
import redis.exceptions
import uvloop

from dncgate.embedded import EmbeddedRedis
from dncgate.store.checkscript import is_noscript
from dncgate.store.resp import Multiplexer
from tests.conftest import Stores
from tests.wait import until

pytestmark = pytest.mark.single_node_redis("the single-node multiplexer's RESP framing, DB selection and blocking")


@contextlib.asynccontextmanager
async def mux(url: str, **kw: object) -> AsyncIterator[Multiplexer]:
    client = aioredis.Redis.from_url(url)
    m = Multiplexer.for_client(client, name="test-mux", **kw)  # type: ignore[arg-type]
    assert m is not None
    try:
        yield m
    finally:
        await m.aclose()
        await client.aclose()


async def _a_client_is_blocked(url: str) -> bool:
    """True once some client of this Redis waits in a blocking command (a BLPOP has reached the server)."""
    client = aioredis.Redis.from_url(url)
    try:
        return int((await client.info("clients"))["blocked_clients"]) > 0
    finally:
        await client.aclose()


def with_db(url: str, db: int) -> str:
    """The same server, another database (unix://path?db=N or redis://host:port/N)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return urlunsplit(parts._replace(query=f"db={db}"))
    return urlunsplit(parts._replace(path=f"/{db}"))


async def _concurrent_in_order(url: str) -> None:
    async with mux(url) as m:
        await m.execute([("DEL", "mux:n")])
        # Every caller gets its own command's reply, in the order the commands were issued.
        replies = await asyncio.gather(*(m.execute([("INCR", "mux:n")]) for _ in range(500)))
        assert [r[0] for r in replies] == list(range(1, 501))
        many = await m.execute([("INCR", "mux:n"), ("GET", "mux:n"), ("INCRBY", "mux:n", 10)])
        assert many == [501, b"501", 511]


async def test_concurrent_callers_get_their_own_replies_in_order(stores: Stores) -> None:
    await _concurrent_in_order(stores.redis_url)


def test_works_on_uvloop_as_served(stores: Stores) -> None:
    uvloop.run(_concurrent_in_order(stores.redis_url))


async def test_an_error_reply_is_a_value_and_does_not_sink_the_others(stores: Stores) -> None:
    async with mux(stores.redis_url) as m:
        await m.execute([("SET", "mux:s", "text")])
        ok, bad, noscript, after = await m.execute(
            [("GET", "mux:s"), ("INCR", "mux:s"), ("EVALSHA", "0" * 40, 0), ("STRLEN", "mux:s")]
        )
        assert ok == b"text" and after == 4
        assert isinstance(bad, redis.exceptions.ResponseError) and "not an integer" in str(bad)
        assert is_noscript(noscript) and not is_noscript(bad)


async def test_selects_the_database_of_the_url_and_names_itself(stores: Stores) -> None:
    db_url = with_db(stores.redis_url, 3)
    async with mux(db_url) as m:
        await m.execute([("SET", "mux:db", "3")])
        names = (await m.execute([("CLIENT", "GETNAME")]))[0]
    plain = aioredis.Redis.from_url(db_url)
    try:
        assert await plain.get("mux:db") == b"3"
        await plain.delete("mux:db")
    finally:
        await plain.aclose()
    assert names == b"test-mux"


async def test_a_killed_connection_fails_its_callers_and_the_next_command_reconnects(
    private_redis: EmbeddedRedis,
) -> None:
    # CLIENT KILL of every normal client: on a Redis of its own, so no other user's connection goes too.
    admin = aioredis.Redis.from_url(private_redis.url)
    try:
        async with mux(private_redis.url) as m:
            await m.execute([("DEL", "mux:list")])
            blocked = asyncio.create_task(m.execute([("BLPOP", "mux:list", 5)]))
            await until(lambda: _a_client_is_blocked(private_redis.url), what="the BLPOP blocked in Redis")
            killed = await admin.execute_command("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal")  # type: ignore[no-untyped-call]
            assert killed >= 1
            with pytest.raises(redis.exceptions.ConnectionError):
                await blocked
            assert await m.execute([("PING",)]) == [b"PONG"]
    finally:
        await admin.aclose()


async def test_a_stuck_connection_is_dropped_not_queued_behind(stores: Stores) -> None:
    now = [0.0]
    async with mux(stores.redis_url, stale_after_s=1.0, clock=lambda: now[0]) as m:
        await m.execute([("DEL", "mux:list2")])
        stuck = asyncio.create_task(m.execute([("BLPOP", "mux:list2", 5)]))
        await until(lambda: _a_client_is_blocked(stores.redis_url), what="the BLPOP blocked in Redis")
        now[0] = 2.0  # the BLPOP has waited "two seconds"
        assert await m.execute([("PING",)]) == [b"PONG"]  # answered on a new connection at once
        with pytest.raises(redis.exceptions.ConnectionError):
            await stuck


async def test_a_caller_that_gives_up_does_not_shift_the_replies(stores: Stores) -> None:
    async with mux(stores.redis_url) as m:
        await m.execute([("DEL", "mux:list3"), ("SET", "mux:v", "v")])
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await m.execute([("BLPOP", "mux:list3", 0.3)])
        # The late BLPOP reply (nil) must not be taken for this GET's.
        assert await m.execute([("GET", "mux:v")]) == [b"v"]


async def test_unreachable_redis_is_a_connection_error() -> None:
    m = Multiplexer(host="127.0.0.1", port=1)
    with pytest.raises(redis.exceptions.ConnectionError):
        await m.execute([("PING",)])


def test_tls_is_left_to_redis_py() -> None:
    assert Multiplexer.for_client(aioredis.Redis.from_url("rediss://localhost:6380/0")) is None
    assert Multiplexer.for_client(aioredis.Redis.from_url("redis://localhost:6380/0")) is not None


async def test_a_deadline_fails_only_the_late_caller_and_the_connection_stays(stores: Stores) -> None:
    """A command past its deadline raises TimeoutError at about that time; a caller with a later deadline on
    the same connection still gets its own reply, and the late reply is dropped, not handed to anyone."""
    async with mux(stores.redis_url) as m:
        await m.execute([("DEL", "mux:list4"), ("SET", "mux:w", "w")])
        loop = asyncio.get_running_loop()
        started = loop.time()
        slow = asyncio.create_task(m.execute([("BLPOP", "mux:list4", 0.4)], deadline=started + 0.1))
        patient = asyncio.create_task(m.execute([("GET", "mux:w")], deadline=started + 5))
        with pytest.raises(TimeoutError):
            await slow
        assert 0.09 <= loop.time() - started < 0.3
        assert await patient == [b"w"]
        assert await m.execute([("GET", "mux:w")], deadline=loop.time() + 5) == [b"w"]


async def test_deadlines_out_of_order_each_fire_at_their_own_time(stores: Stores) -> None:
    """A shorter deadline arriving after a longer one still fires first (the timer is re-armed for it)."""
    async with mux(stores.redis_url) as m:
        await m.execute([("DEL", "mux:list5", "mux:list6")])
        loop = asyncio.get_running_loop()
        started = loop.time()
        long = asyncio.create_task(m.execute([("BLPOP", "mux:list5", 0.5)], deadline=started + 0.4))
        await asyncio.sleep(0)
        short = asyncio.create_task(m.execute([("BLPOP", "mux:list6", 0.5)], deadline=started + 0.1))
        done_at: dict[str, float] = {}
        for name, task in (("short", short), ("long", long)):
            with pytest.raises(TimeoutError):
                await task
            done_at[name] = loop.time() - started
        assert 0.09 <= done_at["short"] < 0.3 <= done_at["long"] + 0.01
        assert done_at["long"] >= 0.39


async def test_a_deadline_already_past_fails_at_once_without_sending_to_anyone_else(stores: Stores) -> None:
    """A caller whose deadline has passed gets TimeoutError on the next loop turns; others are unaffected."""
    async with mux(stores.redis_url) as m:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await m.execute([("PING",)], deadline=loop.time() - 1)
        assert await m.execute([("PING",)]) == [b"PONG"]
