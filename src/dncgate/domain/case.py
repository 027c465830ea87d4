"""The complaint case: its status from the findings, the moves allowed after that, its stages, ids and due times."""

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


class Stage(Enum):
    """Where a case is in the consumer's eyes, beside its status (see `stage_for`)."""

    RECEIVED = "RECEIVED"
    VERIFYING = "VERIFYING"
    RESOLUTION_DRAFTED = "RESOLUTION_DRAFTED"
    RESOLVED = "RESOLVED"
    CONSUMER_CONFIRMED = "CONSUMER_CONFIRMED"
    REVISITED = "REVISITED"


# The moves a stage allows. A reopening goes back to VERIFYING from wherever the consumer confirmed
# from (a drafted or resolved outcome); a case she confirmed is only revisited.
STAGE_MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.RECEIVED: frozenset({Stage.VERIFYING}),
    Stage.VERIFYING: frozenset({Stage.RESOLUTION_DRAFTED, Stage.RESOLVED}),
    Stage.RESOLUTION_DRAFTED: frozenset({Stage.RESOLVED, Stage.CONSUMER_CONFIRMED, Stage.VERIFYING}),
    Stage.RESOLVED: frozenset({Stage.CONSUMER_CONFIRMED, Stage.VERIFYING}),
    Stage.CONSUMER_CONFIRMED: frozenset({Stage.REVISITED}),
    Stage.REVISITED: frozenset(),
}

# The stage each status puts a case in: money owed and not yet paid is a drafted resolution; nothing
# (more) owed, or all of it paid, is resolved; a case waiting for a human is being verified.
_STAGE_OF: dict[Status, Stage] = {
    Status.RECEIVED: Stage.RECEIVED,
    Status.MANUAL_REVIEW: Stage.VERIFYING,
    Status.REOPENED: Stage.VERIFYING,
    Status.VERIFIED: Stage.RESOLUTION_DRAFTED,
    Status.PARTIALLY_VERIFIED: Stage.RESOLUTION_DRAFTED,
    Status.REJECTED: Stage.RESOLVED,
    Status.ALREADY_COMPENSATED: Stage.RESOLVED,
    Status.PAID: Stage.RESOLVED,
    Status.CLOSED: Stage.CONSUMER_CONFIRMED,
}


def stage_for(status: Status) -> Stage:
    """The stage a case in `status` is in (REVISITED is entered only by a revisit, never by a status)."""
    return _STAGE_OF[status]


def move(current: Stage | None, to: Stage) -> Stage:
    """`to`, if a case in `current` (None: not filed yet, only RECEIVED) may move there; else FailedPrecondition."""
    allowed = frozenset({Stage.RECEIVED}) if current is None else STAGE_MOVES[current]
    if to not in allowed:
        where = "a new case" if current is None else f"a case in stage {current.value}"
        names = ", ".join(sorted(s.value for s in allowed)) or "nothing"
        raise FailedPrecondition(f"{where} cannot move to stage {to.value}; it may move to {names}")
    return to


def stages_after(current: Stage | None, status: Status) -> list[Stage]:
    """The stages a case in `current` passes through when its status becomes `status`, in order.

    A filing (`current` None) shows each step: RECEIVED, VERIFYING, then the verdict's stage (none
    more while a human still has to look: MANUAL_REVIEW stays VERIFYING). Later a status that keeps
    the stage adds nothing; one that changes it is a single move, refused if illegal.
    """
    target = stage_for(status)
    if current is None:
        path = [move(None, Stage.RECEIVED)]
        if target is not Stage.RECEIVED:
            path.append(move(Stage.RECEIVED, Stage.VERIFYING))
            if target is not Stage.VERIFYING:
                path.append(move(Stage.VERIFYING, target))
        return path
    if target is current or (current is Stage.REVISITED and status is Status.CLOSED):
        return []  # a revisited case is still CLOSED: its status keeps the stage the revisit gave it
    return [move(current, target)]


def revisited(current: Stage) -> Stage:
    """A revisit of a case the consumer confirmed (RecordRevisit): CONSUMER_CONFIRMED -> REVISITED."""
    return move(current, Stage.REVISITED)


@dataclass(frozen=True, slots=True)
class Revisit:
    """The one revisit of a closed case (RecordRevisit): when, by whom (`Principal.label`), whether the
    problem recurred, her rating (1-5, 0 not given), a note (masked free text), and the case opened for
    the recurrence ("" when it did not recur)."""

    at: datetime
    actor: str
    recurred: bool
    rating: int = 0
    note: str = ""
    recurrence_case_id: str = ""


def check_rating(value: int) -> int:
    """A revisit's rating: 1 (bad) to 5 (good); 0 means she gave none."""
    if not 0 <= value <= 5:
        raise InvalidArgument("rating", "must be 1 to 5, or 0 when not given")
    return value


def check_revisitable(case: Case) -> None:
    """Only a CLOSED case at stage CONSUMER_CONFIRMED is revisited, and once."""
    if case.revisit is not None:
        at = case.revisit.at.isoformat(timespec="seconds")
        raise FailedPrecondition(f"the case was revisited already, at {at} by {case.revisit.actor}")
    if case.status is not Status.CLOSED:
        raise FailedPrecondition(f"a {case.status.value} case cannot be revisited; only CLOSED cases can")
    revisited(case.stage)


def revisit_due(closed_at: datetime, days: int) -> datetime:
    """When the revisit of a case closed at `closed_at` is due (DNCGATE_REVISIT_DAYS later)."""
    return closed_at + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class StageEntry:
    """One step of a case's timeline: the stage entered, when, and by whom (`Principal.label`, or SYSTEM)."""

    stage: Stage
    at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The consumer's sign-off as stored on the case: resolved (None until she answered), how
    satisfied (1-5, 0 not given) and what remains (masked free text)."""

    resolved: bool | None = None
    satisfaction: int = 0
    remaining_issue: str = ""


def closes(resolved: bool, remaining_issue: str) -> bool:
    """Her answer closes the case only when she says it is resolved and names nothing remaining."""
    return resolved and not remaining_issue.strip()


def check_satisfaction(value: int) -> int:
    """1 (not at all) to 5 (fully); 0 means she gave none."""
    if not 0 <= value <= 5:
        raise InvalidArgument("satisfaction", "must be 1 to 5, or 0 when not given")
    return value


def check_assignable(status: Status) -> None:
    """A case can be handed to another operator in every status but CLOSED."""
    if status is Status.CLOSED:
        raise FailedPrecondition("a CLOSED case is not assigned any more")


class DueState(Enum):
    """A due time a case is past now: its first response (still RECEIVED), its resolution (still
    OPEN), or its next consumer-visible update (not CLOSED)."""

    FIRST_RESPONSE_OVERDUE = "FIRST_RESPONSE_OVERDUE"
    RESOLUTION_OVERDUE = "RESOLUTION_OVERDUE"
    UPDATE_OVERDUE = "UPDATE_OVERDUE"
    # CLOSED, not revisited yet, past its revisit_due.
    REVISIT_OVERDUE = "REVISIT_OVERDUE"


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """ListComplaints' filters beyond consumer and status: the operator, the stage, and the due times
    that must have passed (`..._at`: now, when the filter is on)."""

    assignee: str = ""
    stage: Stage | None = None
    first_response_overdue_at: datetime | None = None
    resolution_overdue_at: datetime | None = None
    revisit_overdue_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    """A hotline operator's place in the queue: whether she takes new cases, who said so, how many she got."""

    name: str
    available: bool
    updated_at: datetime
    updated_by: str
    assigned_count: int = 0


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    note: str = ""


class UpdateKind(Enum):
    PROGRESS = "PROGRESS"  # AddComplaintUpdate: visible to the consumer or internal
    EXTENSION = "EXTENSION"  # ExtendComplaint: always visible; moves resolution_due
    # The company's reply to a regulator's forwarded complaint (CHANNEL_REGULATOR cases only). It is
    # addressed to the regulator, so it is internal unless its author marks it visible to the consumer.
    REGULATOR_REPLY = "REGULATOR_REPLY"
    # A major case's progress statement: always visible to the consumer (it is owed to her).
    PROGRESS_STATEMENT = "PROGRESS_STATEMENT"


# The kinds AddComplaintUpdate records (EXTENSION is ExtendComplaint's own).
ADDABLE_KINDS = frozenset({UpdateKind.PROGRESS, UpdateKind.REGULATOR_REPLY, UpdateKind.PROGRESS_STATEMENT})


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
class WorkdayDeadlines:
    """How many working days (China's calendar, counted by a WorkdayCalendar) the regulator's reply and
    a major case's progress statement may take."""

    regulator_reply: int = 15
    major_progress: int = 10


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
    stage: Stage = Stage.RECEIVED
    timeline: tuple[StageEntry, ...] = ()
    assignee: str = ""  # the operator in charge (`Principal.name`); "" on cases filed before owners existed
    confirmation: Confirmation = Confirmation()
    # Working-day deadlines (see WorkdayDeadlines): a CHANNEL_REGULATOR case's reply to the regulator,
    # and a major case's progress statement; each *_at is when the first one was recorded.
    regulator_reply_due: datetime | None = None
    regulator_replied_at: datetime | None = None
    major_since: datetime | None = None
    progress_statement_due: datetime | None = None
    progress_statement_at: datetime | None = None
    # When it closed and when its revisit is due (closed_at + DNCGATE_REVISIT_DAYS); None until it
    # closes (and on cases closed before revisits were promised). The revisit once recorded, and the
    # case this one recurs from (opened by that case's revisit; "" otherwise).
    closed_at: datetime | None = None
    revisit_due: datetime | None = None
    revisit: Revisit | None = None
    recurrence_of: str = ""

    @property
    def major(self) -> bool:
        return self.major_since is not None

    def revisit_overdue(self, now: datetime) -> bool:
        """CLOSED, not revisited yet, and past its revisit's due time at `now`."""
        return self.status is Status.CLOSED and _late(self.revisit_due, self.revisit.at if self.revisit else None, now)

    def regulator_reply_overdue(self, now: datetime) -> bool:
        """Not replied to the regulator yet, and past the reply's due time at `now`."""
        return _late(self.regulator_reply_due, self.regulator_replied_at, now)

    def progress_statement_overdue(self, now: datetime) -> bool:
        """A major case without its progress statement yet, past the statement's due time at `now`."""
        return _late(self.progress_statement_due, self.progress_statement_at, now)


def _late(due: datetime | None, done: datetime | None, now: datetime) -> bool:
    return due is not None and done is None and now > due


def status_of(findings: Sequence[Finding], disputes_consent: bool = False) -> Status:
    """The case's status from its findings, first match wins.

    Every caller VERIFIED (or CALLED_OUTSIDE_GATEWAY, which pays alike): VERIFIED; some:
    PARTIALLY_VERIFIED. None verified: MANUAL_REVIEW if the
    consumer disputes a consent on file (a CONSENT_ON_FILE finding and `disputes_consent`); else
    ALREADY_COMPENSATED if any finding is (a pair paid by an earlier case: nothing new is owed);
    else REJECTED (an undisputed consent, no call, not registered).
    """
    verified = sum(1 for f in findings if f.owed)
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
    """The consumer's answer to the outcome: CLOSED when it closes the case (`satisfied`: see `closes`),
    else REOPENED for another look.

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


def visible_for(kind: UpdateKind, visible_to_consumer: bool) -> bool:
    """Whether an update of `kind` is shown to the consumer: a progress statement always is."""
    return visible_to_consumer or kind is UpdateKind.PROGRESS_STATEMENT


def check_update_kind(case: Case, kind: UpdateKind) -> None:
    """What AddComplaintUpdate may record on `case`.

    PROGRESS: every status but CLOSED. REGULATOR_REPLY: CHANNEL_REGULATOR cases only, in every status
    (the regulator is owed its reply even when the case closed quickly). PROGRESS_STATEMENT: major
    cases only, every status but CLOSED.
    """
    if kind not in ADDABLE_KINDS:
        raise InvalidArgument("kind", f"AddComplaintUpdate records {_kind_names(ADDABLE_KINDS)}, not {kind.value}")
    if kind is UpdateKind.REGULATOR_REPLY:
        if case.channel is not Channel.REGULATOR:
            raise FailedPrecondition(
                f"a regulator reply is recorded on CHANNEL_REGULATOR cases only; this case came by {case.channel.value}"
            )
        return
    if kind is UpdateKind.PROGRESS_STATEMENT and not case.major:
        raise FailedPrecondition("a progress statement is owed by major cases only; escalate the case first")
    check_updatable(case.status)


def check_escalatable(case: Case) -> None:
    """Only an open case that is not major yet can be escalated."""
    if case.major_since is not None:
        raise FailedPrecondition(f"the case is major already, since {case.major_since.isoformat(timespec='seconds')}")
    if case.status not in OPEN:
        raise FailedPrecondition(f"a {case.status.value} case cannot be escalated; only {_names(OPEN)} cases can")


def _kind_names(kinds: frozenset[UpdateKind]) -> str:
    return ", ".join(sorted(k.value for k in kinds))


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
