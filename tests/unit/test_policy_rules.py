"""Number ranges, quiet days, registered caller lines and opt-in: each rule case by case, and where each
sits in the decision's precedence (domain/decision.py `decide_case`), enforce and monitor."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dncgate.domain import ranges
from dncgate.domain.decision import (
    CAPPED_STATE_OFFSET,
    CASES,
    CONSENT_REQUIRED,
    NO_RULES,
    QUIET,
    RANGE_BLOCK,
    UNKNOWN_LINE,
    CallAttempt,
    QuietDays,
    Verdict,
    decide,
    verdicts_by_case,
)
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.lines import CallerLine
from dncgate.domain.ranges import RangeAction, RangeRule, RangeTable
from dncgate.domain.registry import Consent, epoch_us
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Mode, Reason, mask_of
from dncgate.service.check_rules import CheckRules
from dncgate.service.rules_ports import RulesSnapshot
from dncgate.service.verdicts import picked

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = CallingHours.parse("09:00-21:00")
NOON = datetime(2026, 10, 1, 12, 0, tzinfo=SHANGHAI)  # National Day
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CALL = CallAttempt(True, (SHANGHAI,), "wuhan-01", "a17", Category.REAL_ESTATE)
NATIONAL_DAY = QuietDays(frozenset(date(2026, 10, d) for d in range(1, 8)))


def rule(
    seq: int,
    prefix: str,
    action: RangeAction = RangeAction.BLOCK,
    org: str = "",
    categories: tuple[Category, ...] = (),
    effective_from: datetime = T0,
) -> RangeRule:
    return RangeRule(seq, prefix, org, action, mask_of(categories), effective_from, effective_from, "admin")


def verdict(
    standing: int = NO_RULES,
    mask: int = 0,
    consents: tuple[Consent, ...] = (),
    listed: bool = False,
    mode: Mode = Mode.ENFORCE,
    now: datetime = NOON,
    quiet_days: QuietDays | None = NATIONAL_DAY,
    capped: bool = False,
    call: CallAttempt = CALL,
) -> Verdict:
    return decide(call, mask, consents, mode, HOURS, now, listed, capped, standing, quiet_days)


# --- ranges -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["+86400", "+86106", "+1201", "+4", " +44 "])
def test_a_prefix_in_e164_digits_form_is_accepted(prefix: str) -> None:
    assert ranges.check_prefix(prefix) == prefix.strip()


@pytest.mark.parametrize("prefix", ["", "+", "86400", "+086", "+86-400", "+1234567890123456", "+86 400"])
def test_a_bad_prefix_is_invalid_argument_naming_prefix(prefix: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        ranges.check_prefix(prefix)
    assert exc.value.field == "prefix"


def test_the_longest_matching_prefix_wins() -> None:
    table = RangeTable([rule(1, "+86", RangeAction.BLOCK), rule(2, "+86400", RangeAction.ALLOW)])
    assert not table.blocked("+864001234567", "o", Category.FINANCE, NOON)  # the ALLOW lifts the shorter BLOCK
    assert table.blocked("+8613800138000", "o", Category.FINANCE, NOON)
    assert not table.blocked("+12015550123", "o", Category.FINANCE, NOON)  # no rule for +1
    longer = RangeTable([rule(1, "+86400", RangeAction.BLOCK), rule(2, "+86", RangeAction.ALLOW)])
    assert longer.blocked("+864001234567", "o", Category.FINANCE, NOON)  # an ALLOW never lifts a longer BLOCK


def test_an_orgs_own_rule_wins_over_the_every_org_one_at_equal_length() -> None:
    table = RangeTable([rule(1, "+1201", RangeAction.BLOCK), rule(2, "+1201", RangeAction.ALLOW, org="acme")])
    assert not table.blocked("+12015550123", "acme", Category.FINANCE, NOON)
    assert table.blocked("+12015550123", "other", Category.FINANCE, NOON)
    reverse = RangeTable([rule(1, "+1201", RangeAction.ALLOW), rule(2, "+1201", RangeAction.BLOCK, org="acme")])
    assert reverse.blocked("+12015550123", "acme", Category.FINANCE, NOON)
    assert not reverse.blocked("+12015550123", "other", Category.FINANCE, NOON)


def test_a_rule_binds_only_its_categories_and_a_shorter_rule_then_applies() -> None:
    table = RangeTable([rule(1, "+86", RangeAction.ALLOW), rule(2, "+86400", categories=(Category.FINANCE,))])
    assert table.blocked("+864001234567", "o", Category.FINANCE, NOON)
    assert not table.blocked("+864001234567", "o", Category.REAL_ESTATE, NOON)
    # A call with no category is bound by any rule (as a registration covers it).
    assert table.blocked("+864001234567", "o", Category.UNSPECIFIED, NOON)


def test_effective_from_is_judged_at_the_calls_time_and_none_clears_a_rule() -> None:
    later = T0 + timedelta(days=30)
    table = RangeTable(
        [
            rule(1, "+86400"),
            rule(2, "+86400", RangeAction.NONE, effective_from=later),
            rule(3, "+86106", effective_from=later),
        ]
    )
    assert table.blocked("+864001234567", "o", Category.FINANCE, T0)
    assert not table.blocked("+864001234567", "o", Category.FINANCE, later)  # cleared
    assert not table.blocked("+861061234567", "o", Category.FINANCE, T0)  # not yet in force
    assert table.blocked("+861061234567", "o", Category.FINANCE, later)
    current = ranges.in_force(
        [
            rule(1, "+86400"),
            rule(2, "+86400", RangeAction.NONE, effective_from=later),
            rule(3, "+86106", effective_from=later),
        ],
        later,
    )
    assert set(current) == {("+86106", "")}


def test_the_latest_entry_in_effect_for_a_prefix_and_org_is_the_rule() -> None:
    table = RangeTable([rule(1, "+86400", RangeAction.BLOCK), rule(2, "+86400", RangeAction.ALLOW)])
    assert not table.blocked("+864001234567", "o", Category.FINANCE, NOON)
    future = RangeTable([rule(1, "+86400"), rule(2, "+86400", RangeAction.ALLOW, effective_from=NOON + timedelta(1))])
    assert future.blocked("+864001234567", "o", Category.FINANCE, NOON)


# --- the precedence ----------------------------------------------------------------------------------


def test_no_rule_leaves_the_decision_as_it_was() -> None:
    ordinary = datetime(2026, 11, 23, 12, tzinfo=SHANGHAI)
    assert verdict(now=ordinary) == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_a_range_block_blocks_and_a_consent_does_not_lift_it() -> None:
    consent = (Consent("wuhan-01", "", None),)
    ordinary = datetime(2026, 11, 23, 12, tzinfo=SHANGHAI)
    assert verdict(RANGE_BLOCK, now=ordinary) == Verdict(Decision.BLOCK, Reason.RANGE_BLOCKED)
    assert verdict(RANGE_BLOCK, ALL_CATEGORIES_MASK, consent, now=ordinary).reason is Reason.RANGE_BLOCKED


def test_do_not_disturb_and_the_org_list_come_before_a_range() -> None:
    assert verdict(RANGE_BLOCK, ALL_CATEGORIES_MASK).reason is Reason.REGISTERED
    assert verdict(RANGE_BLOCK, listed=True).reason is Reason.ORG_LIST


def test_a_range_comes_before_a_quiet_day_which_comes_before_calling_hours() -> None:
    late = datetime(2026, 10, 1, 22, 30, tzinfo=SHANGHAI)
    assert verdict(RANGE_BLOCK | QUIET, now=late).reason is Reason.RANGE_BLOCKED
    quiet = verdict(QUIET, now=late)
    assert quiet.reason is Reason.QUIET_DAY and quiet.decision is Decision.BLOCK
    assert quiet.next_allowed_time == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)  # the day after the holiday
    assert verdict(NO_RULES, now=late).reason is Reason.OUTSIDE_CALLING_HOURS


def test_an_unknown_caller_line_comes_before_everything_about_the_callee() -> None:
    for standing in (UNKNOWN_LINE, UNKNOWN_LINE | RANGE_BLOCK | QUIET):
        assert verdict(standing, ALL_CATEGORIES_MASK, listed=True) == Verdict(
            Decision.BLOCK, Reason.UNKNOWN_CALLER_LINE
        )


def test_monitor_mode_allows_and_flags_the_first_rule_that_would_block() -> None:
    for standing, reason in (
        (UNKNOWN_LINE, Reason.UNKNOWN_CALLER_LINE),
        (RANGE_BLOCK, Reason.RANGE_BLOCKED),
        (QUIET, Reason.QUIET_DAY),
    ):
        v = verdict(standing, mode=Mode.MONITOR)
        assert (v.decision, v.reason, v.violation) == (Decision.ALLOW, reason, True)
    assert verdict(QUIET, mode=Mode.MONITOR).next_allowed_time == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)


# --- quiet days ------------------------------------------------------------------------------------------


def test_a_quiet_day_is_a_holiday_in_the_callees_local_date() -> None:
    # 2026-09-30 17:00 UTC is 10-01 01:00 in Shanghai: already the holiday there.
    utc_evening = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert NATIONAL_DAY.quiet_until(HOURS, (SHANGHAI,), utc_evening) == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)
    assert NATIONAL_DAY.quiet_until(HOURS, (SHANGHAI,), datetime(2026, 9, 30, 15, 0, tzinfo=UTC)) is None


def test_a_weekend_is_no_quiet_day_so_the_next_allowed_time_may_be_a_saturday() -> None:
    friday_holiday = QuietDays(frozenset({date(2026, 1, 2)}))  # a Friday
    until = friday_holiday.quiet_until(HOURS, (SHANGHAI,), datetime(2026, 1, 2, 10, tzinfo=SHANGHAI))
    assert until == datetime(2026, 1, 3, 9, 0, tzinfo=SHANGHAI)


def test_without_a_calendar_or_the_policy_there_is_no_quiet_day() -> None:
    assert verdict(QUIET, quiet_days=None).reason is Reason.NOT_REGISTERED
    assert verdict(NO_RULES).reason is Reason.NOT_REGISTERED


def test_verdicts_by_case_carry_the_standing_into_every_case() -> None:
    cases = verdicts_by_case(CALL, HOURS, NOON, RANGE_BLOCK, NATIONAL_DAY)
    assert [v.reason for v in cases] == [
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,  # consented: a consent does not lift a range block
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,  # not covered, consented
        Reason.RANGE_BLOCKED,
        Reason.REGISTERED,
        Reason.REGISTERED,
        Reason.ORG_LIST,
        Reason.ORG_LIST,
        Reason.RANGE_BLOCKED,  # at a frequency cap: the range block comes first
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,
        Reason.RANGE_BLOCKED,
    ]
    assert [v.violation for v in cases] == [False, True] * 8


def test_the_frequency_cap_sits_after_a_range_block_and_before_quiet_days() -> None:
    """The merged precedence: unknown line, range block, then the caps, then quiet days and hours."""

    def capped(standing: int, mode: Mode = Mode.ENFORCE) -> Verdict:
        return decide(CALL, 0, (), mode, HOURS, NOON, False, True, standing, NATIONAL_DAY)

    assert capped(UNKNOWN_LINE | RANGE_BLOCK | QUIET).reason is Reason.UNKNOWN_CALLER_LINE
    assert capped(RANGE_BLOCK | QUIET).reason is Reason.RANGE_BLOCKED
    assert capped(QUIET) == Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP)
    assert capped(QUIET, Mode.MONITOR) == Verdict(Decision.ALLOW, Reason.FREQUENCY_CAP, violation=True)
    assert verdict(QUIET).reason is Reason.QUIET_DAY  # not capped: the quiet day


# --- opt-in (NO_CONSENT) ---------------------------------------------------------------------------------

ORDINARY = datetime(2026, 11, 23, 12, tzinfo=SHANGHAI)  # a Monday, no holiday, inside calling hours
ORG_CONSENT = (Consent("wuhan-01", "", None),)


def test_without_opt_in_an_uncovered_callee_with_a_consent_is_not_registered_as_before() -> None:
    assert verdict(now=ORDINARY, consents=ORG_CONSENT) == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)
    assert verdict(now=ORDINARY) == Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)


def test_under_opt_in_an_uncovered_callee_without_a_consent_is_blocked_as_no_consent() -> None:
    assert verdict(CONSENT_REQUIRED, now=ORDINARY) == Verdict(Decision.BLOCK, Reason.NO_CONSENT)


def test_under_opt_in_a_consent_on_file_allows_registered_or_not() -> None:
    allowed = Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE)
    assert verdict(CONSENT_REQUIRED, consents=ORG_CONSENT, now=ORDINARY) == allowed
    assert verdict(CONSENT_REQUIRED, ALL_CATEGORIES_MASK, ORG_CONSENT, now=ORDINARY) == allowed


def test_an_agents_consent_counts_for_that_agent_only_and_an_expired_one_not_at_all() -> None:
    mine, other = (Consent("wuhan-01", "a17", None),), (Consent("wuhan-01", "a99", None),)
    expired = (Consent("wuhan-01", "", ORDINARY - timedelta(seconds=1)),)
    later = (Consent("wuhan-01", "", ORDINARY + timedelta(days=1)),)
    assert verdict(CONSENT_REQUIRED, consents=mine, now=ORDINARY).reason is Reason.CONSENT_ON_FILE
    assert verdict(CONSENT_REQUIRED, consents=other, now=ORDINARY).reason is Reason.NO_CONSENT
    assert verdict(CONSENT_REQUIRED, consents=expired, now=ORDINARY).reason is Reason.NO_CONSENT
    assert verdict(CONSENT_REQUIRED, consents=later, now=ORDINARY).reason is Reason.CONSENT_ON_FILE
    another_org = (Consent("other-org", "", None),)
    assert verdict(CONSENT_REQUIRED, consents=another_org, now=ORDINARY).reason is Reason.NO_CONSENT


def test_do_not_disturb_the_org_list_a_line_and_a_range_come_before_opt_in() -> None:
    assert verdict(CONSENT_REQUIRED, ALL_CATEGORIES_MASK, now=ORDINARY).reason is Reason.REGISTERED
    assert verdict(CONSENT_REQUIRED, listed=True, now=ORDINARY).reason is Reason.ORG_LIST
    assert verdict(CONSENT_REQUIRED | RANGE_BLOCK, now=ORDINARY).reason is Reason.RANGE_BLOCKED
    assert verdict(CONSENT_REQUIRED | UNKNOWN_LINE, now=ORDINARY).reason is Reason.UNKNOWN_CALLER_LINE
    # a consent lifts the org list and then satisfies opt-in; it does not lift a range block
    assert verdict(CONSENT_REQUIRED, consents=ORG_CONSENT, listed=True, now=ORDINARY).reason is Reason.CONSENT_ON_FILE
    assert verdict(CONSENT_REQUIRED | RANGE_BLOCK, consents=ORG_CONSENT, now=ORDINARY).reason is Reason.RANGE_BLOCKED


def test_opt_in_comes_before_the_caps_quiet_days_and_calling_hours() -> None:
    late = datetime(2026, 10, 1, 22, 30, tzinfo=SHANGHAI)  # National Day, after hours
    assert verdict(CONSENT_REQUIRED | QUIET, capped=True, now=late).reason is Reason.NO_CONSENT
    # with a consent, the caps, quiet days and hours still apply after it
    assert verdict(CONSENT_REQUIRED | QUIET, ALL_CATEGORIES_MASK, ORG_CONSENT, capped=True, now=late).reason is (
        Reason.FREQUENCY_CAP
    )
    assert verdict(CONSENT_REQUIRED | QUIET, consents=ORG_CONSENT, now=late).reason is Reason.QUIET_DAY
    assert verdict(CONSENT_REQUIRED, consents=ORG_CONSENT, now=late).reason is Reason.OUTSIDE_CALLING_HOURS


def test_monitor_mode_allows_a_call_without_consent_and_flags_it_no_consent() -> None:
    v = verdict(CONSENT_REQUIRED, mode=Mode.MONITOR, now=ORDINARY)
    assert v == Verdict(Decision.ALLOW, Reason.NO_CONSENT, violation=True)
    ok = verdict(CONSENT_REQUIRED, consents=ORG_CONSENT, mode=Mode.MONITOR, now=ORDINARY)
    assert ok == Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE)


def test_verdicts_by_case_tell_the_two_uncovered_states_apart_only_under_opt_in() -> None:
    plain = verdicts_by_case(CALL, HOURS, ORDINARY, NO_RULES, None)
    assert plain[0:2] == plain[4:6]  # state 0 (no consent) and state 2 (a consent): the same answers
    assert plain[10:12] == plain[14:16]  # and at a cap
    opt_in = verdicts_by_case(CALL, HOURS, ORDINARY, CONSENT_REQUIRED, None)
    assert [v.reason for v in opt_in[0:6]] == [
        Reason.NO_CONSENT,
        Reason.NO_CONSENT,
        Reason.CONSENT_ON_FILE,
        Reason.CONSENT_ON_FILE,
        Reason.CONSENT_ON_FILE,
        Reason.CONSENT_ON_FILE,
    ]
    assert [v.reason for v in opt_in[10:16]] == [
        Reason.NO_CONSENT,  # at a cap, no consent: opt-in first
        Reason.NO_CONSENT,
        Reason.FREQUENCY_CAP,
        Reason.FREQUENCY_CAP,
        Reason.FREQUENCY_CAP,
        Reason.FREQUENCY_CAP,
    ]


def test_the_copy_sets_consent_required_for_the_orgs_categories_and_a_call_of_none() -> None:
    rules = CheckRules()
    rules.load(snapshot(consent_orgs={"acme": 0, "globex": 1 << Category.FINANCE}))
    assert rules.active
    now = epoch_us(NOON)
    for category in Category:
        assert rules.standing("acme", category, "+8613800138000", 86, "+86", now) == CONSENT_REQUIRED
    assert rules.standing("globex", Category.FINANCE, "+8613800138000", 86, "+86", now) == CONSENT_REQUIRED
    assert rules.standing("globex", Category.UNSPECIFIED, "+8613800138000", 86, "+86", now) == CONSENT_REQUIRED
    assert rules.standing("globex", Category.HEALTH, "+8613800138000", 86, "+86", now) == NO_RULES
    assert rules.standing("initech", Category.FINANCE, "+8613800138000", 86, "+86", now) == NO_RULES


# --- the in-process copy ---------------------------------------------------------------------------------


def line(seq: int, caller: str, org: str, start: datetime = T0, end: datetime | None = None) -> CallerLine:
    return CallerLine(seq, caller, org, "", start, end, start, "admin")


def snapshot(**kw: object) -> RulesSnapshot:
    base: dict[str, object] = {
        "version": (1, 1, 1),
        "quiet_orgs": frozenset(),
        "line_orgs": frozenset(),
        "lines": (),
        "ranges": (),
    }
    return RulesSnapshot(**{**base, **kw})  # type: ignore[arg-type]


def test_with_nothing_configured_the_copy_is_inactive() -> None:
    rules = CheckRules()
    rules.load(snapshot())
    assert not rules.active
    assert rules.standing("o", Category.FINANCE, "+8613800138000", 86, "+862787654321", epoch_us(NOON)) == NO_RULES


def test_a_caller_is_the_orgs_line_only_within_its_interval_and_for_that_org() -> None:
    end = T0 + timedelta(days=10)
    rules = CheckRules()
    rules.load(
        snapshot(
            line_orgs=frozenset({"acme"}),
            lines=(line(1, "+862787654321", "acme", T0, end), line(2, "+862787654321", "other", end)),
        )
    )
    assert rules.active
    inside, after = T0 + timedelta(days=1), end + timedelta(days=1)
    args = ("acme", Category.FINANCE, "+8613800138000", 86, "+862787654321")
    assert rules.standing(*args, epoch_us(inside)) == NO_RULES
    assert rules.standing(*args, epoch_us(after)) == UNKNOWN_LINE  # the line is another org's by then
    assert rules.standing(*args, epoch_us(T0 - timedelta(seconds=1))) == UNKNOWN_LINE
    assert (
        rules.standing("acme", Category.FINANCE, "+8613800138000", 86, "+862700000000", epoch_us(inside))
        == UNKNOWN_LINE
    )
    # An org that does not require registered lines is not asked.
    assert rules.standing("other", Category.FINANCE, "+8613800138000", 86, "+860000", epoch_us(inside)) == NO_RULES


def test_quiet_days_bind_callees_in_china_only() -> None:
    """China's calendar is the one maintained here: a callee elsewhere has no public holidays."""
    rules = CheckRules(frozenset({date(2026, 10, 1)}))
    rules.load(snapshot(quiet_orgs=frozenset({"acme"})))
    assert rules.standing("acme", Category.FINANCE, "+8613800138000", 86, "+86", epoch_us(NOON)) == QUIET
    assert rules.standing("acme", Category.FINANCE, "+12015550123", 1, "+86", epoch_us(NOON)) == NO_RULES
    assert rules.quiet_days_of(1) is None
    assert rules.standing("else", Category.FINANCE, "+8613800138000", 86, "+86", epoch_us(NOON)) == NO_RULES


def test_ranges_in_the_copy() -> None:
    rules = CheckRules()
    rules.load(snapshot(ranges=(rule(1, "+86400"),)))
    assert rules.standing("o", Category.FINANCE, "+864001234567", 86, "+86", epoch_us(NOON)) == RANGE_BLOCK
    assert rules.standing("o", Category.FINANCE, "+8613800138000", 86, "+86", epoch_us(NOON)) == NO_RULES


def test_an_assignment_ended_by_registering_it_again_ends_the_line() -> None:
    """The same owner registered again with valid_to supersedes its open-ended entry (domain.lines.live)."""
    end = T0 + timedelta(days=10)
    rules = CheckRules()
    rules.load(
        snapshot(
            line_orgs=frozenset({"acme"}),
            lines=(line(1, "+862787654321", "acme", T0), line(2, "+862787654321", "acme", T0, end)),
        )
    )
    args = ("acme", Category.FINANCE, "+8613800138000", 86, "+862787654321")
    assert rules.standing(*args, epoch_us(end - timedelta(seconds=1))) == NO_RULES
    assert rules.standing(*args, epoch_us(end)) == UNKNOWN_LINE


def test_a_cap_time_from_the_script_goes_only_to_a_frequency_cap_verdict() -> None:
    """The script reports when a slot frees up for a callee at a cap; a range block, an unknown line or
    a missing consent under opt-in decided before the caps keeps its own answer, with no next_allowed_time."""
    ms = 1_790_000_000_000
    state0_capped = 2 * CAPPED_STATE_OFFSET  # state 0 at a cap, enforce mode
    pick = state0_capped + len(CASES) * ms
    capped = picked(verdicts_by_case(CALL, HOURS, NOON, NO_RULES, None), pick)
    assert capped.reason is Reason.FREQUENCY_CAP
    assert capped.next_allowed_time == datetime.fromtimestamp(ms / 1000, UTC)
    for standing in (RANGE_BLOCK, UNKNOWN_LINE, CONSENT_REQUIRED):
        blocked = picked(verdicts_by_case(CALL, HOURS, NOON, standing, None), pick)
        assert blocked.reason is not Reason.FREQUENCY_CAP and blocked.next_allowed_time is None


def test_the_memoized_standing_equals_the_walk_for_random_rules_calls_and_times() -> None:
    """`standing` answers from its memo (per org, category, callee prefix, country, caller; restarted at
    every instant a rule takes effect or a line starts or ends): the same as walking the rules afresh,
    for random ranges, lines and policies, with calls in time order, backwards, and on the very instants
    of the changes."""
    rng = random.Random(1302)
    orgs, callers = ("acme", "globex", ""), ("+862787654321", "+862711112222", "+862799990000")
    for _ in range(60):
        instants = sorted(T0 + timedelta(hours=rng.randrange(0, 200)) for _ in range(6))
        prefixes = ("+86", "+861", "+86138", "+86139", "+8613800", "+1201", "+4420")
        snap = snapshot(
            quiet_orgs=frozenset(rng.sample(orgs[:2], rng.randrange(0, 3))),
            line_orgs=frozenset(rng.sample(orgs[:2], rng.randrange(0, 3))),
            lines=tuple(
                line(i, rng.choice(callers), rng.choice(orgs[:2]), rng.choice(instants), rng.choice([None, *instants]))
                for i in range(rng.randrange(0, 5))
            ),
            ranges=tuple(
                rule(
                    i,
                    rng.choice(prefixes),
                    rng.choice(list(RangeAction)),
                    rng.choice(orgs),
                    tuple(rng.sample(list(Category)[1:], rng.randrange(0, 3))),
                    rng.choice(instants),
                )
                for i in range(1, rng.randrange(1, 12))
            ),
            consent_orgs={o: rng.choice([0, mask_of((Category.FINANCE,))]) for o in rng.sample(orgs[:2], 1)},
        )
        memo, fresh = CheckRules(frozenset({date(2026, 10, 1)})), CheckRules(frozenset({date(2026, 10, 1)}))
        memo.load(snap)
        fresh.load(snap)
        times = [epoch_us(t) for t in instants] + [epoch_us(t) + d for t in instants for d in (-1, 1)]
        times += [epoch_us(T0 + timedelta(minutes=rng.randrange(0, 12_000))) for _ in range(30)]
        for now_us in times + sorted(times) + sorted(times, reverse=True):
            for _ in range(3):
                args = (
                    rng.choice(orgs[:2]),
                    rng.choice(list(Category)),
                    rng.choice(("+8613800138000", "+8613912345678", "+8612000000000", "+12015550123", "+442079460000")),
                    rng.choice((86, 1, 44)),
                    rng.choice(callers),
                    now_us,
                )
                assert memo.standing(*args) == fresh._standing(*args), (args, snap)
