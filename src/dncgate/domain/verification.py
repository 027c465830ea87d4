"""Complaint verification: judge each reported caller's calls by the registry as it stood at each call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from dncgate.domain.decision import consent_on_file
from dncgate.domain.money import Money
from dncgate.domain.registry import (
    Consent,
    ConsentChange,
    PreferenceChange,
    consents_at,
    grants_in_force,
    preference_at,
)
from dncgate.domain.types import Category, Decision, mask_covers


@dataclass(frozen=True, slots=True)
class LoggedCall:
    """A Check on record for the consumer, with what the dialer reported afterwards (None: nothing)."""

    call_id: str
    at: datetime
    caller_e164: str
    org_id: str
    agent_id: str
    category: Category
    decision: Decision
    dialled: bool | None = None

    @property
    def placed(self) -> bool:
        """The consumer's phone rang as far as we know: allowed, or blocked and dialled anyway."""
        return self.decision is Decision.ALLOW or self.dialled is True


@dataclass(frozen=True, slots=True)
class Window:
    """When the consumer says the calls happened, both ends included."""

    after: datetime
    before: datetime

    def __contains__(self, at: object) -> bool:
        return isinstance(at, datetime) and self.after <= at <= self.before


class Judgement(Enum):
    """How one placed call stands against the consumer's registration at that moment."""

    VIOLATION = "VIOLATION"
    CONSENTED = "CONSENTED"
    NOT_REGISTERED = "NOT_REGISTERED"


class CallerVerdict(Enum):
    VERIFIED = "VERIFIED"
    NO_MATCHING_CALL = "NO_MATCHING_CALL"
    CONSENT_ON_FILE = "CONSENT_ON_FILE"
    NOT_REGISTERED_AT_CALL_TIME = "NOT_REGISTERED_AT_CALL_TIME"
    ALREADY_COMPENSATED = "ALREADY_COMPENSATED"


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict for one reported caller number, the calls behind it, and what it earns.

    `call_ids` are the calls the verdict rests on: the violating calls (VERIFIED, and
    ALREADY_COMPENSATED when this window has any), the consented calls (CONSENT_ON_FILE) or every
    placed call (NOT_REGISTERED_AT_CALL_TIME). `caller_number` is E.164, or the text as given when it
    could not be parsed. `consent_evidence` (CONSENT_ON_FILE) is the `evidence` of the consent entries
    in force at those calls, distinct ones joined by "; " (masked like all free text when recorded).
    `compensated_by_case` (ALREADY_COMPENSATED) is the case whose payout `payout_id` is: the store
    fills it in from the ledger, where a payout's case never changes.
    """

    caller_number: str
    verdict: CallerVerdict
    amount: Money
    call_ids: tuple[str, ...] = ()
    payout_id: str = ""
    consent_evidence: str = ""
    compensated_by_case: str = ""

    @property
    def owed(self) -> bool:
        return self.verdict is CallerVerdict.VERIFIED


def judge(call: LoggedCall, preferences: Iterable[PreferenceChange], consents: Iterable[ConsentChange]) -> Judgement:
    """Judge a call by the journal as recorded by the call's own time: later back-dating changes nothing."""
    entry = preference_at(preferences, call.at, known_at=call.at)
    if not mask_covers(entry.mask if entry else 0, call.category):
        return Judgement.NOT_REGISTERED
    active = consents_at(consents, call.at, known_at=call.at)
    if consent_on_file(active, call.org_id, call.agent_id, call.at):
        return Judgement.CONSENTED
    return Judgement.VIOLATION


def consent_evidence(call: LoggedCall, consents: Iterable[ConsentChange]) -> str:
    """The `evidence` of the consent entry that made this call CONSENTED ("" if none is in force):
    the agent's own consent before the org-wide one, as recorded by the call's time."""
    covering = [
        c
        for c in grants_in_force(consents, call.at, known_at=call.at)
        if Consent(c.org_id, c.agent_id).covers(call.org_id, call.agent_id)
    ]
    covering.sort(key=lambda c: (c.agent_id == "", -c.seq))
    return covering[0].evidence if covering else ""


def verify_caller(
    caller_e164: str,
    calls: Iterable[LoggedCall],
    window: Window,
    preferences: Sequence[PreferenceChange],
    consents: Sequence[ConsentChange],
    amount: Money,
    compensated_by: str | None = None,
) -> Finding:
    """The verdict for one caller number; `compensated_by` is the payout already booked for the pair."""
    placed = sorted(
        (c for c in calls if c.caller_e164 == caller_e164 and c.at in window and c.placed),
        key=lambda c: (c.at, c.call_id),
    )
    judged = [(c, judge(c, preferences, consents)) for c in placed]
    violating = tuple(c.call_id for c, j in judged if j is Judgement.VIOLATION)
    zero = Money.zero(amount.currency)
    if compensated_by is not None:
        return Finding(caller_e164, CallerVerdict.ALREADY_COMPENSATED, zero, violating, compensated_by)
    if violating:
        return Finding(caller_e164, CallerVerdict.VERIFIED, amount, violating)
    consented = [c for c, j in judged if j is Judgement.CONSENTED]
    if consented:
        evidence = "; ".join(dict.fromkeys(e for c in consented if (e := consent_evidence(c, consents))))
        ids = tuple(c.call_id for c in consented)
        return Finding(caller_e164, CallerVerdict.CONSENT_ON_FILE, zero, ids, consent_evidence=evidence)
    if placed:
        return Finding(caller_e164, CallerVerdict.NOT_REGISTERED_AT_CALL_TIME, zero, tuple(c.call_id for c in placed))
    return Finding(caller_e164, CallerVerdict.NO_MATCHING_CALL, zero)


def verify(
    callers: Sequence[str],
    calls: Sequence[LoggedCall],
    window: Window,
    preferences: Sequence[PreferenceChange],
    consents: Sequence[ConsentChange],
    amount: Money,
    compensated: Mapping[str, str],
) -> list[Finding]:
    """One finding per distinct caller number, in the order first named; `compensated` maps caller → payout."""
    distinct = list(dict.fromkeys(callers))
    return [verify_caller(c, calls, window, preferences, consents, amount, compensated.get(c)) for c in distinct]


def unparsable(text: str, currency: str) -> Finding:
    """A caller "number" that is no number at all cannot have called anyone."""
    return Finding(text, CallerVerdict.NO_MATCHING_CALL, Money.zero(currency))


def compensated_elsewhere(finding: Finding, payout_id: str) -> Finding:
    """A verified finding whose payout another case booked first (the ledger's UNIQUE said so)."""
    return replace(
        finding,
        verdict=CallerVerdict.ALREADY_COMPENSATED,
        amount=Money.zero(finding.amount.currency),
        payout_id=payout_id,
    )


def booked(finding: Finding, payout_id: str) -> Finding:
    return replace(finding, payout_id=payout_id)


def upheld_on_review(finding: Finding, amount: Money) -> Finding:
    """An operator found the consent the consumer disputes not valid: the consented calls now count."""
    return replace(finding, verdict=CallerVerdict.VERIFIED, amount=amount)


def total(findings: Iterable[Finding], currency: str) -> Money:
    out = Money.zero(currency)
    for f in findings:
        if f.owed:
            out = out + f.amount
    return out
