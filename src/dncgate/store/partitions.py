"""The monthly partitions of call_log, call_outcome and notifications (migration 0020): create, rehome, drop.

Every change runs in a transaction holding an advisory lock, so replicas running the maintenance loop
at once take turns, and each re-reads the catalog under the lock: what another did is not done again.
DDL on a partitioned table locks the whole table (ACCESS EXCLUSIVE): each such transaction gives up
after `lock_timeout` rather than queue for long in front of the recorder's and the RPCs' writes (a
queued exclusive lock makes every later writer wait too); the loop tries again later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from dncgate.domain import retention as r
from dncgate.store.pg import Database

Conn = psycopg.AsyncConnection[Any]

# Each partitioned table and its partition key: the call's time, the call's time carried onto its
# outcome, the filing time of a notice's case.
KEYS: dict[str, str] = {"call_log": "at", "call_outcome": "call_at", "notifications": "case_created_at"}
_LOCK_ID = 0x646E6370  # "dncp": one partition change at a time across replicas
_LOCK_TIMEOUT = "2s"
# A month of calls (or outcomes) stays while a complaint whose window touches it may still need its
# evidence: a case not closed, or one active within the retention; a month of notices likewise for the
# cases filed in it.
_CALLS_NEEDED = (
    "SELECT EXISTS (SELECT 1 FROM complaints WHERE occurred_after < %(end)s AND occurred_before >= %(start)s"
    " AND (status <> 'CLOSED' OR updated_at >= %(horizon)s))"
)
_NOTICES_NEEDED = (
    "SELECT EXISTS (SELECT 1 FROM complaints WHERE created_at >= %(start)s AND created_at < %(end)s"
    " AND (status <> 'CLOSED' OR updated_at >= %(horizon)s))"
)


def _default(table: str) -> str:
    return f"{table}_default"


async def _partitions(conn: Conn, table: str) -> set[date]:
    cur = await conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (table,),
    )
    return {m for (name,) in await cur.fetchall() if (m := r.parse_partition(table, name)) is not None}


async def _stray_months(conn: Conn, table: str) -> set[date]:
    """The months of the rows the default partition holds (none, normally)."""
    cur = await conn.execute(
        sql.SQL("SELECT DISTINCT date_trunc('month', {key} AT TIME ZONE 'UTC')::date FROM {default}").format(
            key=sql.Identifier(KEYS[table]), default=sql.Identifier(_default(table))
        )
    )
    return {row[0] for row in await cur.fetchall()}


async def _create(conn: Conn, table: str, month: date) -> None:
    await conn.execute(
        sql.SQL("CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({lo}) TO ({hi})").format(
            name=sql.Identifier(r.partition_name(table, month)),
            table=sql.Identifier(table),
            lo=sql.Literal(r.month_start(month)),
            hi=sql.Literal(r.month_end(month)),
        )
    )


async def _lock(conn: Conn, table: str) -> None:
    await conn.execute("SELECT set_config('lock_timeout', %s, true)", (_LOCK_TIMEOUT,))
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
    await conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))


class PartitionStore:
    """The partitions of the tables of `KEYS`, as the maintenance loop (service/maintenance.py) sees them."""

    tables: tuple[str, ...] = tuple(KEYS)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def months(self, table: str) -> list[date]:
        """The months `table` has a partition for, oldest first."""
        async with self.db.connection() as conn:
            return sorted(await _partitions(conn, table))

    async def ensure(self, table: str, months: Sequence[date]) -> tuple[list[date], int]:
        """Create the partitions of `months` that are missing; returns those created and how many rows
        moved out of the default partition.

        PostgreSQL refuses a partition whose range has rows in the default partition, so rows there (a
        month no partition existed for when they came) are first moved to partitions of their months:
        the default partition is detached, the months its rows need are created, the rows inserted
        again through the parent (seq and every other value as they were), and an empty default made.
        """
        async with self.db.connection() as conn:
            missing = set(months) - await _partitions(conn, table)
            stray = await _stray_months(conn, table)
            if not missing and not stray:
                return [], 0
            async with conn.transaction():
                await _lock(conn, table)
                have = await _partitions(conn, table)
                stray = await _stray_months(conn, table)
                wanted = sorted((set(months) | stray) - have)
                moved = 0
                if stray:
                    moved = await self._rehome(conn, table, wanted)
                else:
                    for month in wanted:
                        await _create(conn, table, month)
                return wanted, moved

    async def _rehome(self, conn: Conn, table: str, wanted: Sequence[date]) -> int:
        default, parked = sql.Identifier(_default(table)), sql.Identifier(f"{table}_rehoming")
        await conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(sql.Identifier(table), default))
        await conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(default, parked))
        for month in wanted:
            await _create(conn, table, month)
        cur = await conn.execute(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        row = await cur.fetchone()
        assert row is not None
        columns = sql.SQL(row[0])
        cur = await conn.execute(
            sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                sql.Identifier(table), columns, columns, parked
            )
        )
        moved = cur.rowcount
        await conn.execute(sql.SQL("DROP TABLE {}").format(parked))
        await conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(default, sql.Identifier(table)))
        return moved

    async def needed(self, table: str, month: date, horizon: datetime) -> bool:
        """Whether a complaint may still need this month of `table` (see _CALLS_NEEDED)."""
        query = _NOTICES_NEEDED if table == "notifications" else _CALLS_NEEDED
        async with self.db.connection() as conn:
            cur = await conn.execute(
                query, {"start": r.month_start(month), "end": r.month_end(month), "horizon": horizon}
            )
            row = await cur.fetchone()
        return bool(row and row[0])

    async def drop(self, table: str, month: date) -> int | None:
        """Drop the month's partition; returns PostgreSQL's estimate of its rows, None if it was gone."""
        name = r.partition_name(table, month)
        async with self.db.connection() as conn, conn.transaction():
            await _lock(conn, table)
            if month not in await _partitions(conn, table):
                return None
            cur = await conn.execute(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", (name,)
            )
            row = await cur.fetchone()
            await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        return int(row[0]) if row else 0
