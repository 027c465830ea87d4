"""The Check decision: whether a call may be placed now, and why (DESIGN.md's decision table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dncgate.domain.hours import CallingHours, window_check
from dncgate.domain.registry import Consent
from dncgate.domain.types import Category, Decision, Mode, Reason, mask_covers


@dataclass(frozen=True, slots=True)
class CallAttempt:
    """What a dialer is about to do; `callee_zones` is empty when the callee number is invalid."""

    callee_valid: bool
    callee_zones: tuple[ZoneInfo, ...]
    org_id: str
    agent_id: str
    category: Category


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: Reason
    violation: bool = False
    next_allowed_time: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


INVALID_NUMBER = Verdict(Decision.BLOCK, Reason.INVALID_NUMBER)
REGISTRY_UNAVAILABLE = Verdict(Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
UNKNOWN_CALLER_LINE = Verdict(Decision.BLOCK, Reason.UNKNOWN_CALLER_LINE)
RANGE_BLOCKED = Verdict(Decision.BLOCK, Reason.RANGE_BLOCKED)
NO_CONSENT = Verdict(Decision.BLOCK, Reason.NO_CONSENT)


# The blocking reasons in `decide_case`'s precedence (its docstring; a unit test holds them equal):
# the order a finding lists the rules a call broke in (`verification.rules_in_order`). A reason
# missing here sorts after these, in enum order.
BLOCKING_ORDER: tuple[Reason, ...] = (
    Reason.UNKNOWN_CALLER_LINE,
    Reason.REGISTERED,
    Reason.ORG_LIST,
    Reason.RANGE_BLOCKED,
    Reason.NO_CONSENT,
    Reason.FREQUENCY_CAP,
    Reason.QUIET_DAY,
    Reason.OUTSIDE_CALLING_HOURS,
)


def consent_on_file(consents: Sequence[Consent], org_id: str, agent_id: str, now: datetime) -> bool:
    """Whether a consent to this org (org-wide or for this very agent) is in force now."""
    return any(c.covers(org_id, agent_id) and c.active_at(now) for c in consents)


# What the rules beyond the registry say of one call, known before Redis is asked (from in-process
# copies), as bits of one int (`standing`): an int so that verdict tables keyed by it hash at no cost,
# and NO_RULES (0) for almost every Check.
NO_RULES = 0
# The org requires registered lines and the caller number is no line of the org now.
UNKNOWN_LINE = 1
# The number-range rule that binds the call is a BLOCK (`domain.ranges`).
RANGE_BLOCK = 2
# The org keeps quiet days and the callee's region has a holiday calendar (`QuietDays` tells the day).
QUIET = 4
# The org's policy requires a consent on file for the call's category (opt-in: no consent, no call).
CONSENT_REQUIRED = 8


@dataclass(frozen=True, slots=True)
class QuietDays:
    """The public holidays of the callee's region (local dates), from the maintained calendar."""

    holidays: frozenset[date]

    def quiet_until(self, hours: CallingHours, zones: Sequence[ZoneInfo], now: datetime) -> datetime | None:
        """None unless today is a public holiday in one of the callee's zones; then the start of calling
        hours on the first day after that is no public holiday in any of them (a weekend is no quiet day)."""
        holidays = self.holidays
        if not any(now.astimezone(z).date() in holidays for z in zones):
            return None
        starts = []
        for z in zones:
            day = now.astimezone(z).date() + timedelta(days=1)
            while day in holidays:
                day += timedelta(days=1)
            starts.append(datetime.combine(day, time(hours.start_minute // 60, hours.start_minute % 60), tzinfo=z))
        return max(starts).astimezone(now.tzinfo)


def decide(
    call: CallAttempt,
    registered_mask: int,
    consents: Sequence[Consent],
    mode: Mode,
    hours: CallingHours,
    now: datetime,
    org_listed: bool = False,
    capped: bool = False,
    standing: int = NO_RULES,
    quiet_days: QuietDays | None = None,
) -> Verdict:
    """Whether this call may be placed now, and why (the order is `decide_case`'s).

    `consents` are those in effect (`registry.consents_in_effect` drops the ones her org-list entry
    came after); a consent excuses her do-not-disturb, her entry on the org's list and, under opt-in
    (`standing` has CONSENT_REQUIRED), the want of one, nothing else.
    `capped`: she has had as many placed calls in a rolling window as a cap allows (consented calls
    count too). `quiet_days`: the callee region's public holidays, when `standing` has QUIET (the org
    keeps them).
    """
    if not call.callee_valid:
        return INVALID_NUMBER
    covered = mask_covers(registered_mask, call.category)
    consented = consent_on_file(consents, call.org_id, call.agent_id, now)
    listed = org_listed and not consented
    quiet = _quiet(call, hours, now, standing, quiet_days)
    return decide_case(
        covered, consented, mode, window_check(hours, call.callee_zones, now), listed, capped, standing, quiet
    )


def decide_case(
    covered: bool,
    consented: bool,
    mode: Mode,
    opens: datetime | None,
    listed: bool = False,
    capped: bool = False,
    standing: int = NO_RULES,
    quiet: datetime | None = None,
) -> Verdict:
    """`decide` for a valid callee once the registry has been read: whether her do-not-disturb covers
    the call's category, whether a consent to the org (or agent) is in force (`consented`, covered or
    not), the org's mode, when the calling window opens (None: it is open now; `hours.window_check`),
    whether she is on the org's own list with no consent in effect (`listed`), whether she is at a
    frequency cap (`capped`; its `next_allowed_time` is when a slot frees up, which only the count
    knows: the Check fills it in from what the script read), what the rules beyond the registry say
    (`standing`) and, on a quiet day, when it ends (`quiet`).

    The precedence, the one place it is written (README "The decision"): an invalid number and an
    unavailable registry are answered before this; then
      1. UNKNOWN_CALLER_LINE: about the caller, not the callee: the line may place no call at all, so
         nothing about the callee is worth reporting first;
      2. REGISTERED: her do-not-disturb, unless a consent is on file (what pays);
      3. ORG_LIST: her refusal to this org, unless a later consent;
      4. RANGE_BLOCKED: company policy on her prefix; a consent does not lift it, a range ALLOW only
         lifts a shorter range BLOCK (`domain.ranges`), never 2 or 3;
      5. NO_CONSENT: the org's opt-in policy (`standing` has CONSENT_REQUIRED) and no consent in force,
         registered or not: no clear consent is a refusal;
      6. FREQUENCY_CAP: as many placed calls in a rolling window as a cap allows (consented calls
         count too); before quiet days and calling hours: a slot that frees up later is the answer
         worth giving, not a day or an hour that opens sooner;
      7. QUIET_DAY: a public holiday in her local date, until the next day that is none;
      8. OUTSIDE_CALLING_HOURS;
      9. ALLOW, CONSENT_ON_FILE (covered, or under opt-in with a consent) or NOT_REGISTERED (not
         covered and no opt-in, whatever consent she gave: the answer of an org without opt-in).
    Monitor mode turns each block of 1 to 8 into ALLOW with `violation` and the reason of the first
    rule that would have blocked (with its next_allowed_time).
    """
    if standing & UNKNOWN_LINE:
        return _enforce(UNKNOWN_CALLER_LINE, mode)
    if covered and not consented:
        return _enforce(Verdict(Decision.BLOCK, Reason.REGISTERED), mode)
    if listed:
        return _enforce(Verdict(Decision.BLOCK, Reason.ORG_LIST), mode)
    if standing & RANGE_BLOCK:
        return _enforce(RANGE_BLOCKED, mode)
    opt_in = standing & CONSENT_REQUIRED
    if opt_in and not consented:
        return _enforce(NO_CONSENT, mode)
    if capped:
        return _enforce(Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP), mode)
    if quiet is not None:
        return _enforce(Verdict(Decision.BLOCK, Reason.QUIET_DAY, next_allowed_time=quiet), mode)
    if opens is not None:
        return _enforce(Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=opens), mode)
    return Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE if covered or opt_in else Reason.NOT_REGISTERED)


def _quiet(
    call: CallAttempt, hours: CallingHours, now: datetime, standing: int, quiet_days: QuietDays | None
) -> datetime | None:
    if not standing & QUIET or quiet_days is None:
        return None
    return quiet_days.quiet_until(hours, call.callee_zones, now)


# The states the registry can hold for one call, in the order the Check scripts number them (case
# index = 2 * state + monitor): (covered, consented, listed, capped) = 0 not covered, no consent in
# force and not on the org's list, 1 covered with a consent in force, 2 not covered with a consent in
# force (on the org's list or not: a consent in effect came after the entry), 3 covered without one
# (whatever the list and caps say: do-not-disturb comes first), 4 not covered but on the org's list
# with no consent (the list comes before caps), then states 0, 1 and 2 at a frequency cap (5, 6, 7):
# the only ones whose verdict a cap can change; each in enforce then monitor mode. States 0 and 2 get
# the same verdicts unless the org requires consent (CONSENT_REQUIRED), so an org without opt-in
# answers as before the split.
STATES = (
    (False, False, False, False),
    (True, True, False, False),
    (False, True, False, False),
    (True, False, False, False),
    (False, False, True, False),
    (False, False, False, True),
    (True, True, False, True),
    (False, True, False, True),
)
CASES = tuple((*state, mode) for state in STATES for mode in (Mode.ENFORCE, Mode.MONITOR))
# What a cap turns states 0, 1 and 2 into (the scripts add this to a state at its cap).
CAPPED_STATE_OFFSET = 5


def verdicts_by_case(
    call: CallAttempt,
    hours: CallingHours,
    now: datetime,
    standing: int = NO_RULES,
    quiet_days: QuietDays | None = None,
) -> tuple[Verdict, ...]:
    """`decide` for each of the registry's states (`CASES`), the calling window (and a quiet day) computed
    once for all sixteen; `standing` is the same for every case (it does not depend on what Redis holds).

    The gateway hands these sixteen answers to Redis, which picks the one matching what it stores, so a
    Check needs one round trip while every decision is still made here, by `decide_case`.
    """
    if not call.callee_valid:
        return (INVALID_NUMBER,) * len(CASES)
    opens = window_check(hours, call.callee_zones, now)
    quiet = _quiet(call, hours, now, standing, quiet_days)
    return tuple(
        decide_case(covered, consented, mode, opens, listed, capped, standing, quiet)
        for covered, consented, listed, capped, mode in CASES
    )


def _enforce(blocked: Verdict, mode: Mode) -> Verdict:
    if mode is Mode.MONITOR:
        return Verdict(Decision.ALLOW, blocked.reason, violation=True, next_allowed_time=blocked.next_allowed_time)
    return blocked
