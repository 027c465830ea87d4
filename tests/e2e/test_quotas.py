"""Limits against abuse over a real server: the scrub quota and the stream cap per token, load shedding."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from structlog.testing import capture_logs

from dncgate import metrics
from dncgate.config import Settings
from dncgate.embedded import EmbeddedRedis
from dncgate.store.quotas import RedisQuotas
from dncgate.v1 import gateway_pb2, gateway_pb2_grpc
from tests.auth import aio_channel
from tests.conftest import Server, start_server
from tests.e2e.conftest import check_request, gate
from tests.wait import until

pytestmark = pytest.mark.e2e


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[Server]:
    """A server whose tokens may scrub 10 numbers an hour and hold 2 streams open."""
    async with start_server(replace(settings, scrub_quota_per_hour=10, max_streams_per_token=2)) as s:
        yield s


@pytest.fixture
async def channels() -> AsyncIterator[list[grpc.aio.Channel]]:
    """The dialers' channels of a test, closed after it."""
    opened: list[grpc.aio.Channel] = []
    yield opened
    for channel in opened:
        await channel.close()


async def dialer(server: Server, name: str, channels: list[grpc.aio.Channel]) -> tuple[str, Any]:
    """(token id, CallGate stub) of a new dialer token."""
    new = await server.app.access.create("test", name=name, roles=["dialer"])
    channels.append(aio_channel(server.target, new.token))
    return new.row.id, gateway_pb2_grpc.CallGateStub(channels[-1])


def batch(n: int) -> gateway_pb2.CheckBatchRequest:
    return gateway_pb2.CheckBatchRequest(requests=[check_request(f"1380013{i:04d}") for i in range(n)])


def retry_delay_s(err: grpc.aio.AioRpcError) -> float:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    return info.retry_delay.ToNanoseconds() / 1e9


def refusals(quota: str) -> float:
    return metrics.QUOTA_REFUSALS.labels(quota)._value.get()


def checks_answered() -> int:
    return sum(metrics.TALLY.checks.values())


async def test_a_scrub_past_the_token_s_hourly_quota_is_refused_whole_and_other_tokens_go_on(
    limited: Server, channels: list[grpc.aio.Channel]
) -> None:
    """Of a quota of 10 (an invalid batch counts nothing): 6 pass, then a batch of 5 is RESOURCE_EXHAUSTED
    with RetryInfo (within the hour), nothing of it checked or counted, so 4 still pass; a batch of 11 can
    never pass (INVALID_ARGUMENT on `requests`). Another token has its own 10; the admin token is exempt.
    Each refusal is logged as `quota_exceeded` with the token id and counted."""
    one_id, one = await dialer(limited, "scrubber-1", channels)
    _, two = await dialer(limited, "scrubber-2", channels)
    invalid = batch(10)
    invalid.requests[3].caller_number = ""
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await one.CheckBatch(invalid)
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # and nothing counted: 6 + 4 pass below
    assert len((await one.CheckBatch(batch(6))).responses) == 6
    before, answered = refusals("scrub"), checks_answered()
    with capture_logs() as logs, pytest.raises(grpc.aio.AioRpcError) as exhausted:
        await one.CheckBatch(batch(5))
    assert exhausted.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 0 < retry_delay_s(exhausted.value) <= 3600
    assert checks_answered() == answered
    assert refusals("scrub") == before + 1
    assert {"event": "quota_exceeded", "token_id": one_id, "quota": "scrub"}.items() <= next(
        e for e in logs if e["event"] == "quota_exceeded"
    ).items()
    assert len((await one.CheckBatch(batch(4))).responses) == 4
    with pytest.raises(grpc.aio.AioRpcError) as spent:
        await one.CheckBatch(batch(1))
    assert spent.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.aio.AioRpcError) as too_big:
        await two.CheckBatch(batch(11))
    assert too_big.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "requests" in (too_big.value.details() or "")
    assert len((await two.CheckBatch(batch(10))).responses) == 10
    assert len((await gate(limited).CheckBatch(batch(25))).responses) == 25  # admin: exempt
    assert (await one.Check(check_request())).call_id  # the single Check has no quota


async def _opened(stub: Any) -> Any:
    """A CheckStream whose first Check was answered (so the server admitted it)."""
    call = stub.CheckStream()
    await call.write(check_request())
    assert (await call.read()).call_id
    return call


async def _refused_stream(stub: Any) -> grpc.aio.AioRpcError:
    call = stub.CheckStream()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.write(check_request())
        await call.read()
    return info.value


async def test_a_token_s_third_stream_is_refused_until_one_of_its_two_ends(
    limited: Server, channels: list[grpc.aio.Channel]
) -> None:
    """Cap 2: the third stream of a token is RESOURCE_EXHAUSTED with RetryInfo before any Check; another
    token and the admin token open theirs. Once one stream is closed by its client, and once another is
    cancelled, a new one opens, and Redis counts only what is open."""
    one_id, one = await dialer(limited, "streamer-1", channels)
    _, two = await dialer(limited, "streamer-2", channels)
    first, second = await _opened(one), await _opened(one)
    answered, before = checks_answered(), refusals("streams")
    refused = await _refused_stream(one)
    assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 0 < retry_delay_s(refused) <= 30
    assert checks_answered() == answered and refusals("streams") == before + 1
    others = [
        await _opened(two),
        await _opened(gate(limited)),
        await _opened(gate(limited)),
        await _opened(gate(limited)),
    ]
    store = RedisQuotas(limited.app.redis)

    async def open_now() -> int:
        return await store.streams_open(one_id, int(time.time() * 1000))

    await first.done_writing()
    assert [r async for r in first] == []
    await until(lambda: _opens(one), what="a stream to open once one of the two has ended")
    assert await open_now() == 2
    second.cancel()
    await until(lambda: _count_is(open_now, 1), what="the cancelled stream's lease given back")
    for call in others:
        call.cancel()


async def _opens(stub: Any) -> bool:
    try:
        await _opened(stub)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        return False
    return True


async def _count_is(count: Any, n: int) -> bool:
    return bool(await count() == n)


async def test_past_the_concurrent_rpc_limit_grpc_refuses_at_once(settings: Settings) -> None:
    """DNCGATE_MAX_CONCURRENT_RPCS=2: two open CheckStreams are two RPCs in progress for as long as they
    stay open, so a third RPC is RESOURCE_EXHAUSTED at once (not queued); once a stream ends, RPCs pass."""
    async with start_server(replace(settings, max_concurrent_rpcs=2)) as s:
        first, second = await _opened(gate(s)), await _opened(gate(s))
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as shed:
            await gate(s).Check(check_request(), timeout=5)
        assert shed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert time.monotonic() - started < 2
        await first.done_writing()
        assert [r async for r in first] == []
        # The server decides before it takes each next RPC, so the first one after a stream ended may
        # still be refused: retried until one passes.
        await until(lambda: _checks(s), what="a Check to pass once a stream has ended")
        second.cancel()


async def _checks(s: Server) -> bool:
    try:
        return bool((await gate(s).Check(check_request(), timeout=5)).call_id)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        return False


async def test_with_its_redis_down_a_scrub_fails_closed(
    settings: Settings, private_redis: EmbeddedRedis, channels: list[grpc.aio.Channel]
) -> None:
    """Redis gone while the quota is counted: CheckBatch is UNAVAILABLE, never answered uncounted."""
    async with start_server(replace(settings, scrub_quota_per_hour=10)) as s:
        _, stub = await dialer(s, "scrubber", channels)
        assert len((await stub.CheckBatch(batch(2))).responses) == 2
        private_redis.stop()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CheckBatch(batch(2))
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
