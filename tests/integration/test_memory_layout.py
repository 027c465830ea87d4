"""Memory layout: the bucketed registry hashes stay in Redis's compact encoding at realistic sizes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.domain.types import Category, Source
from dncgate.service import sync
from tests.conftest import with_settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.single_node_redis("measures one node's used_memory and encodings"),
]

NUMBERS = 2000
COMPACT = {b"ziplist", b"listpack"}


@pytest.fixture(params=[8, 16], ids=lambda bits: f"{bits}-bit-buckets")
async def sized_app(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Any]:
    """The app with the smallest configurable bucket count (fullest hashes) and with the default."""
    async with open_app(with_settings(settings, registry_bucket_bits=request.param)) as app:
        await sync.ensure_loaded(app.registry, app.journal, app.hot)
        yield app


async def _register(app: Any) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    gate = asyncio.Semaphore(12)

    async def one(i: int) -> None:
        number = f"13{i % 10}{i:08d}"
        async with gate:
            cats = [] if i % 2 else [Category.FINANCE, Category.INSURANCE, Category.EDUCATION]
            await app.registry.set_preference(number, True, cats, Source.NATIONAL_REGISTRY, None, None, actor="test")
            if i % 10 == 0:  # a scheduled change makes the longest value: "mask|epoch:mask"
                await app.registry.set_preference(number, False, [], Source.APP, later, None, actor="test")
            if i % 4 == 0:
                await app.registry.grant_consent(
                    number, "org-shanghai-01", f"agent-{i:06d}", None, "call", None, actor="test"
                )

    await asyncio.gather(*(one(i) for i in range(NUMBERS)))


async def test_registry_hashes_stay_in_compact_encoding_after_2000_numbers(sized_app: Any) -> None:
    """After 2,000 registrations every dncr*/dncc* hash is still a ziplist/listpack, not a hashtable."""
    app = sized_app
    await _register(app)
    encodings: dict[bytes, int] = {}
    buckets = 0
    entries = 0
    async for key in app.redis.scan_iter(match=b"dnc[rc]*", count=1000):
        enc = await app.redis.object("encoding", key)
        encodings[enc] = encodings.get(enc, 0) + 1
        buckets += 1
        if key.startswith(b"dncr"):
            entries += await app.redis.hlen(key)
    assert entries == NUMBERS
    assert set(encodings) <= COMPACT, encodings
    assert buckets <= 2 * (1 << app.hot.bits)


async def test_numbers_share_buckets_when_bucket_bits_are_few(settings: Settings) -> None:
    """With 8-bit buckets 2,000 numbers fill at most 256 preference hashes, several numbers each."""
    async with open_app(with_settings(settings, registry_bucket_bits=8)) as app:
        await sync.ensure_loaded(app.registry, app.journal, app.hot)
        await asyncio.gather(
            *(
                app.registry.set_preference(f"137{i:08d}", True, [], Source.APP, None, None, actor="test")
                for i in range(300)
            )
        )
        keys = [k async for k in app.redis.scan_iter(match=b"dncr*", count=1000)]
        assert len(keys) <= 256
        layout = app.hot.layout  # each the prefix with its shard's tag, then the bucket's 3 bytes
        assert set(keys) <= {layout.prefs[b % layout.shards] + b.to_bytes(3, "big") for b in range(256)}
        assert sum([await app.redis.hlen(k) for k in keys]) == 300
