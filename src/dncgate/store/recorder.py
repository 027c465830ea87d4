"""The recorder's mechanics: the `recorder` consumer group on `dnc:calls`, and batched call_log writes.

Exactly once into call_log rests on three rules, all kept here:

* an entry is acknowledged (XACK) only after the transaction holding its row has committed;
* rows go in with ON CONFLICT (call_id, at) DO NOTHING, so an entry delivered twice is harmless (call_log's
  key includes its partition key, the call's time, and a redelivered entry carries the same time);
* the stream is trimmed only below the oldest entry the group still has pending, or just past the last
  entry it delivered when nothing is pending: every entry trimmed away was acknowledged, so committed.

The stream also answers "which calls are not in call_log yet" (`stream_events`, `find_event`, and
`StreamedCalls` for a use case). Outages raise `StoreUnavailable`, a lost group `GroupMissing`."""

from __future__ import annotations

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

from dncgate import metrics
from dncgate.domain.calls import CallEvent
from dncgate.domain.errors import StoreUnavailable
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.calls import decode_event, decode_time
from dncgate.store.errors import translated
from dncgate.store.hot import CALLS

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


class StreamGroup:
    """The `recorder` consumer group on the call stream."""

    def __init__(self, client: aioredis.Redis, stream: bytes = CALLS, group: str = GROUP) -> None:
        self.client = client
        self.stream = stream
        self.group = group

    @_group_call
    async def ensure(self) -> bool:
        """Create the group at id 0 (so it reads every entry still there), and the stream if missing."""
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    @_group_call
    async def read(self, consumer: str, count: int, *, pending: bool, block_ms: int | None = None) -> list[Entry]:
        """New entries (`>`), or with pending=True this consumer's delivered but unacknowledged ones."""
        reply: Any = await self.client.xreadgroup(
            self.group,
            consumer,
            {self.stream: "0" if pending else ">"},
            count=count,
            block=None if pending else block_ms,
        )
        if not reply:
            return []
        return [(entry_id, fields or {}) for entry_id, fields in reply[0][1]]

    @_group_call
    async def claim_idle(self, consumer: str, min_idle_ms: int, count: int) -> int:
        """Move to `consumer` every entry pending longer than min_idle_ms (left by a dead consumer)."""
        moved, cursor = 0, b"0-0"
        for _ in range(_MAX_CLAIM_PAGES):
            reply: Any = await self.client.xautoclaim(
                self.stream, self.group, consumer, min_idle_ms, cursor, count=count
            )
            moved += len(reply[1])
            cursor = reply[0]
            if cursor in (b"0-0", "0-0"):
                break
        return moved

    @_group_call
    async def ack(self, ids: Sequence[bytes]) -> None:
        if ids:
            await self.client.xack(self.stream, self.group, *ids)

    @_group_call
    async def trim(self) -> int:
        """Drop the entries every one of which is acknowledged; returns how many were dropped.

        The pending summary and the last-delivered id are read in one MULTI, so they describe the same
        instant; whatever is delivered afterwards has a larger id than the bound and stays.
        """
        pipe = self.client.pipeline(transaction=True)
        pipe.xpending(self.stream, self.group)
        pipe.xinfo_groups(self.stream)
        summary, groups = await pipe.execute()
        if summary["pending"]:
            minid = summary["min"]
        else:
            name = self.group.encode()
            last = next((g["last-delivered-id"] for g in groups if g["name"] == name), b"0-0")
            if last == b"0-0":
                return 0
            ms, seq = last.split(b"-")
            minid = b"%d-%d" % (int(ms), int(seq) + 1)
        dropped: int = await self.client.xtrim(self.stream, minid=minid)
        return dropped


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


async def _scan(client: aioredis.Redis, lo_ms: int, hi_ms: int) -> AsyncIterator[Entry]:
    """Every entry whose stream id lies in [lo_ms, hi_ms] (whole milliseconds), oldest first, by pages."""
    start: bytes = b"%d" % lo_ms
    while True:
        page: Any = await client.xrange(CALLS, min=start, max=b"%d" % hi_ms, count=_PAGE)
        for entry_id, fields in page:
            yield entry_id, fields
        if len(page) < _PAGE:
            return
        start = b"(" + page[-1][0]


async def stream_events(
    client: aioredis.Redis, callee_key_hex: str, after: datetime, before: datetime
) -> list[CallEvent]:
    """Calls to this callee with `after <= at <= before` that are still in the stream, oldest first.

    The stream holds every event not yet committed to call_log (and maybe a few that are). Call this
    FIRST, query call_log AFTER it returns, and merge the two by call_id: an event trimmed in between
    was committed before it was trimmed, so the later query finds it, and no call is missed.
    """
    key = callee_key_hex.encode()
    found: list[CallEvent] = []
    async for _, fields in _scan(client, _ms(after - STREAM_CLOCK_PAD), _ms(before + STREAM_CLOCK_PAD)):
        if fields.get(b"callee") != key:
            continue
        try:
            event = decode_event(fields)
        except (KeyError, ValueError):
            continue  # malformed: the recorder dead-letters it
        if after <= event.at <= before:
            found.append(event)
    return found


async def find_event(client: aioredis.Redis, call_id: str) -> CallEvent | None:
    """The event of this call if it is still in the stream (call ids begin with their millisecond)."""
    ms = int(call_id[:12], 16)
    wanted = call_id.encode()
    # Near the call's own millisecond first; the wider pass covers clock skew between gateway and Redis.
    for pad in (2_000, int(STREAM_CLOCK_PAD.total_seconds() * 1000)):
        async for _, fields in _scan(client, max(ms - pad, 0), ms + pad):
            if fields.get(b"id") == wanted:
                try:
                    return decode_event(fields)
                except (KeyError, ValueError):
                    return None
    return None


class StreamedCalls:
    """Calls looked up in the stream by call id: those the recorder has not committed yet."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    @translated
    async def find(self, call_id: str) -> CallEvent | None:
        """The event of this call if it is still in the stream (`find_event`)."""
        return await find_event(self.client, call_id)
