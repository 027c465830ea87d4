"""The Check decision: whether a call may be placed now, and why (DESIGN.md's decision table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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


def consent_on_file(consents: Sequence[Consent], org_id: str, agent_id: str, now: datetime) -> bool:
    """Whether a consent to this org (org-wide or for this very agent) is in force now."""
    return any(c.covers(org_id, agent_id) and c.active_at(now) for c in consents)


def decide(
    call: CallAttempt,
    registered_mask: int,
    consents: Sequence[Consent],
    mode: Mode,
    hours: CallingHours,
    now: datetime,
    org_listed: bool = False,
    capped: bool = False,
) -> Verdict:
    """Whether this call may be placed now, and why.

    Order matters: an invalid number is blocked whatever the mode; a registration without consent is
    reported before anything else (it is hers, and what pays); then her entry on the calling org's own
    list (`org_listed`), unless a consent to the org or agent is in effect (`consents` are those in
    effect: `registry.consents_in_effect` drops the ones her entry came after); then the frequency
    caps (`capped`: she has had as many placed calls in a rolling window as a cap allows; consented
    calls count too), which bind before calling hours: a slot that frees up tomorrow is the answer
    worth giving, not an hour that opens today; then calling hours (waiting lifts neither a
    registration nor a list entry), which bind even consented calls. In monitor mode a would-be block
    on REGISTERED, ORG_LIST, FREQUENCY_CAP or OUTSIDE_CALLING_HOURS is allowed and flagged.
    """
    if not call.callee_valid:
        return INVALID_NUMBER
    covered = mask_covers(registered_mask, call.category)
    on_file = (covered or org_listed) and consent_on_file(consents, call.org_id, call.agent_id, now)
    consented = covered and on_file
    listed = org_listed and not on_file
    return decide_case(covered, consented, mode, window_check(hours, call.callee_zones, now), listed, capped)


def decide_case(
    covered: bool, consented: bool, mode: Mode, opens: datetime | None, listed: bool = False, capped: bool = False
) -> Verdict:
    """`decide` for a valid callee once the registry has been read: whether her do-not-disturb covers
    the call's category, whether a consent to the org (or agent) is on file, the org's mode, when
    the calling window opens (None: it is open now; `hours.window_check`), whether she is on the
    org's own list with no consent in effect (`listed`), and whether she is at a frequency cap
    (`capped`; its `next_allowed_time` is when a slot frees up, which only the count knows: the Check
    fills it in from what the script read)."""
    if covered and not consented:
        return _enforce(Verdict(Decision.BLOCK, Reason.REGISTERED), mode)
    if listed:
        return _enforce(Verdict(Decision.BLOCK, Reason.ORG_LIST), mode)
    if capped:
        return _enforce(Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP), mode)
    if opens is not None:
        return _enforce(Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=opens), mode)
    return Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE if covered else Reason.NOT_REGISTERED)


# The states the registry can hold for one call, in the order the Check scripts number them (case
# index = 2 * state + monitor): (covered, consented, listed, capped) = 0 not covered (and not on the
# org's list or excused from it by a consent), 1 covered with a consent on file, 2 covered without one
# (whatever the list and caps say: do-not-disturb comes first), 3 not covered but on the org's list
# with no consent (the list comes before caps), then states 0 and 1 at a frequency cap (4, 5): the
# only ones whose verdict a cap can change; each in enforce then monitor mode.
STATES = (
    (False, False, False, False),
    (True, True, False, False),
    (True, False, False, False),
    (False, False, True, False),
    (False, False, False, True),
    (True, True, False, True),
)
CASES = tuple((*state, mode) for state in STATES for mode in (Mode.ENFORCE, Mode.MONITOR))
# What a cap turns state 0 and state 1 into (the scripts add this to a state at its cap).
CAPPED_STATE_OFFSET = 4


def verdicts_by_case(call: CallAttempt, hours: CallingHours, now: datetime) -> tuple[Verdict, ...]:
    """`decide` for each of the registry's states (`CASES`), the calling window computed once for all twelve.

    The gateway hands these twelve answers to Redis, which picks the one matching what it stores, so a
    Check needs one round trip while every decision is still made here, by `decide_case`.
    """
    if not call.callee_valid:
        return (INVALID_NUMBER,) * len(CASES)
    opens = window_check(hours, call.callee_zones, now)
    return tuple(
        decide_case(covered, consented, mode, opens, listed, capped)
        for covered, consented, listed, capped, mode in CASES
    )


def _enforce(blocked: Verdict, mode: Mode) -> Verdict:
    if mode is Mode.MONITOR:
        return Verdict(Decision.ALLOW, blocked.reason, violation=True, next_allowed_time=blocked.next_allowed_time)
    return blocked
