"""The registry as the hot path reads it from Redis: compact bucketed hashes keyed by HMAC digests.

Layout (all keys binary and short, because at millions of numbers every byte counts). Every key a
Check reads or writes for a callee carries the hash tag `{s}` of her shard (`Layout.shard`: her
bucket modulo S = DNCGATE_STREAM_SHARDS), so one Check touches one Redis Cluster slot, and on one node
the same keys are simply S groups of one namespace (one code path for both):

    dncr{s}<3-byte bucket>  HASH  digest[3:9] -> "mask" or "mask|epoch:mask|..."   do-not-disturb
    dncc{s}<3-byte bucket>  HASH  digest[3:9] + blake2b-64(org, agent) -> expiry epoch ("0": none)
                            digest[3:9] + org_list_scope(org) -> "L"            on that org's own list
    dncq{s}<digest>[@org]   ZSET  her calls counted under the frequency caps
    dnc:calls:{s}           STREAM call events of the shard's callees (the evidence complaints are matched against)
    dnc:ready:{s}           STRING "<layout version>/<bucket bits>/<S>/<pepper fingerprint>"; absent while
                            empty or being rebuilt
    dnc:seq                 STRING highest journal seq applied

No key is global to the Check: an org's mode reaches the script as an argument, from the in-process
copy of the org policies (`service.org_caps`), not from Redis.

The bucket is the top `bits` bits of the digest, so each hash holds a few dozen to a few hundred
fields and stays in Redis's compact (ziplist/listpack) encoding: about 12 bytes per number plus the
bucket's own overhead shared by all its numbers. The shard is a function of the bucket, so a bucket
lives in one shard and the tag adds no hash (only its few bytes of name per bucket). Absent
`dnc:ready:{s}` means "shard not loaded": its Checks then block (fail closed) instead of reading an
empty registry as "nobody registered"; so a node that lost its data fails closed for exactly its
shards. So does a marker written with another layout, bucket size, S or pepper: a Redis loaded under
another pepper holds keys no number of ours hashes to, and would read as "nobody registered" too. The
comparison is the one every Check already makes, so the pepper check costs the hot path nothing.

Before layout 3 the keys had no tag, one `dnc:ready` marked the whole registry, `dnc:mode` held the
orgs' modes and one stream `dnc:calls` took every event: such a Redis reads as not loaded and is
rebuilt, and the recorder drains what is left in `dnc:calls` (`LEGACY_CALLS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

from dncgate.domain.registry import Consent, Schedule
from dncgate.store.errors import translated
from dncgate.store.fanout import Command, ShardFanout

SEQ = b"dnc:seq"
READY_PREFIX = b"dnc:ready:"
CALLS_PREFIX = b"dnc:calls:"
# The layout before shards (version 2): one marker, one mode hash, one stream. The marker and the
# mode hash are dropped by a rebuild; the stream is drained by the recorder, then left empty.
LEGACY_READY = b"dnc:ready"
LEGACY_MODES = b"dnc:mode"
LEGACY_CALLS = b"dnc:calls"
# Bumped whenever the encoding below changes: a Redis written with another layout reads as not
# loaded, so the server rebuilds it instead of misreading it.
LAYOUT_VERSION = 3
DEFAULT_SHARDS = 64
# Numbers a bucket hash should hold at most on average: Redis keeps a hash of up to 1024 fields
# (`hash-max-ziplist-entries`, as serve starts Redis) as one compact listpack, about 12 B a number, and
# a fuller one as a hash table, about 80 B a number. Half of 1024 leaves room for the fullest buckets.
BUCKET_TARGET = 512
BUCKET_FULL = 1024


def bucket_bits_for(numbers: int) -> int:
    """The DNCGATE_REGISTRY_BUCKET_BITS that keeps `numbers` at BUCKET_TARGET a bucket or fewer (16 at least)."""
    bits = 16
    while bits < 24 and numbers > BUCKET_TARGET << bits:
        bits += 1
    return bits


_PREF_PREFIX = b"dncr"
_CONSENT_PREFIX = b"dncc"
# A consumer's placed calls under the frequency caps (store/checkscript.py): a sorted set of call ids
# scored by their time in microseconds, in a key of its own that expires a window after the last call,
# so the registry's buckets (and their memory per number) never hold a count. Not dropped by a rebuild:
# a count is not registry state. (Under another bucket size or S a consumer's counts are in another
# shard's key: they start again from zero, and the old keys expire within a week.)
CAP_PREFIX = b"dncq"


def tag(shard: int) -> bytes:
    """The hash tag of a shard: Redis Cluster hashes only what is between the braces."""
    return b"{%d}" % shard


def ready_key(shard: int) -> bytes:
    return READY_PREFIX + tag(shard)


def calls_key(shard: int) -> bytes:
    """The call stream of a shard's callees."""
    return CALLS_PREFIX + tag(shard)


def cap_key(key: bytes, shard_tag: bytes) -> bytes:
    """The key of a consumer's counted calls (`key`: her keyed hash, `shard_tag`: her shard's `tag`)."""
    return CAP_PREFIX + shard_tag + key


def org_cap_key(key: bytes, org_id: str, shard_tag: bytes) -> bytes:
    """The key of a consumer's counted calls from one org (for its own daily cap); `key` is of fixed length."""
    return CAP_PREFIX + shard_tag + key + b"@" + org_id.encode()


class Layout:
    """Where a consumer's keys are: her bucket (top `bits` bits of her digest) and her shard (the
    bucket modulo `shards`), with each shard's key names made once."""

    __slots__ = ("_shift", "bits", "caps", "consents", "prefs", "readies", "shards", "streams", "tags")

    def __init__(self, bits: int = 16, shards: int = DEFAULT_SHARDS) -> None:
        self.bits, self.shards = bits, shards
        self._shift = 24 - bits
        self.tags = [tag(s) for s in range(shards)]
        self.prefs = [_PREF_PREFIX + t for t in self.tags]
        self.consents = [_CONSENT_PREFIX + t for t in self.tags]
        self.caps = [CAP_PREFIX + t for t in self.tags]
        self.readies = [READY_PREFIX + t for t in self.tags]
        self.streams = [CALLS_PREFIX + t for t in self.tags]

    def bucket(self, key: bytes) -> int:
        return int.from_bytes(key[:3], "big") >> self._shift

    def shard(self, key: bytes) -> int:
        """The consumer's shard: every key of hers has its tag (`key`: her digest, or at least its first 3 bytes)."""
        return (int.from_bytes(key[:3], "big") >> self._shift) % self.shards

    def shard_of_hex(self, key_hex: str) -> int:
        """The shard of a hex callee key; 0 for one that is not hex (a malformed event's)."""
        try:
            return self.shard(bytes.fromhex(key_hex[:6]))
        except ValueError:
            return 0

    def cap_key(self, key: bytes) -> bytes:
        return self.caps[self.shard(key)] + key

    def org_cap_key(self, key: bytes, org_id: str) -> bytes:
        return self.caps[self.shard(key)] + key + b"@" + org_id.encode()


_MAX_SEQ = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def encode_schedule(schedule: Schedule) -> bytes | None:
    """None when the number blocks nothing now or later (the field is then deleted)."""
    if schedule.mask == 0 and not any(m for _, m in schedule.upcoming):
        return None
    if not schedule.upcoming:
        return b"%d" % schedule.mask
    return b"|".join([b"%d" % schedule.mask, *(b"%d:%d" % (at, m) for at, m in schedule.upcoming)])


# Ends a consent field's value when the consent is exempt from the frequency caps.
CAP_EXEMPT = b"x"


def encode_consent(consent: Consent | None) -> bytes | None:
    """A consent field's value, its expiry in epoch seconds ("0": none), then CAP_EXEMPT if its calls
    are exempt from the frequency caps; None when there is no consent in force (the field is then
    deleted)."""
    if consent is None:
        return None
    expiry = b"%d" % (int(consent.expires_at.timestamp()) if consent.expires_at else 0)
    return expiry + CAP_EXEMPT if consent.exempt_from_caps else expiry


def decode_schedule(raw: bytes | None) -> Schedule:
    if raw is None:
        return Schedule(0)
    if b"|" not in raw:
        return Schedule(int(raw))
    head, *rest = raw.split(b"|")
    upcoming = []
    for part in rest:
        at, m = part.split(b":")
        upcoming.append((int(at), int(m)))
    return Schedule(int(head), tuple(upcoming))


def consent_scope(org_id: str, agent_id: str) -> bytes:
    """The consent field's suffix for an org (agent "") or one of its agents.

    Org and agent ids are hashed so long ids (UUIDs...) keep the field short and the bucket compact.
    """
    return hashlib.blake2b(org_id.encode() + b"\x00" + agent_id.encode(), digest_size=8).digest()


# The value of an org-list field: the consumer is on that org's own do-not-call list (no field: she is not).
ORG_LISTED = b"L"


def org_list_scope(org_id: str) -> bytes:
    """The org-list field's suffix for an org, beside the consumer's consent fields in the same hash (so
    the Check reads it in the HMGET it already makes). Hashed under its own personalisation, so it never
    equals a `consent_scope`; only numbers on some org's list have such a field."""
    return hashlib.blake2b(org_id.encode(), digest_size=8, person=b"dncgate-orglist").digest()


def encode_org_list(listed: bool) -> bytes | None:
    """An org-list field's value; None when the consumer is not on the list (the field is then deleted)."""
    return ORG_LISTED if listed else None


class NotLoaded(Exception):
    """Redis holds no loaded registry (empty after a restart, or mid-rebuild)."""


class HotRegistry:
    """Reads and writes of the registry in Redis; an outage raises StoreUnavailable (store/errors.py)."""

    def __init__(
        self, client: aioredis.Redis, bucket_bits: int = 16, fingerprint: str = "", shards: int = DEFAULT_SHARDS
    ) -> None:
        """`fingerprint`: the pepper's (`NumberKeyer.fingerprint`); tools that only locate keys omit it."""
        self.client = client
        self.bits = bucket_bits
        self.layout = Layout(bucket_bits, shards)
        self.shards = shards
        self._shift = 24 - bucket_bits
        self.fingerprint = fingerprint
        self.ready_value = b"%d/%d/%d/%s" % (LAYOUT_VERSION, bucket_bits, shards, fingerprint.encode())
        self._max_seq = client.register_script(_MAX_SEQ)
        self.fanout = ShardFanout(client, self.layout.readies)

    def roomier_bits(self, numbers: int) -> int | None:
        """The bucket bits `numbers` want when the buckets of this layout are so full (768 a bucket on
        average) that the fullest pass 1024 fields and Redis stores them as hash tables; else None."""
        if numbers <= (BUCKET_FULL * 3 // 4) << self.bits:
            return None
        return bucket_bits_for(numbers)

    async def aclose(self) -> None:
        """Close the bulk writer's own connections (a cluster's, one per primary); not the client."""
        await self.fanout.aclose()

    def _bucket(self, key: bytes) -> tuple[int, bytes]:
        b = int.from_bytes(key[:3], "big") >> self._shift
        return b % self.shards, b.to_bytes(3, "big")

    def pref_location(self, key: bytes) -> tuple[bytes, bytes]:
        shard, bucket = self._bucket(key)
        return self.layout.prefs[shard] + bucket, key[3:9]

    def consent_location(self, key: bytes, org_id: str, agent_id: str) -> tuple[bytes, bytes]:
        shard, bucket = self._bucket(key)
        return self.layout.consents[shard] + bucket, key[3:9] + consent_scope(org_id, agent_id)

    def org_list_location(self, key: bytes, org_id: str) -> tuple[bytes, bytes]:
        shard, bucket = self._bucket(key)
        return self.layout.consents[shard] + bucket, key[3:9] + org_list_scope(org_id)

    def callee_location(self, key: bytes) -> tuple[int, bytes, bytes, bytes]:
        """(shard, preference hash, consent hash, field) of one number: its preference field, and the
        start of its consent fields (each followed by a `consent_scope`). `_bucket` inlined: a scrub
        calls this for every number."""
        b = int.from_bytes(key[:3], "big") >> self._shift
        shard = b % self.shards
        bucket = b.to_bytes(3, "big")
        layout = self.layout
        return shard, layout.prefs[shard] + bucket, layout.consents[shard] + bucket, key[3:9]

    @translated
    async def is_ready(self) -> bool:
        """Every shard's marker holds our layout (one missing: that shard's Checks fail closed, and the
        sync loop rebuilds)."""
        return all(v == self.ready_value for v in await self._markers())

    async def _markers(self) -> list[bytes | None]:
        pipe = self.client.pipeline(transaction=False)
        for k in self.layout.readies:
            pipe.get(k)
        return list(await pipe.execute())

    @translated
    async def applied_seq(self) -> int:
        raw = await self.client.get(SEQ)
        return int(raw) if raw else 0

    @translated
    async def apply(
        self,
        key: bytes,
        schedule: Schedule | None,
        consents: Mapping[tuple[str, str], Consent | None],
        seq: int,
        org_lists: Mapping[str, bool] | None = None,
    ) -> None:
        """Write one consumer's folded state; consents mapped to None are removed, and so are the
        org-list fields of the orgs mapped to False."""
        pipe = self.client.pipeline(transaction=True)
        if schedule is not None:
            self._queue_schedule(pipe, key, schedule)
        for (org, agent), consent in consents.items():
            self._queue_consent(pipe, key, org, agent, consent)
        for org, listed in (org_lists or {}).items():
            self._queue_org_list(pipe, key, org, listed)
        await pipe.execute()
        await self._max_seq(keys=[SEQ], args=[seq])

    def _queue_schedule(self, pipe: Any, key: bytes, schedule: Schedule) -> None:
        hkey, field = self.pref_location(key)
        value = encode_schedule(schedule)
        if value is None:
            pipe.hdel(hkey, field)
        else:
            pipe.hset(hkey, field, value)

    def _queue_consent(self, pipe: Any, key: bytes, org: str, agent: str, consent: Consent | None) -> None:
        hkey, field = self.consent_location(key, org, agent)
        value = encode_consent(consent)
        if value is None:
            pipe.hdel(hkey, field)
        else:
            pipe.hset(hkey, field, value)

    def _queue_org_list(self, pipe: Any, key: bytes, org: str, listed: bool) -> None:
        hkey, field = self.org_list_location(key, org)
        value = encode_org_list(listed)
        if value is None:
            pipe.hdel(hkey, field)
        else:
            pipe.hset(hkey, field, value)

    # --- rebuild -----------------------------------------------------------------------------

    @translated
    async def begin_rebuild(self) -> None:
        """Mark the registry not loaded (Checks fail closed) and drop every registry key (and the old
        layout's marker and mode hash)."""
        await self.client.delete(*self.layout.readies, LEGACY_READY)
        for pattern in (_PREF_PREFIX + b"*", _CONSENT_PREFIX + b"*"):
            batch: list[bytes] = []
            async for k in self.client.scan_iter(match=pattern, count=5000):
                batch.append(k)
                if len(batch) >= 5000:
                    await self.client.unlink(*batch)
                    batch = []
            if batch:
                await self.client.unlink(*batch)
        await self.client.delete(LEGACY_MODES)

    @translated
    async def load(
        self,
        schedules: Iterable[tuple[bytes, Schedule]],
        consents: Iterable[tuple[bytes, str, str, Consent]],
        org_lists: Iterable[tuple[bytes, str]] = (),
    ) -> None:
        """Write a batch of folded state during a rebuild (no transaction: the registry is not live);
        `org_lists`: (consumer, org) of each org list the consumer is on.

        On a cluster the batch is sent by shard, a pipeline per primary (`fanout.ShardFanout`); on one
        node, in one pipeline."""
        if self.fanout.cluster is not None:
            errors = await self.fanout.execute(self._grouped(schedules, consents, org_lists))
            if errors:
                raise errors[0]
            return
        pipe = self.client.pipeline(transaction=False)
        for key, schedule in schedules:
            self._queue_schedule(pipe, key, schedule)
        for key, org, agent, consent in consents:
            self._queue_consent(pipe, key, org, agent, consent)
        for key, org in org_lists:
            self._queue_org_list(pipe, key, org, True)
        await pipe.execute()

    def _grouped(
        self,
        schedules: Iterable[tuple[bytes, Schedule]],
        consents: Iterable[tuple[bytes, str, str, Consent]],
        org_lists: Iterable[tuple[bytes, str]],
    ) -> list[list[Command]]:
        """`load`'s writes as commands per shard (the locations of `pref_location`, `consent_location`,
        `org_list_location` inlined: a rebuild passes every number through here)."""
        layout, shift, shards = self.layout, self._shift, self.shards
        prefs, hashes = layout.prefs, layout.consents
        groups: list[list[Command]] = [[] for _ in range(shards)]
        for key, schedule in schedules:
            b = int.from_bytes(key[:3], "big") >> shift
            value = encode_schedule(schedule)
            hkey = prefs[b % shards] + b.to_bytes(3, "big")
            groups[b % shards].append(("HDEL", hkey, key[3:9]) if value is None else ("HSET", hkey, key[3:9], value))
        for key, org, agent, consent in consents:
            b = int.from_bytes(key[:3], "big") >> shift
            value = encode_consent(consent)
            hkey, field = hashes[b % shards] + b.to_bytes(3, "big"), key[3:9] + consent_scope(org, agent)
            groups[b % shards].append(("HDEL", hkey, field) if value is None else ("HSET", hkey, field, value))
        for key, org in org_lists:
            b = int.from_bytes(key[:3], "big") >> shift
            hkey, field = hashes[b % shards] + b.to_bytes(3, "big"), key[3:9] + org_list_scope(org)
            groups[b % shards].append(("HSET", hkey, field, ORG_LISTED))
        return groups

    @translated
    async def finish_rebuild(self, seq: int) -> None:
        """Mark every shard loaded, the watermark first (a shard marked loaded never has a lower one)."""
        await self.client.set(SEQ, seq)
        pipe = self.client.pipeline(transaction=False)
        for k in self.layout.readies:
            pipe.set(k, self.ready_value)
        await pipe.execute()
