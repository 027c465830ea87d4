"""Verification of a complaint's callers against calls, preferences and consents as of each call's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dncgate.domain.money import Money
from dncgate.domain.registry import ConsentChange, OrgListChange, PreferenceChange
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Source
from dncgate.domain.verification import (
    CallerVerdict,
    Judgement,
    LoggedCall,
    Window,
    compensated_elsewhere,
    consent_evidence,
    judge,
    total,
    unparsable,
    upheld_on_review,
    verify,
    verify_caller,
)

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
H = timedelta(hours=1)
A, B, C = "+862759001111", "+862759002222", "+862759003333"
FEE = Money(10000, "CNY")
WINDOW = Window(T0 - 24 * H, T0 + 24 * H)
_seq = iter(range(1, 10**6))


def dnd(at: datetime, on: bool = True, mask: int = ALL_CATEGORIES_MASK, recorded: datetime | None = None):
    return PreferenceChange(next(_seq), on, mask, Source.APP, at, recorded or at)


def consent(
    at: datetime,
    org: str = "acme",
    agent: str = "",
    granted: bool = True,
    expires: datetime | None = None,
    recorded: datetime | None = None,
    evidence: str = "",
) -> ConsentChange:
    return ConsentChange(next(_seq), org, agent, granted, expires, evidence, at, recorded or at)


def call(
    at: datetime,
    caller: str = A,
    decision: Decision = Decision.ALLOW,
    dialled: bool | None = None,
    org: str = "acme",
    agent: str = "a17",
    category: Category = Category.REAL_ESTATE,
    call_id: str | None = None,
) -> LoggedCall:
    return LoggedCall(call_id or f"c{next(_seq)}", at, caller, org, agent, category, decision, dialled)


def one(calls, prefs=(), consents=(), caller=A, compensated_by=None):
    return verify_caller(caller, calls, WINDOW, list(prefs), list(consents), FEE, compensated_by)


def test_a_call_after_do_not_disturb_without_consent_is_verified_with_its_call_id() -> None:
    """The story's core: registered, called, no consent → VERIFIED, the call named, the fee owed."""
    c = call(T0)
    f = one([c], [dnd(T0 - H)])
    assert (f.verdict, f.call_ids, f.amount) == (CallerVerdict.VERIFIED, (c.call_id,), FEE)


def test_every_violating_call_is_listed_but_the_fee_is_once_per_caller() -> None:
    """Two violating calls from one number are two call ids and one fee."""
    c1, c2 = call(T0), call(T0 + H)
    f = one([c2, c1], [dnd(T0 - H)])
    assert f.call_ids == (c1.call_id, c2.call_id)
    assert f.amount == FEE


def test_consent_granted_after_the_call_does_not_excuse_it() -> None:
    """A consent that starts after the call was not on file when the phone rang."""
    f = one([call(T0)], [dnd(T0 - H)], [consent(T0 + H)])
    assert f.verdict is CallerVerdict.VERIFIED


def test_consent_expired_before_the_call_does_not_excuse_it() -> None:
    """A consent whose expiry passed before the call counts for nothing."""
    f = one([call(T0)], [dnd(T0 - 2 * H)], [consent(T0 - 2 * H, expires=T0 - H)])
    assert f.verdict is CallerVerdict.VERIFIED


def test_consent_revoked_before_the_call_does_not_excuse_it() -> None:
    """Revoking a consent ends it from then on."""
    f = one([call(T0)], [dnd(T0 - 2 * H)], [consent(T0 - 2 * H), consent(T0 - H, granted=False)])
    assert f.verdict is CallerVerdict.VERIFIED


def test_consent_back_dated_after_the_call_does_not_excuse_it() -> None:
    """A consent recorded after the call, even if effective before it, was not on file at the call."""
    f = one([call(T0)], [dnd(T0 - 2 * H)], [consent(T0 - H, recorded=T0 + H)])
    assert f.verdict is CallerVerdict.VERIFIED


def test_consent_in_force_at_the_call_is_consent_on_file_with_the_call() -> None:
    """An org-wide consent active at the call time makes the caller CONSENT_ON_FILE, not owed."""
    c = call(T0)
    f = one([c], [dnd(T0 - H)], [consent(T0 - H, expires=T0 + H)])
    assert (f.verdict, f.call_ids, f.amount) == (CallerVerdict.CONSENT_ON_FILE, (c.call_id,), Money(0, "CNY"))


def test_consent_to_another_agent_or_org_does_not_cover_the_call() -> None:
    """A consent for agent a18, or for another org, does not cover agent a17 of acme."""
    f = one([call(T0, agent="a17")], [dnd(T0 - H)], [consent(T0 - H, agent="a18"), consent(T0 - H, org="other")])
    assert f.verdict is CallerVerdict.VERIFIED
    g = one([call(T0, agent="a17")], [dnd(T0 - H)], [consent(T0 - H, agent="a17")])
    assert g.verdict is CallerVerdict.CONSENT_ON_FILE


def test_a_consent_on_file_carries_the_evidence_of_the_entry_in_force_at_the_call() -> None:
    """The finding names the evidence of the grant that covered the call, not a later or back-dated one."""
    c = call(T0)
    granted = consent(T0 - 2 * H, evidence="form F-1")
    later = consent(T0 + H, evidence="form F-2")  # re-granted after the call
    backdated = consent(T0 - H, evidence="form F-3", recorded=T0 + H)
    f = one([c], [dnd(T0 - 3 * H)], [granted, later, backdated])
    assert (f.verdict, f.consent_evidence) == (CallerVerdict.CONSENT_ON_FILE, "form F-1")
    assert consent_evidence(c, [granted, consent(T0 - H, granted=False)]) == ""  # revoked: none in force


def test_the_agents_own_consent_is_the_evidence_before_the_org_wide_one_and_distinct_ones_are_joined() -> None:
    """An agent's consent is cited before its org's; calls covered by different consents cite each, once."""
    org_wide, own = consent(T0 - H, evidence="org contract"), consent(T0 - H, agent="a17", evidence="a17 recording")
    c1, c2, c3 = call(T0, agent="a17"), call(T0 + H, agent="a18"), call(T0 + 2 * H, agent="a17")
    f = one([c1, c2, c3], [dnd(T0 - 2 * H)], [org_wide, own])
    assert f.call_ids == (c1.call_id, c2.call_id, c3.call_id)
    assert f.consent_evidence == "a17 recording; org contract"


def test_one_violating_call_outweighs_consented_ones() -> None:
    """With one consented and one unconsented call from the same number, the caller is VERIFIED."""
    ok, bad = call(T0, agent="a17"), call(T0 + H, agent="a99")
    f = one([ok, bad], [dnd(T0 - H)], [consent(T0 - H, agent="a17")])
    assert (f.verdict, f.call_ids) == (CallerVerdict.VERIFIED, (bad.call_id,))


def test_preference_switched_off_before_the_call_is_not_registered_at_call_time() -> None:
    """Do-not-disturb turned off before the call means the call broke no rule."""
    c = call(T0)
    f = one([c], [dnd(T0 - 2 * H), dnd(T0 - H, on=False)])
    assert (f.verdict, f.call_ids) == (CallerVerdict.NOT_REGISTERED_AT_CALL_TIME, (c.call_id,))


def test_preference_set_after_the_call_does_not_make_it_a_violation() -> None:
    """Registering after being called does not turn the earlier call into a violation."""
    f = one([call(T0)], [dnd(T0 + H)])
    assert f.verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME


def test_preference_back_dated_after_the_call_does_not_make_it_a_violation() -> None:
    """An entry effective before the call but recorded after it is judged as unknown at the call."""
    f = one([call(T0)], [dnd(T0 - H, recorded=T0 + H)])
    assert f.verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME


def test_category_not_covered_by_the_registration_is_not_a_violation() -> None:
    """Do-not-disturb for finance only: a real-estate call is not registered at call time."""
    f = one([call(T0, category=Category.REAL_ESTATE)], [dnd(T0 - H, mask=1 << Category.FINANCE)])
    assert f.verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME


def test_a_call_without_category_is_covered_by_any_registration() -> None:
    """A dialer that does not say what it sells is covered by a finance-only registration."""
    f = one([call(T0, category=Category.UNSPECIFIED)], [dnd(T0 - H, mask=1 << Category.FINANCE)])
    assert f.verdict is CallerVerdict.VERIFIED


def test_blocked_call_dialled_anyway_counts_as_placed() -> None:
    """A BLOCK the dialer ignored (reported dialled) is a placed call and a violation."""
    c = call(T0, decision=Decision.BLOCK, dialled=True)
    assert one([c], [dnd(T0 - H)]).verdict is CallerVerdict.VERIFIED


@pytest.mark.parametrize("dialled", [None, False])
def test_blocked_call_not_reported_dialled_is_no_matching_call(dialled: bool | None) -> None:
    """A BLOCK that was obeyed (or never reported) never rang: nothing matches."""
    c = call(T0, decision=Decision.BLOCK, dialled=dialled)
    f = one([c], [dnd(T0 - H)])
    assert (f.verdict, f.call_ids) == (CallerVerdict.NO_MATCHING_CALL, ())


def test_calls_outside_the_window_or_from_other_numbers_do_not_match() -> None:
    """Only the named caller's calls inside the window count; both window ends are included."""
    prefs = [dnd(T0 - 72 * H)]
    assert one([call(T0 - 48 * H), call(T0, caller=B)], prefs).verdict is CallerVerdict.NO_MATCHING_CALL
    edge = call(WINDOW.before)
    assert one([edge], prefs).call_ids == (edge.call_id,)


def test_already_compensated_is_decided_first() -> None:
    """A pair already paid is ALREADY_COMPENSATED with that payout, whatever the calls say, and owes nothing."""
    c = call(T0)
    f = one([c], [dnd(T0 - H)], compensated_by="PO-1")
    assert (f.verdict, f.payout_id, f.amount.minor, f.call_ids) == (
        CallerVerdict.ALREADY_COMPENSATED,
        "PO-1",
        0,
        (c.call_id,),
    )
    assert one([], compensated_by="PO-1").verdict is CallerVerdict.ALREADY_COMPENSATED


def test_verify_gives_one_finding_per_distinct_caller_in_order() -> None:
    """Callers named twice are judged once; the findings keep the order they were named in."""
    prefs = [dnd(T0 - H)]
    calls = [call(T0, caller=A), call(T0, caller=A), call(T0 + H, caller=B)]
    found = verify([B, A, B, C], calls, WINDOW, prefs, [], FEE, {})
    assert [(f.caller_number, f.verdict) for f in found] == [
        (B, CallerVerdict.VERIFIED),
        (A, CallerVerdict.VERIFIED),
        (C, CallerVerdict.NO_MATCHING_CALL),
    ]
    assert total(found, "CNY") == Money(20000, "CNY")


def test_judge_names_each_kind_of_call() -> None:
    """judge: NOT_REGISTERED, CONSENTED or VIOLATION for one call."""
    assert judge(call(T0), [], []) is Judgement.NOT_REGISTERED
    assert judge(call(T0), [dnd(T0 - H)], [consent(T0 - H)]) is Judgement.CONSENTED
    assert judge(call(T0), [dnd(T0 - H)], []) is Judgement.VIOLATION


def test_unparsable_caller_is_no_matching_call_with_the_text_as_given() -> None:
    """A caller text that is not a number stays as typed and matches nothing."""
    f = unparsable("027-abc", "CNY")
    assert (f.caller_number, f.verdict, f.amount) == ("027-abc", CallerVerdict.NO_MATCHING_CALL, Money(0, "CNY"))


def test_a_finding_booked_elsewhere_first_owes_nothing() -> None:
    """compensated_elsewhere turns a verified finding into ALREADY_COMPENSATED with the winner's payout."""
    f = one([call(T0)], [dnd(T0 - H)])
    g = compensated_elsewhere(f, "PO-x")
    assert (g.verdict, g.payout_id, g.amount.minor, g.call_ids) == (
        CallerVerdict.ALREADY_COMPENSATED,
        "PO-x",
        0,
        f.call_ids,
    )


def test_review_upholds_a_consent_dispute_at_the_fee() -> None:
    """upheld_on_review makes a consent-on-file finding VERIFIED, owed the fee, same calls."""
    f = one([call(T0)], [dnd(T0 - H)], [consent(T0 - H)])
    g = upheld_on_review(f, FEE)
    assert (g.verdict, g.amount, g.call_ids) == (CallerVerdict.VERIFIED, FEE, f.call_ids)


# --- the org's own list -------------------------------------------------------------------------------


def listed(at: datetime, org: str = "acme", on: bool = True, recorded: datetime | None = None) -> OrgListChange:
    return OrgListChange(next(_seq), org, on, "", at, recorded or at)


def test_a_placed_call_to_a_consumer_on_that_orgs_list_is_a_violation_that_pays() -> None:
    """No do-not-disturb, but on acme's list before the call: acme's call is VERIFIED and paid."""
    f = verify_caller(A, [call(T0)], WINDOW, [], [], FEE, org_lists=[listed(T0 - H)])
    assert (f.verdict, f.amount, f.owed) == (CallerVerdict.VERIFIED, FEE, True)


def test_another_orgs_list_does_not_make_the_call_a_violation() -> None:
    """On rival's list only: acme's call is NOT_REGISTERED_AT_CALL_TIME."""
    f = verify_caller(A, [call(T0)], WINDOW, [], [], FEE, org_lists=[listed(T0 - H, "rival")])
    assert f.verdict is CallerVerdict.NOT_REGISTERED_AT_CALL_TIME


def test_the_list_is_judged_as_of_the_call() -> None:
    """Listed after the call, or recorded after it, or removed before it: no violation."""
    for entries in (
        [listed(T0 + H)],
        [listed(T0 - H, recorded=T0 + H)],
        [listed(T0 - 2 * H), listed(T0 - H, on=False)],
    ):
        assert judge(call(T0), [], [], entries) is Judgement.NOT_REGISTERED, entries


def test_a_consent_after_the_entry_excuses_the_call_and_one_before_it_does_not() -> None:
    """Listed then consented: not a violation; consented then listed: the consent no longer counts, even
    for a registered consumer."""
    entry = listed(T0 - 2 * H)
    later = consent(T0 - H)
    assert judge(call(T0), [], [later], [entry]) is Judgement.NOT_REGISTERED
    earlier = consent(T0 - 3 * H)
    assert judge(call(T0), [], [earlier], [entry]) is Judgement.VIOLATION
    assert judge(call(T0), [dnd(T0 - 4 * H)], [earlier], [entry]) is Judgement.VIOLATION
    assert judge(call(T0), [dnd(T0 - 4 * H)], [later], [entry]) is Judgement.CONSENTED


def test_a_blocked_call_not_dialled_to_a_listed_consumer_is_no_violation() -> None:
    """The gateway blocked it (ORG_LIST) and the dialer did not dial: nothing placed, nothing owed."""
    f = verify_caller(A, [call(T0, decision=Decision.BLOCK)], WINDOW, [], [], FEE, org_lists=[listed(T0 - H)])
    assert f.verdict is CallerVerdict.NO_MATCHING_CALL or not f.owed
