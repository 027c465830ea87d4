"""Monthly partitions (migration 0020): rows kept through the migration, keys still unique, months ahead
created and stray rows rehomed, retention dropping whole months only, verification pruned to its window."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from structlog.testing import capture_logs

from dncgate.domain import retention as r
from dncgate.domain.calls import CallEvent, CallOutcome
from dncgate.domain.types import Category, Decision, Reason
from dncgate.service.maintenance import PartitionMaintenance
from dncgate.store.calls import encode_event
from dncgate.store.evidence import CALLS_TO, OUTCOME_SLACK
from dncgate.store.migrate import migrate, migration_files
from dncgate.store.outcomes import OutcomeStore
from dncgate.store.partitions import PartitionStore
from dncgate.store.pg import Database
from dncgate.store.recorder import CallLogWriter
from tests.conftest import Stores, _database_url
from tests.integration.support import CALLER, CONSUMER, key_of, new_call_id
from tests.wait import until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def months_ago(n: int, day: int = 10) -> datetime:
    month = r.add_months(r.month_of(NOW), -n)
    return datetime(month.year, month.month, day, 12, 0, tzinfo=UTC)


def event(app: Any, at: datetime, **changes: Any) -> CallEvent:
    fields: dict[str, Any] = {
        "call_id": new_call_id(at),
        "at": at,
        "caller_e164": CALLER,
        "callee_key": key_of(app, CONSUMER).hex(),
        "callee_masked": "+86138****8000",
        "agent_id": "agent-1",
        "org_id": "acme",
        "campaign_id": "spring",
        "category": Category.FINANCE,
        "decision": Decision.BLOCK,
        "reason": Reason.REGISTERED,
        "violation": False,
        "request_id": "",
    }
    return CallEvent(**(fields | changes))


def entries(events: list[CallEvent]) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return [(b"%d-0" % (i + 1), encode_event(e)) for i, e in enumerate(events)]


async def rows(conn: Any, query: str) -> list[Any]:
    return [r[0] for r in await (await conn.execute(query)).fetchall()]


async def partitions_of(conn: Any, table: str) -> set[str]:
    return set(
        await rows(
            conn,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            f" WHERE i.inhparent = '{table}'::regclass",
        )
    )


@pytest.fixture
async def own_db(stores: Stores) -> AsyncIterator[Database]:
    """A fully migrated database of its own: partitions made or dropped here touch no other test's."""
    name = f"dncgate_parts_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"'.encode())
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        _database_url(stores.database_url, name), min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
    )
    try:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await migrate(conn)
        yield Database(pool, 30.0)
    finally:
        await pool.close()
        async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
async def pre_0020(stores: Stores) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A database of its own with every migration before 0020 applied."""
    name = f"dncgate_mig20_{secrets.token_hex(4)}"
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
                if version < 20:
                    await conn.execute(sql.encode())
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, file))
            yield conn
    finally:
        async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


async def test_0020_moves_every_row_with_its_values_and_keeps_the_guards(pre_0020: Any) -> None:
    """Rows written with the old schema (months back, this month, years ahead) are all there after 0020
    with the same values; outcomes carry their call's time, notices their case's filing time; partitions
    run from the oldest row's month through three ahead, the far-future call in the default partition;
    the notices' guard, erasure exception and seq carry on."""
    conn = pre_0020
    times = [months_ago(14), months_ago(1), NOW, NOW + timedelta(days=800)]
    ids = [new_call_id(t) for t in times]
    for call_id, at in zip(ids, times, strict=True):
        await conn.execute(
            "INSERT INTO call_log (call_id, at, caller_e164, callee_key, callee_masked, agent_id, org_id,"
            " campaign_id, category, decision, reason, violation, request_id)"
            " VALUES (%s, %s, %s, %s, '+86138****8000', 'a1', 'acme', 'c', 2, 'BLOCK', 'DO_NOT_DISTURB', false, 'r')",
            (call_id, at, CALLER, bytes(32)),
        )
    orphan = new_call_id(months_ago(2))  # reported while its event was still in the stream
    for call_id in (ids[0], ids[2], orphan):
        await conn.execute(
            "INSERT INTO call_outcome (call_id, dialled, connected, duration_seconds, consumer_opted_out, request_id)"
            " VALUES (%s, true, false, 7, false, 'rq')",
            (call_id,),
        )
    filed = months_ago(3)
    await conn.execute(
        "INSERT INTO complaints (case_id, seq, consumer_key, consumer_masked, consumer_sealed, channel,"
        " occurred_after, occurred_before, status, currency, created_at, first_response_due, resolution_due,"
        " updated_at) VALUES ('DNC-1', 1, %s, '+86138****8000', %s, 'HOTLINE', %s, %s, 'RECEIVED', 'CNY', %s,"
        " %s, %s, %s)",
        (bytes(32), b"sealed", filed - timedelta(days=30), filed, filed, filed, filed, filed),
    )
    for kind in ("ACCEPTED", "VERDICT", "UPDATE"):
        await conn.execute(
            "INSERT INTO notifications (notification_id, case_id, kind, text, destination_masked,"
            " destination_sealed, created_at, next_attempt_at, delivered_at, attempts)"
            " VALUES (%s, 'DNC-1', %s, '你好 +86138****8000', '+86138****8000', %s, %s, %s, %s, 1)",
            (f"DNC-1:{kind}", kind, b"s", filed, filed, filed if kind == "ACCEPTED" else None),
        )
    snapshot = {
        t: await rows(conn, f"SELECT to_jsonb(t) FROM {t} t ORDER BY {key}")
        for t, key in (("call_log", "call_id"), ("call_outcome", "call_id"), ("notifications", "notification_id"))
    }

    applied = await migrate(conn)
    assert applied[0] == "0020_partition_by_month.sql", applied  # and any later migration after it

    assert await rows(conn, "SELECT to_jsonb(t) FROM call_log t ORDER BY call_id") == snapshot["call_log"]
    outcomes = await rows(conn, "SELECT to_jsonb(t) - 'call_at' FROM call_outcome t ORDER BY call_id")
    assert outcomes == snapshot["call_outcome"]
    call_at = dict(
        await (await conn.execute("SELECT call_id, call_at FROM call_outcome")).fetchall()  # type: ignore[arg-type]
    )
    assert call_at[ids[0]] == times[0] and call_at[ids[2]] == times[2]
    assert abs(call_at[orphan] - months_ago(2)) < timedelta(milliseconds=1)  # the millisecond in its id
    notices = await rows(conn, "SELECT to_jsonb(t) - 'case_created_at' FROM notifications t ORDER BY notification_id")
    assert notices == snapshot["notifications"]
    assert set(await rows(conn, "SELECT case_created_at FROM notifications")) == {filed}

    first, last = r.month_of(times[0]), r.add_months(r.month_of(NOW), 3)
    expected = {r.partition_name("call_log", first)}
    month = first
    while month < last:
        month = r.add_months(month, 1)
        expected.add(r.partition_name("call_log", month))
    assert await partitions_of(conn, "call_log") == expected | {"call_log_default"}
    assert await rows(conn, "SELECT call_id FROM call_log_default") == [ids[3]]
    assert r.partition_name("call_outcome", r.month_of(months_ago(14))) in await partitions_of(conn, "call_outcome")

    # The guard of 0010 on every partition, its erasure exception, and the seq going on after the last.
    with pytest.raises(psycopg.errors.RaiseException, match="never deleted"):
        await conn.execute("DELETE FROM notifications WHERE notification_id = 'DNC-1:ACCEPTED'")
    with pytest.raises(psycopg.errors.RaiseException, match="delivery bookkeeping"):
        await conn.execute("UPDATE notifications SET text = 'x' WHERE notification_id = 'DNC-1:VERDICT'")
    async with conn.transaction():
        await conn.execute("SELECT set_config('dncgate.erasure', 'on', true)")
        await conn.execute("UPDATE notifications SET text = 'erased' WHERE notification_id = 'DNC-1:VERDICT'")
    cur = await conn.execute(
        "INSERT INTO notifications (notification_id, case_id, case_created_at, kind, text, destination_masked,"
        " created_at, next_attempt_at) VALUES ('DNC-1:REVISIT', 'DNC-1', %s, 'REVISIT', 't', 'm', now(), now())"
        " RETURNING seq",
        (filed,),
    )
    assert (await cur.fetchone()) == (4,)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):  # the foreign key to complaints, kept
        await conn.execute(
            "INSERT INTO notifications (notification_id, case_id, case_created_at, kind, text,"
            " destination_masked, created_at, next_attempt_at)"
            " VALUES ('DNC-404:ACCEPTED', 'DNC-404', now(), 'ACCEPTED', 't', 'm', now(), now())"
        )
    assert not await rows(conn, "SELECT relname FROM pg_class WHERE relname LIKE '%%_0019%%'")


async def test_0020_refuses_a_table_with_a_column_it_would_not_copy(pre_0020: Any) -> None:
    """A column some other migration added to one of the three tables stops 0020, which changes nothing."""
    conn = pre_0020
    await conn.execute("ALTER TABLE call_outcome ADD COLUMN note text")
    with pytest.raises(psycopg.errors.RaiseException, match="0020 copies call_outcome columns"):
        await migrate(conn)
    assert await rows(conn, "SELECT relkind::text FROM pg_class WHERE relname = 'call_outcome'") == ["r"]
    assert 20 not in await rows(conn, "SELECT version FROM schema_migrations")


async def test_a_redelivered_event_is_recorded_once_in_any_partition(app: Any) -> None:
    """The recorder's ON CONFLICT (call_id, at): an event delivered twice is one row, in its month's
    partition, in the default one (years ahead, years back) alike."""
    events = [event(app, NOW), event(app, NOW + timedelta(days=900)), event(app, NOW - timedelta(days=1500))]
    writer = CallLogWriter(app.pool)
    first = await writer.commit(entries(events))
    again = await writer.commit(entries(events))
    assert (first.inserted, again.inserted, again.duplicates) == (3, 0, 3)
    async with app.pool.connection() as conn:
        placed = await (
            await conn.execute("SELECT tableoid::regclass::text, count(*) FROM call_log GROUP BY 1 ORDER BY 1")
        ).fetchall()
    assert dict(placed) == {"call_log_default": 2, r.partition_name("call_log", r.month_of(NOW)): 1}


async def test_an_outcome_upserts_once_per_call(app: Any) -> None:
    """Reports of one call merge into one row keyed (call_id, call_at), as with call_id alone."""
    store = OutcomeStore(_db(app))
    e = event(app, NOW)
    await CallLogWriter(app.pool).commit(entries([e]))
    ref = await store.logged_call(e.call_id)
    assert ref is not None and ref.at == e.at
    await store.merge(CallOutcome(e.call_id, True, False, 0, False), ref.at, "a")
    merged = await store.merge(CallOutcome(e.call_id, True, True, 40, False), ref.at, "b")
    assert merged == CallOutcome(e.call_id, True, True, 40, False)
    async with app.pool.connection() as conn:
        found = await (await conn.execute("SELECT call_at, request_id FROM call_outcome")).fetchall()
    assert [tuple(f) for f in found] == [(e.at, "a")]


def _db(app: Any) -> Database:
    return Database(app.pool, 5.0)


def maintenance(db: Database, at: datetime, retention_days: int = 1825) -> PartitionMaintenance:
    return PartitionMaintenance(PartitionStore(db), retention_days, clock=lambda: at.timestamp())


async def test_maintenance_creates_months_ahead_and_rehomes_rows_of_the_default_partition(
    app: Any, own_db: Database
) -> None:
    """Rows that landed in the default partition (no month for them yet) move to their month's partition
    when it is made, values and seq intact; replicas running it at once create each month once."""
    far = NOW + timedelta(days=200)
    e = event(app, far)
    await CallLogWriter(own_db.pool).commit(entries([e]))
    async with own_db.pool.connection() as conn:
        before = await rows(conn, "SELECT to_jsonb(t) FROM call_log t")
        assert await rows(conn, "SELECT call_id FROM call_log_default") == [e.call_id]
        with pytest.raises(psycopg.errors.CheckViolation):  # what PostgreSQL would say without the rehoming
            async with conn.transaction():
                month = r.month_of(far)
                await conn.execute(
                    f"CREATE TABLE x_probe PARTITION OF call_log FOR VALUES FROM ('{r.month_start(month)}')"
                    f" TO ('{r.month_end(month)}')"
                )
    later = far - timedelta(days=60)  # far is within three months of `later`
    with capture_logs() as logs:
        reports = await asyncio.gather(*(maintenance(own_db, later).run_once() for _ in range(3)))
    created = [c for rep in reports for c in rep.created if c[0] == "call_log"]
    assert sorted(created) == sorted(set(created)) and ("call_log", r.month_of(far)) in created
    assert sum(rep.rehomed for rep in reports) == 1
    assert any(entry["event"] == "partition_rows_rehomed" for entry in logs)
    async with own_db.pool.connection() as conn:
        assert await rows(conn, "SELECT to_jsonb(t) FROM call_log t") == before
        assert await rows(conn, "SELECT count(*) FROM call_log_default") == [0]
        assert await rows(conn, "SELECT tableoid::regclass::text FROM call_log") == [
            r.partition_name("call_log", r.month_of(far))
        ]
    again = await maintenance(own_db, later).run_once()
    assert (again.created, again.rehomed, again.dropped) == ([], 0, [])


async def test_retention_drops_only_whole_months_past_it_and_holds_what_an_open_case_needs(
    app: Any, own_db: Database
) -> None:
    """With 200 days, the month wholly older than the horizon goes, the month the horizon falls in stays;
    a month an open complaint's window touches stays too, and each drop and hold is logged."""
    now = datetime(2031, 7, 15, tzinfo=UTC)  # horizon 2030-12-27: 2030-11 goes, 2030-12 stays
    store = PartitionStore(own_db)
    months = [date(2030, 10, 1), date(2030, 11, 1), date(2030, 12, 1)]
    for table in store.tables:
        await store.ensure(table, months)
    writer = CallLogWriter(own_db.pool)
    await writer.commit(entries([event(app, r.month_start(m) + timedelta(days=3)) for m in months]))
    async with own_db.pool.connection() as conn:
        # An open case about calls of October 2030: that month is held.
        await conn.execute(
            "INSERT INTO complaints (case_id, seq, consumer_key, consumer_masked, consumer_sealed, channel,"
            " occurred_after, occurred_before, status, currency, created_at, first_response_due, resolution_due,"
            " updated_at) VALUES ('DNC-OLD', 1, %s, 'm', 's', 'HOTLINE', '2030-10-01Z', '2030-10-20Z',"
            " 'MANUAL_REVIEW', 'CNY', '2030-10-21Z', '2030-10-22Z', '2030-10-24Z', '2030-10-21Z')",
            (bytes(32),),
        )
    with capture_logs() as logs:
        report = await maintenance(own_db, now, retention_days=200).run_once()
    assert ("call_log", date(2030, 11, 1)) in report.dropped
    assert ("call_log", date(2030, 10, 1)) in report.held
    assert ("notifications", date(2030, 10, 1)) in report.held  # the case was filed that month
    assert ("notifications", date(2030, 11, 1)) in report.dropped
    async with own_db.pool.connection() as conn:
        left = await partitions_of(conn, "call_log")
        kept = await rows(conn, "SELECT date_trunc('month', at AT TIME ZONE 'UTC')::date FROM call_log ORDER BY 1")
    assert r.partition_name("call_log", date(2030, 11, 1)) not in left
    assert {r.partition_name("call_log", date(2030, 10, 1)), r.partition_name("call_log", date(2030, 12, 1))} <= left
    assert kept == [date(2030, 10, 1), date(2030, 12, 1)]
    dropped = [e for e in logs if e["event"] == "partition_dropped" and e["table"] == "call_log"]
    logged = {e["month"] for e in dropped}  # the months the migration made in 2026-27 went as well
    assert "2030-11-01" in logged and not logged & {"2030-10-01", "2030-12-01"}
    assert "+86" not in json.dumps(logs, default=str)
    # Kept forever (0): nothing is dropped, whatever the age.
    forever = await maintenance(own_db, now + timedelta(days=3650), retention_days=0).run_once()
    assert forever.dropped == [] and forever.held == []


def _scanned(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= _scanned(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= _scanned(item)
    return found


async def test_a_complaint_window_reads_only_the_partitions_of_its_months(app: Any) -> None:
    """EXPLAIN of the verification's query for a window within one month names that month's partitions
    of call_log and call_outcome, none of the others, and not the default ones."""
    store = PartitionStore(_db(app))
    months = [r.add_months(r.month_of(NOW), -i) for i in range(6)]
    for table in ("call_log", "call_outcome"):
        await store.ensure(table, months)
    window = r.month_of(NOW - timedelta(days=95))
    after, before = r.month_start(window) + timedelta(days=2), r.month_start(window) + timedelta(days=20)
    async with app.pool.connection() as conn:
        await conn.execute("ANALYZE call_log")
        cur = await conn.execute(
            ("EXPLAIN (FORMAT JSON) " + CALLS_TO).encode(),
            (after - OUTCOME_SLACK, before, key_of(app, CONSUMER), [CALLER], after, before),
        )
        row = await cur.fetchone()
    assert row is not None
    assert _scanned(row[0]) == {r.partition_name("call_log", window), r.partition_name("call_outcome", window)}


async def test_the_loop_makes_a_missing_month_on_start_and_stops_when_told(own_db: Database) -> None:
    """The loop's first pass runs at once: a month ahead dropped by hand is back; `stop` ends it."""
    ahead = r.add_months(r.month_of(datetime.now(UTC)), 3)
    async with own_db.pool.connection() as conn:
        await conn.execute(f"DROP TABLE {r.partition_name('call_log', ahead)}")
    stop = asyncio.Event()
    loop = PartitionMaintenance(PartitionStore(own_db), 1825)
    task = asyncio.create_task(loop.run(stop))

    async def back() -> bool:
        return ahead in await PartitionStore(own_db).months("call_log")

    await until(back)
    stop.set()
    await asyncio.wait_for(task, 5)
