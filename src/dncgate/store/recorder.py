"""The recorder's mechanics: the `recorder` consumer group on the call streams, and batched call_log writes.

There are S streams (`dnc:calls:{s}`, one per shard, store/hot.py) and, after an upgrade from the
layout before shards, the old single `dnc:calls` while it exists: one consumer group per stream, all
named `recorder`, read together. Several recorder replicas read all of them through the same groups,
which already split the entries between consumers: no replica owns a stream, a dead one's pending
entries are claimed per stream by the others, and none needs to know how many replicas there are.
An entry's id as the recorder sees it names its stream too (`<stream>/<id>`), so acknowledgements go
to the right stream and a dead letter's `stream_id` is unique across streams.

Exactly once into call_log rests on three rules, all kept here:

* an entry is acknowledged (XACK) only after the transaction holding its row has committed;
* rows go in with ON CONFLICT (call_id, at) DO NOTHING, so an entry delivered twice is harmless (call_log's
  key includes its partition key, the call's time, and a redelivered entry carries the same time);
* the stream is trimmed only below the oldest entry the group still has pending, or just past the last
  entry it delivered when nothing is pending: every entry trimmed away was acknowledged, so committed.

The stream also answers "which calls are not in call_log yet" (`stream_events`, `find_event`, and
`StreamedCalls` for a use case). Outages raise `StoreUnavailable`, a lost group `GroupMissing`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import psycopg
import redis.asyncio as aioredis
import redis.exceptions
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from redis.asyncio.cluster import RedisCluster

from dncgate import metrics
from dncgate.domain.calls import CallEvent
from dncgate.domain.errors import StoreUnavailable
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.calls import decode_event, decode_time
from dncgate.store.errors import translated
from dncgate.store.hot import LEGACY_CALLS, Layout

GROUP = "recorder"
# Stream ids are the Redis server's clock, call times the gateway's: search this much either side.
STREAM_CLOCK_PAD = timedelta(seconds=60)
_PAGE = 1000
_MAX_CLAIM_PAGES = 100

Entry = tuple[bytes, Mapping[bytes, bytes]]

# call_log's columns in the order of _row(), with their types. A batch goes by binary COPY (rows formatted by
# psycopg's C extension) into a temporary staging table of these columns, then into call_log by one INSERT ...
# ON CONFLICT (sent as one array per column to unnest(), its values were dumped one by one in Python).
_COLUMNS = (
    ("call_id", "text"),
    ("at", "timestamptz"),
    ("caller_e164", "text"),
    ("callee_key", "bytea"),
    ("callee_masked", "text"),
    ("agent_id", "text"),
    ("org_id", "text"),
    ("campaign_id", "text"),
    ("category", "int2"),
    ("decision", "text"),
    ("reason", "text"),
    ("violation", "bool"),
    ("request_id", "text"),
)
_NAMES = ", ".join(name for name, _ in _COLUMNS)
_TYPES = [kind for _, kind in _COLUMNS]
_VALUES = ", ".join("%s" for _ in _COLUMNS)
# A temporary table lives as long as its session, and pooled connections are shared (with the gRPC
# services in `inline` mode) and may be replaced or reset: each batch's transaction looks for it on its
# connection and creates it if missing (a creation rolled back with its batch is simply redone), and
# ON COMMIT DELETE ROWS empties it at every commit, so whoever uses the connection next finds no rows.
_STAGING = "pg_temp.dncgate_call_log_staging"  # pg_temp: never a table of the same name elsewhere on search_path
_HAS_STAGING = f"SELECT to_regclass('{_STAGING}') IS NOT NULL"
_CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE {_STAGING} ("
    + ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
_COPY_STAGING = f"COPY {_STAGING} ({_NAMES}) FROM STDIN (FORMAT BINARY)"
_INSERT_STAGED = f"INSERT INTO call_log ({_NAMES}) SELECT {_NAMES} FROM {_STAGING} ON CONFLICT (call_id, at) DO NOTHING"
_INSERT_ONE = f"INSERT INTO call_log ({_NAMES}) VALUES ({_VALUES}) ON CONFLICT (call_id, at) DO NOTHING"
_INSERT_DEAD = (
    "INSERT INTO call_dead_letter (stream_id, fields, error) VALUES (%s, %s, %s) ON CONFLICT (stream_id) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stream entry that cannot become a call_log row, and why (exception type and message)."""

    stream_id: bytes
    fields: Mapping[bytes, bytes]
    error: str


@dataclass(slots=True)
class CommitReport:
    inserted: int = 0
    duplicates: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    # Pending ids whose entry no longer exists in the stream (deleted by hand): nothing to record.
    gone: list[bytes] = field(default_factory=list)


def _event_row(e: CallEvent) -> tuple[Any, ...]:
    return (
        e.call_id,
        e.at,
        e.caller_e164,
        bytes.fromhex(e.callee_key),
        e.callee_masked,
        e.agent_id,
        e.org_id,
        e.campaign_id,
        int(e.category),
        e.decision.value,
        e.reason.value,
        e.violation,
        e.request_id,
    )


# The enum fields as encode_event spells them, mapped to their call_log values.
_CATEGORY_CODES = {b"%d" % c: int(c) for c in Category}
_DECISION_TEXTS = {d.value.encode(): d.value for d in Decision}
_REASON_TEXTS = {r.value.encode(): r.value for r in Reason}


def _row(f: Mapping[bytes, bytes]) -> tuple[Any, ...]:
    """_event_row(decode_event(f)) without the CallEvent and enum members in between, a third of the cost.

    Only for the spellings encode_event writes: anything else raises, and decode_event judges it."""
    return (
        f[b"id"].decode(),
        decode_time(f[b"us"]),
        f[b"caller"].decode(),
        bytes.fromhex(f[b"callee"].decode()),
        f[b"mask"].decode(),
        f[b"agent"].decode(),
        f[b"org"].decode(),
        f[b"campaign"].decode(),
        _CATEGORY_CODES[f[b"cat"]],
        _DECISION_TEXTS[f[b"dec"]],
        _REASON_TEXTS[f[b"rsn"]],
        f[b"vio"] == b"1",
        f[b"rid"].decode(),
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500].replace("\x00", "\\x00")


def parse_entry(stream_id: bytes, fields: Mapping[bytes, bytes]) -> tuple[Any, ...] | DeadLetter:
    """The call_log row for a stream entry, or a dead letter saying why there can be none."""
    try:
        return _row(fields)
    except (KeyError, ValueError):  # unusual or malformed: decode_event decides which
        return _parse_slowly(stream_id, fields)


def _parse_slowly(stream_id: bytes, fields: Mapping[bytes, bytes]) -> tuple[Any, ...] | DeadLetter:
    try:
        return _event_row(decode_event(fields))
    except (KeyError, ValueError) as exc:  # missing field, bad number, time or enum, bad hex or UTF-8
        return DeadLetter(stream_id, fields, _describe(exc))


def _text(raw: bytes) -> str:
    # jsonb refuses U+0000 as PostgreSQL text does: spell it out like any other undecodable byte.
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


P = ParamSpec("P")
R = TypeVar("R")


class GroupMissing(StoreUnavailable):
    """Redis has no `recorder` group on the stream (restarted empty, or flushed): create it again."""


def _group_call(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A StreamGroup method: NOGROUP raises GroupMissing, any other outage StoreUnavailable."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except redis.exceptions.ResponseError as exc:
            if str(exc).startswith("NOGROUP"):
                raise GroupMissing("Redis lost the recorder's consumer group", type(exc).__name__) from exc
            raise

    return translated(call)


def entry_id(stream: bytes, raw_id: bytes | str) -> bytes:
    """The recorder's id of a stream entry: its stream's name, "/", its id in that stream."""
    return stream + b"/" + (raw_id if isinstance(raw_id, bytes) else raw_id.encode())


def split_id(composite: bytes) -> tuple[bytes, bytes]:
    stream, _, raw = composite.rpartition(b"/")
    return stream, raw


class StreamGroup:
    """The `recorder` consumer group on every call stream: each shard's, and the old single stream
    while it exists (`LEGACY_CALLS`, drained after an upgrade; it may still be written to by a
    gateway of the old version during a rolling upgrade, so it is looked for again at every claim).

    On one node all streams are read by one XREADGROUP (blocking until any has an entry); on a Redis
    Cluster (`cluster=True`) the streams are in many slots, so each is read by a command of its own,
    pipelined, and an empty pass waits `block_ms` before the recorder asks again."""

    def __init__(
        self,
        client: aioredis.Redis,
        streams: Sequence[bytes] | None = None,
        group: str = GROUP,
        *,
        legacy: bytes | None = LEGACY_CALLS,
        cluster: bool = False,
    ) -> None:
        self.client = client
        self.streams = list(streams if streams is not None else Layout().streams)
        self.legacy = legacy
        self.group = group
        # A cluster client refuses one XREADGROUP over streams of many slots, whatever the caller said.
        self.cluster = cluster or isinstance(client, RedisCluster)
        self.reading: list[bytes] = list(self.streams)
        self._touched: set[bytes] = set()

    @_group_call
    async def ensure(self) -> bool:
        """Create the group at id 0 (so it reads every entry still there) on every stream, creating the
        shards' streams if missing; True if any group was created."""
        created = await self._create(self.streams, mkstream=True)
        return await self._find_legacy() or created

    async def _find_legacy(self) -> bool:
        """Read the old single stream too while it exists (its group created if it has none)."""
        if self.legacy is None:
            return False
        if not await self.client.exists(self.legacy):
            if self.legacy in self.reading:
                self.reading.remove(self.legacy)
            return False
        created = await self._create([self.legacy], mkstream=False)
        if self.legacy not in self.reading:
            self.reading.append(self.legacy)
        return created

    async def _create(self, streams: Sequence[bytes], *, mkstream: bool) -> bool:
        pipe = self.client.pipeline(transaction=False)
        for stream in streams:
            pipe.xgroup_create(stream, self.group, id="0", mkstream=mkstream)
        created = False
        for reply in await pipe.execute(raise_on_error=False):
            if isinstance(reply, Exception):
                if "BUSYGROUP" not in str(reply):
                    raise reply
            else:
                created = True
        return created

    @_group_call
    async def read(self, consumer: str, count: int, *, pending: bool, block_ms: int | None = None) -> list[Entry]:
        """New entries (`>`), or with pending=True this consumer's delivered but unacknowledged ones,
        up to `count` per stream."""
        since = "0" if pending else ">"
        if not self.cluster:
            reply: Any = await self.client.xreadgroup(
                self.group,
                consumer,
                {s: since for s in self.reading},
                count=count,
                block=None if pending else block_ms,
            )
            return self._entries(reply or [])
        pipe = self.client.pipeline(transaction=False)
        for s in self.reading:
            pipe.xreadgroup(self.group, consumer, {s: since}, count=count)
        replies = await pipe.execute(raise_on_error=False)
        found: list[Entry] = []
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
            found += self._entries(reply or [])
        if not found and not pending and block_ms:
            await asyncio.sleep(block_ms / 1000)  # no stream had anything: ask again after a while
        return found

    @staticmethod
    def _entries(reply: Any) -> list[Entry]:
        out: list[Entry] = []
        for stream, entries in reply:
            name = stream if isinstance(stream, bytes) else stream.encode()
            out += [(entry_id(name, raw), fields or {}) for raw, fields in entries]
        return out

    @_group_call
    async def claim_idle(self, consumer: str, min_idle_ms: int, count: int) -> int:
        """Move to `consumer` every entry pending longer than min_idle_ms (left by a dead consumer), in
        every stream; and look for the old single stream again."""
        await self._find_legacy()
        moved = 0
        for stream in self.reading:
            cursor: Any = b"0-0"
            for _ in range(_MAX_CLAIM_PAGES):
                reply: Any = await self.client.xautoclaim(
                    stream, self.group, consumer, min_idle_ms, cursor, count=count
                )
                moved += len(reply[1])
                cursor = reply[0]
                if cursor in (b"0-0", "0-0"):
                    break
        return moved

    @_group_call
    async def ack(self, ids: Sequence[bytes]) -> None:
        by_stream: dict[bytes, list[bytes]] = {}
        for composite in ids:
            stream, raw = split_id(composite)
            by_stream.setdefault(stream, []).append(raw)
        if not by_stream:
            return
        pipe = self.client.pipeline(transaction=False)
        for stream, raws in by_stream.items():
            pipe.xack(stream, self.group, *raws)
        await pipe.execute()
        self._touched.update(by_stream)

    @_group_call
    async def trim(self) -> int:
        """Drop the entries every one of which is acknowledged, in the streams acknowledged in since the
        last trim (all of them when none was); returns how many were dropped.

        Each stream's pending summary and last-delivered id are read in one MULTI, so they describe the
        same instant; whatever is delivered afterwards has a larger id than the bound and stays. On one
        node one MULTI reads every stream's, and one pipeline trims them all: two round trips whatever
        the number of streams; on a cluster, a MULTI per stream (its slot), pipelined.
        """
        streams = [s for s in self.reading if s in self._touched] if self._touched else list(self.reading)
        self._touched = set()
        if not streams:
            return 0
        if self.cluster:
            summaries: list[Any] = []
            for stream in streams:
                pipe = self.client.pipeline(transaction=True)
                pipe.xpending(stream, self.group)
                pipe.xinfo_groups(stream)
                summaries += await pipe.execute()
        else:
            pipe = self.client.pipeline(transaction=True)
            for stream in streams:
                pipe.xpending(stream, self.group)
                pipe.xinfo_groups(stream)
            summaries = await pipe.execute()
        bounds = [
            (stream, bound)
            for i, stream in enumerate(streams)
            if (bound := self._bound(summaries[2 * i], summaries[2 * i + 1])) is not None
        ]
        if not bounds:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for stream, bound in bounds:
            pipe.xtrim(stream, minid=bound)
        return sum(int(n) for n in await pipe.execute())

    def _bound(self, summary: Any, groups: Any) -> bytes | None:
        """The lowest id to keep: the oldest pending entry, or just past the last one delivered (None:
        nothing was ever delivered)."""
        if summary["pending"]:
            minid: bytes = summary["min"]
            return minid
        name = self.group.encode()
        last = next((g["last-delivered-id"] for g in groups if g["name"] == name), b"0-0")
        if last == b"0-0":
            return None
        ms, seq = last.split(b"-")
        return b"%d-%d" % (int(ms), int(seq) + 1)


class CallLogWriter:
    """Writes batches of stream entries to call_log (and call_dead_letter) in one transaction each."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    @translated
    async def commit(self, entries: Sequence[Entry]) -> CommitReport:
        """Insert the batch; rows PostgreSQL refuses become dead letters instead of blocking the batch."""
        report = CommitReport()
        rows: list[tuple[bytes, tuple[Any, ...]]] = []
        for stream_id, fields in entries:
            if not fields:
                report.gone.append(stream_id)
                continue
            parsed = parse_entry(stream_id, fields)
            if isinstance(parsed, DeadLetter):
                report.dead.append(parsed)
            else:
                rows.append((stream_id, parsed))
        refused = 0
        async with self.pool.connection() as conn:
            try:
                async with conn.transaction():
                    if rows:
                        report.inserted = await self._insert_many(conn, rows)
                    await self._dead_letters(conn, report.dead)
            except (psycopg.DataError, psycopg.IntegrityError):
                # Some row is poison (e.g. a NUL in a text field): find it row by row, keep the rest.
                raw = dict(entries)
                report.inserted = 0
                async with conn.transaction():
                    for stream_id, row in rows:
                        try:
                            async with conn.transaction():  # a savepoint per row
                                report.inserted += (await conn.execute(_INSERT_ONE, row)).rowcount
                        except (psycopg.DataError, psycopg.IntegrityError) as exc:
                            report.dead.append(DeadLetter(stream_id, raw[stream_id], _describe(exc)))
                            refused += 1
                    await self._dead_letters(conn, report.dead)
        report.duplicates = len(rows) - refused - report.inserted
        if report.dead:  # committed: counted once (a retried batch's dead letters conflict and are not new)
            metrics.DEAD_LETTERS.inc(len(report.dead))
        return report

    async def _insert_many(
        self, conn: psycopg.AsyncConnection[Any], rows: Sequence[tuple[bytes, tuple[Any, ...]]]
    ) -> int:
        """COPY the rows to the staging table, then into call_log; returns how many were new. Needs a transaction."""
        async with conn.cursor() as cur:
            found = await (await cur.execute(_HAS_STAGING)).fetchone()
            if not (found and found[0]):
                await cur.execute(_CREATE_STAGING)
            async with cur.copy(_COPY_STAGING) as copy:
                copy.set_types(_TYPES)
                for _, row in rows:
                    await copy.write_row(row)
            await cur.execute(_INSERT_STAGED)
            return cur.rowcount

    async def _dead_letters(self, conn: psycopg.AsyncConnection[Any], dead: Sequence[DeadLetter]) -> None:
        for d in dead:
            fields = {_text(k): _text(v) for k, v in d.fields.items()}
            await conn.execute(_INSERT_DEAD, (d.stream_id.decode(), Jsonb(fields), d.error))


def _ms(at: datetime) -> int:
    return max(epoch_us(at) // 1000, 0)


async def _scan(client: aioredis.Redis, stream: bytes, lo_ms: int, hi_ms: int) -> AsyncIterator[Entry]:
    """Every entry of `stream` whose id lies in [lo_ms, hi_ms] (whole milliseconds), oldest first, by pages."""
    start: bytes = b"%d" % lo_ms
    while True:
        page: Any = await client.xrange(stream, min=start, max=b"%d" % hi_ms, count=_PAGE)
        for entry_id, fields in page:
            yield entry_id, fields
        if len(page) < _PAGE:
            return
        start = b"(" + page[-1][0]


def callee_streams(layout: Layout, callee_key_hex: str) -> tuple[bytes, ...]:
    """The streams a callee's undrained events can be in: her shard's, and the old single stream (empty
    or absent once the recorder has drained it after an upgrade, where it costs one XRANGE)."""
    return layout.streams[layout.shard_of_hex(callee_key_hex)], LEGACY_CALLS


async def stream_events(
    client: aioredis.Redis, layout: Layout, callee_key_hex: str, after: datetime, before: datetime
) -> list[CallEvent]:
    """Calls to this callee with `after <= at <= before` that are still in her streams, oldest first.

    The stream holds every event not yet committed to call_log (and maybe a few that are). Call this
    FIRST, query call_log AFTER it returns, and merge the two by call_id: an event trimmed in between
    was committed before it was trimmed, so the later query finds it, and no call is missed. Only her
    own shard's stream is read: every event of hers is appended there (`calls.CallStream`).
    """
    key = callee_key_hex.encode()
    found: list[CallEvent] = []
    lo, hi = _ms(after - STREAM_CLOCK_PAD), _ms(before + STREAM_CLOCK_PAD)
    for stream in callee_streams(layout, callee_key_hex):
        async for _, fields in _scan(client, stream, lo, hi):
            if fields.get(b"callee") != key:
                continue
            try:
                event = decode_event(fields)
            except (KeyError, ValueError):
                continue  # malformed: the recorder dead-letters it
            if after <= event.at <= before:
                found.append(event)
    found.sort(key=lambda e: e.at)
    return found


async def find_event(client: aioredis.Redis, layout: Layout, call_id: str) -> CallEvent | None:
    """The event of this call if it is still in a stream (call ids begin with their millisecond). The
    call id does not say its callee's shard: every stream is asked, in one pipeline per pass."""
    ms = int(call_id[:12], 16)
    wanted = call_id.encode()
    streams = [*layout.streams, LEGACY_CALLS]
    # Near the call's own millisecond first; the wider pass covers clock skew between gateway and Redis.
    for pad in (2_000, int(STREAM_CLOCK_PAD.total_seconds() * 1000)):
        lo, hi = max(ms - pad, 0), ms + pad
        pipe = client.pipeline(transaction=False)
        for stream in streams:
            pipe.xrange(stream, min=b"%d" % lo, max=b"%d" % hi, count=_PAGE)
        pages: list[Any] = await pipe.execute()
        for stream, page in zip(streams, pages, strict=True):
            entries: Any = page
            if len(page) == _PAGE:  # a busy stream: read the whole window page by page
                entries = [e async for e in _scan(client, stream, lo, hi)]
            for _, fields in entries:
                if fields.get(b"id") == wanted:
                    try:
                        return decode_event(fields)
                    except (KeyError, ValueError):
                        return None
    return None


class StreamedCalls:
    """Calls looked up in the streams by call id: those the recorder has not committed yet."""

    def __init__(self, client: aioredis.Redis, layout: Layout) -> None:
        self.client = client
        self.layout = layout

    @translated
    async def find(self, call_id: str) -> CallEvent | None:
        """The event of this call if it is still in a stream (`find_event`)."""
        return await find_event(self.client, self.layout, call_id)
