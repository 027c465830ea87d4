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
) -> Verdict:
    """Whether this call may be placed now, and why.

    Order matters: an invalid number is blocked whatever the mode; a registration without consent is
    reported before calling hours (waiting will not lift it); calling hours bind even consented calls.
    In monitor mode a would-be block on REGISTERED or OUTSIDE_CALLING_HOURS is allowed and flagged.
    """
    if not call.callee_valid:
        return INVALID_NUMBER
    reason = Reason.NOT_REGISTERED
    if mask_covers(registered_mask, call.category):
        if not consent_on_file(consents, call.org_id, call.agent_id, now):
            return _enforce(Verdict(Decision.BLOCK, Reason.REGISTERED), mode)
        reason = Reason.CONSENT_ON_FILE
    opens = window_check(hours, call.callee_zones, now)
    if opens is not None:
        return _enforce(Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=opens), mode)
    return Verdict(Decision.ALLOW, reason)


def verdicts_by_case(call: CallAttempt, hours: CallingHours, now: datetime) -> tuple[Verdict, ...]:
    """`decide` for each state the registry can hold for this call, in the order
    (not covered, covered with a consent on file, covered without one) x (enforce, monitor).

    The gateway hands these six answers to Redis, which picks the one matching what it stores, so a
    Check needs one round trip while every decision is still made here. Calling hours are computed
    once for all six.
    """
    if not call.callee_valid:
        return (INVALID_NUMBER,) * 6
    opens = window_check(hours, call.callee_zones, now)

    def reachable(reason: Reason) -> Verdict:
        if opens is not None:
            return Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=opens)
        return Verdict(Decision.ALLOW, reason)

    cases = (
        reachable(Reason.NOT_REGISTERED),
        reachable(Reason.CONSENT_ON_FILE),
        Verdict(Decision.BLOCK, Reason.REGISTERED),
    )
    return tuple(v for case in cases for v in (case, _enforce(case, Mode.MONITOR) if not case.allowed else case))


def _enforce(blocked: Verdict, mode: Mode) -> Verdict:
    if mode is Mode.MONITOR:
        return Verdict(Decision.ALLOW, blocked.reason, violation=True, next_allowed_time=blocked.next_allowed_time)
    return blocked
