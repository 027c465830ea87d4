"""Complaints against real Redis and PostgreSQL: the stream/call_log union, the ledger's guarantees, sealing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from dncgate.domain.case import Status
from dncgate.domain.types import Mode, Source
from dncgate.domain.verification import CallerVerdict
from dncgate.service.compensation import ComplaintInput
from dncgate.service.outcome import OutcomeReport
from tests.integration.support import CONSUMER, CONSUMER_E164, check_input, stream_events

pytestmark = pytest.mark.integration

A, B, C = "+862759001111", "+862759002222", "+862759003333"


async def monitored_calls(app: Any, *callers: str, org: str = "acme") -> list[str]:
    """DND for the consumer, the org in monitor mode, one allowed-but-violating Check per caller given."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.set_org_policy(org, Mode.MONITOR, None, actor="test")
    ids = []
    for caller in callers:
        r = await app.gateway.check(check_input(CONSUMER, caller=caller, org=org))
        assert r.verdict.violation
        ids.append(r.call_id)
    return ids


async def call_log_count(app: Any) -> int:
    async with app.pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM call_log")).fetchone()
    return int(row[0])


async def test_calls_not_yet_drained_from_the_stream_are_found(app: Any) -> None:
    """With no recorder running, the calls live only in Redis, and the complaint still finds them."""
    ids = await monitored_calls(app, A, A, B)
    assert await call_log_count(app) == 0
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A, B, C]), actor="test", filer_name="test")
    assert case.status is Status.PARTIALLY_VERIFIED
    assert [(f.caller_number, f.verdict, f.call_ids) for f in case.findings] == [
        (A, CallerVerdict.VERIFIED, tuple(ids[:2])),
        (B, CallerVerdict.VERIFIED, (ids[2],)),
        (C, CallerVerdict.NO_MATCHING_CALL, ()),
    ]
    assert str(case.total) == "200.00 CNY"


async def test_calls_drained_to_call_log_are_found_once(app: Any) -> None:
    """After the recorder committed the events (and whether or not it trimmed them), each call counts once."""
    ids = await monitored_calls(app, A, A)
    while await app.recorder.drain_once(block=False):
        pass
    assert await call_log_count(app) == 2
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    assert case.findings[0].call_ids == tuple(ids)
    assert case.status is Status.VERIFIED


async def test_a_blocked_call_reported_dialled_is_a_placed_call(app: Any) -> None:
    """Enforce mode blocks; the dialler dials anyway and reports it; the complaint verifies that call."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    blocked = await app.gateway.check(check_input(CONSUMER, caller=A))
    assert blocked.verdict.decision.value == "BLOCK"
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    assert case.findings[0].verdict is CallerVerdict.NO_MATCHING_CALL
    await app.outcomes.report(OutcomeReport(blocked.call_id, True, True, 40, False, ""), actor="test")
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    assert (case.findings[0].verdict, case.findings[0].call_ids) == (CallerVerdict.VERIFIED, (blocked.call_id,))


async def test_the_window_bounds_the_calls(app: Any) -> None:
    """Calls before occurred_after are not matched."""
    await monitored_calls(app, A)
    now = app.compensation.now()
    case = await app.compensation.file_complaint(
        ComplaintInput(
            CONSUMER, [A], occurred_after=now + timedelta(seconds=5), occurred_before=now + timedelta(hours=1)
        ),
        actor="test",
        filer_name="test",
    )
    assert case.findings[0].verdict is CallerVerdict.NO_MATCHING_CALL


async def test_the_ledger_refuses_deletes_repricing_and_history_rewrites(app: Any) -> None:
    """Payouts can only go PENDING → PAID; history rows can be neither changed nor deleted."""
    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    pid = case.findings[0].payout_id
    async with app.pool.connection() as conn:
        for sql in (
            "UPDATE payouts SET amount_minor = 1 WHERE payout_id = %s",
            "UPDATE payouts SET caller_e164 = '+8610' WHERE payout_id = %s",
            "DELETE FROM payouts WHERE payout_id = %s",
        ):
            with pytest.raises(psycopg.errors.RaiseException):
                await conn.execute(sql, (pid,))
        for sql in (
            "UPDATE complaint_history SET note = 'x' WHERE case_id = %s",
            "DELETE FROM complaint_history WHERE case_id = %s",
        ):
            with pytest.raises(psycopg.errors.RaiseException):
                await conn.execute(sql, (case.case_id,))


async def test_the_unique_constraint_not_python_stops_a_second_payout(app: Any) -> None:
    """Inserting a second payout row for the same consumer and caller fails in PostgreSQL itself."""
    await monitored_calls(app, A)
    await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    async with app.pool.connection() as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):
            await conn.execute(
                "INSERT INTO payouts (payout_id, consumer_key, caller_e164, case_id, consumer_masked,"
                " consumer_sealed, amount_minor, currency, created_at, due_at)"
                " SELECT 'PO-other', consumer_key, caller_e164, case_id, consumer_masked, consumer_sealed,"
                " amount_minor, currency, created_at, due_at FROM payouts"
            )


async def test_the_payout_keeps_the_number_sealed_for_its_own_row(app: Any) -> None:
    """The reachable number opens with the payout key and the payout's own id, and with nothing else."""
    from dncgate.sealing import UnsealError

    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    pid = case.findings[0].payout_id
    async with app.pool.connection() as conn:
        row = await (await conn.execute("SELECT consumer_sealed FROM payouts WHERE payout_id = %s", (pid,))).fetchone()
    sealed = bytes(row[0])
    assert app.compensation.sealer.unseal(sealed, pid) == CONSUMER_E164
    with pytest.raises(UnsealError):
        app.compensation.sealer.unseal(sealed, "PO-elsewhere")


async def test_no_clear_consumer_number_in_any_compensation_column(app: Any) -> None:
    """Even typed into the description, the consumer's number is stored masked, never in clear."""
    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(
        ComplaintInput(
            CONSUMER, [A], description=f"she is {CONSUMER[:3]} {CONSUMER[3:7]} {CONSUMER[7:]}; called by {A}"
        ),
        actor="test",
        filer_name="test",
    )
    assert A in case.description and "+86138****8000" in case.description
    await app.compensation.payouts.mark_paid(case.findings[0].payout_id, "BANK-1", actor="test")
    national = CONSUMER_E164[3:]
    async with app.pool.connection() as conn:
        for table in ("complaints", "complaint_findings", "complaint_history", "payouts", "compensation_requests"):
            rows = await (await conn.execute(f"SELECT * FROM {table}".encode())).fetchall()
            for row in rows:
                for value in row:
                    text = value.hex() if isinstance(value, bytes | memoryview) else str(value)
                    assert national not in text and national.encode().hex() not in text, (table, value)


async def test_violations_report_counts_drained_and_undrained_calls_per_agent(app: Any) -> None:
    """Monitor-mode violations and verified complaints per agent, whether or not the recorder ran."""
    await monitored_calls(app, A)
    while await app.recorder.drain_once(block=False):
        pass
    await app.gateway.check(check_input(CONSUMER, caller=B, agent="agent-2"))
    await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A, B]), actor="test", filer_name="test")
    now = app.compensation.now()
    report = await app.compensation.payouts.violations("acme", now - timedelta(hours=1), now + timedelta(seconds=1))
    assert [(a.agent_id, a.violating_calls, a.verified_complaints) for a in report.agents] == [
        ("agent-1", 1, 1),
        ("agent-2", 1, 1),
    ]
    assert (report.violating_calls, report.verified_complaints) == (2, 2)
    assert (await app.compensation.payouts.violations("nobody", None, None)).agents == ()


async def test_stream_events_of_other_consumers_and_callers_are_ignored(app: Any) -> None:
    """Only the consumer's own calls from the named numbers are evidence."""
    await monitored_calls(app, A)
    await app.gateway.check(check_input("13912345678", caller=A))
    assert len(await stream_events(app.redis)) == 2
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="test", filer_name="test")
    assert len(case.findings[0].call_ids) == 1


async def test_a_due_date_once_set_never_changes_and_a_missing_one_is_recorded_once(app: Any) -> None:
    """0006: a payout is booked with a due date, which is then frozen (also with a payment); one with
    none (booked before 0006) can still be paid, or have one recorded, on its own, once."""
    await monitored_calls(app, A, B)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A, B]), actor="test", filer_name="test")
    pid, other = (f.payout_id for f in case.findings)
    async with app.pool.connection() as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="booked with its due date"):
            await conn.execute(
                "INSERT INTO payouts (payout_id, consumer_key, caller_e164, case_id, consumer_masked,"
                " consumer_sealed, amount_minor, currency, created_at)"
                " SELECT 'PO-other', consumer_key, '+862759009999', case_id, consumer_masked, consumer_sealed,"
                " amount_minor, currency, created_at FROM payouts WHERE payout_id = %s",
                (pid,),
            )
        for sql in (
            "UPDATE payouts SET due_at = due_at + interval '1 day' WHERE payout_id = %s",
            "UPDATE payouts SET due_at = NULL WHERE payout_id = %s",
            "UPDATE payouts SET status = 'PAID', paid_at = now(), payment_reference = 'R', paid_by = 'x',"
            " due_at = due_at + interval '1 day' WHERE payout_id = %s",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="due date, once set, never changes"):
                await conn.execute(sql, (pid,))
        # Rows as 0006 found them: no due date. Disabling the trigger a moment stands in for that past.
        await conn.execute("ALTER TABLE payouts DISABLE TRIGGER payouts_ledger")
        await conn.execute("UPDATE payouts SET due_at = NULL")
        await conn.execute("ALTER TABLE payouts ENABLE TRIGGER payouts_ledger")
        with pytest.raises(psycopg.errors.RaiseException, match="recorded on its own"):
            await conn.execute(
                "UPDATE payouts SET due_at = now(), status = 'PAID', paid_at = now(), payment_reference = 'R',"
                " paid_by = 'x' WHERE payout_id = %s",
                (pid,),
            )
        await conn.execute("UPDATE payouts SET due_at = created_at + interval '7 days' WHERE payout_id = %s", (pid,))
        with pytest.raises(psycopg.errors.RaiseException, match="never changes"):
            await conn.execute("UPDATE payouts SET due_at = now() WHERE payout_id = %s", (pid,))
    paid = await app.compensation.payouts.mark_paid(pid, "BANK-1", actor="test")
    assert paid.due_at == paid.created_at + timedelta(days=7)
    undated = await app.compensation.payouts.mark_paid(other, "BANK-2", actor="test")
    assert (undated.due_at, undated.payment_reference) == (None, "BANK-2")
