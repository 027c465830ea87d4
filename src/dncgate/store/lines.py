"""The caller-line journal in PostgreSQL: append-only assignments of company lines to orgs and agents."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dncgate.domain import lines as rules
from dncgate.domain.errors import Conflict
from dncgate.domain.lines import CallerLine
from dncgate.store.pg import Database

_COLS = "seq, caller_e164, org_id, agent_id, valid_from, valid_to, recorded_at, recorded_by"
# Registrations of one line lock (this class, hash of the line) in the two-int4 advisory key space, so
# the overlap check and the insert see the same rows; the journal's other locks use other classes.
_LINE_LOCK_CLASS = 0x646E636C


def _line_lock(caller_e164: str) -> int:
    return int.from_bytes(hashlib.sha256(caller_e164.encode()).digest()[:4], "big", signed=True)


def _row(r: Sequence[Any]) -> CallerLine:
    return CallerLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])


class CallerLineStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(
        self,
        caller_e164: str,
        org_id: str,
        agent_id: str,
        valid_from: datetime,
        valid_to: datetime | None,
        request_id: str | None,
        *,
        recorded_by: str,
    ) -> CallerLine:
        """Append an assignment made by `recorded_by`, unless it overlaps another owner's live one
        (FailedPrecondition naming it); with a request_id already used, that entry (Conflict if it was
        for another line)."""
        async with self.db.connection() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s::int4, %s::int4)", (_LINE_LOCK_CLASS, _line_lock(caller_e164))
            )
            if request_id is not None:
                cur = await conn.execute(f"SELECT {_COLS} FROM caller_lines WHERE request_id = %s", (request_id,))
                if (seen := await cur.fetchone()) is not None:
                    if seen[1] != caller_e164:
                        raise Conflict(f"request_id {request_id!r} was already used for another line")
                    return _row(seen)
            cur = await conn.execute(f"SELECT {_COLS} FROM caller_lines WHERE caller_e164 = %s", (caller_e164,))
            existing = [_row(r) for r in await cur.fetchall()]
            clash = rules.conflict(existing, caller_e164, org_id, agent_id, valid_from, valid_to)
            if clash is not None:
                raise rules.refuse_overlap(clash)
            cur = await conn.execute(
                "INSERT INTO caller_lines"
                " (caller_e164, org_id, agent_id, valid_from, valid_to, recorded_by, request_id)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLS}",
                (caller_e164, org_id, agent_id, valid_from, valid_to, recorded_by, request_id),
            )
            row = await cur.fetchone()
            assert row is not None
            return _row(row)

    async def lines_of(self, callers: Sequence[str]) -> list[CallerLine]:
        """Every journal row of these lines (index caller_lines_number), in journal order."""
        if not callers:
            return []
        async with self.db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLS} FROM caller_lines WHERE caller_e164 = ANY(%s) ORDER BY seq", (sorted(set(callers)),)
            )
            return [_row(r) for r in await cur.fetchall()]

    async def page(
        self, org_id: str, caller_e164: str, at: datetime | None, after_seq: int | None, limit: int
    ) -> tuple[list[CallerLine], list[CallerLine]]:
        """A page of rows matching the filters ("" or None = any; `at`: whose interval covers it), oldest
        first after `after_seq`, and every row of the lines on that page (to tell the live ones from the
        superseded)."""
        where: list[str] = ["seq > %s"]
        params: list[Any] = [after_seq or 0]
        if at is not None:
            where.append("valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)")
            params.extend([at, at])
        if org_id:
            where.append("org_id = %s")
            params.append(org_id)
        if caller_e164:
            where.append("caller_e164 = %s")
            params.append(caller_e164)
        async with self.db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLS} FROM caller_lines WHERE {' AND '.join(where)} ORDER BY seq LIMIT %s",
                (*params, limit),
            )
            rows = [_row(r) for r in await cur.fetchall()]
            numbers = sorted({r.caller_e164 for r in rows})
            cur = await conn.execute(f"SELECT {_COLS} FROM caller_lines WHERE caller_e164 = ANY(%s)", (numbers,))
            every = [_row(r) for r in await cur.fetchall()]
        return rows, every
