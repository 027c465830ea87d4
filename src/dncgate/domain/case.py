"""The complaint case: its status from the findings, the moves allowed after that, ids and due times."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from dncgate.domain.money import Money
from dncgate.domain.verification import CallerVerdict, Finding, Window


class Status(Enum):
    RECEIVED = "RECEIVED"
    VERIFIED = "VERIFIED"
    PARTIALLY_VERIFIED = "PARTIALLY_VERIFIED"
    REJECTED = "REJECTED"
    MANUAL_REVIEW = "MANUAL_REVIEW"
    PAID = "PAID"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    # Filed again for numbers already compensated: nothing new owed, linked to the case(s) that paid.
    ALREADY_COMPENSATED = "ALREADY_COMPENSATED"


class Channel(Enum):
    HOTLINE = "HOTLINE"
    APP = "APP"
    REGULATOR = "REGULATOR"


# Cases someone still owes work on: a due time can pass on these, not on settled ones.
OPEN = frozenset({Status.RECEIVED, Status.VERIFIED, Status.PARTIALLY_VERIFIED, Status.MANUAL_REVIEW, Status.REOPENED})
# Where the consumer can say whether the outcome satisfies them.
CONFIRMABLE = frozenset(
    {Status.VERIFIED, Status.PARTIALLY_VERIFIED, Status.REJECTED, Status.PAID, Status.ALREADY_COMPENSATED}
)
REVIEWABLE = frozenset({Status.MANUAL_REVIEW, Status.REOPENED})
# A case waiting only for its money: paying its last payout makes it PAID.
AWAITING_PAYMENT = frozenset({Status.VERIFIED, Status.PARTIALLY_VERIFIED})


# The actor of the history entries dncgate writes itself (verification results, status a payment
# completes); every entry a request causes names that request's principal (`Principal.label`).
SYSTEM = "dncgate"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    note: str = ""


class UpdateKind(Enum):
    PROGRESS = "PROGRESS"  # AddComplaintUpdate: visible to the consumer or internal
    EXTENSION = "EXTENSION"  # ExtendComplaint: always visible; moves resolution_due


@dataclass(frozen=True, slots=True)
class Update:
    """Progress recorded on a case by a principal (`author`), in order; an EXTENSION also names the due
    time it moved (`previous_due` to `new_due`) and its text is the reason."""

    at: datetime
    author: str
    text: str
    visible_to_consumer: bool
    kind: UpdateKind = UpdateKind.PROGRESS
    previous_due: datetime | None = None
    new_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deadlines:
    first_response_hours: int = 24
    resolution_hours: int = 72

    def first_response_due(self, filed_at: datetime) -> datetime:
        return filed_at + timedelta(hours=self.first_response_hours)

    def resolution_due(self, filed_at: datetime) -> datetime:
        return filed_at + timedelta(hours=self.resolution_hours)


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    status: Status
    consumer_masked: str
    channel: Channel
    description: str
    window: Window
    findings: tuple[Finding, ...]
    total: Money
    created_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    history: tuple[HistoryEntry, ...] = ()
    updates: tuple[Update, ...] = ()


def status_of(findings: Sequence[Finding], disputes_consent: bool = False) -> Status:
    """The case's status from its findings, first match wins.

    Every caller VERIFIED: VERIFIED; some: PARTIALLY_VERIFIED. None verified: MANUAL_REVIEW if the
    consumer disputes a consent on file (a CONSENT_ON_FILE finding and `disputes_consent`); else
    ALREADY_COMPENSATED if any finding is (a pair paid by an earlier case: nothing new is owed);
    else REJECTED (an undisputed consent, no call, not registered).
    """
    verified = sum(1 for f in findings if f.verdict is CallerVerdict.VERIFIED)
    if findings and verified == len(findings):
        return Status.VERIFIED
    if verified:
        return Status.PARTIALLY_VERIFIED
    if disputes_consent and any(f.verdict is CallerVerdict.CONSENT_ON_FILE for f in findings):
        return Status.MANUAL_REVIEW
    if any(f.verdict is CallerVerdict.ALREADY_COMPENSATED for f in findings):
        return Status.ALREADY_COMPENSATED
    return Status.REJECTED


def after_confirmation(status: Status, satisfied: bool, *, pending_payouts: Sequence[str], override: bool) -> Status:
    """The consumer's answer to the outcome: CLOSED when satisfied, else REOPENED for another look.

    A case with a payout still PENDING (`pending_payouts`: their ids) cannot be closed: the money is
    not with her yet. Only a supervisor's `override` (recorded with its reason) closes it anyway.
    """
    if status not in CONFIRMABLE:
        raise FailedPrecondition(f"a {status.value} case cannot be confirmed; only {_names(CONFIRMABLE)} cases can")
    if not satisfied:
        return Status.REOPENED
    if pending_payouts and not override:
        raise FailedPrecondition(
            f"the case has payouts still pending ({', '.join(sorted(pending_payouts))}); it closes once every"
            " payout is paid, or with a supervisor's override_reason"
        )
    return Status.CLOSED


def after_review(status: Status, decision: Status) -> Status:
    """An operator's decision on a case waiting for a human: VERIFIED or REJECTED."""
    if decision not in (Status.VERIFIED, Status.REJECTED):
        raise InvalidArgument("decision", f"a review decides VERIFIED or REJECTED, not {decision.value}")
    if status not in REVIEWABLE:
        raise FailedPrecondition(f"a {status.value} case cannot be reviewed; only {_names(REVIEWABLE)} cases can")
    return decision


def after_payment(status: Status, payout_statuses_paid: Sequence[bool]) -> Status:
    """A case waiting for its money is PAID once every payout it booked is paid; others keep their status."""
    if status in AWAITING_PAYMENT and payout_statuses_paid and all(payout_statuses_paid):
        return Status.PAID
    return status


def check_updatable(status: Status) -> None:
    """An update may be added to a case in every status but CLOSED."""
    if status is Status.CLOSED:
        raise FailedPrecondition("a CLOSED case takes no more updates")


def extended_due(status: Status, current: datetime, new: datetime | None, now: datetime) -> datetime:
    """The resolution due time an extension moves an open case to: later than both `current` and `now`.

    Only a case someone still owes work on (OPEN) can be extended; a settled one has nothing left to wait for.
    """
    if new is None:
        raise InvalidArgument("new_resolution_due", "is required")
    if status not in OPEN:
        raise FailedPrecondition(f"a {status.value} case cannot be extended; only {_names(OPEN)} cases can")
    if new <= current:
        raise InvalidArgument(
            "new_resolution_due", f"must be later than the current resolution_due {current.isoformat()}"
        )
    if new <= now:
        raise InvalidArgument("new_resolution_due", "must be in the future")
    return new


def next_update_due(case: Case, hours: int) -> datetime | None:
    """The last consumer-visible update (or the filing) + `hours`; None once the case is CLOSED."""
    if case.status is Status.CLOSED:
        return None
    last = max((u.at for u in case.updates if u.visible_to_consumer), default=case.created_at)
    return max(last, case.created_at) + timedelta(hours=hours)


def consumer_updates(case: Case) -> tuple[Update, ...]:
    """What of a case's progress its consumer is shown: the visible updates, extensions included."""
    return tuple(u for u in case.updates if u.visible_to_consumer)


def update_overdue(due: datetime | None, now: datetime) -> bool:
    return due is not None and now > due


def case_id(day: date, seq: int) -> str:
    """`DNC-20261122-000042`: the filing day (hotline's local date) and a global sequence number."""
    return f"DNC-{day:%Y%m%d}-{seq:06d}"


def payout_id(consumer_key: bytes, caller_e164: str) -> str:
    """The same (consumer, caller) pair always yields the same id, so no retry can book a second payout."""
    digest = hashlib.sha256(consumer_key + b"\x00" + caller_e164.encode()).hexdigest()
    return f"PO-{digest[:20]}"


def summary(findings: Sequence[Finding], owed: Money) -> str:
    """One line for the history: how many callers got which verdict and what is owed."""
    counts: dict[CallerVerdict, int] = {}
    for f in findings:
        counts[f.verdict] = counts.get(f.verdict, 0) + 1
    parts = [f"{n} {v.value.lower().replace('_', ' ')}" for v, n in counts.items()]
    return f"{', '.join(parts) or 'no callers'}; {owed} owed"


def _names(statuses: frozenset[Status]) -> str:
    return ", ".join(sorted(s.value for s in statuses))


class PayoutStatus(Enum):
    PENDING = "PENDING"
    PAID = "PAID"


@dataclass(frozen=True, slots=True)
class Payout:
    """One line of the ledger: what one consumer is owed for one caller number, and whether it was paid."""

    payout_id: str
    case_id: str
    consumer_masked: str
    caller_e164: str
    amount: Money
    status: PayoutStatus
    created_at: datetime
    paid_at: datetime | None = None
    payment_reference: str = ""
    paid_by: str = ""  # the principal that marked it paid; "" while pending, or paid before access control
    due_at: datetime | None = None  # when it must be paid by; None: booked before due dates were recorded

    def overdue(self, now: datetime) -> bool:
        """Whether it is still pending past its due time (one with no due date recorded never is)."""
        return self.status is PayoutStatus.PENDING and self.due_at is not None and now > self.due_at


def needs_payment(payout: Payout, reference: str) -> bool:
    """Whether marking a payout paid changes anything: the same reference again is a no-op, another an error."""
    if payout.status is PayoutStatus.PENDING:
        return True
    if payout.payment_reference == reference:
        return False
    raise FailedPrecondition(
        f"payout {payout.payout_id} was already paid with reference {payout.payment_reference!r}; "
        f"refusing to record a second payment {reference!r}"
    )
