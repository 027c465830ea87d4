"""Ledger use cases: list payouts, record payments (idempotently), fund totals, violations per agent."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from dncgate import phone
from dncgate.domain import access, notices
from dncgate.domain import case as cases
from dncgate.domain.case import SYSTEM, HistoryEntry, Payout, PayoutStatus
from dncgate.domain.errors import InvalidArgument, NotFound
from dncgate.domain.money import Money
from dncgate.domain.notices import NoticeKind
from dncgate.domain.reports import FundPeriod, FundSummary, Period, ViolationReport, fund_summary, org_report
from dncgate.service.compensation_ports import CaseTransactions, PayoutLedger, ViolationEvidence
from dncgate.service.notices import Notifier
from dncgate.service.owners import restage
from dncgate.service.paging import decode_token, encode_token, page_size
from dncgate.service.redact import redact

log = structlog.get_logger("dncgate.payouts")

MAX_REFERENCE = 200
DEFAULT_REPORT_WINDOW = timedelta(days=30)


def _range(after: datetime | None, before: datetime | None, field: str) -> None:
    if after is not None and before is not None and after > before:
        raise InvalidArgument(field, "is later than the end of the range")


class PayoutDesk:
    def __init__(
        self,
        ledger: PayoutLedger,
        cases_store: CaseTransactions,
        evidence: ViolationEvidence,
        notifier: Notifier,
        *,
        currency: str,
        zone: str,
        region: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.ledger = ledger
        self.cases = cases_store
        self.evidence = evidence
        self.notifier = notifier
        self.currency = currency
        self.zone = zone
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def list_payouts(
        self,
        status: PayoutStatus | None,
        created_after: datetime | None,
        created_before: datetime | None,
        size: int,
        token: str,
        overdue_only: bool = False,
    ) -> tuple[list[Payout], str]:
        """A page of payouts, newest first; `overdue_only`: those still pending past their due time now."""
        _range(created_after, created_before, "created_after")
        if overdue_only and status is PayoutStatus.PAID:
            raise InvalidArgument("overdue_only", "only a pending payout can be overdue: leave status unset or PENDING")
        found, more = await self.ledger.page(
            status,
            created_after,
            created_before,
            self.now() if overdue_only else None,
            decode_token(token, "p"),
            page_size(size),
        )
        return found, encode_token("p", more)

    async def mark_paid(self, payout_id: str, reference: str, request_id: str = "", *, actor: str) -> Payout:
        """Record the payment system's confirmation, made by `actor` (the principal that marked it: the
        payout's `paid_by` and its case's history entry); the same reference again changes nothing.

        A case waiting for its money becomes PAID with its last payout, in the same transaction, and the
        consumer's PAYOUT_PAID notice is queued with it (once: a replay pays nothing and tells nothing). A phone
        number in the reference is masked before it is stored (its transaction ids stay readable).
        """
        access.actor(actor)
        payout_id, reference = payout_id.strip(), reference.strip()
        if not payout_id:
            raise InvalidArgument("payout_id", "is required")
        if not reference:
            raise InvalidArgument("payment_reference", "is required")
        if len(reference) > MAX_REFERENCE:
            raise InvalidArgument("payment_reference", f"is longer than {MAX_REFERENCE} characters")
        reference = redact(reference, self.region, reference=True)
        case_id = await self.ledger.case_of(payout_id)
        if case_id is None:
            raise NotFound("no payout with this payout_id")
        async with self.cases.transaction() as tx:
            # Case row first, then the payout: the order every writer of both follows.
            case = await tx.lock_case(case_id)
            payout = await tx.lock_payout(payout_id)
            assert case is not None and payout is not None
            replay = bool(request_id.strip()) and not await tx.claim_request(
                request_id.strip(), "MarkPayoutPaid", payout_id
            )
            if not replay and cases.needs_payment(payout, reference):
                now = self.now()
                await tx.mark_paid(payout_id, now, reference, actor)
                history = [HistoryEntry(now, actor, "payout_paid", f"{payout_id}: {payout.amount}, ref {reference}")]
                status = cases.after_payment(case.status, await tx.payouts_paid(case_id))
                if status is not case.status:
                    history.append(HistoryEntry(now, SYSTEM, status.value.lower(), "every payout of the case is paid"))
                    await tx.set_status(case_id, status, case.total, now)
                    await restage(tx, case, status, now, SYSTEM)
                await tx.add_history(case_id, history)
                caller = phone.parse(payout.caller_e164).masked
                text = notices.payout_paid_text(case_id, caller, payout.amount, now, self.notifier.zone)
                await self.notifier.append(
                    tx, case, notices.payout_paid_id(payout_id), NoticeKind.PAYOUT_PAID, text, now
                )
                log.info("payout_paid", payout_id=payout_id, case_id=case_id, case_status=status.value)
        paid = await self.ledger.get(payout_id)
        assert paid is not None
        return paid

    async def fund_summary(self, after: datetime | None, before: datetime | None, period: str) -> FundSummary:
        """Pending (by booking) and paid (by payment) per period and currency in [after, before), totals
        per currency, and of the pending ones those overdue now."""
        try:
            p = Period((period or "month").strip().lower())
        except ValueError:
            raise InvalidArgument("period", "expected day, week or month") from None
        _range(after, before, "from")
        rows = await self.ledger.per_period(p, self.zone, after, before)
        late = await self.ledger.overdue(self.now(), after, before)
        # One FundPeriod per period start and currency: amounts in different currencies are never added.
        starts: dict[tuple[datetime, str], FundPeriod] = {}
        for kind, start, currency, count, minor in rows:
            zero = Money.zero(currency)
            prev = starts.get((start, currency), FundPeriod(start, 0, zero, 0, zero))
            if kind == "PENDING":
                starts[start, currency] = FundPeriod(start, count, Money(minor, currency), prev.paid_count, prev.paid)
            else:
                starts[start, currency] = FundPeriod(
                    start, prev.pending_count, prev.pending, count, Money(minor, currency)
                )
        overdue = {currency: (count, Money(minor, currency)) for currency, count, minor in late}
        return fund_summary(starts.values(), self.currency, overdue)

    async def violations(self, org_id: str, after: datetime | None, before: datetime | None) -> ViolationReport:
        """Violating calls and verified complaints per agent of an org, in [after, before)."""
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        before = before or self.now()
        after = after or before - DEFAULT_REPORT_WINDOW
        _range(after, before, "from")
        facts = await self.evidence.org_violations(org_id, after, before)
        outside = await self.evidence.outside_gateway(org_id, after, before)
        return org_report(org_id, facts, outside)
