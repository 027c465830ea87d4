"""`dncgate migrate`: the schema migrations alone, as the Kubernetes Job runs them, through the real CLI."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dncgate.store.migrate import migration_files
from tests.conftest import TEST_PEPPER, Stores, _database_url


@pytest.fixture
def fresh_database(stores: Stores) -> Iterator[str]:
    """An empty database of this test's own on the suite's PostgreSQL server (no schema yet)."""
    name = f"dncgate_migrate_{secrets.token_hex(4)}"
    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield _database_url(stores.database_url, name)
    finally:
        with psycopg.connect(stores.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _migrate(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "dncgate.cli", "migrate"],
        env=clean | {"DNCGATE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "300"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_migrate_applies_every_migration_to_an_empty_database_then_nothing_the_second_time(
    tmp_path: Path, fresh_database: str
) -> None:
    """The first run applies and names every packaged migration; a second run finds the schema current."""
    env = {"DNCGATE_DATABASE_URL": fresh_database, "DNCGATE_PEPPER": TEST_PEPPER.hex()}
    first = _migrate(tmp_path, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    names = [name for _, name, _ in migration_files()]
    assert names and all(name in first.stdout for name in names)
    assert _versions(fresh_database) == [version for version, _, _ in migration_files()]
    second = _migrate(tmp_path, **env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to apply" in second.stdout
    assert not any(name in second.stdout for name in names)


def test_migrate_without_the_pepper_for_an_external_database_is_a_config_error(
    tmp_path: Path, fresh_database: str
) -> None:
    """An external database without DNCGATE_PEPPER exits 2 naming the variable, and migrates nothing."""
    result = _migrate(tmp_path, DNCGATE_DATABASE_URL=fresh_database)
    assert result.returncode == 2
    assert "DNCGATE_PEPPER" in result.stderr
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


def test_migrate_with_a_malformed_database_url_is_a_config_error(tmp_path: Path) -> None:
    """A URL without its scheme (unparseable) exits 2 naming DNCGATE_DATABASE_URL, not with a traceback."""
    result = _migrate(tmp_path, DNCGATE_DATABASE_URL="localhost/dncgate", DNCGATE_PEPPER=TEST_PEPPER.hex())
    assert result.returncode == 2
    assert "DNCGATE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_migrate_against_an_unreachable_server_fails_with_status_1_and_no_traceback(tmp_path: Path) -> None:
    """A refused connection is an error worth retrying (status 1), reported in one line."""
    url = "postgresql://nobody@127.0.0.1:1/dncgate?connect_timeout=2"
    result = _migrate(tmp_path, DNCGATE_DATABASE_URL=url, DNCGATE_PEPPER=TEST_PEPPER.hex())
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_migrate_without_a_database_url_uses_the_running_serves_embedded_postgresql(
    tmp_path: Path, fresh_database: str
) -> None:
    """No DNCGATE_DATABASE_URL: the endpoints file a running `serve` wrote names the database migrated."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "endpoints.json").write_text(
        json.dumps({"redis_url": "redis://127.0.0.1:1/0", "database_url": fresh_database, "pid": os.getpid()})
    )
    result = _migrate(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _versions(fresh_database) == [version for version, _, _ in migration_files()]


def test_maintenance_drops_a_month_past_retention_and_keeps_the_rest(tmp_path: Path, fresh_database: str) -> None:
    """`dncgate maintenance` after `migrate`: a call_log month from 2001 (past the 1,825 days) is dropped
    and named; this month's partition stays; a second run has nothing to do."""
    env = {"DNCGATE_DATABASE_URL": fresh_database, "DNCGATE_PEPPER": TEST_PEPPER.hex()}
    assert _migrate(tmp_path, **env).returncode == 0
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE call_log_p200101 PARTITION OF call_log FOR VALUES FROM ('2001-01-01Z') TO ('2001-02-01Z')"
        )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")}
    run = [sys.executable, "-m", "dncgate.cli", "maintenance"]
    env |= {"DNCGATE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "300"}
    first = subprocess.run(run, env=clean | env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "dropped call_log 2001-01-01" in first.stdout
    with psycopg.connect(fresh_database) as conn:
        names = {r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'call_log_p%'")}
    assert "call_log_p200101" not in names and len(names) >= 4
    second = subprocess.run(run, env=clean | env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "created none; dropped none" in second.stdout, second.stdout + second.stderr
