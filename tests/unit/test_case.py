"""The case lifecycle: status from findings, allowed moves, ids, due times, overdue, payments, money."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from dncgate.domain import case as cases
from dncgate.domain.case import Deadlines, Payout, PayoutStatus, Status
from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from dncgate.domain.money import Money
from dncgate.domain.reports import FundPeriod, fund_summary, violation_report
from dncgate.domain.verification import CallerVerdict, Finding
from tests.reference import is_overdue

T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
ZERO = Money(0, "CNY")


def findings(*verdicts: CallerVerdict) -> list[Finding]:
    return [Finding(f"+8627590{i:05d}", v, ZERO) for i, v in enumerate(verdicts)]


V, N, C, R, K = (
    CallerVerdict.VERIFIED,
    CallerVerdict.NO_MATCHING_CALL,
    CallerVerdict.CONSENT_ON_FILE,
    CallerVerdict.NOT_REGISTERED_AT_CALL_TIME,
    CallerVerdict.ALREADY_COMPENSATED,
)


@pytest.mark.parametrize(
    ("verdicts", "disputed", "status"),
    [
        ((V,), False, Status.VERIFIED),
        ((V, V), False, Status.VERIFIED),
        ((V, N), False, Status.PARTIALLY_VERIFIED),
        ((V, V, N), False, Status.PARTIALLY_VERIFIED),
        ((V, C), True, Status.PARTIALLY_VERIFIED),
        ((V, K), False, Status.PARTIALLY_VERIFIED),
        ((C,), True, Status.MANUAL_REVIEW),
        ((C, N, R, K), True, Status.MANUAL_REVIEW),
        ((C,), False, Status.REJECTED),
        ((C, N, R), False, Status.REJECTED),
        ((C, K), False, Status.ALREADY_COMPENSATED),
        ((K,), False, Status.ALREADY_COMPENSATED),
        ((K, K), False, Status.ALREADY_COMPENSATED),
        ((K, N, R), True, Status.ALREADY_COMPENSATED),
        ((N,), False, Status.REJECTED),
        ((N,), True, Status.REJECTED),
        ((R, N), False, Status.REJECTED),
        ((), False, Status.REJECTED),
    ],
)
def test_status_follows_the_findings(verdicts: tuple[CallerVerdict, ...], disputed: bool, status: Status) -> None:
    """All verified → VERIFIED; some → PARTIALLY; none: a disputed consent → MANUAL_REVIEW, else a pair
    paid before → ALREADY_COMPENSATED, else REJECTED (an undisputed consent included)."""
    assert cases.status_of(findings(*verdicts), disputed) is status


def test_already_compensated_is_a_settled_case_the_consumer_confirms() -> None:
    """ALREADY_COMPENSATED: not open (never overdue), not reviewable, not waiting for money; confirmable."""
    k = Status.ALREADY_COMPENSATED
    assert k in cases.CONFIRMABLE and k not in cases.OPEN | cases.REVIEWABLE | cases.AWAITING_PAYMENT
    assert cases.after_confirmation(k, True, pending_payouts=[], override=False) is Status.CLOSED
    assert cases.after_confirmation(k, False, pending_payouts=[], override=False) is Status.REOPENED
    assert cases.after_payment(k, [True]) is k


@pytest.mark.parametrize("status", sorted(cases.CONFIRMABLE, key=lambda s: s.value))
def test_confirmation_closes_or_reopens_a_settled_case(status: Status) -> None:
    """Satisfied → CLOSED; not satisfied → REOPENED."""
    assert cases.after_confirmation(status, True, pending_payouts=[], override=False) is Status.CLOSED
    assert cases.after_confirmation(status, False, pending_payouts=[], override=False) is Status.REOPENED


def test_closing_needs_every_payout_paid_or_an_override() -> None:
    """A pending payout refuses CLOSED, naming the payouts; an override closes; reopening is never held up."""
    with pytest.raises(FailedPrecondition) as info:
        cases.after_confirmation(Status.VERIFIED, True, pending_payouts=["PO-b", "PO-a"], override=False)
    assert "PO-a, PO-b" in str(info.value)
    assert cases.after_confirmation(Status.VERIFIED, True, pending_payouts=["PO-a"], override=True) is Status.CLOSED
    assert (
        cases.after_confirmation(Status.PARTIALLY_VERIFIED, False, pending_payouts=["PO-a"], override=False)
        is Status.REOPENED
    )


@pytest.mark.parametrize("status", [Status.RECEIVED, Status.MANUAL_REVIEW, Status.CLOSED, Status.REOPENED])
def test_confirmation_of_an_unsettled_or_closed_case_is_refused(status: Status) -> None:
    """A case waiting for a human, or already closed, cannot be confirmed, override or not."""
    for override in (False, True):
        with pytest.raises(FailedPrecondition):
            cases.after_confirmation(status, True, pending_payouts=[], override=override)


@pytest.mark.parametrize("status", [Status.MANUAL_REVIEW, Status.REOPENED])
@pytest.mark.parametrize("decision", [Status.VERIFIED, Status.REJECTED])
def test_review_decides_a_case_waiting_for_a_human(status: Status, decision: Status) -> None:
    """MANUAL_REVIEW and REOPENED cases take the operator's VERIFIED or REJECTED."""
    assert cases.after_review(status, decision) is decision


@pytest.mark.parametrize("status", [s for s in Status if s not in cases.REVIEWABLE])
def test_review_of_other_cases_is_a_failed_precondition(status: Status) -> None:
    """Only MANUAL_REVIEW and REOPENED cases can be reviewed."""
    with pytest.raises(FailedPrecondition):
        cases.after_review(status, Status.VERIFIED)


@pytest.mark.parametrize("decision", [s for s in Status if s not in (Status.VERIFIED, Status.REJECTED)])
def test_review_decision_must_be_verified_or_rejected(decision: Status) -> None:
    """Any other decision is an invalid `decision` argument."""
    with pytest.raises(InvalidArgument) as info:
        cases.after_review(Status.MANUAL_REVIEW, decision)
    assert info.value.field == "decision"


def test_a_case_is_paid_when_its_last_payout_is() -> None:
    """VERIFIED / PARTIALLY_VERIFIED become PAID only when every payout is paid; others keep their status."""
    assert cases.after_payment(Status.VERIFIED, [True, True]) is Status.PAID
    assert cases.after_payment(Status.PARTIALLY_VERIFIED, [True]) is Status.PAID
    assert cases.after_payment(Status.VERIFIED, [True, False]) is Status.VERIFIED
    assert cases.after_payment(Status.VERIFIED, []) is Status.VERIFIED
    assert cases.after_payment(Status.CLOSED, [True]) is Status.CLOSED
    assert cases.after_payment(Status.REOPENED, [True]) is Status.REOPENED


def test_case_ids_read_like_the_hotline_expects() -> None:
    """DNC-YYYYMMDD-NNNNNN from the filing day and the sequence."""
    assert cases.case_id(date(2026, 11, 22), 42) == "DNC-20261122-000042"
    assert cases.case_id(date(2026, 11, 22), 1234567) == "DNC-20261122-1234567"


def test_payout_id_is_derived_from_the_pair_only() -> None:
    """The same consumer and caller always give the same id; another caller or consumer another id."""
    k1, k2 = b"\x01" * 32, b"\x02" * 32
    a = cases.payout_id(k1, "+862759001111")
    assert a == cases.payout_id(k1, "+862759001111")
    assert a.startswith("PO-") and len(a) == 23
    assert len({a, cases.payout_id(k1, "+862759002222"), cases.payout_id(k2, "+862759001111")}) == 3


def test_due_times_come_from_the_filing_time() -> None:
    """First response 24 h and resolution 72 h after filing by default, configurable."""
    assert Deadlines().first_response_due(T0) == T0 + timedelta(hours=24)
    assert Deadlines().resolution_due(T0) == T0 + timedelta(hours=72)
    assert Deadlines(2, 8).resolution_due(T0) == T0 + timedelta(hours=8)


def test_open_cases_past_their_resolution_time_are_overdue() -> None:
    """Overdue: open past resolution (or RECEIVED past first response); settled cases never are."""
    first, res = T0 + timedelta(hours=24), T0 + timedelta(hours=72)
    late, early, mid = res + timedelta(seconds=1), T0, first + timedelta(seconds=1)
    for status in cases.OPEN:
        assert is_overdue(status, first, res, late)
        assert not is_overdue(status, first, res, early)
    for status in set(Status) - cases.OPEN:
        assert not is_overdue(status, first, res, late)
    assert is_overdue(Status.RECEIVED, first, res, mid)
    assert not is_overdue(Status.VERIFIED, first, res, mid)


def _payout(status: PayoutStatus, ref: str = "") -> Payout:
    return Payout("PO-1", "DNC-1", "+86138****8000", "+862759001111", Money(10000, "CNY"), status, T0, None, ref)


def test_marking_paid_is_idempotent_on_the_reference() -> None:
    """Pending → needs payment; paid with the same reference → nothing to do; another reference → refused."""
    assert cases.needs_payment(_payout(PayoutStatus.PENDING), "R1")
    assert not cases.needs_payment(_payout(PayoutStatus.PAID, "R1"), "R1")
    with pytest.raises(FailedPrecondition):
        cases.needs_payment(_payout(PayoutStatus.PAID, "R1"), "R2")


def test_summary_line_counts_verdicts_and_money() -> None:
    """The history line says how many callers got which verdict and what is owed."""
    line = cases.summary(findings(V, V, N), Money(20000, "CNY"))
    assert line == "2 verified, 1 no matching call; 200.00 CNY owed"


@pytest.mark.parametrize(
    ("text", "minor", "currency"),
    [("100.00 CNY", 10000, "CNY"), ("100 CNY", 10000, "CNY"), ("0.5 CNY", 50, "CNY"), ("500 JPY", 500, "JPY")],
)
def test_money_parses_exactly_in_minor_units(text: str, minor: int, currency: str) -> None:
    """Amounts become integer minor units with no float in between."""
    assert Money.parse(text) == Money(minor, currency)


@pytest.mark.parametrize(
    "text", ["100.001 CNY", "1e2 CNY", "-5 CNY", "0 CNY", "100.00", "100.00 cny", "CNY 100", "1.5 JPY", " . CNY", ""]
)
def test_money_refuses_anything_loose(text: str) -> None:
    """Too many decimals, exponents, negatives, zero, lower-case or missing currencies are refused."""
    with pytest.raises(ValueError):
        Money.parse(text)


def test_money_maps_to_units_and_nanos_and_prints_plainly() -> None:
    """100.05 CNY is 100 units and 50,000,000 nanos; adding needs one currency."""
    m = Money(10005, "CNY")
    assert m.units_nanos() == (100, 50_000_000)
    assert Money(500, "JPY").units_nanos() == (500, 0)
    assert str(m) == "100.05 CNY" and str(Money(500, "JPY")) == "500 JPY"
    assert m + m == Money(20010, "CNY") and m.times(3) == Money(30015, "CNY")
    with pytest.raises(ValueError):
        m + Money(1, "USD")


def test_fund_summary_adds_up_the_periods_in_order() -> None:
    """Totals are the sums of the periods, which come back oldest first."""
    m = Money(10000, "CNY")
    later = FundPeriod(T0, 1, m, 2, m.times(2))
    earlier = FundPeriod(T0 - timedelta(days=31), 3, m.times(3), 0, ZERO)
    s = fund_summary([later, earlier], "CNY")
    assert [p.start for p in s.periods] == [earlier.start, later.start]
    assert s.single is not None
    assert (s.pending_count, s.single.pending, s.paid_count, s.single.paid) == (4, m.times(4), 2, m.times(2))


def test_fund_summary_keeps_each_currency_apart() -> None:
    """Two currencies: periods per start and currency, one total per currency, counts over both."""
    cny, usd = Money(10000, "CNY"), Money(1500, "USD")
    periods = [
        FundPeriod(T0, 1, usd, 0, Money.zero("USD")),
        FundPeriod(T0, 2, cny.times(2), 1, cny),
        FundPeriod(T0 - timedelta(days=31), 1, cny, 0, ZERO),
    ]
    s = fund_summary(periods, "CNY", {"USD": (1, usd)})
    assert [(p.start, p.currency) for p in s.periods] == [(T0 - timedelta(days=31), "CNY"), (T0, "CNY"), (T0, "USD")]
    assert [(t.currency, t.pending_count, t.pending, t.paid, t.overdue_count, t.overdue) for t in s.totals] == [
        ("CNY", 3, cny.times(3), cny, 0, ZERO),
        ("USD", 1, usd, Money.zero("USD"), 1, usd),
    ]
    assert (s.single, s.pending_count, s.paid_count, s.overdue_count) == (None, 4, 1, 1)


def test_an_empty_fund_is_one_row_of_zeros_in_the_configured_currency() -> None:
    s = fund_summary([], "CNY")
    assert s.single is not None and (s.single.currency, s.single.pending, s.overdue_count) == ("CNY", ZERO, 0)


def test_a_payout_is_overdue_only_while_pending_past_its_due_time() -> None:
    """Past due_at and pending: overdue; at due_at itself, paid, or with no due date recorded: not."""
    due = T0 + timedelta(days=7)
    pending = replace(_payout(PayoutStatus.PENDING), due_at=due)
    assert pending.overdue(due + timedelta(microseconds=1))
    assert not pending.overdue(due)
    assert not replace(_payout(PayoutStatus.PAID, "R1"), due_at=due).overdue(due + timedelta(days=1))
    assert not _payout(PayoutStatus.PENDING).overdue(due + timedelta(days=365))


def test_violation_report_counts_per_agent_worst_first() -> None:
    """Violating calls and distinct verified findings per agent; a finding on two agents counts once in total."""
    r = violation_report(
        "acme", {"a1": 1, "a2": 5}, [("a1", "DNC-1", 0), ("a1", "DNC-1", 0), ("a3", "DNC-2", 1), ("a1", "DNC-2", 1)]
    )
    assert [(a.agent_id, a.violating_calls, a.verified_complaints) for a in r.agents] == [
        ("a2", 5, 0),
        ("a1", 1, 2),
        ("a3", 0, 1),
    ]
    assert (r.violating_calls, r.verified_complaints) == (6, 2)
