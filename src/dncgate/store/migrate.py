"""Versioned SQL migrations, applied in order at start-up; safe to run again and from many replicas."""

from __future__ import annotations

import re
from importlib import resources

import psycopg

_LOCK_ID = 0x646E6367  # "dncg": one migrator at a time across replicas
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every packaged migration, in version order."""
    out = []
    for entry in resources.files("dncgate.store.migrations").iterdir():
        if m := _NAME.match(entry.name):
            out.append((int(m.group(1)), entry.name, entry.read_text()))
    return sorted(out)


async def migrate(conn: psycopg.AsyncConnection[object]) -> list[str]:
    """Apply the migrations this database lacks; returns the names applied now."""
    applied_now = []
    await conn.set_autocommit(True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cur.fetchall()}  # type: ignore[index]
        for version, name, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql.encode())
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now
