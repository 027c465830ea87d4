"""The ports of the compensation use cases (service/compensation.py, service/payouts.py).

Each is exactly what those use cases call; the PostgreSQL and Redis adapters satisfy them as they
are: `CaseWrites` and `Cases` by store/cases.py's `CaseWriter` and `CaseStore`, `CallsToConsumer`
and `ViolationEvidence` by store/evidence.py's `CallEvidence`, `PayoutLedger` by store/ledger.py's
`Ledger`, `RegistryHistory` by store/journal.py's `Journal`, `OperatorQueue` by store/operators.py's
`OperatorStore`, `WorkdayCalendar` by calendars.py's `Workdays`, `Erasures` by store/erasure.py's
`ErasureStore`, `ServiceFigureSource` by store/service_report.py's `ServiceReportStore`. An outage
raises `StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from dncgate.domain.case import (
    Case,
    CaseFilters,
    Confirmation,
    HistoryEntry,
    Operator,
    Payout,
    PayoutStatus,
    Revisit,
    StageEntry,
    Status,
    Update,
)
from dncgate.domain.erasure import Erasure
from dncgate.domain.lines import CallerLine
from dncgate.domain.money import Money
from dncgate.domain.notices import Notice
from dncgate.domain.registry import ConsentChange, OrgListChange, PreferenceChange
from dncgate.domain.reports import OrgViolations, Period, ServiceFigures
from dncgate.domain.verification import Finding, LoggedCall


class CaseWrites(Protocol):
    """Cases and payouts written in one PostgreSQL transaction (`Cases.transaction`)."""

    async def claim_request(self, request_id: str, method: str, subject: str) -> bool: ...

    async def next_seq(self) -> int: ...

    async def insert_case(
        self, case: Case, seq: int, consumer_key: bytes, consumer_sealed: bytes, request_id: str | None
    ) -> bool: ...

    async def lock_case(self, case_id: str) -> Case | None: ...

    async def next_assignee(self, now: datetime) -> str | None: ...

    async def operator_live(self, name: str, now: datetime) -> bool: ...

    async def set_assignee(self, case_id: str, assignee: str, at: datetime) -> None: ...

    async def enter_stages(self, case_id: str, entries: Sequence[StageEntry]) -> None: ...

    async def save_confirmation(self, case_id: str, confirmation: Confirmation) -> None: ...

    async def consumer_of(self, case_id: str) -> tuple[bytes, bytes | None]: ...

    async def set_closed(self, case_id: str, at: datetime, revisit_due: datetime) -> None: ...

    async def add_revisit(self, case_id: str, revisit: Revisit) -> None: ...

    async def compensated(self, consumer_key: bytes, callers: Sequence[str]) -> dict[str, str]: ...

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
    ) -> tuple[str, bool]: ...

    async def save_findings(self, case_id: str, findings: Sequence[Finding]) -> None: ...

    async def add_history(self, case_id: str, entries: Sequence[HistoryEntry]) -> None: ...

    async def add_update(self, case_id: str, update: Update) -> None: ...

    async def make_major(self, case_id: str, since: datetime, statement_due: datetime) -> None: ...

    async def set_status(self, case_id: str, status: Status, total: Money, at: datetime) -> None: ...

    async def lock_payout(self, payout_id: str) -> Payout | None: ...

    async def mark_paid(self, payout_id: str, at: datetime, reference: str, paid_by: str) -> None: ...

    async def payouts_paid(self, case_id: str) -> list[bool]: ...

    async def pending_payouts(self, case_id: str) -> list[str]: ...

    async def add_notification(self, notice: Notice, destination_masked: str, destination_sealed: bytes | None) -> bool:
        """Append a notice to the outbox with the change; False (nothing written) if its id is there already.
        No `destination_sealed`: the number could not be read back, and the notice is never sent."""
        ...


class CaseTransactions(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[CaseWrites]: ...


class Cases(CaseTransactions, Protocol):
    """Complaint cases: written in transactions, read one by one or by pages (newest first)."""

    async def get(self, case_id: str) -> Case | None: ...

    async def by_request_id(self, request_id: str) -> tuple[Case, bytes] | None: ...

    async def consumer_key(self, case_id: str) -> bytes | None:
        """The keyed hash of the case's consumer; None for an unknown id."""
        ...

    async def with_payouts(self, case_id: str) -> tuple[Case, list[Payout]] | None:
        """The case and the payouts it booked; None for an unknown id."""
        ...

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
    ) -> tuple[list[Case], int | None]: ...


class OperatorQueue(Protocol):
    """The hotline's queue (store/operators.py `OperatorStore`): who is available for new cases."""

    async def set_available(self, name: str, available: bool, at: datetime, by: str) -> Operator: ...


class CallsToConsumer(Protocol):
    """The calls a complaint is verified against: call_log, and the stream for those not drained yet."""

    async def calls_to(
        self, callee_key: bytes, callers: Sequence[str], after: datetime, before: datetime
    ) -> list[LoggedCall]: ...


class ViolationEvidence(Protocol):
    async def org_violations(self, org_id: str, after: datetime, before: datetime) -> OrgViolations: ...

    async def outside_gateway(self, org_id: str, after: datetime, before: datetime) -> set[tuple[str, str, int]]: ...


class CallerLineHistory(Protocol):
    """The caller-line journal, which a complaint reads for callers with no Check on record."""

    async def lines_of(self, callers: Sequence[str]) -> list[CallerLine]: ...


class PayoutLedger(Protocol):
    async def get(self, payout_id: str) -> Payout | None: ...

    async def case_of(self, payout_id: str) -> str | None: ...

    async def page(
        self,
        status: PayoutStatus | None,
        created_after: datetime | None,
        created_before: datetime | None,
        overdue_at: datetime | None,
        before_seq: int | None,
        limit: int,
    ) -> tuple[list[Payout], int | None]: ...

    async def per_period(
        self, period: Period, zone: str, after: datetime | None, before: datetime | None
    ) -> list[tuple[str, datetime, str, int, int]]: ...

    async def overdue(
        self, now: datetime, after: datetime | None, before: datetime | None
    ) -> list[tuple[str, int, int]]: ...


class WorkdayCalendar(Protocol):
    """Deadlines in working days: the end of the Nth working day after `start`'s day."""

    def add(self, start: datetime, n: int) -> datetime: ...


class RegistryHistory(Protocol):
    """A consumer's registry journal, which a complaint's verification reads as of each call."""

    async def preference_changes(self, key: bytes) -> list[PreferenceChange]: ...

    async def consent_changes(self, key: bytes) -> list[ConsentChange]: ...

    async def org_list_changes(self, key: bytes) -> list[OrgListChange]: ...


class ErasureWrites(Protocol):
    """One erasure's writes, in a transaction allowed to rewrite masked text (`Erasures.transaction`)."""

    async def lock_consumer(self, consumer_key: bytes) -> list[str]: ...

    async def pending_payouts(self, case_ids: Sequence[str]) -> list[str]: ...

    async def shred(self, consumer_key: bytes, case_ids: Sequence[str], masked: str) -> dict[str, int]: ...

    async def record(
        self,
        request_id: str | None,
        at: datetime,
        actor: str,
        consumer_key: bytes,
        complaints: int,
        payouts: int,
        calls: int,
        texts: int,
    ) -> Erasure | None: ...

    async def by_request_id(self, request_id: str) -> tuple[Erasure, bytes] | None: ...


class Erasures(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ErasureWrites]: ...


class ServiceFigureSource(Protocol):
    """The hotline's service figures per period of filing and assignee (service/service_report.py)."""

    async def service_figures(
        self,
        period: Period,
        zone: str,
        after: datetime | None,
        before: datetime | None,
        assignee: str | None,
        now: datetime,
        hours: tuple[int, int, int],
    ) -> list[tuple[datetime, str, ServiceFigures]]: ...
