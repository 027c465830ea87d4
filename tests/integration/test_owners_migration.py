"""Migration 0009 over cases filed before it: a stage from each status, a one-entry timeline, no assignee."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from dncgate.store.migrate import migrate, migration_files
from tests.conftest import Stores, _database_url

pytestmark = pytest.mark.integration

OLD = {
    "RECEIVED": "RECEIVED",
    "MANUAL_REVIEW": "VERIFYING",
    "REOPENED": "VERIFYING",
    "VERIFIED": "RESOLUTION_DRAFTED",
    "PARTIALLY_VERIFIED": "RESOLUTION_DRAFTED",
    "REJECTED": "RESOLVED",
    "ALREADY_COMPENSATED": "RESOLVED",
    "PAID": "RESOLVED",
    "CLOSED": "CONSUMER_CONFIRMED",
}


async def test_cases_filed_before_0009_get_the_stage_of_their_status_and_one_timeline_entry(stores: Stores) -> None:
    """Each old status maps to its stage (as domain/case.py stage_for), with one timeline entry at
    created_at by dncgate; the assignee is empty and the timeline refuses rewrites."""
    name = f"dncgate_mig9_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        async with await psycopg.AsyncConnection.connect(_database_url(stores.database_url, name)) as conn:
            await conn.set_autocommit(True)
            await conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for version, file, sql in migration_files():
                if version < 9:
                    await conn.execute(sql.encode())
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, file))
            for i, status in enumerate(OLD):
                await conn.execute(
                    "INSERT INTO complaints (case_id, seq, consumer_key, consumer_masked, consumer_sealed, channel,"
                    " occurred_after, occurred_before, status, currency, created_at, first_response_due,"
                    " resolution_due, updated_at) VALUES (%s, %s, %s, '+86138****8000', %s, 'HOTLINE',"
                    " now() - interval '2 days', now() - interval '1 day', %s, 'CNY',"
                    " timestamptz '2026-11-01 10:00+08' + %s * interval '1 hour', now(), now(), now())",
                    (f"DNC-20261101-{i:06d}", i, bytes(32), b"sealed", status, i),
                )
            assert await migrate(conn) == ["0009_owners_stages.sql"]
            rows = await (
                await conn.execute(
                    "SELECT c.status, c.stage, c.assignee, s.stage, s.actor, s.at = c.created_at"
                    " FROM complaints c JOIN complaint_stages s USING (case_id) ORDER BY c.seq"
                )
            ).fetchall()
            assert [tuple(r) for r in rows] == [(old, new, "", new, "dncgate", True) for old, new in OLD.items()]
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                await conn.execute("UPDATE complaint_stages SET actor = 'someone'")
    finally:
        async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
