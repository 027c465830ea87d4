"""`console_users` in PostgreSQL: the console's password logins and their grants (service/logins.py)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row

from dncgate.domain.errors import InvalidArgument
from dncgate.service.logins import UserRow
from dncgate.store.pg import Database

_COLUMNS = "name, password_hash, roles, orgs, created_at, created_by, disabled_at"


def _row(r: tuple[Any, ...]) -> UserRow:
    return UserRow(
        name=r[0],
        password_hash=r[1],
        roles=tuple(r[2]),
        orgs=tuple(r[3]),
        created_at=r[4],
        created_by=r[5],
        disabled_at=r[6],
    )


class UserStore:
    """The rows of `console_users`; a user is never deleted (disabled_at ends its logins)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, row: UserRow) -> None:
        """Add `row`; InvalidArgument if a user of that name exists."""
        try:
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO console_users (name, password_hash, roles, orgs, created_at, created_by)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (row.name, row.password_hash, list(row.roles), list(row.orgs), row.created_at, row.created_by),
                )
        except psycopg.errors.UniqueViolation:
            raise InvalidArgument("name", f"a user named {row.name!r} exists") from None

    async def get(self, name: str) -> UserRow | None:
        async with self._db.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(f"SELECT {_COLUMNS} FROM console_users WHERE name = %s", (name,))
            r = await cur.fetchone()
        return _row(r) if r is not None else None

    async def set_hash(self, name: str, password_hash: str) -> None:
        """Store a rehash (argon2's parameters raised since the password was set)."""
        async with self._db.connection() as conn:
            await conn.execute("UPDATE console_users SET password_hash = %s WHERE name = %s", (password_hash, name))
