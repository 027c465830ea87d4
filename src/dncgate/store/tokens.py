"""`api_tokens` in PostgreSQL: the tokens and certificate subjects that may call, and their grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import tuple_row

from dncgate.domain.access import Kind
from dncgate.service.access_ports import TokenRow
from dncgate.store.pg import Conn, Database

_COLUMNS = (
    "id, kind, name, subject, secret_hash, roles, orgs, created_at, expires_at, revoked_at, created_by, revoked_by"
)
# Held while `ensure_admin` looks for an admin and creates one: replicas starting together create one.
_ADMIN_LOCK_ID = 0x646E6361  # "dnca"


def _row(r: tuple[Any, ...]) -> TokenRow:
    return TokenRow(
        id=r[0],
        kind=Kind(r[1]),
        name=r[2],
        subject=r[3],
        secret_hash=bytes(r[4]) if r[4] is not None else None,
        roles=tuple(r[5]),
        orgs=tuple(r[6]),
        created_at=r[7],
        expires_at=r[8],
        revoked_at=r[9],
        created_by=r[10],
        revoked_by=r[11],
    )


async def _insert(conn: Conn, row: TokenRow) -> None:
    await conn.execute(
        "INSERT INTO api_tokens (id, kind, name, subject, secret_hash, roles, orgs, created_at, expires_at, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            row.id,
            row.kind.value,
            row.name,
            row.subject,
            row.secret_hash,
            list(row.roles),
            list(row.orgs),
            row.created_at,
            row.expires_at,
            row.created_by,
        ),
    )


class TokenStore:
    """The rows of `api_tokens`; a revocation sets revoked_at, nothing is ever deleted."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, row: TokenRow) -> None:
        async with self._db.connection() as conn:
            await _insert(conn, row)

    async def live_subject(self, subject: str) -> TokenRow | None:
        """The certificate row for `subject` that is not revoked (at most one: a unique index)."""
        async with self._db.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(
                f"SELECT {_COLUMNS} FROM api_tokens WHERE kind = 'certificate' AND subject = %s AND revoked_at IS NULL",
                (subject,),
            )
            r = await cur.fetchone()
        return _row(r) if r is not None else None

    async def all(self, include_revoked: bool = True) -> list[TokenRow]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        async with self._db.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(f"SELECT {_COLUMNS} FROM api_tokens{where} ORDER BY created_at, id")
            return [_row(r) for r in await cur.fetchall()]

    async def version(self) -> int:
        """Changes whenever a row is added or changed (max of a sequence the rows take on every write)."""
        async with self._db.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute("SELECT coalesce(max(version), 0) FROM api_tokens")
            r = await cur.fetchone()
        assert r is not None
        return int(r[0])

    async def revoke(self, token_id: str, at: datetime, by: str) -> TokenRow | None:
        """Set revoked_at and revoked_by (both kept if it was revoked before); None if no such token."""
        async with self._db.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(
                f"UPDATE api_tokens SET revoked_by = CASE WHEN revoked_at IS NULL THEN %s ELSE revoked_by END,"
                f" revoked_at = coalesce(revoked_at, %s) WHERE id = %s RETURNING {_COLUMNS}",
                (by, at, token_id),
            )
            r = await cur.fetchone()
        return _row(r) if r is not None else None

    async def ensure_admin(self, row: TokenRow, now: datetime) -> bool:
        """Insert `row` (an admin token) unless a live admin token exists; whether it was inserted.

        Under an advisory lock: replicas starting at the same time create one admin token between them.
        """
        async with self._db.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADMIN_LOCK_ID,))
            cur = await conn.execute(
                "SELECT 1 FROM api_tokens WHERE 'admin' = ANY(roles) AND revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > %s) LIMIT 1",
                (now,),
            )
            if await cur.fetchone() is not None:
                return False
            await _insert(conn, row)
            return True
