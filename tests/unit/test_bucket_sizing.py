"""Bucket bits for a registry's size: every bucket a compact listpack (≤ 1024 fields) on average with room."""

from __future__ import annotations

import redis.asyncio as aioredis

from dncgate.store.hot import BUCKET_FULL, BUCKET_TARGET, HotRegistry, bucket_bits_for


def test_bucket_bits_keep_512_numbers_a_bucket_or_fewer_from_16_bits_up() -> None:
    assert [bucket_bits_for(n) for n in (0, 10**6, 10**7, 512 << 16)] == [16, 16, 16, 16]
    assert [bucket_bits_for(n) for n in ((512 << 16) + 1, 10**8, 250 * 10**6, 710 * 10**6)] == [17, 18, 19, 21]
    assert bucket_bits_for(10**12) == 24  # the most the setting allows
    for n in (10**8, 710 * 10**6):
        assert n / 2 ** bucket_bits_for(n) <= BUCKET_TARGET < n / 2 ** (bucket_bits_for(n) - 1)


def test_a_rebuild_is_told_of_roomier_bits_only_when_buckets_average_768() -> None:
    hot = HotRegistry(aioredis.Redis(), 16)  # no connection is opened
    assert hot.roomier_bits(40 * 10**6) is None  # 610 a bucket: still compact
    assert hot.roomier_bits((BUCKET_FULL * 3 // 4) << 16) is None
    assert hot.roomier_bits(10**8) == 18
    assert HotRegistry(aioredis.Redis(), 18).roomier_bits(10**8) is None
