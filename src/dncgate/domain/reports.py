"""What the compensation fund and the violation report say: totals per period, violations per agent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from dncgate.domain.money import Money
from dncgate.domain.types import Reason
from dncgate.domain.verification import rules_in_order


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
    # Of verified_complaints: CALLED_OUTSIDE_GATEWAY findings naming the agent.
    calls_outside_gateway: int = 0
    # RULE_VIOLATED findings resting on the agent's calls: violations that pay nothing.
    rule_violation_complaints: int = 0
    # Of violating_calls: how many per logged reason, in the Check's precedence.
    by_reason: tuple[tuple[Reason, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ViolationReport:
    org_id: str
    agents: tuple[AgentViolations, ...]
    violating_calls: int
    verified_complaints: int
    calls_outside_gateway: int = 0
    rule_violation_complaints: int = 0
    by_reason: tuple[tuple[Reason, int], ...] = ()


@dataclass(frozen=True, slots=True)
class OrgViolations:
    """What the call log and the findings say of an org's agents in a window (`violation_report`'s
    input): violating calls per agent and logged reason, and (agent, case_id, finding position) for
    each VERIFIED and each RULE_VIOLATED finding resting on one of the agent's calls."""

    calls: Mapping[str, Mapping[Reason, int]]
    verified: Set[tuple[str, str, int]]
    rule_violated: Set[tuple[str, str, int]] = frozenset()


def _by_reason(counts: Mapping[Reason, int]) -> tuple[tuple[Reason, int], ...]:
    return tuple((r, counts[r]) for r in rules_in_order(r for r, n in counts.items() if n))


def violation_report(
    org_id: str,
    violating_calls: Mapping[str, int],
    verified: Iterable[tuple[str, str, int]],
    outside: Iterable[tuple[str, str, int]] = (),
    rule_violated: Iterable[tuple[str, str, int]] = (),
    by_reason: Mapping[str, Mapping[Reason, int]] | None = None,
) -> ViolationReport:
    """Per agent, worst first. `verified` holds (agent, case_id, finding position) for each verified
    finding that rests on one of the agent's calls; a finding resting on two agents' calls counts for
    each agent, and once in the org's total. `outside` holds the same for CALLED_OUTSIDE_GATEWAY
    findings (the agent their line belonged to, "" for the org's own line): they are verified
    complaints too, and counted apart as calls outside the gateway. `rule_violated` holds the same for
    RULE_VIOLATED findings, counted apart from verified complaints (they pay nothing); `by_reason`
    splits each agent's violating calls by the reason the Check logged."""
    findings_by_agent: dict[str, set[tuple[str, int]]] = {}
    outside_by_agent: dict[str, set[tuple[str, int]]] = {}
    rules_by_agent: dict[str, set[tuple[str, int]]] = {}
    every_finding: set[tuple[str, int]] = set()
    every_outside: set[tuple[str, int]] = set()
    every_rule: set[tuple[str, int]] = set()
    for agent, case_id, position in verified:
        findings_by_agent.setdefault(agent, set()).add((case_id, position))
        every_finding.add((case_id, position))
    for agent, case_id, position in outside:
        findings_by_agent.setdefault(agent, set()).add((case_id, position))
        outside_by_agent.setdefault(agent, set()).add((case_id, position))
        every_finding.add((case_id, position))
        every_outside.add((case_id, position))
    for agent, case_id, position in rule_violated:
        rules_by_agent.setdefault(agent, set()).add((case_id, position))
        every_rule.add((case_id, position))
    reasons = by_reason or {}
    org_reasons: dict[Reason, int] = {}
    for counts in reasons.values():
        for r, n in counts.items():
            org_reasons[r] = org_reasons.get(r, 0) + n
    agents = [
        AgentViolations(
            a,
            violating_calls.get(a, 0),
            len(findings_by_agent.get(a, ())),
            len(outside_by_agent.get(a, ())),
            len(rules_by_agent.get(a, ())),
            _by_reason(reasons.get(a, {})),
        )
        for a in set(violating_calls) | set(findings_by_agent) | set(rules_by_agent)
    ]
    agents.sort(key=lambda a: (-a.violating_calls, -a.verified_complaints, -a.rule_violation_complaints, a.agent_id))
    return ViolationReport(
        org_id,
        tuple(agents),
        sum(violating_calls.values()),
        len(every_finding),
        len(every_outside),
        len(every_rule),
        _by_reason(org_reasons),
    )


def org_report(org_id: str, facts: OrgViolations, outside: Iterable[tuple[str, str, int]]) -> ViolationReport:
    """`violation_report` from what the store read (`OrgViolations`) and the org's calls outside the gateway."""
    totals = {agent: sum(counts.values()) for agent, counts in facts.calls.items()}
    return violation_report(org_id, totals, facts.verified, outside, facts.rule_violated, facts.calls)


@dataclass(frozen=True, slots=True)
class Share:
    """`met` of `of` cases (or payouts, replies): kept as counts so a ratio is computed exactly, once."""

    met: int = 0
    of: int = 0

    def __add__(self, other: Share) -> Share:
        return Share(self.met + other.met, self.of + other.of)

    @property
    def ratio(self) -> float | None:
        """`met / of`, None when nothing was counted."""
        return self.met / self.of if self.of else None


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """How the hotline served a set of cases (those filed in a period, of one assignee or all).

    - `answered`: cases whose first response (the first verdict stage or consumer-visible update) came
      within the first-response hours of filing, of those answered or past that deadline unanswered;
      `answer_pending` are neither (no response yet, deadline ahead). `resolved` likewise with the
      first verdict stage against the resolution hours.
    - `updates_overdue`: cases whose update clock lapsed at least once (a gap longer than the update
      hours between the filing, the consumer-visible updates and the close, or now while open).
    - `regulator_replies`: regulator cases replied by their reply due time, of those replied or due.
    - `satisfaction_sum` over `rated` cases (satisfaction 1-5).
    - revisits done (`revisits_on_time` of them by their revisit due time), overdue (due, none done),
      and `recurrences` (revisits that found the calls back).
    - `payouts_on_time`: payouts paid by their due time, of those paid or past due.
    """

    cases_filed: int = 0
    answered: Share = Share()
    answer_pending: int = 0
    resolved: Share = Share()
    resolution_pending: int = 0
    updates_overdue: int = 0
    regulator_replies: Share = Share()
    satisfaction_sum: int = 0
    rated: int = 0
    revisits_done: int = 0
    revisits_on_time: int = 0
    revisits_overdue: int = 0
    recurrences: int = 0
    payouts_on_time: Share = Share()

    def __add__(self, other: ServiceFigures) -> ServiceFigures:
        return ServiceFigures(
            self.cases_filed + other.cases_filed,
            self.answered + other.answered,
            self.answer_pending + other.answer_pending,
            self.resolved + other.resolved,
            self.resolution_pending + other.resolution_pending,
            self.updates_overdue + other.updates_overdue,
            self.regulator_replies + other.regulator_replies,
            self.satisfaction_sum + other.satisfaction_sum,
            self.rated + other.rated,
            self.revisits_done + other.revisits_done,
            self.revisits_on_time + other.revisits_on_time,
            self.revisits_overdue + other.revisits_overdue,
            self.recurrences + other.recurrences,
            self.payouts_on_time + other.payouts_on_time,
        )

    @property
    def mean_satisfaction(self) -> float | None:
        """The mean of the ratings given, None when no case was rated."""
        return self.satisfaction_sum / self.rated if self.rated else None


@dataclass(frozen=True, slots=True)
class AssigneeService:
    assignee: str
    figures: ServiceFigures


@dataclass(frozen=True, slots=True)
class ServicePeriod:
    """One period: a row per assignee (by name; '' is the cases never assigned) and their total."""

    start: datetime
    assignees: tuple[AssigneeService, ...]
    total: ServiceFigures


@dataclass(frozen=True, slots=True)
class ServiceReport:
    """`generated_at`: the moment the figures were counted at (what was due, what is open)."""

    period: Period
    periods: tuple[ServicePeriod, ...]
    total: ServiceFigures
    generated_at: datetime


def service_report(
    period: Period, rows: Iterable[tuple[datetime, str, ServiceFigures]], generated_at: datetime
) -> ServiceReport:
    """The report of `rows` (period start, assignee, figures of the cases filed then and assigned so):
    periods oldest first, assignees by name, a total per period and over the range. Rows naming the
    same period and assignee twice are added."""
    grouped: dict[datetime, dict[str, ServiceFigures]] = {}
    for start, assignee, figures in rows:
        mine = grouped.setdefault(start, {})
        mine[assignee] = mine.get(assignee, ServiceFigures()) + figures
    periods = []
    for start in sorted(grouped):
        assignees = tuple(AssigneeService(a, f) for a, f in sorted(grouped[start].items()))
        periods.append(ServicePeriod(start, assignees, _sum(a.figures for a in assignees)))
    return ServiceReport(period, tuple(periods), _sum(p.total for p in periods), generated_at)


def _sum(figures: Iterable[ServiceFigures]) -> ServiceFigures:
    total = ServiceFigures()
    for f in figures:
        total = total + f
    return total
