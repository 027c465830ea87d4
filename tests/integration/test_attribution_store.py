"""Who made each row, in PostgreSQL: rows from before access control name nobody, every later one someone."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from dncgate import phone
from dncgate.api import convert
from dncgate.domain.types import Mode, Source
from dncgate.store import migrate as migrations
from tests.conftest import TEST_PEPPER, Stores, _database_url
from tests.integration.support import CONSUMER, CONSUMER_E164

pytestmark = pytest.mark.integration

CASE = "DNC-20260101-000001"
OLD_ROWS = """
INSERT INTO preference_journal (consumer_key, do_not_disturb, categories, source, effective_from)
    VALUES (%(key)s, true, 0, %(app)s, now());
INSERT INTO consent_journal (consumer_key, org_id, agent_id, granted, evidence, effective_at)
    VALUES (%(key)s, 'acme', '', true, 'signed form', now());
INSERT INTO org_policy_journal (org_id, mode) VALUES ('acme', 'MONITOR');
INSERT INTO complaints (case_id, seq, consumer_key, consumer_masked, consumer_sealed, channel, occurred_after,
        occurred_before, status, total_minor, currency, created_at, first_response_due, resolution_due, updated_at)
    VALUES (%(case)s, 1, %(key)s, '+86138****8000', '\\x00', 'HOTLINE', now(), now(), 'VERIFIED', 20000, 'CNY',
        now(), now(), now(), now());
INSERT INTO payouts (payout_id, consumer_key, caller_e164, case_id, consumer_masked, consumer_sealed, amount_minor,
        currency, status, created_at, paid_at, payment_reference)
    VALUES ('PO-paid', %(key)s, '+862759001111', %(case)s, '+86138****8000', '\\x00', 10000, 'CNY', 'PAID', now(),
        now(), 'BANK-0'),
    ('PO-pending', %(key)s, '+862759002222', %(case)s, '+86138****8000', '\\x00', 10000, 'CNY', 'PENDING', now(),
        NULL, NULL);
"""


@pytest.fixture
async def database_before_0005(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A database of its own migrated up to 0004 (before access control), holding a row of each kind."""
    name = f"dncgate_attr_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = _database_url(stores.database_url, name)
    try:
        earlier = [m for m in migrations.migration_files() if m[0] < 5]
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "migration_files", lambda: earlier)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                assert len(await migrations.migrate(conn)) == 4
                key = phone.NumberKeyer(TEST_PEPPER).digest(CONSUMER_E164)
                for statement in filter(str.strip, OLD_ROWS.split(";")):
                    await conn.execute(statement.encode(), {"key": key, "app": int(Source.APP), "case": CASE})
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(stores.database_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


async def test_rows_from_before_access_control_read_back_naming_nobody(
    settings: Any, database_before_0005: str
) -> None:
    """After 0005, older journal entries, policy and paid payout read back (and convert) naming nobody; a
    payout booked before is paid now only with who paid it."""
    from dncgate.bootstrap import open_app

    async with open_app(replace(settings, database_url=database_before_0005)) as app:
        h = await app.registry.history(CONSUMER)
        assert [p.recorded_by for p in h.preferences] == [""]
        assert [c.recorded_by for c in h.consents] == [""]
        assert convert.preference(h.number_masked, h.preferences[0]).recorded_by == ""
        assert convert.consent(h.number_masked, h.consents[0]).recorded_by == ""
        policy = await app.registry.get_org_policy("acme")
        assert (policy.mode, policy.explicit, policy.recorded_by) == (Mode.MONITOR, True, "")
        paid = await app.compensation.payouts.ledger.get("PO-paid")
        assert (paid.payment_reference, paid.paid_by) == ("BANK-0", "")
        # A payout booked before must name who pays it now, beside the one that names nobody.
        async with app.pool.connection() as conn:
            with pytest.raises(psycopg.errors.CheckViolation):
                await conn.execute(
                    "UPDATE payouts SET status = 'PAID', paid_at = now(), payment_reference = 'B'"
                    " WHERE payout_id = 'PO-pending'"
                )
        now_paid = await app.compensation.payouts.mark_paid("PO-pending", "BANK-1", actor="desk (token d1)")
        assert now_paid.paid_by == "desk (token d1)"
        case = await app.compensation.get_complaint(CASE)
        assert [(e.actor, e.action) for e in case.history] == [("desk (token d1)", "payout_paid"), ("dncgate", "paid")]


async def test_postgresql_refuses_a_new_row_that_names_nobody(app: Any) -> None:
    """A journal row that names nobody fails the checks 0005 adds; the use cases refuse an empty actor."""
    key = phone.NumberKeyer(TEST_PEPPER).digest(CONSUMER_E164)
    refused = [
        ("INSERT INTO preference_journal (consumer_key, do_not_disturb, categories, source, effective_from)"
         " VALUES (%s, true, 0, 1, now())", (key,)),
        ("INSERT INTO consent_journal (consumer_key, org_id, agent_id, granted, evidence, effective_at)"
         " VALUES (%s, 'acme', '', true, '', now())", (key,)),
        ("INSERT INTO org_policy_journal (org_id, mode, recorded_by) VALUES ('acme', 'MONITOR', '')", ()),
    ]  # fmt: skip
    async with app.pool.connection() as conn:
        for sql, params in refused:
            with pytest.raises(psycopg.errors.CheckViolation):
                await conn.execute(sql.encode(), params)
    with pytest.raises(ValueError, match="actor"):
        await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor=" ")
    with pytest.raises(ValueError, match="actor"):
        await app.compensation.payouts.mark_paid("PO-1", "BANK-1", actor="")
