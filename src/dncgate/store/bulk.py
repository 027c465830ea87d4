"""Bulk registry writes for imports and catch-ups: binary COPY into the preference journal, batched
Redis writes.

One INSERT or one Redis round trip per number would cap an import at a few thousand rows a second;
COPY and a script that writes hundreds of fields per call are what make millions of rows practical.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from dncgate.domain.imports import Entry
from dncgate.domain.registry import Consent, Schedule
from dncgate.store.checkscript import is_noscript
from dncgate.store.hot import SEQ, HotRegistry, encode_consent, encode_org_list, encode_schedule

_COPY = (
    "COPY preference_journal (consumer_key, do_not_disturb, categories, source, effective_from, recorded_by)"
    " FROM STDIN (FORMAT BINARY)"
)
# PostgreSQL's binary COPY: signature, flags, header extension length; each row is a field count and
# (length, bytes) per field; timestamptz is microseconds since 2000-01-01 UTC. `_ROW` packs a row's
# first five fields; recorded_by, the same for every row of an import, follows as bytes made once.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
_ROW = struct.Struct("!hi32si?iiihiq")
_PG_EPOCH_US = 946_684_800_000_000
_COPY_PART = 5_000  # rows encoded and sent at a time

# Numbers written per script call: big enough to amortise the round trip, small enough that Redis is
# never busy with one call for more than about a millisecond (Checks wait behind it).
_FIELDS_PER_CALL = 500
# ARGV[2] packs the writes, each as key length (1 byte), field length (1), value length (2, big-endian)
# then the three strings; an empty value deletes the field. One argument instead of three per number:
# redis-py packs arguments in Python, which cost more than the whole fold. (Setting a run of fields of
# one hash in one HSET saved a catch-up of 1M numbers 0.2 s of Redis time but cost an import's
# scattered keys more than that.) With ARGV[3] "1" a field is set only if its value differs: Redis
# logs (AOF) and replicates a script's writes, not the script, so a catch-up that re-applies a million
# numbers Redis already holds adds nothing to the append-only file, which Redis reads back at every
# start (each such catch-up added 1.5 s to the next start). An HDEL that deletes nothing is not logged
# either. A call writes the keys of one shard (one slot of a Redis Cluster), which it does not declare:
# KEYS[1] is the watermark when ARGV[1] > 0, else a key of that shard (its ready marker, not touched),
# so that a cluster client sends the call to the node holding the shard.
_WRITE = """
local blob, pos, n = ARGV[2], 1, #ARGV[2]
local unchanged_only = ARGV[3] == '1'
while pos <= n do
  local klen, flen, vhi, vlo = string.byte(blob, pos, pos + 3)
  local vlen = vhi * 256 + vlo
  local key = string.sub(blob, pos + 4, pos + 3 + klen)
  local field = string.sub(blob, pos + 4 + klen, pos + 3 + klen + flen)
  pos = pos + 4 + klen + flen
  if vlen == 0 then
    redis.call('HDEL', key, field)
  else
    local value = string.sub(blob, pos, pos + vlen - 1)
    if not unchanged_only or redis.call('HGET', key, field) ~= value then
      redis.call('HSET', key, field, value)
    end
  end
  pos = pos + vlen
end
local seq = tonumber(ARGV[1])
if seq > 0 and seq > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""
_LENGTHS = struct.Struct("!BBH")
# The fold's inputs for every entry of the consumers that have more than one (those with just one
# have only the row the import itself appended). Times as exact microseconds: extract(epoch) is
# numeric since PostgreSQL 14.
_ENTRIES = """
SELECT consumer_key, effective_us, seq, mask FROM (
    SELECT consumer_key, (extract(epoch FROM effective_from) * 1000000)::bigint AS effective_us, seq,
           CASE WHEN do_not_disturb THEN categories ELSE 0 END AS mask,
           count(*) OVER (PARTITION BY consumer_key) AS entries
    FROM preference_journal WHERE consumer_key = ANY(%b)
) j WHERE entries > 1
"""


# One preference journal entry to append, keyed by the consumer's digest (never the number):
# (key, do_not_disturb, categories mask, source, effective time in microseconds since the Unix epoch).
# A plain tuple: an import builds one per row.
JournalRow = tuple[bytes, bool, int, int, int]


def encode_rows(rows: Iterable[JournalRow], recorded_by: str) -> bytes:
    """The rows, each recorded by `recorded_by`, in PostgreSQL's binary COPY format (without the
    stream's header and trailer)."""
    pack = _ROW.pack
    by = recorded_by.encode()
    last = struct.pack("!i", len(by)) + by
    # The last field of every row is the same bytes: joined between the rows, and once after the last.
    encoded = last.join(
        pack(6, 32, key, 1, dnd, 4, mask, 2, source, 8, effective_us - _PG_EPOCH_US)
        for key, dnd, mask, source, effective_us in rows
    )
    return encoded + last if encoded else b""


async def append_preferences(pool: AsyncConnectionPool[Any], rows: Sequence[JournalRow], recorded_by: str) -> int:
    """Append the rows, made by `recorded_by` (an import's principal), to the journal in one transaction
    (all or none), in order; the last row's seq.

    Their seqs follow their order. Callers sort a chunk by key first (a stable sort keeps each
    number's rows in feed order): the journal's consumer index then takes its entries in key order,
    which costs PostgreSQL about a quarter less CPU than random order. The rows are encoded and sent
    a part at a time, so PostgreSQL starts on the first part while the next is being encoded.
    """
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor() as cur, cur.copy(_COPY) as copy:
            await copy.write(_HEADER)
            for start in range(0, len(rows), _COPY_PART):
                await copy.write(encode_rows(rows[start : start + _COPY_PART], recorded_by))
            await copy.write(_TRAILER)
        # currval is this session's last nextval: the seq of the copy's last row.
        row = await (await conn.execute("SELECT currval('journal_seq')")).fetchone()
    assert row is not None
    return int(row[0])


async def shared_entries(conn: AsyncConnection[Any], keys: Sequence[bytes]) -> dict[bytes, list[Entry]]:
    """The journal entries of those consumers that have more than one, reduced to what a fold reads."""
    cur = await conn.execute(_ENTRIES, (keys,))
    out: dict[bytes, list[Entry]] = {}
    for key, effective_us, seq, mask in await cur.fetchall():
        out.setdefault(key, []).append((effective_us, seq, mask))
    return out


# A consent's new state for Redis: (consumer key, org, agent, the consent in force or None).
ConsentState = tuple[bytes, str, str, Consent | None]


class BulkHotWriter:
    """Writes many numbers' folded schedules (and consents) to Redis, then raises the applied-seq watermark."""

    def __init__(self, hot: HotRegistry) -> None:
        self.hot = hot
        self._script = hot.client.register_script(_WRITE)
        self._sha = hashlib.sha1(_WRITE.encode()).hexdigest()

    async def write(
        self,
        schedules: Sequence[tuple[bytes, Schedule]],
        seq: int,
        consents: Sequence[ConsentState] = (),
        *,
        changes_only: bool = False,
        org_lists: Sequence[tuple[bytes, str, bool]] = (),
    ) -> None:
        """Write the schedules, consents and org-list fields (consumer, org, on the list), deleting fields
        that block or allow nothing, then raise `dnc:seq` to `seq` (0 leaves it). `changes_only`: leave a
        field that already holds its value alone (a re-apply, where most do; an import's fields are mostly new).

        The calls go in one pipeline (one round trip); without a transaction, so other clients'
        commands, Checks among them, run between them. The watermark is raised by a call of its own
        once every write succeeded: in a pipeline, a call after a failed one still runs, and a
        watermark past a write that failed would hide it from the next catch-up.
        """
        lengths = _LENGTHS.pack
        shard_of = self.hot.layout.shard
        by_shard = self._schedule_parts(schedules)
        for key, org, agent, consent in consents:
            hkey, hfield = self.hot.consent_location(key, org, agent)
            value = encode_consent(consent) or b""
            by_shard[shard_of(key)].append(lengths(len(hkey), len(hfield), len(value)) + hkey + hfield + value)
        for key, org, listed in org_lists:
            hkey, hfield = self.hot.org_list_location(key, org)
            value = encode_org_list(listed) or b""
            by_shard[shard_of(key)].append(lengths(len(hkey), len(hfield), len(value)) + hkey + hfield + value)
        if any(by_shard):
            readies, flag = self.hot.layout.readies, b"1" if changes_only else b"0"
            sha, step = self._sha, _FIELDS_PER_CALL
            calls = [
                [
                    ("EVALSHA", sha, 1, readies[shard], 0, b"".join(parts[start : start + step]), flag)
                    for start in range(0, len(parts), step)
                ]
                for shard, parts in enumerate(by_shard)
            ]
            await self._send(calls)
        if seq > 0:
            await self._script(keys=[SEQ], args=[seq, b"", b"0"])

    async def _send(self, calls: Sequence[Sequence[tuple[Any, ...]]]) -> None:
        """The calls (`calls[s]`: shard s's) in one pipeline, on a cluster one per primary, the primaries
        at once (`fanout.ShardFanout`; EVALSHA by hand: a redis-py Script cannot be pipelined on a Redis
        Cluster); loaded and sent again if Redis lost the script; the first error raised."""
        for attempt in range(2):
            errors = await self.hot.fanout.execute(calls)
            if attempt == 0 and any(is_noscript(e) for e in errors):
                await self.hot.client.script_load(_WRITE)
                continue
            if errors:
                raise errors[0]
            return

    def _schedule_parts(self, schedules: Sequence[tuple[bytes, Schedule]]) -> list[list[bytes]]:
        """The schedules' writes as `_WRITE` reads them (`HotRegistry.pref_location`, `encode_schedule`),
        per shard.

        A million numbers pass through this loop per catch-up (and per 1M-row import), so it is
        written for speed: `pref_location` inlined (the hash is its shard's prefix and the bucket's
        three bytes, the field the digest's bytes 3..8), and each schedule object encoded once (a fold
        shares one object per mask in effect).
        tests/integration/test_catch_up.py holds the result equal to what HotRegistry writes.
        """
        layout = self.hot.layout
        prefixes, shift, shards = layout.prefs, 24 - self.hot.bits, layout.shards
        lengths = _LENGTHS.pack
        hash_lengths = [len(p) + 3 for p in prefixes]  # the prefix with its shard's tag, and the bucket
        # By identity: a dataclass's hash costs more than encoding it (the list keeps every schedule
        # alive meanwhile, so an id is not reused while the loop runs).
        encoded: dict[int, tuple[bytes, int]] = {}
        by_shard: list[list[bytes]] = [[] for _ in range(shards)]
        for key, schedule in schedules:
            value = encoded.get(id(schedule))
            if value is None:
                raw = encode_schedule(schedule) or b""
                value = encoded[id(schedule)] = (raw, len(raw))
            b = int.from_bytes(key[:3], "big") >> shift
            shard = b % shards
            by_shard[shard].append(
                lengths(hash_lengths[shard], 6, value[1]) + prefixes[shard] + b.to_bytes(3, "big") + key[3:9] + value[0]
            )
        return by_shard
