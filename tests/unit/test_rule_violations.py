"""RULE_VIOLATED: placed calls that broke a rule beyond her registration are violations that pay nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from dncgate.domain import notices
from dncgate.domain.decision import (
    BLOCKING_ORDER,
    CONSENT_REQUIRED,
    NO_RULES,
    RANGE_BLOCK,
    UNKNOWN_LINE,
    decide_case,
)
from dncgate.domain.money import Money
from dncgate.domain.registry import ConsentChange, PreferenceChange
from dncgate.domain.reports import OrgViolations, org_report
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Mode, Reason, Source
from dncgate.domain.verification import (
    NOT_A_RULE,
    CallerVerdict,
    LoggedCall,
    Window,
    rules_in_order,
    total,
    verify_caller,
)

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
H = timedelta(hours=1)
A = "+862759001111"
FEE = Money(10000, "CNY")
WINDOW = Window(T0 - 24 * H, T0 + 24 * H)
_seq = iter(range(1, 10**6))
RULES = sorted(set(Reason) - NOT_A_RULE, key=lambda r: r.value)


def call(
    at: datetime,
    reason: Reason,
    *,
    violation: bool = True,
    decision: Decision = Decision.ALLOW,
    dialled: bool | None = None,
) -> LoggedCall:
    """A Check on record from caller A (acme, a17): by default a monitor-mode ALLOW flagged for `reason`."""
    return LoggedCall(
        f"c{next(_seq)}", at, A, "acme", "a17", Category.REAL_ESTATE, decision, dialled, reason, violation
    )


def dnd(at: datetime) -> PreferenceChange:
    return PreferenceChange(next(_seq), True, ALL_CATEGORIES_MASK, Source.APP, at, at)


def consent(at: datetime) -> ConsentChange:
    return ConsentChange(next(_seq), "acme", "", True, None, "signed form", at, at)


def one(
    calls: list[LoggedCall], prefs: list[PreferenceChange] | None = None, consents: list[ConsentChange] | None = None
):
    return verify_caller(A, calls, WINDOW, prefs or [], consents or [], FEE)


def test_the_rules_are_every_blocking_reason_but_registration_the_org_list_and_unjudged_checks() -> None:
    """Caps, quiet days, ranges, calling hours, unknown lines and opt-in are rules; a future reason is one
    by default."""
    assert {
        Reason.NO_CONSENT,
        Reason.FREQUENCY_CAP,
        Reason.QUIET_DAY,
        Reason.RANGE_BLOCKED,
        Reason.OUTSIDE_CALLING_HOURS,
        Reason.UNKNOWN_CALLER_LINE,
    } <= set(RULES)
    assert {
        Reason.NOT_REGISTERED,
        Reason.CONSENT_ON_FILE,
        Reason.REGISTERED,
        Reason.ORG_LIST,
        Reason.INVALID_NUMBER,
        Reason.REGISTRY_UNAVAILABLE,
    } == NOT_A_RULE


@pytest.mark.parametrize("reason", RULES, ids=lambda r: r.value)
def test_a_flagged_call_that_broke_a_rule_is_rule_violated_naming_it_and_paying_nothing(reason: Reason) -> None:
    """Monitor mode let the call through with the flag: RULE_VIOLATED, that call, that rule, 0 owed."""
    c = call(T0, reason)
    f = one([c])
    assert (f.verdict, f.call_ids, f.rules_broken, f.amount) == (
        CallerVerdict.RULE_VIOLATED,
        (c.call_id,),
        (reason,),
        Money.zero("CNY"),
    )
    assert not f.owed and total([f], "CNY") == Money.zero("CNY")


@pytest.mark.parametrize("reason", sorted(NOT_A_RULE - {Reason.REGISTERED, Reason.ORG_LIST}, key=lambda r: r.value))
def test_a_call_logged_with_an_excluded_reason_is_no_rule_violation(reason: Reason) -> None:
    """An ALLOW reason, an invalid number or an unavailable registry: not registered, as before."""
    for c in (call(T0, reason), call(T0, reason, decision=Decision.BLOCK, dialled=True)):
        assert one([c]).verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME


@pytest.mark.parametrize("reason", [Reason.REGISTERED, Reason.ORG_LIST], ids=lambda r: r.value)
def test_registration_and_the_org_list_are_judged_from_the_journal_not_the_logged_reason(reason: Reason) -> None:
    """A logged REGISTERED/ORG_LIST the journal does not bear out is no rule violation; one it bears out pays."""
    c = call(T0, reason)
    assert one([c]).verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME
    if reason is Reason.REGISTERED:
        assert one([c], [dnd(T0 - H)]).verdict is CallerVerdict.VERIFIED


def test_a_call_allowed_without_the_violation_flag_never_counts() -> None:
    """An ALLOW whose reason names a rule but carries no flag broke nothing (the Check let it through)."""
    assert one([call(T0, Reason.FREQUENCY_CAP, violation=False)]).verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME


def test_a_blocked_call_counts_only_when_the_dialer_reported_it_dialled() -> None:
    """Blocked and not dialled (or not reported): the phone never rang; dialled anyway: RULE_VIOLATED."""
    block = {"decision": Decision.BLOCK, "violation": False}
    assert one([call(T0, Reason.QUIET_DAY, **block)]).verdict is CallerVerdict.NO_MATCHING_CALL  # type: ignore[arg-type]
    assert (
        one([call(T0, Reason.QUIET_DAY, dialled=False, **block)]).verdict  # type: ignore[arg-type]
        is CallerVerdict.NO_MATCHING_CALL
    )
    f = one([call(T0, Reason.QUIET_DAY, dialled=True, **block)])  # type: ignore[arg-type]
    assert (f.verdict, f.rules_broken) == (CallerVerdict.RULE_VIOLATED, (Reason.QUIET_DAY,))


def test_rules_broken_are_distinct_in_the_checks_precedence_and_call_ids_only_the_breaking_calls() -> None:
    """Three calls, two rules (one twice) and a clean call: the rules once each, cap before hours."""
    late = call(T0, Reason.OUTSIDE_CALLING_HOURS)
    capped = call(T0 + H, Reason.FREQUENCY_CAP)
    again = call(T0 + 2 * H, Reason.FREQUENCY_CAP)
    clean = call(T0 + 3 * H, Reason.NOT_REGISTERED, violation=False)
    f = one([clean, again, late, capped])
    assert f.rules_broken == (Reason.FREQUENCY_CAP, Reason.OUTSIDE_CALLING_HOURS)
    assert f.call_ids == (late.call_id, capped.call_id, again.call_id)


def test_a_do_not_disturb_violation_outranks_a_rule_violation() -> None:
    """A cap broken before she registered, her do-not-disturb after: VERIFIED, paid, on the later call."""
    capped = call(T0 - 2 * H, Reason.FREQUENCY_CAP)
    dnd_call = call(T0, Reason.REGISTERED)
    f = one([dnd_call, capped], [dnd(T0 - H)])
    assert (f.verdict, f.call_ids, f.amount, f.rules_broken) == (CallerVerdict.VERIFIED, (dnd_call.call_id,), FEE, ())


def test_an_unknown_line_that_also_broke_her_do_not_disturb_is_verified() -> None:
    """The Check logged the first rule (the line) but the journal shows her do-not-disturb: that pays."""
    assert one([call(T0, Reason.UNKNOWN_CALLER_LINE)], [dnd(T0 - H)]).verdict is CallerVerdict.VERIFIED


def test_a_consent_on_file_outranks_a_rule_violation() -> None:
    """Registered, consented, and over a cap: CONSENT_ON_FILE (a review may still make it VERIFIED)."""
    c = call(T0, Reason.FREQUENCY_CAP)
    f = one([c], [dnd(T0 - 2 * H)], [consent(T0 - H)])
    assert (f.verdict, f.call_ids, f.consent_evidence) == (CallerVerdict.CONSENT_ON_FILE, (c.call_id,), "signed form")


def test_the_blocking_order_is_the_order_decide_case_picks_the_first_rule_in() -> None:
    """For every mix of rules at once, monitor mode logs the one BLOCKING_ORDER ranks first."""
    flags = {
        Reason.UNKNOWN_CALLER_LINE: {"standing": UNKNOWN_LINE},
        Reason.REGISTERED: {"covered": True},
        Reason.ORG_LIST: {"listed": True},
        Reason.RANGE_BLOCKED: {"standing": RANGE_BLOCK},
        Reason.NO_CONSENT: {"standing": CONSENT_REQUIRED},
        Reason.FREQUENCY_CAP: {"capped": True},
        Reason.QUIET_DAY: {"quiet": T0 + H},
        Reason.OUTSIDE_CALLING_HOURS: {"opens": T0 + 2 * H},
    }
    for n in range(1, len(flags) + 1):
        for mix in combinations(flags, n):
            kw: dict[str, object] = {"standing": NO_RULES}
            for r in mix:
                for k, val in flags[r].items():
                    kw[k] = kw[k] | val if k == "standing" else val  # type: ignore[operator]
            v = decide_case(
                bool(kw.get("covered")),
                False,
                Mode.MONITOR,
                kw.get("opens"),  # type: ignore[arg-type]
                bool(kw.get("listed")),
                bool(kw.get("capped")),
                kw["standing"],  # type: ignore[arg-type]
                kw.get("quiet"),  # type: ignore[arg-type]
            )
            assert v.reason is rules_in_order(mix)[0] and v.violation
    assert set(flags) == set(BLOCKING_ORDER)


def test_the_report_counts_rule_violated_findings_apart_and_splits_calls_by_reason() -> None:
    """Rule-violation findings per agent and once in the total, not verified; calls by reason in precedence."""
    facts = OrgViolations(
        {"a1": {Reason.OUTSIDE_CALLING_HOURS: 1, Reason.FREQUENCY_CAP: 2}, "a2": {Reason.REGISTERED: 1}},
        {("a2", "DNC-1", 0)},
        {("a1", "DNC-2", 0), ("a2", "DNC-2", 0), ("a1", "DNC-3", 1)},
    )
    r = org_report("acme", facts, ())
    got = [(a.agent_id, a.violating_calls, a.verified_complaints, a.rule_violation_complaints) for a in r.agents]
    assert got == [("a1", 3, 0, 2), ("a2", 1, 1, 1)]
    assert r.agents[0].by_reason == ((Reason.FREQUENCY_CAP, 2), (Reason.OUTSIDE_CALLING_HOURS, 1))
    assert (r.violating_calls, r.verified_complaints, r.rule_violation_complaints) == (4, 1, 2)
    assert r.by_reason == ((Reason.REGISTERED, 1), (Reason.FREQUENCY_CAP, 2), (Reason.OUTSIDE_CALLING_HOURS, 1))


def test_the_verdict_notice_calls_a_rule_violation_a_violation_that_pays_nothing() -> None:
    """Only rule violations: the text says they were found and recorded, not "no violation found"."""
    text = notices.verdict_text("DNC-20261117-000001", 0, 2, Money.zero("CNY"), rule_violations=1)
    assert "违反呼叫规则" in text and "不产生补偿" in text and "暂未核实到违规来电" not in text
    paid = notices.verdict_text("DNC-20261117-000001", 1, 2, FEE, rule_violations=1)
    assert "应付您补偿" in paid and "另有 1 个号码" in paid
