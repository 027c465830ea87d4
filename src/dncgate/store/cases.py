"""Complaint cases and the payout ledger in PostgreSQL; every change to a case happens in one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg

from dncgate.domain.access import QUEUE_ROLES
from dncgate.domain.case import (
    Case,
    CaseFilters,
    Confirmation,
    HistoryEntry,
    Payout,
    Revisit,
    StageEntry,
    Status,
    Update,
    UpdateKind,
)
from dncgate.domain.errors import Conflict
from dncgate.domain.money import Money
from dncgate.domain.notices import Notice
from dncgate.domain.verification import Finding
from dncgate.store import notifications
from dncgate.store.case_rows import PAYOUT_COLS, load_cases, payout_of
from dncgate.store.pg import Database

Conn = psycopg.AsyncConnection[Any]

# Held by a filing transaction while it picks the next operator: filings take their turns one by one.
_QUEUE_LOCK_ID = 0x646E6371  # "dncq"
# A name that may take cases: some live (unrevoked, unexpired) token or certificate of that name has a
# role of the queue (domain/access.py QUEUE_ROLES).
# A principal of the queue: a live token or certificate, or a console user (who is one whether logged in
# or not: her session tokens come and go with her logins), of that name with a queue role.
_LIVE_OPERATOR = (
    "EXISTS (SELECT 1 FROM (SELECT t.name, t.roles FROM api_tokens t WHERE t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at > %s)"
    " UNION ALL SELECT u.name, u.roles FROM console_users u WHERE u.disabled_at IS NULL) p"
    " WHERE p.name = {name} AND p.roles && %s)"
)


# Overdue at the time given twice: still open past its resolution time, or not yet answered past its
# first-response time (tests/reference.py is_overdue is what tests/unit/test_case.py holds this to).
_OPEN = "'RECEIVED', 'VERIFIED', 'PARTIALLY_VERIFIED', 'MANUAL_REVIEW', 'REOPENED'"
OVERDUE = f"status IN ({_OPEN}) AND (resolution_due < %s OR (status = 'RECEIVED' AND first_response_due < %s))"


# The column each deadline-meeting kind of update sets (once: the first such update).
_MET_BY = {
    UpdateKind.REGULATOR_REPLY: "regulator_replied_at",
    UpdateKind.PROGRESS_STATEMENT: "progress_statement_at",
}


class CaseWriter:
    """The writes of one transaction on cases and the ledger (see CaseStore.transaction)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def next_seq(self) -> int:
        row = await (await self.conn.execute("SELECT nextval('complaint_seq')")).fetchone()
        assert row is not None
        return int(row[0])

    async def insert_case(
        self, case: Case, seq: int, consumer_key: bytes, consumer_sealed: bytes, request_id: str | None
    ) -> bool:
        """Insert a new case; False (and nothing written) when its request_id was used already."""
        cur = await self.conn.execute(
            "INSERT INTO complaints (case_id, seq, consumer_key, consumer_masked, consumer_sealed, channel,"
            " description, occurred_after, occurred_before, status, total_minor, currency, created_at,"
            " first_response_due, resolution_due, updated_at, request_id, assignee, regulator_reply_due,"
            " major_since, progress_statement_due, recurrence_of)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING case_id",
            (
                case.case_id,
                seq,
                consumer_key,
                case.consumer_masked,
                consumer_sealed,
                case.channel.value,
                case.description,
                case.window.after,
                case.window.before,
                case.status.value,
                case.total.minor,
                case.total.currency,
                case.created_at,
                case.first_response_due,
                case.resolution_due,
                case.created_at,
                request_id,
                case.assignee,
                case.regulator_reply_due,
                case.major_since,
                case.progress_statement_due,
                case.recurrence_of or None,
            ),
        )
        return await cur.fetchone() is not None

    async def next_assignee(self, now: datetime) -> str | None:
        """The available live operator whose turn it is, given this case (None when there is none).

        The advisory lock is held until this transaction ends, so concurrent filings see each other's
        turns: each takes the operator whose last turn is oldest and stamps a newer one.
        """
        await self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_QUEUE_LOCK_ID,))
        live = _LIVE_OPERATOR.format(name="o.name")
        row = await (
            await self.conn.execute(
                f"SELECT o.name FROM operators o WHERE o.available AND {live}"
                " ORDER BY o.last_turn NULLS FIRST, o.name LIMIT 1",
                (now, sorted(QUEUE_ROLES)),
            )
        ).fetchone()
        if row is None:
            return None
        await self.conn.execute(
            "UPDATE operators SET last_turn = nextval('operator_turns'), assigned_count = assigned_count + 1"
            " WHERE name = %s",
            (row[0],),
        )
        return str(row[0])

    async def operator_live(self, name: str, now: datetime) -> bool:
        """Whether `name` has a live token or certificate, or is a console user, with a role of the queue."""
        row = await (
            await self.conn.execute(f"SELECT {_LIVE_OPERATOR.format(name='%s')}", (now, name, sorted(QUEUE_ROLES)))
        ).fetchone()
        return bool(row and row[0])

    async def set_assignee(self, case_id: str, assignee: str, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE complaints SET assignee = %s, updated_at = %s WHERE case_id = %s", (assignee, at, case_id)
        )

    async def enter_stages(self, case_id: str, entries: Sequence[StageEntry]) -> None:
        """Append the stages to the case's timeline; the last is the stage it is in now."""
        if not entries:
            return
        async with self.conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO complaint_stages (case_id, stage, at, actor) VALUES (%s, %s, %s, %s)",
                [(case_id, e.stage.value, e.at, e.actor) for e in entries],
            )
        await self.conn.execute(
            "UPDATE complaints SET stage = %s WHERE case_id = %s", (entries[-1].stage.value, case_id)
        )

    async def save_confirmation(self, case_id: str, confirmation: Confirmation) -> None:
        await self.conn.execute(
            "UPDATE complaints SET resolved = %s, satisfaction = %s, remaining_issue = %s WHERE case_id = %s",
            (confirmation.resolved, confirmation.satisfaction, confirmation.remaining_issue, case_id),
        )

    async def set_closed(self, case_id: str, at: datetime, revisit_due: datetime) -> None:
        """The case closed at `at`: its revisit is due at `revisit_due`."""
        await self.conn.execute(
            "UPDATE complaints SET closed_at = %s, revisit_due = %s WHERE case_id = %s", (at, revisit_due, case_id)
        )

    async def add_revisit(self, case_id: str, revisit: Revisit) -> None:
        """Record the case's one revisit (complaint_revisits is append-only, one row per case)."""
        await self.conn.execute(
            "INSERT INTO complaint_revisits (case_id, at, actor, recurred, rating, note, recurrence_case_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                case_id,
                revisit.at,
                revisit.actor,
                revisit.recurred,
                revisit.rating,
                revisit.note,
                revisit.recurrence_case_id or None,
            ),
        )

    async def compensated(self, consumer_key: bytes, callers: Sequence[str]) -> dict[str, str]:
        """caller → payout id, for the callers this consumer was already paid (or is owed) for."""
        cur = await self.conn.execute(
            "SELECT caller_e164, payout_id FROM payouts WHERE consumer_key = %s AND caller_e164 = ANY(%s)",
            (consumer_key, list(callers)),
        )
        return {r[0]: r[1] for r in await cur.fetchall()}

    async def book_payout(
        self,
        payout_id: str,
        consumer_key: bytes,
        caller_e164: str,
        case_id: str,
        consumer_masked: str,
        consumer_sealed: bytes,
        amount: Money,
        at: datetime,
        due_at: datetime,
    ) -> tuple[str, bool]:
        """Book a payout, or find the one that exists for the pair: (payout id, booked now).

        ON CONFLICT waits for a concurrent booking of the same pair to commit or roll back, so of many
        simultaneous complaints exactly one books the pair and the others see its payout.
        """
        cur = await self.conn.execute(
            "INSERT INTO payouts (payout_id, consumer_key, caller_e164, case_id, consumer_masked, consumer_sealed,"
            " amount_minor, currency, created_at, due_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING payout_id",
            (
                payout_id,
                consumer_key,
                caller_e164,
                case_id,
                consumer_masked,
                consumer_sealed,
                amount.minor,
                amount.currency,
                at,
                due_at,
            ),
        )
        if await cur.fetchone() is not None:
            return payout_id, True
        existing = await self.compensated(consumer_key, [caller_e164])
        return existing[caller_e164], False

    async def save_findings(self, case_id: str, findings: Sequence[Finding]) -> None:
        async with self.conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO complaint_findings"
                " (case_id, position, caller_number, verdict, call_ids, payout_id, amount_minor, currency,"
                " consent_evidence, org_id, agent_id, rules_broken)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (case_id, position) DO UPDATE SET verdict = EXCLUDED.verdict,"
                " call_ids = EXCLUDED.call_ids, payout_id = EXCLUDED.payout_id,"
                " amount_minor = EXCLUDED.amount_minor, currency = EXCLUDED.currency,"
                " consent_evidence = EXCLUDED.consent_evidence, org_id = EXCLUDED.org_id,"
                " agent_id = EXCLUDED.agent_id, rules_broken = EXCLUDED.rules_broken",
                [
                    (
                        case_id,
                        i,
                        f.caller_number,
                        f.verdict.value,
                        list(f.call_ids),
                        f.payout_id,
                        f.amount.minor,
                        f.amount.currency,
                        f.consent_evidence,
                        f.org_id,
                        f.agent_id,
                        [r.value for r in f.rules_broken],
                    )
                    for i, f in enumerate(findings)
                ],
            )

    async def add_history(self, case_id: str, entries: Sequence[HistoryEntry]) -> None:
        async with self.conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO complaint_history (case_id, at, actor, action, note) VALUES (%s, %s, %s, %s, %s)",
                [(case_id, e.at, e.actor, e.action, e.note) for e in entries],
            )

    async def add_update(self, case_id: str, update: Update) -> None:
        """Append an update; a visible one restarts the update clock, an extension moves resolution_due."""
        await self.conn.execute(
            "INSERT INTO complaint_updates (case_id, at, author, kind, text, visible_to_consumer,"
            " previous_resolution_due, new_resolution_due) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                case_id,
                update.at,
                update.author,
                update.kind.value,
                update.text,
                update.visible_to_consumer,
                update.previous_due,
                update.new_due,
            ),
        )
        if update.visible_to_consumer:
            await self.conn.execute(
                "UPDATE complaints SET last_visible_update_at = GREATEST(last_visible_update_at, %s),"
                " updated_at = %s WHERE case_id = %s",
                (update.at, update.at, case_id),
            )
        if update.kind is UpdateKind.EXTENSION:
            await self.conn.execute(
                "UPDATE complaints SET resolution_due = %s WHERE case_id = %s", (update.new_due, case_id)
            )
        # The first reply / statement meets its deadline; later ones are kept as updates only.
        met = _MET_BY.get(update.kind)
        if met is not None:
            await self.conn.execute(
                f"UPDATE complaints SET {met} = COALESCE({met}, %s) WHERE case_id = %s", (update.at, case_id)
            )

    async def make_major(self, case_id: str, since: datetime, statement_due: datetime) -> None:
        """Mark a case major from `since`, its progress statement due at `statement_due`."""
        await self.conn.execute(
            "UPDATE complaints SET major_since = %s, progress_statement_due = %s, updated_at = %s WHERE case_id = %s",
            (since, statement_due, since, case_id),
        )

    async def set_status(self, case_id: str, status: Status, total: Money, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE complaints SET status = %s, total_minor = %s, currency = %s, updated_at = %s WHERE case_id = %s",
            (status.value, total.minor, total.currency, at, case_id),
        )

    async def lock_case(self, case_id: str) -> Case | None:
        """The case, with its row locked until the transaction ends (one writer per case at a time)."""
        row = await (
            await self.conn.execute("SELECT 1 FROM complaints WHERE case_id = %s FOR UPDATE", (case_id,))
        ).fetchone()
        if row is None:
            return None
        return (await load_cases(self.conn, "case_id = %s", (case_id,)))[0]

    async def consumer_of(self, case_id: str) -> tuple[bytes, bytes | None]:
        """The case's consumer key and sealed number (to book a payout after a review); None once erased."""
        row = await (
            await self.conn.execute(
                "SELECT consumer_key, consumer_sealed FROM complaints WHERE case_id = %s", (case_id,)
            )
        ).fetchone()
        assert row is not None
        return bytes(row[0]), (bytes(row[1]) if row[1] is not None else None)

    async def lock_payout(self, payout_id: str) -> Payout | None:
        cur = await self.conn.execute(
            f"SELECT {PAYOUT_COLS} FROM payouts WHERE payout_id = %s FOR UPDATE", (payout_id,)
        )
        row = await cur.fetchone()
        return payout_of(row) if row else None

    async def mark_paid(self, payout_id: str, at: datetime, reference: str, paid_by: str) -> None:
        await self.conn.execute(
            "UPDATE payouts SET status = 'PAID', paid_at = %s, payment_reference = %s, paid_by = %s"
            " WHERE payout_id = %s",
            (at, reference, paid_by, payout_id),
        )

    async def pending_payouts(self, case_id: str) -> list[str]:
        """The ids of the case's own payouts still PENDING (a case cannot close over them)."""
        cur = await self.conn.execute(
            "SELECT payout_id FROM payouts WHERE case_id = %s AND status = 'PENDING' ORDER BY payout_id", (case_id,)
        )
        return [str(r[0]) for r in await cur.fetchall()]

    async def payouts_paid(self, case_id: str) -> list[bool]:
        """For each payout the case booked: whether it is paid."""
        cur = await self.conn.execute("SELECT status = 'PAID' FROM payouts WHERE case_id = %s", (case_id,))
        return [bool(r[0]) for r in await cur.fetchall()]

    async def add_notification(self, notice: Notice, destination_masked: str, destination_sealed: bytes | None) -> bool:
        """Append a notice to the outbox in this transaction (store/notifications.py); False if its id exists."""
        return await notifications.add_notification(self.conn, notice, destination_masked, destination_sealed)

    async def claim_request(self, request_id: str, method: str, subject: str) -> bool:
        """Record a request_id; False when it was seen before for this very request (a replay).

        The same id for another method or subject is a Conflict: a client reused it by mistake.
        """
        cur = await self.conn.execute(
            "INSERT INTO compensation_requests (request_id, method, subject) VALUES (%s, %s, %s)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
            (request_id, method, subject),
        )
        if await cur.fetchone() is not None:
            return True
        row = await (
            await self.conn.execute(
                "SELECT method, subject FROM compensation_requests WHERE request_id = %s", (request_id,)
            )
        ).fetchone()
        assert row is not None
        if (row[0], row[1]) != (method, subject):
            raise Conflict(f"request_id {request_id!r} was already used for {row[0]} on {row[1]}")
        return False


class CaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[CaseWriter]:
        """Everything written through the writer commits together or not at all."""
        async with self.db.connection() as conn, conn.transaction():
            yield CaseWriter(conn)

    async def get(self, case_id: str) -> Case | None:
        async with self.db.connection() as conn:
            found = await load_cases(conn, "case_id = %s", (case_id,))
        return found[0] if found else None

    async def by_request_id(self, request_id: str) -> tuple[Case, bytes] | None:
        """The case a FileComplaint request_id created, with its consumer key (to detect reuse)."""
        async with self.db.connection() as conn:
            row = await (
                await conn.execute("SELECT case_id, consumer_key FROM complaints WHERE request_id = %s", (request_id,))
            ).fetchone()
            if row is None:
                return None
            return (await load_cases(conn, "case_id = %s", (row[0],)))[0], bytes(row[1])

    async def consumer_key(self, case_id: str) -> bytes | None:
        """The keyed hash of a case's consumer; None for an unknown case id."""
        async with self.db.connection() as conn:
            row = await (
                await conn.execute("SELECT consumer_key FROM complaints WHERE case_id = %s", (case_id,))
            ).fetchone()
        return None if row is None else bytes(row[0])

    async def with_payouts(self, case_id: str) -> tuple[Case, list[Payout]] | None:
        """A case and the payouts it booked."""
        async with self.db.connection() as conn:
            found = await load_cases(conn, "case_id = %s", (case_id,))
            cur = await conn.execute(f"SELECT {PAYOUT_COLS} FROM payouts WHERE case_id = %s ORDER BY seq", (case_id,))
            payouts = [payout_of(r) for r in await cur.fetchall()]
        return (found[0], payouts) if found else None

    async def page(
        self,
        consumer_key: bytes | None,
        status: Status | None,
        overdue_at: datetime | None,
        before_seq: int | None,
        limit: int,
        update_clock_before: datetime | None = None,
        filters: CaseFilters | None = None,
        regulator_reply_late_at: datetime | None = None,
    ) -> tuple[list[Case], int | None]:
        """Newest first; returns the page and the seq to continue before (None when this was the last page).

        `update_clock_before`: only cases not CLOSED whose last visible update (or filing) is older than
        it (now - DNCGATE_UPDATE_HOURS: the cases whose next update is overdue). `regulator_reply_late_at`:
        only regulator cases not replied to whose reply was due before it."""
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if consumer_key is not None:
            where.append("consumer_key = %s")
            params.append(consumer_key)
        if status is not None:
            where.append("status = %s")
            params.append(status.value)
        if overdue_at is not None:
            # Overdue: still open past its resolution time, or not yet answered past its first-response time
            # (tests/reference.py is_overdue is what tests/unit/test_case.py holds this to).
            where.append(OVERDUE)
            params += [overdue_at, overdue_at]
        if update_clock_before is not None:
            where.append("status <> 'CLOSED' AND COALESCE(last_visible_update_at, created_at) < %s")
            params.append(update_clock_before)
        if filters is not None:
            if filters.assignee:
                where.append("assignee = %s")
                params.append(filters.assignee)
            if filters.stage is not None:
                where.append("stage = %s")
                params.append(filters.stage.value)
            if filters.first_response_overdue_at is not None:
                where.append("status = 'RECEIVED' AND first_response_due < %s")
                params.append(filters.first_response_overdue_at)
            if filters.resolution_overdue_at is not None:
                where.append(f"status IN ({_OPEN}) AND resolution_due < %s")
                params.append(filters.resolution_overdue_at)
            if filters.revisit_overdue_at is not None:
                where.append(
                    "status = 'CLOSED' AND revisit_due < %s AND NOT EXISTS"
                    " (SELECT 1 FROM complaint_revisits r WHERE r.case_id = complaints.case_id)"
                )
                params.append(filters.revisit_overdue_at)
        if regulator_reply_late_at is not None:
            where.append("regulator_replied_at IS NULL AND regulator_reply_due < %s")
            params.append(regulator_reply_late_at)
        if before_seq is not None:
            where.append("seq < %s")
            params.append(before_seq)
        async with self.db.connection() as conn:
            cur = await conn.execute(
                f"SELECT seq FROM complaints WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s",
                (*params, limit + 1),
            )
            seqs = [int(r[0]) for r in await cur.fetchall()]
            more = len(seqs) > limit
            seqs = seqs[:limit]
            cases = await load_cases(conn, "seq = ANY(%s)", (seqs,), "ORDER BY seq DESC")
        return cases, (seqs[-1] if more else None)
