"""The registry journal in PostgreSQL: append-only preference, consent and org-policy changes."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from dncgate.domain.errors import Conflict, PepperMismatch
from dncgate.domain.registry import ConsentChange, OrgListChange, OrgPolicyEntry, PreferenceChange
from dncgate.domain.types import Mode, Source
from dncgate.store.bulk import JournalRow, append_preferences
from dncgate.store.errors import pg_outages
from dncgate.store.pg import Database

# Writers hold this lock shared; a full rebuild of Redis holds it exclusively, so no write lands
# in Redis underneath a rebuild that read the journal before it.
_REBUILD_LOCK = 0x646E6372
# Org-policy writers lock (this class, hash of org) in the two-int4 advisory key space, which never
# overlaps the single-bigint space of the consumer and rebuild locks.
_ORG_LOCK_CLASS = 0x646E636F

_PREF_COLS = "seq, do_not_disturb, categories, source, effective_from, recorded_at, recorded_by"
_CONSENT_COLS = (
    "seq, org_id, agent_id, granted, expires_at, evidence, effective_at, recorded_at, recorded_by, exempt_from_caps"
)
_ORG_LIST_COLS = "seq, org_id, listed, reason, effective_at, recorded_at, recorded_by"

Conn = psycopg.AsyncConnection[Any]


def _key_lock(key: bytes) -> int:
    return int.from_bytes(key[:8], "big", signed=True)


def _org_lock(org_id: str) -> int:
    return int.from_bytes(hashlib.sha256(org_id.encode()).digest()[:4], "big", signed=True)


def _pref(row: Sequence[Any]) -> PreferenceChange:
    return PreferenceChange(row[0], row[1], row[2], Source(row[3]), row[4], row[5], row[6])


def _consent(row: Sequence[Any]) -> ConsentChange:
    return ConsentChange(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def _org_list(row: Sequence[Any]) -> OrgListChange:
    return OrgListChange(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


# For the other modules that read consent rows (store/catchup.py).
CONSENT_COLUMNS = _CONSENT_COLS
consent_change = _consent
ORG_LIST_COLUMNS = _ORG_LIST_COLS
org_list_change = _org_list


@contextlib.asynccontextmanager
async def _holding(
    conn: Conn, lock: str, lock_args: Sequence[Any], unlock: str, unlock_args: Sequence[Any]
) -> AsyncIterator[None]:
    """Hold session-level advisory locks on a pooled connection for a block, and never leak them.

    Such a lock survives the error of the statement that took it: a wait cancelled half-way (a
    client's deadline) can leave the first of two locks held, and an unlock that fails leaves all of
    them; on a connection back in the pool that blocks every later rebuild. So on any failure the
    connection is closed instead, which ends the session and its locks (the pool replaces it).
    """
    await conn.set_autocommit(True)
    try:
        await conn.execute(lock, lock_args)
    except BaseException:
        await conn.close()
        raise
    try:
        yield
    finally:
        try:
            await conn.execute(unlock, unlock_args)
        except BaseException:
            await conn.close()
            raise


class ConsumerSession:
    """Journal access for one consumer while holding that consumer's write lock."""

    def __init__(self, conn: Conn, key: bytes) -> None:
        self.conn = conn
        self.key = key

    async def append_preference(
        self,
        do_not_disturb: bool,
        mask: int,
        source: Source,
        effective_from: datetime | None,
        request_id: str | None,
        *,
        recorded_by: str,
    ) -> tuple[PreferenceChange, bool]:
        """Append a change made by `recorded_by`; with a request_id already used, return that entry
        (with the principal that made it) and False."""
        async with self.conn.transaction():
            cur = await self.conn.execute(
                "INSERT INTO preference_journal"
                " (consumer_key, do_not_disturb, categories, source, effective_from, request_id, recorded_by)"
                " VALUES (%s, %s, %s, %s, COALESCE(%s, clock_timestamp()), %s, %s)"
                f" ON CONFLICT (request_id) DO NOTHING RETURNING {_PREF_COLS}",
                (self.key, do_not_disturb, mask, int(source), effective_from, request_id, recorded_by),
            )
            row = await cur.fetchone()
            if row is not None:
                return _pref(row), True
            cur = await self.conn.execute(
                f"SELECT consumer_key, {_PREF_COLS} FROM preference_journal WHERE request_id = %s",
                (request_id,),
            )
            found = await cur.fetchone()
            assert found is not None
            if found[0] != self.key:
                raise Conflict(f"request_id {request_id!r} was already used for another number")
            return _pref(found[1:]), False

    async def preference_changes(self) -> list[PreferenceChange]:
        return await preference_changes(self.conn, self.key)

    async def append_consent(
        self,
        org_id: str,
        agent_id: str,
        granted: bool,
        expires_at: datetime | None,
        evidence: str,
        request_id: str | None,
        *,
        recorded_by: str,
        exempt_from_caps: bool = False,
    ) -> tuple[ConsentChange, bool]:
        async with self.conn.transaction():
            cur = await self.conn.execute(
                "INSERT INTO consent_journal (consumer_key, org_id, agent_id, granted, expires_at, evidence,"
                " effective_at, request_id, recorded_by, exempt_from_caps)"
                " VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp(), %s, %s, %s)"
                f" ON CONFLICT (request_id) DO NOTHING RETURNING {_CONSENT_COLS}",
                (self.key, org_id, agent_id, granted, expires_at, evidence, request_id, recorded_by, exempt_from_caps),
            )
            row = await cur.fetchone()
            if row is not None:
                return _consent(row), True
            cur = await self.conn.execute(
                f"SELECT consumer_key, {_CONSENT_COLS} FROM consent_journal WHERE request_id = %s",
                (request_id,),
            )
            found = await cur.fetchone()
            assert found is not None
            if found[0] != self.key:
                raise Conflict(f"request_id {request_id!r} was already used for another number")
            return _consent(found[1:]), False

    async def consent_changes(self) -> list[ConsentChange]:
        return await consent_changes(self.conn, self.key)

    async def append_org_list(
        self, org_id: str, listed: bool, reason: str, request_id: str | None, *, recorded_by: str
    ) -> tuple[OrgListChange, bool]:
        """Put the consumer on `org_id`'s list (or take her off it); with a request_id already used,
        return that entry and False."""
        async with self.conn.transaction():
            cur = await self.conn.execute(
                "INSERT INTO org_list_journal (consumer_key, org_id, listed, reason, effective_at, request_id,"
                " recorded_by) VALUES (%s, %s, %s, %s, clock_timestamp(), %s, %s)"
                f" ON CONFLICT (request_id) DO NOTHING RETURNING {_ORG_LIST_COLS}",
                (self.key, org_id, listed, reason, request_id, recorded_by),
            )
            row = await cur.fetchone()
            if row is not None:
                return _org_list(row), True
            cur = await self.conn.execute(
                f"SELECT consumer_key, {_ORG_LIST_COLS} FROM org_list_journal WHERE request_id = %s",
                (request_id,),
            )
            found = await cur.fetchone()
            assert found is not None
            if found[0] != self.key:
                raise Conflict(f"request_id {request_id!r} was already used for another number")
            return _org_list(found[1:]), False

    async def org_list_changes(self) -> list[OrgListChange]:
        return await org_list_changes(self.conn, self.key)


async def preference_changes(conn: Conn, key: bytes) -> list[PreferenceChange]:
    cur = await conn.execute(
        f"SELECT {_PREF_COLS} FROM preference_journal WHERE consumer_key = %s ORDER BY seq", (key,)
    )
    return [_pref(r) for r in await cur.fetchall()]


async def consent_changes(conn: Conn, key: bytes) -> list[ConsentChange]:
    cur = await conn.execute(
        f"SELECT {_CONSENT_COLS} FROM consent_journal WHERE consumer_key = %s ORDER BY seq", (key,)
    )
    return [_consent(r) for r in await cur.fetchall()]


async def org_list_changes(conn: Conn, key: bytes) -> list[OrgListChange]:
    cur = await conn.execute(
        f"SELECT {_ORG_LIST_COLS} FROM org_list_journal WHERE consumer_key = %s ORDER BY seq", (key,)
    )
    return [_org_list(r) for r in await cur.fetchall()]


class Journal:
    """The PostgreSQL side of the registry."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pool = db.pool  # for bulk COPYs (store.bulk), which no RPC deadline cuts

    async def append_import_rows(self, rows: Sequence[JournalRow], recorded_by: str) -> int:
        """An import's chunk appended by COPY in one transaction (`store.bulk.append_preferences`)."""
        return await append_preferences(self.pool, rows, recorded_by)

    @contextlib.asynccontextmanager
    async def consumer(self, key: bytes) -> AsyncIterator[ConsumerSession]:
        """Hold the consumer's write lock (and the shared rebuild lock) for a write-then-apply."""
        async with (
            self.db.connection() as conn,
            _holding(
                conn,
                "SELECT pg_advisory_lock_shared(%s), pg_advisory_lock(%s)",
                (_REBUILD_LOCK, _key_lock(key)),
                "SELECT pg_advisory_unlock(%s), pg_advisory_unlock_shared(%s)",
                (_key_lock(key), _REBUILD_LOCK),
            ),
        ):
            yield ConsumerSession(conn, key)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Conn]:
        """Hold the rebuild lock exclusively: no registry write lands in Redis meanwhile.

        For rebuilds and an import's applies, which no RPC's deadline may cut short: the raw pool.
        """
        async with (
            pg_outages(),
            self.pool.connection() as conn,
            _holding(
                conn, "SELECT pg_advisory_lock(%s)", (_REBUILD_LOCK,), "SELECT pg_advisory_unlock(%s)", (_REBUILD_LOCK,)
            ),
        ):
            yield conn

    async def claim_pepper(self, fingerprint: str, conn: Conn | None = None) -> None:
        """Record the pepper's fingerprint if the journal has none yet (the first writer's stays); raise
        PepperMismatch if it was written with another pepper (its keys would match no number of ours)."""
        if conn is None:
            async with self.db.connection() as c:
                return await self.claim_pepper(fingerprint, c)
        await conn.execute(
            "INSERT INTO pepper_fingerprint (fingerprint) VALUES (%s) ON CONFLICT DO NOTHING", (fingerprint,)
        )
        # A statement of its own: its snapshot sees the row of a writer that won a race with ours.
        row = await (await conn.execute("SELECT fingerprint FROM pepper_fingerprint")).fetchone()
        assert row is not None
        if row[0] != fingerprint:
            raise PepperMismatch(journal=row[0], ours=fingerprint)
        return None

    async def preference_changes(self, key: bytes) -> list[PreferenceChange]:
        async with self.db.connection() as conn:
            return await preference_changes(conn, key)

    async def consent_changes(self, key: bytes) -> list[ConsentChange]:
        async with self.db.connection() as conn:
            return await consent_changes(conn, key)

    async def org_list_changes(self, key: bytes) -> list[OrgListChange]:
        async with self.db.connection() as conn:
            return await org_list_changes(conn, key)

    @contextlib.asynccontextmanager
    async def org_writer(self, org_id: str) -> AsyncIterator[Conn]:
        """Hold the org's policy write lock (and the shared rebuild lock) for a write-then-apply."""
        async with (
            self.db.connection() as conn,
            _holding(
                conn,
                "SELECT pg_advisory_lock_shared(%s), pg_advisory_lock(%s::int4, %s::int4)",
                (_REBUILD_LOCK, _ORG_LOCK_CLASS, _org_lock(org_id)),
                "SELECT pg_advisory_unlock(%s::int4, %s::int4), pg_advisory_unlock_shared(%s)",
                (_ORG_LOCK_CLASS, _org_lock(org_id), _REBUILD_LOCK),
            ),
        ):
            yield conn

    async def set_org_policy(
        self, org_id: str, entry: OrgPolicyEntry, request_id: str | None, conn: Conn | None = None
    ) -> OrgPolicyEntry:
        """Append the org's whole policy `entry` (recorded by its `recorded_by`); with a request_id
        already used, return that entry."""
        if conn is None:
            async with self.db.connection() as c:
                return await self._set_org_policy(c, org_id, entry, request_id)
        return await self._set_org_policy(conn, org_id, entry, request_id)

    async def _set_org_policy(
        self, conn: Conn, org_id: str, entry: OrgPolicyEntry, request_id: str | None
    ) -> OrgPolicyEntry:
        async with conn.transaction():
            cur = await conn.execute(
                f"INSERT INTO org_policy_journal (org_id, request_id, {_POLICY_COLUMNS})"
                f" VALUES (%s, %s, {', '.join(['%s'] * len(_POLICY))})"
                f" ON CONFLICT (request_id) DO NOTHING RETURNING {_POLICY_COLUMNS}",
                (org_id, request_id, *_policy_row(entry)),
            )
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    f"SELECT org_id, {_POLICY_COLUMNS} FROM org_policy_journal WHERE request_id = %s", (request_id,)
                )
                found = await cur.fetchone()
                assert found is not None
                if found[0] != org_id:
                    raise Conflict(f"request_id {request_id!r} was already used for another org")
                return _policy_of(found[1:])
            return _policy_of(row)

    async def org_modes(self, conn: Conn | None = None) -> dict[str, Mode]:
        """Every org's current mode (the latest journal entry per org)."""
        return {org: p.mode for org, p in (await self.org_policies(conn)).items()}

    async def org_policies(self, conn: Conn | None = None) -> dict[str, OrgPolicyEntry]:
        """Every org's current policy (the latest journal entry per org)."""
        sql = f"SELECT DISTINCT ON (org_id) org_id, {_POLICY_COLUMNS} FROM org_policy_journal ORDER BY org_id, seq DESC"
        if conn is not None:
            cur = await conn.execute(sql)
            return {r[0]: _policy_of(r[1:]) for r in await cur.fetchall()}
        async with self.db.connection() as c:
            cur = await c.execute(sql)
            return {r[0]: _policy_of(r[1:]) for r in await cur.fetchall()}

    async def receipt_orgs(self) -> frozenset[str]:
        """The orgs whose policy in force has signed receipts on."""
        sql = (
            "SELECT org_id FROM (SELECT DISTINCT ON (org_id) org_id, signed_receipts FROM org_policy_journal"
            " ORDER BY org_id, seq DESC) latest WHERE signed_receipts"
        )
        async with self.db.connection() as c:
            cur = await c.execute(sql)
            return frozenset(r[0] for r in await cur.fetchall())

    async def org_caps(self) -> dict[str, int]:
        """The orgs whose policy in force has a daily cap of their own, and that cap."""
        sql = (
            "SELECT org_id, max_calls_per_day FROM (SELECT DISTINCT ON (org_id) org_id, max_calls_per_day"
            " FROM org_policy_journal ORDER BY org_id, seq DESC) latest WHERE max_calls_per_day > 0"
        )
        async with self.db.connection() as c:
            cur = await c.execute(sql)
            return {r[0]: r[1] for r in await cur.fetchall()}

    async def org_policy(self, org_id: str, conn: Conn | None = None) -> OrgPolicyEntry | None:
        """The org's current policy: its latest policy journal entry, None when it has none."""
        sql = f"SELECT {_POLICY_COLUMNS} FROM org_policy_journal WHERE org_id = %s ORDER BY seq DESC LIMIT 1"
        if conn is None:
            async with self.db.connection() as c:
                row = await (await c.execute(sql, (org_id,))).fetchone()
        else:
            row = await (await conn.execute(sql, (org_id,))).fetchone()
        return _policy_of(row) if row else None

    async def max_seq(self, conn: Conn | None = None) -> int:
        sql = "SELECT last_value, is_called FROM journal_seq"
        if conn is None:
            async with self.db.connection() as c:
                row = await (await c.execute(sql)).fetchone()
        else:
            row = await (await conn.execute(sql)).fetchone()
        assert row is not None
        return int(row[0]) if row[1] else 0


async def stream_preferences(conn: Conn) -> AsyncIterator[tuple[bytes, list[PreferenceChange]]]:
    """Every consumer's preference journal, one consumer at a time (server-side cursor)."""
    async for key, changes in _grouped(
        conn, f"SELECT consumer_key, {_PREF_COLS} FROM preference_journal ORDER BY consumer_key, seq", _pref
    ):
        yield key, changes


async def stream_consents(conn: Conn) -> AsyncIterator[tuple[bytes, list[ConsentChange]]]:
    async for key, changes in _grouped(
        conn, f"SELECT consumer_key, {_CONSENT_COLS} FROM consent_journal ORDER BY consumer_key, seq", _consent
    ):
        yield key, changes


async def stream_org_lists(conn: Conn) -> dict[bytes, list[OrgListChange]]:
    """Every consumer's org-list entries, in journal order: few consumers have any, so all at once."""
    return {
        key: entries
        async for key, entries in _grouped(
            conn, f"SELECT consumer_key, {_ORG_LIST_COLS} FROM org_list_journal ORDER BY consumer_key, seq", _org_list
        )
    }


async def _grouped(conn: Conn, sql: str, make: Any) -> AsyncIterator[tuple[bytes, list[Any]]]:
    current: bytes | None = None
    batch: list[Any] = []
    async with conn.transaction(), conn.cursor(name="dncgate_rebuild", row_factory=tuple_row) as cur:
        cur.itersize = 10_000
        await cur.execute(sql)
        async for row in cur:
            key = bytes(row[0])
            if key != current:
                if current is not None:
                    yield current, batch
                current, batch = key, []
            batch.append(make(row[1:]))
    if current is not None:
        yield current, batch


# An org policy entry's columns (migrations 0001, 0005, 0013, 0016, 0017, 0018), in OrgPolicyEntry's terms: a
# later policy field is one more column here, read and written as its field is.
_POLICY = (
    "mode",
    "recorded_by",
    "signed_receipts",
    "quiet_on_public_holidays",
    "require_registered_lines",
    "max_calls_per_day",
    "consent_required",
    "consent_required_categories",
)
_POLICY_COLUMNS = ", ".join(_POLICY)


def _policy_row(entry: OrgPolicyEntry) -> tuple[object, ...]:
    return (
        entry.mode.value,
        entry.recorded_by,
        entry.signed_receipts,
        entry.quiet_on_public_holidays,
        entry.require_registered_lines,
        entry.max_calls_per_day,
        entry.consent_required,
        entry.consent_required_categories,
    )


def _policy_of(row: Sequence[Any]) -> OrgPolicyEntry:
    return OrgPolicyEntry(
        mode=Mode(row[0]),
        recorded_by=row[1],
        signed_receipts=row[2],
        quiet_on_public_holidays=row[3],
        require_registered_lines=row[4],
        max_calls_per_day=row[5],
        consent_required=row[6],
        consent_required_categories=row[7],
    )
