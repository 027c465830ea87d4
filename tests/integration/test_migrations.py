"""Schema migrations and the append-only journal, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import psycopg
import pytest

from dncgate.domain.types import Mode, Source
from dncgate.store.migrate import migrate, migration_files
from tests.conftest import Stores, _database_url
from tests.integration.support import CONSUMER

pytestmark = pytest.mark.integration

JOURNAL_TABLES = ("preference_journal", "consent_journal", "org_policy_journal")


async def test_migrations_are_applied_at_start_and_recorded(app: Any) -> None:
    """Opening the app leaves every packaged migration recorded in schema_migrations."""
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")).fetchall()
        tables = await (await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).fetchall()
    assert [(v, n) for v, n, _ in migration_files()] == [tuple(r) for r in rows]
    assert set(JOURNAL_TABLES) <= {t[0] for t in tables}


async def test_rerunning_migrate_applies_nothing(app: Any) -> None:
    """A second migrate over an up-to-date schema applies no migration and records none twice."""
    async with app.pool.connection() as conn:
        assert await migrate(conn) == []
        count = await (await conn.execute("SELECT count(*) FROM schema_migrations")).fetchone()
    assert count is not None
    assert count[0] == len(migration_files())


async def test_concurrent_migrators_on_a_fresh_database_apply_each_migration_once(stores: Stores) -> None:
    """Two replicas migrating an empty database at once apply every migration exactly once between them."""
    name = f"dncgate_mig_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        url = _database_url(stores.database_url, name)
        a = await psycopg.AsyncConnection.connect(url, autocommit=True)
        b = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with a, b:
            applied_a, applied_b = await asyncio.gather(migrate(a), migrate(b))
            rows = await (await a.execute("SELECT name FROM schema_migrations ORDER BY version")).fetchall()
        expected = [n for _, n, _ in migration_files()]
        assert sorted(applied_a + applied_b) == sorted(expected)
        assert [r[0] for r in rows] == expected
    finally:
        async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


async def _one_row_in_each_journal(app: Any) -> None:
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "recorded call", None, actor="test")
    await app.registry.set_org_policy("acme", Mode.MONITOR, None, actor="test")


@pytest.mark.parametrize("table", JOURNAL_TABLES)
async def test_journal_tables_refuse_update(app: Any, table: str) -> None:
    """An UPDATE of any journal row is rejected by the append-only trigger and changes nothing."""
    await _one_row_in_each_journal(app)
    async with app.pool.connection() as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            await conn.execute(f"UPDATE {table} SET recorded_at = now() - interval '1 day'".encode())
        row = await (
            await conn.execute(f"SELECT count(*) FROM {table} WHERE recorded_at < now() - interval '1 hour'".encode())
        ).fetchone()
    assert row is not None
    assert row[0] == 0


@pytest.mark.parametrize("table", JOURNAL_TABLES)
async def test_journal_tables_refuse_delete(app: Any, table: str) -> None:
    """A DELETE from any journal table is rejected by the append-only trigger and the row stays."""
    await _one_row_in_each_journal(app)
    async with app.pool.connection() as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            await conn.execute(f"DELETE FROM {table}".encode())
        row = await (await conn.execute(f"SELECT count(*) FROM {table}".encode())).fetchone()
    assert row is not None
    assert row[0] == 1
