"""The caller-line journal against real PostgreSQL: append-only history, overlaps, idempotency, lookups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dncgate.domain.errors import Conflict, FailedPrecondition, InvalidArgument
from dncgate.domain.lines import owner_at
from dncgate.domain.types import ALL_CATEGORIES_MASK, Source
from dncgate.domain.verification import CallerVerdict
from dncgate.service.compensation import ComplaintInput
from tests.integration.support import CONSUMER, CONSUMER_E164

pytestmark = pytest.mark.integration

LINE = "+862759001111"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
D = timedelta(days=1)


async def test_a_registration_is_journaled_as_e164_with_its_principal(app: Any) -> None:
    """Any common format is stored as E.164, with who registered it; the journal refuses UPDATE/DELETE."""
    line = await app.lines.register("027 5900 1111", "acme", "a17", T0, None, actor="admin (t1)")
    assert (line.caller_e164, line.org_id, line.agent_id, line.valid_from, line.valid_to, line.recorded_by) == (
        LINE,
        "acme",
        "a17",
        T0,
        None,
        "admin (t1)",
    )
    async with app.pool.connection() as conn:
        with pytest.raises(psycopg.errors.RaiseException):
            await conn.execute("UPDATE caller_lines SET org_id = 'other'")
    async with app.pool.connection() as conn:
        with pytest.raises(psycopg.errors.RaiseException):
            await conn.execute("DELETE FROM caller_lines")


async def test_history_over_time_answers_whose_line_it_was_when(app: Any) -> None:
    """a17's until the 10th (ended by registering it again), then a18's: the stored rows answer each time."""
    await app.lines.register(LINE, "acme", "a17", T0, None, actor="test")
    with pytest.raises(FailedPrecondition, match="a17"):
        await app.lines.register(LINE, "acme", "a18", T0 + 10 * D, None, actor="test")
    await app.lines.register(LINE, "acme", "a17", T0, T0 + 10 * D, actor="test")
    await app.lines.register(LINE, "acme", "a18", T0 + 10 * D, None, actor="test")
    rows = await app.lines.journal.lines_of([LINE])
    assert len(rows) == 3
    assert owner_at(rows, LINE, T0 + 5 * D).agent_id == "a17"
    assert owner_at(rows, LINE, T0 + 10 * D).agent_id == "a18"
    assert owner_at(rows, LINE, T0 - D) is None
    every, _ = await app.lines.list_lines("", LINE, None, 0, "")
    assert [(e.line.agent_id, e.line.valid_to, e.live) for e in every] == [
        ("a17", None, False),
        ("a17", T0 + 10 * D, True),
        ("a18", None, True),
    ]
    then, _ = await app.lines.list_lines("acme", "", T0 + 5 * D, 0, "")
    assert [(e.line.agent_id, e.live) for e in then] == [("a17", True)]


async def test_another_org_overlapping_is_refused_and_nothing_is_written(app: Any) -> None:
    """FAILED_PRECONDITION naming the owner in force; the journal keeps one row."""
    await app.lines.register(LINE, "acme", "", T0, T0 + 30 * D, actor="test")
    with pytest.raises(FailedPrecondition, match="acme"):
        await app.lines.register(LINE, "other", "", T0 + 29 * D, None, actor="test")
    await app.lines.register(LINE, "other", "", T0 + 30 * D, None, actor="test")  # touching is fine
    assert len(await app.lines.journal.lines_of([LINE])) == 2


async def test_concurrent_registrations_of_one_line_to_two_orgs_leave_one(app: Any) -> None:
    """The per-line lock makes the overlap check and the insert one step: exactly one of two wins."""
    got = await asyncio.gather(
        *(app.lines.register(LINE, org, "", T0, None, actor="test") for org in ("acme", "other")),
        return_exceptions=True,
    )
    assert sorted(type(g).__name__ for g in got) == ["CallerLine", "FailedPrecondition"]
    assert len(await app.lines.journal.lines_of([LINE])) == 1


async def test_a_request_id_again_answers_the_first_registration(app: Any) -> None:
    """The same request_id is one entry; for another line it is a Conflict."""
    first = await app.lines.register(LINE, "acme", "a17", T0, None, "r-1", actor="test")
    again = await app.lines.register(LINE, "acme", "a17", T0, None, "r-1", actor="test")
    assert again.seq == first.seq
    with pytest.raises(Conflict):
        await app.lines.register("+862759002222", "acme", "a17", T0, None, "r-1", actor="test")
    assert len(await app.lines.journal.lines_of([LINE, "+862759002222"])) == 1


async def test_bad_input_names_its_field(app: Any) -> None:
    """An invalid number names caller_number; no org names org_id; a reversed interval valid_to."""
    for args, field in (
        (("12", "acme", "", T0, None), "caller_number"),
        ((LINE, " ", "", T0, None), "org_id"),
        ((LINE, "acme", "", T0, T0), "valid_to"),
    ):
        with pytest.raises(InvalidArgument) as e:
            await app.lines.register(*args, actor="test")
        assert e.value.field == field


async def test_a_complaint_against_a_line_with_no_check_is_called_outside_gateway_and_stored(app: Any) -> None:
    """DND, no Check, a registered line: the finding names org and agent, survives a reload, pays once."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.lines.register(LINE, "acme", "a17", datetime.now(UTC) - 30 * D, None, actor="test")
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [LINE]), actor="test", filer_name="test")
    [f] = (await app.compensation.get_complaint(case.case_id)).findings
    assert (f.verdict, f.org_id, f.agent_id, str(f.amount)) == (
        CallerVerdict.CALLED_OUTSIDE_GATEWAY,
        "acme",
        "a17",
        "100.00 CNY",
    )
    assert f.payout_id
    again = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [LINE]), actor="test", filer_name="test")
    assert [(g.verdict, g.payout_id, g.org_id) for g in again.findings] == [
        (CallerVerdict.ALREADY_COMPENSATED, f.payout_id, "acme")
    ]


async def test_a_disputed_consent_to_the_lines_org_goes_to_review_and_upheld_pays(app: Any) -> None:
    """Consent to the line's org, disputed: MANUAL_REVIEW; a review for her makes it CALLED_OUTSIDE_GATEWAY, paid."""
    from dncgate.domain.case import Status

    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "web form", None, actor="test")
    await app.lines.register(LINE, "acme", "a17", datetime.now(UTC) - 30 * D, None, actor="test")
    case = await app.compensation.file_complaint(
        ComplaintInput(CONSUMER, [LINE], disputes_consent=True), actor="test", filer_name="test"
    )
    assert case.status is Status.MANUAL_REVIEW
    assert [(f.verdict, f.consent_evidence, f.org_id) for f in case.findings] == [
        (CallerVerdict.CONSENT_ON_FILE, "web form", "acme")
    ]
    reviewed = await app.compensation.review(case.case_id, Status.VERIFIED, "the form was forged", "supervisor")
    [f] = reviewed.findings
    assert (f.verdict, str(f.amount), f.org_id, f.agent_id) == (
        CallerVerdict.CALLED_OUTSIDE_GATEWAY,
        "100.00 CNY",
        "acme",
        "a17",
    )
    assert f.payout_id and reviewed.status is Status.VERIFIED


async def test_the_report_counts_calls_outside_the_gateway_by_the_complaint_time(app: Any) -> None:
    """ReportViolations' [from, to) is matched against the complaint's window end, per agent named."""
    # Her do-not-disturb as recorded two months ago (the verification reads the journal as recorded by
    # the complaint's time, which lies in the past here).
    ago = datetime.now(UTC) - 60 * D
    async with app.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO preference_journal (consumer_key, do_not_disturb, categories, source, effective_from,"
            " recorded_at, recorded_by) VALUES (%s, true, %s, %s, %s, %s, 'test')",
            (app.registry.keyer.digest(CONSUMER_E164), ALL_CATEGORIES_MASK, int(Source.APP), ago, ago),
        )
    await app.lines.register(LINE, "acme", "a17", datetime.now(UTC) - 30 * D, None, actor="test")
    end = datetime.now(UTC) - 2 * D
    await app.compensation.file_complaint(
        ComplaintInput(CONSUMER, [LINE], occurred_before=end), actor="test", filer_name="test"
    )
    inside = await app.compensation.payouts.violations("acme", end - D, end + D)
    assert [(a.agent_id, a.verified_complaints, a.calls_outside_gateway) for a in inside.agents] == [("a17", 1, 1)]
    assert (await app.compensation.payouts.violations("acme", end + timedelta(microseconds=1), None)).agents == ()
    assert (await app.compensation.payouts.violations("other", end - D, end + D)).calls_outside_gateway == 0
