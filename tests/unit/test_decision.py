"""The Check decision: each row of DESIGN.md's decision table, monitor mode, and evaluation order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.domain.decision import (
    INVALID_NUMBER,
    REGISTRY_UNAVAILABLE,
    CallAttempt,
    QuietDays,
    Verdict,
    consent_on_file,
    decide,
    verdicts_by_case,
)
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import Consent
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Mode, Reason, mask_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = CallingHours.parse("09:00-21:00")
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)  # inside the window
LATE = datetime(2026, 11, 23, 22, 30, tzinfo=SHANGHAI)  # outside; opens at 09:00 the next day
NEXT_MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
REAL_ESTATE = mask_of([Category.REAL_ESTATE])


def attempt(
    *, valid: bool = True, org: str = "wuhan-01", agent: str = "a17", category: Category = Category.REAL_ESTATE
) -> CallAttempt:
    return CallAttempt(valid, (SHANGHAI,) if valid else (), org, agent, category)


def check(
    call: CallAttempt | None = None,
    mask: int = 0,
    consents: Sequence[Consent] = (),
    mode: Mode = Mode.ENFORCE,
    now: datetime = NOON,
    hours: CallingHours = HOURS,
    org_listed: bool = False,
    capped: bool = False,
) -> Verdict:
    return decide(call or attempt(), mask, consents, mode, hours, now, org_listed, capped)


# --- the decision table, enforce mode ---------------------------------------------------------------


def test_a_number_without_registration_may_be_called() -> None:
    """Mask 0 inside calling hours is ALLOW / NOT_REGISTERED with nothing flagged."""
    assert check(mask=0) == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_a_registered_number_is_blocked() -> None:
    """A registration covering the call's category blocks it as REGISTERED."""
    assert check(mask=REAL_ESTATE) == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_a_registration_for_every_category_blocks_a_call_of_any_category() -> None:
    """Empty categories (all) block a health call too."""
    v = check(attempt(category=Category.HEALTH), mask=ALL_CATEGORIES_MASK)
    assert (v.decision, v.reason) == (Decision.BLOCK, Reason.REGISTERED)


def test_a_registration_for_another_category_does_not_block_the_call() -> None:
    """A consumer who refused finance calls can still get a real estate call."""
    v = check(attempt(category=Category.REAL_ESTATE), mask=mask_of([Category.FINANCE]))
    assert v == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_a_call_without_category_is_blocked_by_any_registration() -> None:
    """UNSPECIFIED category cannot slip past a single-category registration."""
    v = check(attempt(category=Category.UNSPECIFIED), mask=mask_of([Category.TELECOM]))
    assert v == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_org_wide_consent_excuses_a_registered_number() -> None:
    """Consent with agent_id '' covers every agent of that org: ALLOW / CONSENT_ON_FILE."""
    v = check(mask=REAL_ESTATE, consents=[Consent("wuhan-01", "")])
    assert v == Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE)


def test_consent_for_this_agent_excuses_the_call() -> None:
    """A consent naming the calling agent allows that agent's call."""
    v = check(attempt(agent="a17"), mask=REAL_ESTATE, consents=[Consent("wuhan-01", "a17")])
    assert v == Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE)


def test_consent_for_another_agent_does_not_excuse_the_call() -> None:
    """Agreeing to calls from agent a17 says nothing about agent a18."""
    v = check(attempt(agent="a18"), mask=REAL_ESTATE, consents=[Consent("wuhan-01", "a17")])
    assert v == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_consent_for_a_named_agent_does_not_excuse_a_call_that_names_no_agent() -> None:
    """A dialer that leaves agent_id empty is not the agent the consumer agreed to."""
    v = check(attempt(agent=""), mask=REAL_ESTATE, consents=[Consent("wuhan-01", "a17")])
    assert v == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_consent_for_another_org_does_not_excuse_the_call() -> None:
    """Consent to one company is not consent to another, even with the same agent id."""
    v = check(attempt(org="wuhan-01"), mask=REAL_ESTATE, consents=[Consent("beijing-02", "")])
    assert v == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_consent_still_valid_just_before_expiry_excuses_the_call() -> None:
    """One microsecond before expires_at the consent is in force."""
    consent = Consent("wuhan-01", "", expires_at=NOON + timedelta(microseconds=1))
    assert check(mask=REAL_ESTATE, consents=[consent]).reason is Reason.CONSENT_ON_FILE


def test_consent_at_its_exact_expiry_instant_no_longer_excuses_the_call() -> None:
    """expires_at is exclusive: at that very instant the registration blocks again."""
    consent = Consent("wuhan-01", "", expires_at=NOON)
    assert check(mask=REAL_ESTATE, consents=[consent]) == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_an_expired_consent_next_to_a_valid_one_does_not_hide_it() -> None:
    """Any one consent in force is enough."""
    consents = [Consent("wuhan-01", "", expires_at=NOON - timedelta(days=1)), Consent("wuhan-01", "a17")]
    assert check(mask=REAL_ESTATE, consents=consents).reason is Reason.CONSENT_ON_FILE


def test_consent_without_a_registration_reports_not_registered() -> None:
    """Consent only matters when a registration would block: the reason stays NOT_REGISTERED."""
    assert check(mask=0, consents=[Consent("wuhan-01", "")]) == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_a_call_outside_calling_hours_is_blocked_until_the_window_opens() -> None:
    """At 22:30 Beijing time the reply says 09:00 Beijing time the next morning."""
    v = check(now=LATE)
    assert v == Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=NEXT_MORNING)


def test_a_call_at_the_first_minute_of_the_window_is_allowed() -> None:
    """09:00 local is inside [09:00, 21:00)."""
    assert check(now=NEXT_MORNING) == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_a_call_at_the_closing_minute_is_outside_calling_hours() -> None:
    """21:00 local is outside [09:00, 21:00)."""
    v = check(now=datetime(2026, 11, 23, 21, 0, tzinfo=SHANGHAI))
    assert (v.reason, v.next_allowed_time) == (Reason.OUTSIDE_CALLING_HOURS, NEXT_MORNING)


def test_calling_hours_use_the_callee_zone_not_the_clock_zone() -> None:
    """13:00 UTC is 21:00 in Shanghai, so the call is outside hours although UTC says afternoon."""
    v = check(now=datetime(2026, 11, 23, 13, 0, tzinfo=UTC))
    assert v.reason is Reason.OUTSIDE_CALLING_HOURS
    assert v.next_allowed_time == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_hours_00_to_24_never_block() -> None:
    """With the rule switched off a 03:00 call is allowed."""
    v = check(now=datetime(2026, 11, 23, 3, 0, tzinfo=SHANGHAI), hours=CallingHours.parse("00:00-24:00"))
    assert v == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_an_invalid_number_is_blocked() -> None:
    """A callee that cannot be a real number is BLOCK / INVALID_NUMBER."""
    assert check(attempt(valid=False)) == Verdict(Decision.BLOCK, Reason.INVALID_NUMBER)


def test_registry_unavailable_verdict_fails_closed() -> None:
    """The verdict used when the registry cannot be read is a plain BLOCK, never flagged as allowed."""
    assert (REGISTRY_UNAVAILABLE.decision, REGISTRY_UNAVAILABLE.reason) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    assert not REGISTRY_UNAVAILABLE.violation and REGISTRY_UNAVAILABLE.next_allowed_time is None
    assert not REGISTRY_UNAVAILABLE.allowed


def test_allowed_is_true_only_for_allow() -> None:
    """Verdict.allowed mirrors the decision."""
    assert Verdict(Decision.ALLOW, Reason.NOT_REGISTERED).allowed
    assert not Verdict(Decision.BLOCK, Reason.REGISTERED).allowed


# --- evaluation order ----------------------------------------------------------------------------


def test_an_invalid_number_wins_over_everything_else() -> None:
    """Invalid, registered and outside hours at once is reported as INVALID_NUMBER."""
    v = check(attempt(valid=False), mask=ALL_CATEGORIES_MASK, now=LATE)
    assert v is INVALID_NUMBER


def test_a_registration_is_reported_before_calling_hours() -> None:
    """Waiting for the window would not lift the registration, so REGISTERED wins and no time is given."""
    assert check(mask=REAL_ESTATE, now=LATE) == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_calling_hours_bind_a_consented_call() -> None:
    """Consent lifts the registration but not the calling hours."""
    v = check(mask=REAL_ESTATE, consents=[Consent("wuhan-01", "")], now=LATE)
    assert v == Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=NEXT_MORNING)


def test_calling_hours_bind_an_unregistered_number_under_another_category() -> None:
    """A registration for another category does not skip the hours check."""
    v = check(mask=mask_of([Category.FINANCE]), now=LATE)
    assert (v.decision, v.reason) == (Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS)


# --- monitor mode -------------------------------------------------------------------------------


def test_monitor_mode_allows_a_registered_number_and_flags_a_violation() -> None:
    """The would-be block is ALLOW with the reason kept and violation set."""
    v = check(mask=REAL_ESTATE, mode=Mode.MONITOR)
    assert v == Verdict(Decision.ALLOW, Reason.REGISTERED, violation=True)


def test_monitor_mode_allows_a_call_outside_hours_and_keeps_the_opening_time() -> None:
    """Outside hours in monitor mode is ALLOW, flagged, and still says when the window opens."""
    v = check(mode=Mode.MONITOR, now=LATE)
    assert v == Verdict(Decision.ALLOW, Reason.OUTSIDE_CALLING_HOURS, violation=True, next_allowed_time=NEXT_MORNING)


def test_monitor_mode_still_blocks_an_invalid_number() -> None:
    """Monitor mode relaxes the rules, not the phone system: an invalid number stays BLOCK."""
    v = check(attempt(valid=False), mode=Mode.MONITOR)
    assert v == Verdict(Decision.BLOCK, Reason.INVALID_NUMBER)
    assert not v.violation


@pytest.mark.parametrize(
    ("mask", "consents", "reason"),
    [
        (0, [], Reason.NOT_REGISTERED),
        (REAL_ESTATE, [Consent("wuhan-01", "")], Reason.CONSENT_ON_FILE),
    ],
)
def test_monitor_mode_does_not_flag_an_allowed_call(mask: int, consents: list[Consent], reason: Reason) -> None:
    """A call that enforce mode would allow is not a violation in monitor mode."""
    assert check(mask=mask, consents=consents, mode=Mode.MONITOR) == Verdict(Decision.ALLOW, reason)


def test_monitor_mode_reports_the_registration_before_the_hours() -> None:
    """Registered and outside hours in monitor mode is flagged as REGISTERED, without an opening time."""
    v = check(mask=REAL_ESTATE, mode=Mode.MONITOR, now=LATE)
    assert v == Verdict(Decision.ALLOW, Reason.REGISTERED, violation=True)


def test_enforce_mode_never_sets_violation() -> None:
    """Violations are a monitor-mode flag; a blocked call in enforce mode was not placed."""
    assert not check(mask=REAL_ESTATE).violation
    assert not check(now=LATE).violation


# --- consent_on_file ----------------------------------------------------------------------------


def test_consent_on_file_needs_both_the_org_and_a_matching_agent() -> None:
    """Org-wide consent covers any agent; a per-agent consent only its agent; another org none."""
    consents = [Consent("org-a", ""), Consent("org-b", "b1")]
    assert consent_on_file(consents, "org-a", "anyone", NOON)
    assert consent_on_file(consents, "org-b", "b1", NOON)
    assert not consent_on_file(consents, "org-b", "b2", NOON)
    assert not consent_on_file(consents, "org-c", "b1", NOON)


def test_consent_on_file_is_false_without_consents() -> None:
    """No consent at all excuses nothing."""
    assert not consent_on_file([], "org-a", "a1", NOON)


# --- verdicts_by_case -----------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    category=st.sampled_from(list(Category)),
    hours=st.sampled_from(["09:00-21:00", "00:00-24:00", "22:00-23:00", "06:00-08:00"]),
    minute=st.integers(0, 7 * 24 * 60),
    zones=st.sampled_from([("Asia/Shanghai",), ("America/New_York", "America/Los_Angeles"), ("Asia/Kathmandu",)]),
    valid=st.booleans(),
    standing=st.integers(0, 15),
)
def test_verdicts_by_case_are_decide_for_each_registry_state(
    category: Category, hours: str, minute: int, zones: tuple[str, ...], valid: bool, standing: int
) -> None:
    """The sixteen precomputed answers equal decide() for an uncovered, a covered consented, an uncovered
    consented, a covered and an org-listed callee, then the first three at a frequency cap, per mode,
    whatever the rules beyond the registry say (`standing`, opt-in and quiet days on the week the minutes
    span among them)."""
    now = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(minutes=minute)
    call = CallAttempt(valid, tuple(ZoneInfo(z) for z in zones) if valid else (), "org", "agent", category)
    window = CallingHours.parse(hours)
    consent = [Consent("org", "", None)]
    expected = tuple(
        decide(call, mask, consents, mode, window, now, listed, capped, standing, QUIET_WEEK)
        for mask, consents, listed, capped in (
            (0, [], False, False),
            (ALL_CATEGORIES_MASK, consent, False, False),
            (0, consent, False, False),
            (ALL_CATEGORIES_MASK, [], False, False),
            (0, [], True, False),
            (0, [], False, True),
            (ALL_CATEGORIES_MASK, consent, False, True),
            (0, consent, False, True),
        )
        for mode in (Mode.ENFORCE, Mode.MONITOR)
    )
    assert verdicts_by_case(call, window, now, standing, QUIET_WEEK) == expected


QUIET_WEEK = QuietDays(frozenset({datetime(2026, 11, 24).date(), datetime(2026, 11, 25).date()}))


# --- the org's own list -----------------------------------------------------------------------------


def test_a_callee_on_the_calling_orgs_list_is_blocked_as_org_list() -> None:
    """Not registered but on the org's own list: BLOCK / ORG_LIST."""
    assert check(org_listed=True) == Verdict(Decision.BLOCK, Reason.ORG_LIST)


def test_personal_do_not_disturb_is_reported_before_the_org_list() -> None:
    """Registered and on the org's list: REGISTERED wins (it is hers, and comes first)."""
    assert check(mask=REAL_ESTATE, org_listed=True) == Verdict(Decision.BLOCK, Reason.REGISTERED)


def test_the_org_list_is_reported_before_calling_hours() -> None:
    """On the list and outside hours: ORG_LIST, no opening time (waiting would not lift it)."""
    assert check(org_listed=True, now=LATE) == Verdict(Decision.BLOCK, Reason.ORG_LIST)


def test_a_consent_in_effect_excuses_the_org_list() -> None:
    """A consent in effect (given after the entry, for this agent) excuses the listed callee; another
    agent's does not."""
    assert check(org_listed=True, consents=[Consent("wuhan-01", "a17")]) == Verdict(
        Decision.ALLOW, Reason.NOT_REGISTERED
    )
    assert check(org_listed=True, consents=[Consent("wuhan-01", "a99")]) == Verdict(Decision.BLOCK, Reason.ORG_LIST)


def test_monitor_mode_allows_an_org_listed_callee_and_flags_a_violation() -> None:
    """Monitor mode treats the org list as it treats do-not-disturb: ALLOW, reason kept, violation set."""
    v = check(org_listed=True, mode=Mode.MONITOR)
    assert v == Verdict(Decision.ALLOW, Reason.ORG_LIST, violation=True)


def test_an_invalid_number_wins_over_the_org_list() -> None:
    """An invalid number on the list (it cannot be) is INVALID_NUMBER whatever the mode."""
    assert check(attempt(valid=False), org_listed=True, mode=Mode.MONITOR) is INVALID_NUMBER


# --- frequency caps -----------------------------------------------------------------------------------


def test_a_callee_at_a_frequency_cap_is_blocked_as_frequency_cap() -> None:
    """At a cap: BLOCK / FREQUENCY_CAP (when a slot frees up only the count knows: the Check adds it)."""
    assert check(capped=True) == Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP)


def test_a_consented_call_is_capped_too() -> None:
    """A consent excuses her do-not-disturb, not the caps."""
    v = check(mask=REAL_ESTATE, consents=[Consent("wuhan-01", "")], capped=True)
    assert v == Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP)


def test_do_not_disturb_and_the_org_list_are_reported_before_the_caps() -> None:
    assert check(mask=REAL_ESTATE, capped=True) == Verdict(Decision.BLOCK, Reason.REGISTERED)
    assert check(org_listed=True, capped=True) == Verdict(Decision.BLOCK, Reason.ORG_LIST)


def test_the_caps_are_reported_before_calling_hours() -> None:
    """At a cap and outside hours: FREQUENCY_CAP (the hours' opening would not free a slot)."""
    assert check(capped=True, now=LATE) == Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP)


def test_monitor_mode_allows_a_capped_call_and_flags_a_violation() -> None:
    v = check(capped=True, mode=Mode.MONITOR)
    assert v == Verdict(Decision.ALLOW, Reason.FREQUENCY_CAP, violation=True)


def test_an_invalid_number_wins_over_the_caps() -> None:
    assert check(attempt(valid=False), capped=True, mode=Mode.MONITOR) is INVALID_NUMBER
