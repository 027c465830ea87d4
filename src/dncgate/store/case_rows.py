"""Rows of the complaint and payout tables as domain objects: one reader shared by every query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from dncgate.domain.case import (
    Case,
    Channel,
    Confirmation,
    HistoryEntry,
    Payout,
    PayoutStatus,
    Revisit,
    Stage,
    StageEntry,
    Status,
    Update,
    UpdateKind,
)
from dncgate.domain.money import Money
from dncgate.domain.types import Reason
from dncgate.domain.verification import CallerVerdict, Finding, Window

Conn = psycopg.AsyncConnection[Any]

_CASE_COLS = (
    "case_id, status, consumer_masked, channel, description, occurred_after, occurred_before,"
    " total_minor, currency, created_at, first_response_due, resolution_due, stage, assignee, resolved,"
    " satisfaction, remaining_issue, regulator_reply_due, regulator_replied_at, major_since,"
    " progress_statement_due, progress_statement_at, closed_at, revisit_due, recurrence_of"
)
PAYOUT_COLS = (
    "payout_id, case_id, consumer_masked, caller_e164, amount_minor, currency, status, created_at,"
    " paid_at, payment_reference, paid_by, due_at"
)


def payout_of(row: Sequence[Any]) -> Payout:
    return Payout(
        payout_id=row[0],
        case_id=row[1],
        consumer_masked=row[2],
        caller_e164=row[3],
        amount=Money(row[4], row[5]),
        status=PayoutStatus(row[6]),
        created_at=row[7],
        paid_at=row[8],
        payment_reference=row[9] or "",
        paid_by=row[10] or "",
        due_at=row[11],
    )


async def load_cases(conn: Conn, where: str, params: Sequence[Any], suffix: str = "") -> list[Case]:
    """Cases matching a WHERE clause, each with its findings and history, in the order `suffix` gives."""
    cur = await conn.execute(f"SELECT {_CASE_COLS} FROM complaints WHERE {where} {suffix}", params)
    rows = await cur.fetchall()
    ids = [r[0] for r in rows]
    if not ids:
        return []
    findings: dict[str, list[Finding]] = {i: [] for i in ids}
    cur = await conn.execute(
        # An ALREADY_COMPENSATED finding links to the case that booked its payout (a payout's case never changes).
        "SELECT f.case_id, f.caller_number, f.verdict, f.amount_minor, f.currency, f.call_ids, f.payout_id,"
        " f.consent_evidence, p.case_id, f.org_id, f.agent_id, f.rules_broken FROM complaint_findings f"
        " LEFT JOIN payouts p ON f.verdict = 'ALREADY_COMPENSATED' AND p.payout_id = f.payout_id"
        " WHERE f.case_id = ANY(%s) ORDER BY f.case_id, f.position",
        (ids,),
    )
    for f in await cur.fetchall():
        findings[f[0]].append(
            Finding(
                f[1],
                CallerVerdict(f[2]),
                Money(f[3], f[4]),
                tuple(f[5]),
                f[6],
                f[7],
                f[8] or "",
                f[9],
                f[10],
                tuple(Reason(r) for r in f[11]),
            )
        )
    history: dict[str, list[HistoryEntry]] = {i: [] for i in ids}
    cur = await conn.execute(
        "SELECT case_id, at, actor, action, note FROM complaint_history WHERE case_id = ANY(%s) ORDER BY seq",
        (ids,),
    )
    for h in await cur.fetchall():
        history[h[0]].append(HistoryEntry(h[1], h[2], h[3], h[4]))
    updates: dict[str, list[Update]] = {i: [] for i in ids}
    cur = await conn.execute(
        "SELECT case_id, at, author, text, visible_to_consumer, kind, previous_resolution_due, new_resolution_due"
        " FROM complaint_updates WHERE case_id = ANY(%s) ORDER BY seq",
        (ids,),
    )
    for u in await cur.fetchall():
        updates[u[0]].append(Update(u[1], u[2], u[3], u[4], UpdateKind(u[5]), u[6], u[7]))
    timeline: dict[str, list[StageEntry]] = {i: [] for i in ids}
    cur = await conn.execute(
        "SELECT case_id, stage, at, actor FROM complaint_stages WHERE case_id = ANY(%s) ORDER BY seq", (ids,)
    )
    for t in await cur.fetchall():
        timeline[t[0]].append(StageEntry(Stage(t[1]), t[2], t[3]))
    cur = await conn.execute(
        "SELECT case_id, at, actor, recurred, rating, note, recurrence_case_id FROM complaint_revisits"
        " WHERE case_id = ANY(%s)",
        (ids,),
    )
    revisits = {r[0]: Revisit(r[1], r[2], r[3], r[4], r[5], r[6] or "") for r in await cur.fetchall()}
    return [
        Case(
            case_id=r[0],
            status=Status(r[1]),
            consumer_masked=r[2],
            channel=Channel(r[3]),
            description=r[4],
            window=Window(r[5], r[6]),
            findings=tuple(findings[r[0]]),
            total=Money(r[7], r[8]),
            created_at=r[9],
            first_response_due=r[10],
            resolution_due=r[11],
            history=tuple(history[r[0]]),
            updates=tuple(updates[r[0]]),
            stage=Stage(r[12]),
            timeline=tuple(timeline[r[0]]),
            assignee=r[13],
            confirmation=Confirmation(r[14], r[15], r[16]),
            regulator_reply_due=r[17],
            regulator_replied_at=r[18],
            major_since=r[19],
            progress_statement_due=r[20],
            progress_statement_at=r[21],
            closed_at=r[22],
            revisit_due=r[23],
            recurrence_of=r[24] or "",
            revisit=revisits.get(r[0]),
        )
        for r in rows
    ]
