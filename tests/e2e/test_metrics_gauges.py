"""The store gauges of /metrics, collected once over a real server's stores after a small story."""

from __future__ import annotations

import pytest
import redis.asyncio

from dncgate import metrics
from dncgate.api import observe
from dncgate.store import gauges
from dncgate.store.hot import LEGACY_CALLS, calls_key
from dncgate.store.recorder import GROUP
from tests.e2e.compensation_support import A, B, C, file, story_calls
from tests.wait import until

CALLS = calls_key(7)

pytestmark = pytest.mark.e2e


def sample(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


async def test_gauges_show_the_registry_the_stream_and_what_a_complaint_owes(server) -> None:
    """One number on the registry, the story's calls in the stream, a complaint owing 200.00 CNY."""
    everything = observe.Parts(registry=True, stream=True, complaints=True)
    await story_calls(server)
    await observe.collect(server.app, everything)
    assert sample("dncgate_registry_numbers") == 1
    assert sample("dncgate_stream_length") == 3
    await file(server, A, B, C)

    async def recorded() -> bool:
        await observe.collect(server.app, everything)
        return sample("dncgate_recorder_pending") == 0 and sample("dncgate_recorder_lag_seconds") == 0

    await until(recorded, what="the inline recorder to catch up")
    assert sample("dncgate_complaints_total", channel="HOTLINE", status="PARTIALLY_VERIFIED") == 1
    assert sample("dncgate_complaints_overdue") == 0
    assert sample("dncgate_payouts_pending_amount", currency="CNY") == 200.0


async def test_the_recorder_lag_is_the_age_of_the_oldest_event_not_yet_recorded(settings) -> None:
    """Taken from the stream ids: no group yet, then pending (read, not acked), then not yet delivered."""
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    try:
        await client.xadd(CALLS, {"f": "1"}, id="1700000000000-0")
        await client.xadd(CALLS, {"f": "2"}, id="1700000005000-0")
        now = 1700000010.0
        streams = [calls_key(s) for s in range(64)] + [LEGACY_CALLS]
        assert await gauges.stream_figures(client, [CALLS], now) == (2, 0, 10.0)  # no recorder has started
        assert await gauges.stream_figures(client, streams, now) == (2, 0, 10.0)  # the others are empty
        await client.xgroup_create(CALLS, GROUP, id="0")
        [[_, [(first, _)]]] = await client.xreadgroup(GROUP, "r1", {CALLS: ">"}, count=1)
        assert await gauges.stream_figures(client, streams, now) == (2, 1, 10.0)  # read, not recorded yet
        await client.xack(CALLS, GROUP, first)
        assert await gauges.stream_figures(client, streams, now) == (2, 0, 5.0)  # the second, not delivered yet
        [[_, [(second, _)]]] = await client.xreadgroup(GROUP, "r1", {CALLS: ">"}, count=1)
        await client.xack(CALLS, GROUP, second)
        assert await gauges.stream_figures(client, streams, now) == (2, 0, 0.0)  # all recorded
    finally:
        await client.aclose()
