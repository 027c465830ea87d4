"""Finding calls still in the Redis stream (not yet in call_log), as verification and outcomes need them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.domain.registry import epoch_us
from dncgate.store.calls import encode_event
from dncgate.store.recorder import find_event, stream_events
from tests.integration.support import CONSUMER, OTHER_CONSUMER, check_input, key_of, new_call_id
from tests.integration.test_recorder import drain_all, event, recorder

pytestmark = pytest.mark.integration


async def test_calls_to_the_callee_in_the_window_are_found_before_they_are_drained(app: Any) -> None:
    """A call checked a moment ago is found in the stream; other callees' calls are not."""
    mine = await app.gateway.check_many([check_input(CONSUMER) for _ in range(3)])
    await app.gateway.check(check_input(OTHER_CONSUMER))
    now = datetime.now(UTC)
    found = await stream_events(app.redis, app.hot.layout, key_of(app, CONSUMER).hex(), now - timedelta(minutes=1), now)
    assert [e.call_id for e in found] == [r.call_id for r in mine]


async def test_the_window_is_the_calls_own_time_not_the_stream_id(app: Any) -> None:
    """Events are kept or dropped by their own time, even when Redis's clock put their id seconds away."""
    now = datetime.now(UTC)
    inside = event(app, at=now - timedelta(seconds=10), call_id=new_call_id(now - timedelta(seconds=10)))
    outside = event(app, at=now - timedelta(seconds=40), call_id=new_call_id(now - timedelta(seconds=40)))
    # Redis's clock 15 s behind the gateway's: the stream id of `inside` lies before the window;
    # `outside` gets a stream id of now, inside the window, but its own time is not.
    skewed = b"%d-0" % (epoch_us(inside.at) // 1000 - 15_000)
    stream = app.hot.layout.streams[app.hot.layout.shard_of_hex(inside.callee_key)]
    await app.redis.xadd(stream, encode_event(inside), id=skewed)
    await app.redis.xadd(stream, encode_event(outside))
    found = await stream_events(app.redis, app.hot.layout, inside.callee_key, now - timedelta(seconds=20), now)
    assert [e.call_id for e in found] == [inside.call_id]


async def test_drained_calls_are_no_longer_in_the_stream(app: Any) -> None:
    """After the recorder commits and trims, the calls are found in call_log instead of the stream."""
    result = await app.gateway.check(check_input(CONSUMER))
    await drain_all(recorder(app))
    now = datetime.now(UTC)
    key = key_of(app, CONSUMER).hex()
    assert await stream_events(app.redis, app.hot.layout, key, now - timedelta(minutes=1), now) == []
    async with app.pool.connection() as conn:
        row = await (await conn.execute("SELECT 1 FROM call_log WHERE call_id = %s", (result.call_id,))).fetchone()
    assert row is not None


async def test_a_call_is_found_by_its_id_while_it_is_in_the_stream(app: Any) -> None:
    """find_event returns the event of a call id still in the stream, and None for an unknown one."""
    results = await app.gateway.check_many([check_input(CONSUMER) for _ in range(5)])
    found = await find_event(app.redis, app.hot.layout, results[2].call_id)
    assert found is not None
    assert (found.call_id, found.callee_key) == (results[2].call_id, key_of(app, CONSUMER).hex())
    assert await find_event(app.redis, app.hot.layout, new_call_id(datetime.now(UTC))) is None
