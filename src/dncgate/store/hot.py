"""The registry as the hot path reads it from Redis: compact bucketed hashes keyed by HMAC digests.

Layout (all keys binary and short, because at millions of numbers every byte counts):

    dncr<3-byte bucket>  HASH  digest[3:9] -> "mask" or "mask|epoch:mask|..."   do-not-disturb
    dncc<3-byte bucket>  HASH  digest[3:9] + blake2b-64(org, agent) -> expiry epoch ("0": none)
                         digest[3:9] + org_list_scope(org) -> "L"            on that org's own list
    dnc:mode             HASH  org -> ENFORCE | MONITOR
    dnc:ready            STRING "<layout version>/<bucket bits>/<pepper fingerprint>"; absent while
                         empty or being rebuilt
    dnc:seq              STRING highest journal seq applied
    dnc:calls            STREAM call events (the evidence complaints are matched against)

The bucket is the top `bits` bits of the digest, so each hash holds a few dozen to a few hundred
fields and stays in Redis's compact (ziplist/listpack) encoding: about 12 bytes per number plus the
bucket's own overhead shared by all its numbers. Absent `dnc:ready` means "not loaded": the gateway
then blocks (fail closed) instead of reading an empty registry as "nobody registered". So does a
marker written with another layout, bucket size or pepper: a Redis loaded under another pepper holds
keys no number of ours hashes to, and would read as "nobody registered" too. The comparison is the
one every Check already makes, so the pepper check costs the hot path nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

from dncgate.domain.registry import Consent, Schedule
from dncgate.domain.types import Mode
from dncgate.store.errors import translated

READY = b"dnc:ready"
SEQ = b"dnc:seq"
MODES = b"dnc:mode"
CALLS = b"dnc:calls"
# Bumped whenever the encoding below changes: a Redis written with another layout reads as not
# loaded, so the server rebuilds it instead of misreading it.
LAYOUT_VERSION = 2
_PREF_PREFIX = b"dncr"
_CONSENT_PREFIX = b"dncc"
# A consumer's placed calls under the frequency caps (store/checkscript.py): a sorted set of call ids
# scored by their time in microseconds, in a key of its own that expires a window after the last call,
# so the registry's buckets (and their memory per number) never hold a count. Not dropped by a rebuild:
# a count is not registry state.
CAP_PREFIX = b"dncq"


def cap_key(key: bytes) -> bytes:
    """The key of a consumer's counted calls (`key`: her keyed hash)."""
    return CAP_PREFIX + key


def org_cap_key(key: bytes, org_id: str) -> bytes:
    """The key of a consumer's counted calls from one org (for its own daily cap); `key` is of fixed length."""
    return CAP_PREFIX + key + b"@" + org_id.encode()


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

    def __init__(self, client: aioredis.Redis, bucket_bits: int = 16, fingerprint: str = "") -> None:
        """`fingerprint`: the pepper's (`NumberKeyer.fingerprint`); tools that only locate keys omit it."""
        self.client = client
        self.bits = bucket_bits
        self._shift = 24 - bucket_bits
        self.fingerprint = fingerprint
        self.ready_value = b"%d/%d/%s" % (LAYOUT_VERSION, bucket_bits, fingerprint.encode())
        self._max_seq = client.register_script(_MAX_SEQ)

    def _bucket(self, key: bytes) -> bytes:
        return (int.from_bytes(key[:3], "big") >> (24 - self.bits)).to_bytes(3, "big")

    def pref_location(self, key: bytes) -> tuple[bytes, bytes]:
        return _PREF_PREFIX + self._bucket(key), key[3:9]

    def consent_location(self, key: bytes, org_id: str, agent_id: str) -> tuple[bytes, bytes]:
        return _CONSENT_PREFIX + self._bucket(key), key[3:9] + consent_scope(org_id, agent_id)

    def org_list_location(self, key: bytes, org_id: str) -> tuple[bytes, bytes]:
        return _CONSENT_PREFIX + self._bucket(key), key[3:9] + org_list_scope(org_id)

    def callee_location(self, key: bytes) -> tuple[bytes, bytes, bytes]:
        """(preference hash, consent hash, field) of one number: its preference field, and the start of
        its consent fields (each followed by a `consent_scope`). `_bucket` inlined: a scrub calls this
        for every number."""
        bucket = (int.from_bytes(key[:3], "big") >> self._shift).to_bytes(3, "big")
        return _PREF_PREFIX + bucket, _CONSENT_PREFIX + bucket, key[3:9]

    @translated
    async def is_ready(self) -> bool:
        return bool(await self.client.get(READY) == self.ready_value)

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

    @translated
    async def set_mode(self, org_id: str, mode: Mode) -> None:
        await self.client.hset(MODES, org_id, mode.value)

    @translated
    async def mode(self, org_id: str) -> Mode | None:
        raw: bytes | None = await self.client.hget(MODES, org_id)  # type: ignore[assignment]
        return Mode(raw.decode()) if raw else None

    # --- rebuild -----------------------------------------------------------------------------

    @translated
    async def begin_rebuild(self) -> None:
        """Mark the registry not loaded (Checks fail closed) and drop every registry key."""
        await self.client.delete(READY)
        for pattern in (_PREF_PREFIX + b"*", _CONSENT_PREFIX + b"*"):
            batch: list[bytes] = []
            async for k in self.client.scan_iter(match=pattern, count=5000):
                batch.append(k)
                if len(batch) >= 5000:
                    await self.client.unlink(*batch)
                    batch = []
            if batch:
                await self.client.unlink(*batch)
        await self.client.delete(MODES)

    @translated
    async def load(
        self,
        schedules: Iterable[tuple[bytes, Schedule]],
        consents: Iterable[tuple[bytes, str, str, Consent]],
        org_lists: Iterable[tuple[bytes, str]] = (),
    ) -> None:
        """Write a batch of folded state during a rebuild (no transaction: the registry is not live);
        `org_lists`: (consumer, org) of each org list the consumer is on."""
        pipe = self.client.pipeline(transaction=False)
        for key, schedule in schedules:
            self._queue_schedule(pipe, key, schedule)
        for key, org, agent, consent in consents:
            self._queue_consent(pipe, key, org, agent, consent)
        for key, org in org_lists:
            self._queue_org_list(pipe, key, org, True)
        await pipe.execute()

    @translated
    async def finish_rebuild(self, modes: Mapping[str, Mode], seq: int) -> None:
        pipe = self.client.pipeline(transaction=True)
        if modes:
            pipe.hset(MODES, mapping={org: m.value for org, m in modes.items()})
        pipe.set(SEQ, seq)
        pipe.set(READY, self.ready_value)
        await pipe.execute()
