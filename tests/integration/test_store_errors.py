"""The Redis adapters against a real Redis that is down or lost its data: one store error, never a driver's."""

from __future__ import annotations

from typing import Any

import pytest

from dncgate.domain.errors import StoreUnavailable
from dncgate.embedded import EmbeddedRedis
from dncgate.store.recorder import GroupMissing, StreamedCalls, StreamGroup

pytestmark = pytest.mark.integration


async def test_the_redis_adapters_raise_store_unavailable_while_redis_is_down(
    app: Any, private_redis: EmbeddedRedis
) -> None:
    """With redis-server stopped, HotRegistry, StreamGroup and StreamedCalls raise StoreUnavailable, then work again."""
    group, calls = StreamGroup(app.redis, app.hot.layout.streams), StreamedCalls(app.redis, app.hot.layout)
    private_redis.stop()
    try:
        attempts = (
            app.hot.is_ready,
            lambda: app.hot.apply(b"\0" * 32, None, {}, 1),
            group.trim,
            lambda: calls.find("0" * 32),
        )
        for attempt in attempts:
            with pytest.raises(StoreUnavailable) as caught:
                await attempt()
            assert caught.value.driver and caught.value.__cause__ is not None
    finally:
        private_redis.start()
    await app.hot.apply(b"\0" * 32, None, {}, 1)
    assert await calls.find("0" * 32) is None


async def test_a_stream_group_lost_by_redis_raises_group_missing(app: Any) -> None:
    """Reading the recorder's group after the stream was deleted raises GroupMissing (a StoreUnavailable)."""
    group = StreamGroup(app.redis, app.hot.layout.streams)
    await group.ensure()
    await app.redis.delete(app.hot.layout.streams[5])
    with pytest.raises(GroupMissing):
        await group.read("host-a", 10, pending=True)
    assert await group.ensure() is True
    assert await group.read("host-a", 10, pending=True) == []
