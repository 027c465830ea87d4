"""What the compensation fund and the violation report say: totals per period, violations per agent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from dncgate.domain.money import Money


class Period(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class FundPeriod:
    """In one currency: payouts booked in the period and still pending, and payouts paid in the period."""

    start: datetime
    pending_count: int
    pending: Money
    paid_count: int
    paid: Money

    @property
    def currency(self) -> str:
        return self.pending.currency


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """The fund in one currency: pending and paid over the whole range, and what of the pending is overdue."""

    currency: str
    pending_count: int
    pending: Money
    paid_count: int
    paid: Money
    overdue_count: int
    overdue: Money


@dataclass(frozen=True, slots=True)
class FundSummary:
    """Periods oldest first (one per period and currency, currencies in order), totals per currency.

    Amounts of different currencies are never added; counts are, over every currency.
    """

    periods: tuple[FundPeriod, ...]
    totals: tuple[CurrencyTotals, ...]

    @property
    def pending_count(self) -> int:
        return sum(t.pending_count for t in self.totals)

    @property
    def paid_count(self) -> int:
        return sum(t.paid_count for t in self.totals)

    @property
    def overdue_count(self) -> int:
        return sum(t.overdue_count for t in self.totals)

    @property
    def single(self) -> CurrencyTotals | None:
        """The totals when the fund is in exactly one currency, else None."""
        return self.totals[0] if len(self.totals) == 1 else None


def fund_summary(
    periods: Iterable[FundPeriod], currency: str, overdue: Mapping[str, tuple[int, Money]] | None = None
) -> FundSummary:
    """The summary of `periods`, with `overdue` (currency -> count, amount) of their pending payouts.

    With no payout at all, one row of zeros in `currency` (the configured one).
    """
    overdue = overdue or {}
    ordered = tuple(sorted(periods, key=lambda p: (p.start, p.currency)))
    currencies = sorted({p.currency for p in ordered} | set(overdue)) or [currency]
    totals = []
    for c in currencies:
        mine = [p for p in ordered if p.currency == c]
        pending, paid = Money.zero(c), Money.zero(c)
        for p in mine:
            pending, paid = pending + p.pending, paid + p.paid
        late_count, late = overdue.get(c, (0, Money.zero(c)))
        totals.append(
            CurrencyTotals(
                c,
                sum(p.pending_count for p in mine),
                pending,
                sum(p.paid_count for p in mine),
                paid,
                late_count,
                late,
            )
        )
    return FundSummary(ordered, tuple(totals))


@dataclass(frozen=True, slots=True)
class AgentViolations:
    agent_id: str
    violating_calls: int
    verified_complaints: int


@dataclass(frozen=True, slots=True)
class ViolationReport:
    org_id: str
    agents: tuple[AgentViolations, ...]
    violating_calls: int
    verified_complaints: int


def violation_report(
    org_id: str, violating_calls: Mapping[str, int], verified: Iterable[tuple[str, str, int]]
) -> ViolationReport:
    """Per agent, worst first. `verified` holds (agent, case_id, finding position) for each verified
    finding that rests on one of the agent's calls; a finding resting on two agents' calls counts for
    each agent, and once in the org's total."""
    findings_by_agent: dict[str, set[tuple[str, int]]] = {}
    every_finding: set[tuple[str, int]] = set()
    for agent, case_id, position in verified:
        findings_by_agent.setdefault(agent, set()).add((case_id, position))
        every_finding.add((case_id, position))
    agents = [
        AgentViolations(a, violating_calls.get(a, 0), len(findings_by_agent.get(a, ())))
        for a in set(violating_calls) | set(findings_by_agent)
    ]
    agents.sort(key=lambda a: (-a.violating_calls, -a.verified_complaints, a.agent_id))
    return ViolationReport(org_id, tuple(agents), sum(violating_calls.values()), len(every_finding))
