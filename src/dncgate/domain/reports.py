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
    """Payouts booked in the period and still pending, and payouts paid in the period."""

    start: datetime
    pending_count: int
    pending: Money
    paid_count: int
    paid: Money


@dataclass(frozen=True, slots=True)
class FundSummary:
    periods: tuple[FundPeriod, ...]
    pending_count: int
    pending: Money
    paid_count: int
    paid: Money


def fund_summary(periods: Iterable[FundPeriod], currency: str) -> FundSummary:
    ordered = tuple(sorted(periods, key=lambda p: p.start))
    pending, paid = Money.zero(currency), Money.zero(currency)
    for p in ordered:
        pending, paid = pending + p.pending, paid + p.paid
    return FundSummary(
        ordered,
        sum(p.pending_count for p in ordered),
        pending,
        sum(p.paid_count for p in ordered),
        paid,
    )


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
