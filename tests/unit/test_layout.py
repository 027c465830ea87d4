"""The registry's key layout: every key of one consumer's Check is in one Redis Cluster slot."""

from __future__ import annotations

import hashlib

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from dncgate.store.hot import HotRegistry, Layout


@pytest.mark.parametrize(("bits", "shards"), [(16, 64), (8, 64), (16, 1), (18, 1000), (24, 16384)])
def test_every_key_a_check_touches_for_a_consumer_has_her_shards_slot(bits: int, shards: int) -> None:
    hot = HotRegistry(aioredis.Redis(), bits, "f" * 32, shards)  # locates keys only: never connects
    layout = hot.layout
    for i in range(500):
        key = hashlib.sha256(b"%d" % i).digest()
        shard, pkey, ckey, _ = hot.callee_location(key)
        assert shard == layout.shard(key) == layout.shard_of_hex(key.hex()) == layout.bucket(key) % shards
        keys = [
            pkey,
            ckey,
            hot.pref_location(key)[0],
            hot.consent_location(key, "acme", "a1")[0],
            hot.org_list_location(key, "acme")[0],
            layout.cap_key(key),
            layout.org_cap_key(key, "acme"),
            layout.streams[shard],
            layout.readies[shard],
        ]
        assert {key_slot(k) for k in keys} == {key_slot(b"{%d}" % shard)}


def test_a_bucket_lives_in_one_shard_so_the_tag_adds_no_hash() -> None:
    """Numbers of one bucket share its hashes: the shard is a function of the bucket."""
    layout = Layout(16, 64)
    a, b = bytes([1, 2, 3]) + bytes(29), bytes([1, 2, 3, 9]) + bytes(28)
    assert layout.bucket(a) == layout.bucket(b) and layout.shard(a) == layout.shard(b)
    assert layout.shard_of_hex("zz") == 0  # a malformed event's key: shard 0's stream
