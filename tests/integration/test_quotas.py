"""The per-token quotas against the real test Redis: counted atomically, a sliding hour, leases that run out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from dncgate.config import Settings
from dncgate.domain.access import Kind, principal
from dncgate.domain.errors import InvalidArgument, ResourceExhausted, StoreUnavailable
from dncgate.embedded import EmbeddedRedis
from dncgate.service.quotas import Quotas
from dncgate.store.quotas import SCRUB_PREFIX, STREAMS_PREFIX, RedisQuotas
from tests.conftest import redis_client
from tests.integration.support import FakeClock
from tests.wait import until

MINUTE_MS = 60_000
HOUR = (MINUTE_MS, 60)  # bucket width, buckets: the service's sliding hour
T0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS  # the start of a minute, in ms


def dialer(token_id: str = "tok1") -> Any:
    return principal(token_id, Kind.TOKEN, "dialer-1", "", ["dialer"], [], None)


@pytest.fixture
async def client(settings: Settings) -> Any:
    c = redis_client(settings.redis_url or "", settings.redis_cluster)
    yield c
    await c.aclose()


async def test_concurrent_batches_cannot_together_take_more_than_the_quota(settings: Settings) -> None:
    """30 batches of 7 racing for a quota of 100 over 5 connections: exactly 14 are counted, each of the
    rest refused with a wait and nothing counted, so the window holds 98."""
    clients = [redis_client(settings.redis_url or "", settings.redis_cluster) for _ in range(5)]
    try:
        stores = [RedisQuotas(c) for c in clients]
        results = await asyncio.gather(*(stores[i % 5].take("tok1", 7, 100, T0 + 5, *HOUR) for i in range(30)))
        assert sum(r is None for r in results) == 14
        assert all(r > 0 for r in results if r is not None)
        stored = await clients[0].hgetall(SCRUB_PREFIX + "tok1")
        assert sum(int(v) for v in stored.values()) == 98
    finally:
        for c in clients:
            await c.aclose()


async def test_the_last_numbers_go_to_one_of_two_batches_asking_at_once(client: aioredis.Redis) -> None:
    """With 10 numbers left, two batches of 10 asking at the same moment: one is counted, one refused."""
    store = RedisQuotas(client)
    assert await store.take("tok1", 90, 100, T0, *HOUR) is None
    first, second = await asyncio.gather(
        store.take("tok1", 10, 100, T0 + 1, *HOUR), store.take("tok1", 10, 100, T0 + 1, *HOUR)
    )
    assert sorted([first is None, second is None]) == [False, True]
    assert await store.take("tok1", 1, 100, T0 + 2, *HOUR) is not None


async def test_numbers_stop_counting_when_their_minute_leaves_the_hour(client: aioredis.Redis) -> None:
    """60 numbers in minute 0 and 40 in minute 30 fill a quota of 100; a batch of 50 is told to wait until
    minute 60, when the first 60 age out, and fits exactly then; one of 41 would need minute 90."""
    store = RedisQuotas(client)
    assert await store.take("tok1", 60, 100, T0 + 1_000, *HOUR) is None
    assert await store.take("tok1", 40, 100, T0 + 30 * MINUTE_MS, *HOUR) is None
    asked_at = T0 + 45 * MINUTE_MS + 500
    wait_ms = await store.take("tok1", 50, 100, asked_at, *HOUR)
    assert wait_ms == T0 + 60 * MINUTE_MS - asked_at
    assert await store.take("tok1", 50, 100, asked_at + wait_ms - 1, *HOUR) is not None
    assert await store.take("tok1", 50, 100, asked_at + wait_ms, *HOUR) is None
    # Now minute 30 (40) and minute 60 (50) are counted: 41 more fit once minute 30 has aged out.
    assert await store.take("tok1", 41, 100, T0 + 61 * MINUTE_MS, *HOUR) == 29 * MINUTE_MS
    assert await client.pttl(SCRUB_PREFIX + "tok1") > 59 * MINUTE_MS  # gone an hour after its last count


async def test_each_token_has_a_quota_of_its_own(client: aioredis.Redis) -> None:
    """One token's full quota leaves another's untouched."""
    store = RedisQuotas(client)
    assert await store.take("tok1", 100, 100, T0, *HOUR) is None
    assert await store.take("tok1", 1, 100, T0, *HOUR) is not None
    assert await store.take("tok2", 100, 100, T0, *HOUR) is None


async def test_a_dead_process_s_streams_stop_counting_when_their_leases_run_out(client: aioredis.Redis) -> None:
    """Process A opens both of a cap of 2 and dies: B is refused, told when the soonest lease runs out,
    until then; past it B opens. A lease renewed by its living process keeps counting."""
    store = RedisQuotas(client)
    lease = 30_000
    assert await store.open_stream("tok1", "A:1", 2, T0, lease) is None
    assert await store.open_stream("tok1", "A:2", 2, T0 + 1_000, lease) is None
    assert await store.open_stream("tok1", "B:1", 2, T0 + 10_000, lease) == 20_000
    assert await store.open_stream("tok1", "B:1", 2, T0 + lease - 1, lease) == 1  # A:1 runs out at T0 + lease
    assert await store.open_stream("tok1", "B:1", 2, T0 + lease, lease) is None  # A:1 dropped
    # B renews its lease at T0 + 50 s; A:2 (never renewed) ran out at T0 + 31 s.
    await store.renew_streams({"tok1": ["B:1", "A:1"]}, T0 + 50_000, lease)
    assert await store.streams_open("tok1", T0 + 75_000) == 1  # B:1 only: A:1 was dropped, not brought back
    assert await store.open_stream("tok1", "B:2", 2, T0 + 75_000, lease) is None
    assert await store.open_stream("tok1", "B:3", 2, T0 + 75_000, lease) == 5_000
    await store.close_stream("tok1", "B:1")
    assert await store.open_stream("tok1", "B:3", 2, T0 + 75_000, lease) is None


async def test_a_process_renews_its_streams_leases_and_gives_them_back_when_they_end(
    client: aioredis.Redis,
) -> None:
    """Quotas keeps renewing the leases of the streams it holds, so another process, later than the first
    lease, still sees them; closing a lease, or closing Quotas, takes it out of Redis."""
    clock = FakeClock(T0 / 1000)
    here = Quotas(RedisQuotas(client), scrub_per_hour=0, streams_per_principal=2, clock=clock, lease_s=30, renew_s=0.05)
    other = RedisQuotas(client)
    first, second = await here.open_stream(dialer()), await here.open_stream(dialer())
    assert first is not None and second is not None
    clock.advance(100)  # far past the first lease: only renewals keep them
    await until(lambda: other.streams_open("tok1", int(clock() * 1000)), what="the leases renewed at the new time")
    assert await other.open_stream("tok1", "other:1", 2, int(clock() * 1000), 30_000) is not None
    first.close()
    first.close()  # a second close gives back nothing more
    await until(lambda: _one_left(other, clock), what="the closed stream's lease given back")
    await here.aclose()
    assert await client.exists(STREAMS_PREFIX + "tok1") == 0


async def _one_left(store: RedisQuotas, clock: FakeClock) -> bool:
    return await store.streams_open("tok1", int(clock() * 1000)) == 1


async def test_the_service_refuses_a_batch_past_the_quota_whole_and_exempts_admins(client: aioredis.Redis) -> None:
    """Quotas: a batch that would pass the quota is ResourceExhausted with the seconds to wait and counts
    nothing; one larger than the whole quota is InvalidArgument on `requests`; admin tokens are exempt."""
    clock = FakeClock(T0 / 1000)
    refused: list[str] = []
    quotas = Quotas(
        RedisQuotas(client), scrub_per_hour=10, streams_per_principal=0, clock=clock, refused=refused.append
    )
    await quotas.take_scrub(dialer(), 8)
    with pytest.raises(ResourceExhausted) as exhausted:
        await quotas.take_scrub(dialer(), 3)
    assert exhausted.value.retry_after_s == 3600
    await quotas.take_scrub(dialer(), 2)  # the refused 3 were not counted
    with pytest.raises(InvalidArgument) as too_big:
        await quotas.take_scrub(dialer("tok2"), 11)
    assert too_big.value.field == "requests"
    admin = principal("adm", Kind.TOKEN, "root", "", ["admin"], [], None)
    await quotas.take_scrub(admin, 1_000)
    assert refused == ["scrub", "scrub"]
    assert await client.exists(SCRUB_PREFIX + "adm") == 0


async def test_with_redis_gone_a_batch_and_a_new_stream_are_refused_not_let_through(
    private_redis: EmbeddedRedis,
) -> None:
    """Redis down while counting: StoreUnavailable (UNAVAILABLE to the caller), never an uncounted pass."""
    c = aioredis.Redis.from_url(private_redis.url, socket_timeout=1, socket_connect_timeout=1)
    quotas = Quotas(RedisQuotas(c), scrub_per_hour=10, streams_per_principal=2)
    await quotas.take_scrub(dialer(), 1)
    private_redis.stop()
    try:
        with pytest.raises(StoreUnavailable):
            await quotas.take_scrub(dialer(), 1)
        with pytest.raises(StoreUnavailable):
            await quotas.open_stream(dialer())
    finally:
        await quotas.aclose()
        await c.aclose()
