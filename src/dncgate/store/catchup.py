"""Journal reads for a catch-up: which consumers changed in the window, and their journals, a slice at a time.

After a 1M-row import a million consumers are in the window. As a million `bytes` objects, their keys
cost Python about a second to receive and as much again to send back as query parameters; packed
(sorted, 32 bytes each, in one `bytes`) they cost nothing: PostgreSQL concatenates them and splits
each slice's share itself.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection

from dncgate.domain.registry import ConsentChange, OrgListChange
from dncgate.store.journal import CONSENT_COLUMNS, ORG_LIST_COLUMNS, Journal, consent_change, org_list_change

KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class PackedKeys:
    """Consumer keys, sorted and distinct, packed KEY_BYTES each."""

    packed: bytes = b""

    @classmethod
    def of(cls, keys: list[bytes]) -> PackedKeys:
        return cls(b"".join(sorted(set(keys))))

    def __len__(self) -> int:
        return len(self.packed) // KEY_BYTES

    def __getitem__(self, i: int) -> bytes:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.packed[i * KEY_BYTES : (i + 1) * KEY_BYTES]

    def __iter__(self) -> Iterator[bytes]:
        p = self.packed
        return (p[i : i + KEY_BYTES] for i in range(0, len(p), KEY_BYTES))

    def __contains__(self, key: object) -> bool:
        """Binary search: the keys are sorted."""
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            return False
        i = bisect.bisect_left(self, key)
        return i < len(self) and self[i] == key

    def slices(self, keys: int) -> Iterator[PackedKeys]:
        """Consecutive runs of `keys` keys (the last one shorter)."""
        step = keys * KEY_BYTES
        return (PackedKeys(self.packed[i : i + step]) for i in range(0, len(self.packed), step))


@dataclass(frozen=True, slots=True)
class Changed:
    """The consumers a catch-up re-applies: those with preference entries in the window, those with
    consent or org-list entries in it (`consents`), and how many consumers that is in all."""

    preferences: PackedKeys
    consents: PackedKeys
    consumers: int


# The window: entries after the watermark, or recorded within `window` of the journal's latest entry.
# Its end is the latest entry by seq, not the clock (see sync.catch_up); least(now(), ...) keeps a
# recorded_at from a clock that later went back from pushing it into the future. One sort per journal
# (string_agg DISTINCT ... ORDER BY) rather than a hash aggregate and then a sort: half the time.
_CHANGED = """
WITH since AS (
    SELECT least(now(), greatest(
        (SELECT recorded_at FROM preference_journal ORDER BY seq DESC LIMIT 1),
        (SELECT recorded_at FROM consent_journal ORDER BY seq DESC LIMIT 1),
        (SELECT recorded_at FROM org_list_journal ORDER BY seq DESC LIMIT 1)
    )) - %(window)s AS at
)
SELECT (SELECT string_agg(DISTINCT consumer_key, ''::bytea ORDER BY consumer_key)
        FROM preference_journal, since WHERE seq > %(seq)s OR recorded_at > since.at),
       (SELECT string_agg(DISTINCT consumer_key, ''::bytea ORDER BY consumer_key)
        FROM (SELECT consumer_key, seq, recorded_at FROM consent_journal
              UNION ALL SELECT consumer_key, seq, recorded_at FROM org_list_journal) c, since
        WHERE seq > %(seq)s OR recorded_at > since.at)
"""
# Enough to sort a million keys in memory (about 70 MB) instead of on disk.
_SORT_MEMORY = "SET LOCAL work_mem = '128MB'"

# The keys of a slice, unpacked by PostgreSQL: an array parameter of 5,000 keys costs Python ~3 ms to
# build, this one bytea nothing.
_SLICE = "ARRAY(SELECT substring(%(keys)s FROM g * 32 + 1 FOR 32) FROM generate_series(0, length(%(keys)s) / 32 - 1) g)"
# What `fold_entries` reads, in key order so that a consumer's entries come together. Times as exact
# microseconds: extract(epoch) is numeric since PostgreSQL 14.
_FOLD_COLUMNS = """consumer_key, (extract(epoch FROM effective_from) * 1000000)::bigint, seq,
       CASE WHEN do_not_disturb THEN categories ELSE 0 END"""
_PREFERENCES = (
    f"SELECT {_FOLD_COLUMNS} FROM preference_journal WHERE consumer_key = ANY({_SLICE}) ORDER BY consumer_key"
)
# The same for every consumer between a slice's first and last key: one index range scan instead of
# one descent per key, under half the time while the slice's consumers are most of that range (after
# an import); the others' rows are dropped. LIMIT tells when the range holds far more (a few changed
# consumers among many): the slice is then read by its keys.
_RANGE = (
    f"SELECT {_FOLD_COLUMNS} FROM preference_journal WHERE consumer_key BETWEEN %(first)s AND %(last)s"
    " ORDER BY consumer_key LIMIT %(limit)s"
)
_CONSENTS = (
    f"SELECT consumer_key, {CONSENT_COLUMNS} FROM consent_journal"
    f" WHERE consumer_key = ANY({_SLICE}) ORDER BY consumer_key, seq"
)
_ORG_LISTS = (
    f"SELECT consumer_key, {ORG_LIST_COLUMNS} FROM org_list_journal"
    f" WHERE consumer_key = ANY({_SLICE}) ORDER BY consumer_key, seq"
)
# Read by range while it holds at most this many rows per key of the slice.
_RANGE_ROWS_PER_KEY = 4


async def changed_since(conn: AsyncConnection[Any], seq: int, window: timedelta) -> Changed:
    """The consumers with journal entries after `seq`, or recorded within `window` of the latest entry."""
    async with conn.transaction():
        await conn.execute(_SORT_MEMORY)
        cur = await conn.execute(_CHANGED, {"seq": seq, "window": window}, binary=True)
        row = await cur.fetchone()
    assert row is not None
    preferences, consents = PackedKeys(row[0] or b""), PackedKeys(row[1] or b"")
    return Changed(preferences, consents, len(preferences) + sum(k not in preferences for k in consents))


async def preference_rows(conn: AsyncConnection[Any], keys: PackedKeys) -> list[tuple[bytes, int, int, int]]:
    """(key, effective µs, seq, blocked mask) of every preference entry of these consumers, by key."""
    if not keys:
        return []
    limit = _RANGE_ROWS_PER_KEY * len(keys)
    cur = await conn.execute(_RANGE, {"first": keys[0], "last": keys[-1], "limit": limit + 1}, binary=True)
    rows: list[tuple[bytes, int, int, int]] = await cur.fetchall()
    if len(rows) > limit:  # the range holds many consumers not in the slice: read the slice's own
        cur = await conn.execute(_PREFERENCES, {"keys": keys.packed}, binary=True)
        return await cur.fetchall()
    if len(rows) == len(keys) and b"".join(r[0] for r in rows) == keys.packed:
        return rows  # one entry per key, no other consumer in the range: the usual case after an import
    wanted = set(keys)
    return [r for r in rows if r[0] in wanted]


async def consent_changes(conn: AsyncConnection[Any], keys: PackedKeys) -> dict[bytes, list[ConsentChange]]:
    """Every consent journal entry of these consumers, each consumer's in journal order."""
    cur = await conn.execute(_CONSENTS, {"keys": keys.packed}, binary=True)
    out: dict[bytes, list[ConsentChange]] = {}
    for row in await cur.fetchall():
        out.setdefault(row[0], []).append(consent_change(row[1:]))
    return out


async def org_list_changes(conn: AsyncConnection[Any], keys: PackedKeys) -> dict[bytes, list[OrgListChange]]:
    """Every org-list entry of these consumers, each consumer's in journal order."""
    cur = await conn.execute(_ORG_LISTS, {"keys": keys.packed}, binary=True)
    out: dict[bytes, list[OrgListChange]] = {}
    for row in await cur.fetchall():
        out.setdefault(row[0], []).append(org_list_change(row[1:]))
    return out


async def journal_window(journal: Journal, seq: int, window: timedelta) -> Changed:
    """`changed_since` on a connection of the journal's pool: what a catch-up re-applies."""
    async with journal.pool.connection() as conn:
        return await changed_since(conn, seq, window)
