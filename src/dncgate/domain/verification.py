"""Complaint verification: judge each reported caller's calls by the registry as it stood at each call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from dncgate.domain.decision import BLOCKING_ORDER, consent_on_file
from dncgate.domain.lines import CallerLine, owner_at
from dncgate.domain.money import Money
from dncgate.domain.registry import (
    Consent,
    ConsentChange,
    OrgListChange,
    PreferenceChange,
    consents_in_effect,
    grants_in_force,
    org_list_at,
    preference_at,
)
from dncgate.domain.types import Category, Decision, Reason, mask_covers

# The logged reasons that are no rule a placed call broke by themselves: the ALLOW reasons; her
# do-not-disturb and the org's own list, which verification re-judges from the journal (and which pay);
# and the Checks that could not judge the call (an invalid number, the registry unavailable). Every
# other reason, a future one too, is a rule the Check found broken with the rules in force then.
NOT_A_RULE = frozenset(
    {
        Reason.NOT_REGISTERED,
        Reason.CONSENT_ON_FILE,
        Reason.REGISTERED,
        Reason.ORG_LIST,
        Reason.INVALID_NUMBER,
        Reason.REGISTRY_UNAVAILABLE,
    }
)


@dataclass(frozen=True, slots=True)
class LoggedCall:
    """A Check on record for the consumer, with what the dialer reported afterwards (None: nothing), and
    the reason and violation flag the Check logged (monitor mode: ALLOW, the reason of the first rule
    that would have blocked, and `violation`)."""

    call_id: str
    at: datetime
    caller_e164: str
    org_id: str
    agent_id: str
    category: Category
    decision: Decision
    dialled: bool | None = None
    reason: Reason = Reason.NOT_REGISTERED
    violation: bool = False

    @property
    def placed(self) -> bool:
        """The consumer's phone rang as far as we know: allowed, or blocked and dialled anyway."""
        return self.decision is Decision.ALLOW or self.dialled is True

    @property
    def broken_rule(self) -> Reason | None:
        """The rule beyond her registration this placed call broke, as the Check judged it at the call's
        time with the rules then in force (its logged reason), or None.

        Only a call that rang although the Check said it should not: flagged in monitor mode, or
        blocked and dialled anyway. An ALLOW without the flag broke nothing, whatever its reason says.
        """
        if self.reason in NOT_A_RULE:
            return None
        if self.violation or (self.decision is Decision.BLOCK and self.dialled is True):
            return self.reason
        return None


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
    # No Check on record from the caller, but it was a registered line of an org (and agent) at the
    # complaint's time, and her do-not-disturb was violated: the dialer skipped the gateway.
    CALLED_OUTSIDE_GATEWAY = "CALLED_OUTSIDE_GATEWAY"
    # Placed calls broke a rule beyond her registration (a cap, a quiet day, a range, calling hours, an
    # unknown line, opt-in: `LoggedCall.broken_rule`) but neither her do-not-disturb nor the org's
    # list: a violation, reported as such, that pays nothing.
    RULE_VIOLATED = "RULE_VIOLATED"


# The verdicts that earn the consumer the fixed amount.
PAYING = frozenset({CallerVerdict.VERIFIED, CallerVerdict.CALLED_OUTSIDE_GATEWAY})


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict for one reported caller number, the calls behind it, and what it earns.

    `call_ids` are the calls the verdict rests on: the violating calls (VERIFIED, and
    ALREADY_COMPENSATED when this window has any), the consented calls (CONSENT_ON_FILE), the calls
    that broke another rule (RULE_VIOLATED) or every placed call (NOT_REGISTERED_AT_CALL_TIME).
    `caller_number` is E.164, or the text as given when it could not be parsed. `rules_broken`
    (RULE_VIOLATED) are the rules those calls broke, distinct, in the Check's precedence
    (`rules_in_order`). `consent_evidence` (CONSENT_ON_FILE) is the `evidence` of the consent entries
    in force at those calls, distinct ones joined by "; " (masked like all free text when recorded).
    `compensated_by_case` (ALREADY_COMPENSATED) is the case whose payout `payout_id` is: the store
    fills it in from the ledger, where a payout's case never changes. `org_id` and `agent_id` name
    the owner of the caller's registered line at the complaint's time, when the finding rests on that
    rather than on calls (no Check on record: CALLED_OUTSIDE_GATEWAY, or NOT_REGISTERED_AT_CALL_TIME,
    CONSENT_ON_FILE and ALREADY_COMPENSATED reached that way); "" otherwise.
    """

    caller_number: str
    verdict: CallerVerdict
    amount: Money
    call_ids: tuple[str, ...] = ()
    payout_id: str = ""
    consent_evidence: str = ""
    compensated_by_case: str = ""
    org_id: str = ""
    agent_id: str = ""
    rules_broken: tuple[Reason, ...] = ()

    @property
    def owed(self) -> bool:
        return self.verdict in PAYING


def rules_in_order(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Distinct reasons in the Check's precedence (`decision.BLOCKING_ORDER`); any it does not name
    after those, in enum order."""
    rank = {r: i for i, r in enumerate(BLOCKING_ORDER)}
    every = list(Reason)
    return tuple(sorted(set(reasons), key=lambda r: (rank.get(r, len(rank)), every.index(r))))


def judge(
    call: LoggedCall,
    preferences: Iterable[PreferenceChange],
    consents: Sequence[ConsentChange],
    org_lists: Sequence[OrgListChange] = (),
) -> Judgement:
    """Judge a call by the journal as recorded by the call's own time: later back-dating changes nothing.

    As the Check decides: her do-not-disturb, then her entry on the calling org's own list, each
    excused by a consent in effect (the later of a consent and a list entry wins, in journal order:
    `registry.consents_in_effect`, `registry.org_list_at`). A violation of either pays.
    """
    return _judge(call.at, call.category, call.org_id, call.agent_id, preferences, consents, org_lists)


def _judge(
    at: datetime,
    category: Category,
    org_id: str,
    agent_id: str,
    preferences: Iterable[PreferenceChange],
    consents: Sequence[ConsentChange],
    org_lists: Sequence[OrgListChange],
) -> Judgement:
    entry = preference_at(preferences, at, known_at=at)
    covered = mask_covers(entry.mask if entry else 0, category)
    listed = bool(org_lists) and org_list_at(org_lists, consents, org_id, at, known_at=at) is not None
    if not covered and not listed:
        return Judgement.NOT_REGISTERED
    if consent_on_file(consents_in_effect(consents, org_lists, at, known_at=at), org_id, agent_id, at):
        return Judgement.CONSENTED if covered else Judgement.NOT_REGISTERED
    return Judgement.VIOLATION


def consent_evidence(call: LoggedCall, consents: Iterable[ConsentChange]) -> str:
    """The `evidence` of the consent entry that made this call CONSENTED ("" if none is in force):
    the agent's own consent before the org-wide one, as recorded by the call's time."""
    return _evidence(consents, call.org_id, call.agent_id, call.at)


def _evidence(consents: Iterable[ConsentChange], org_id: str, agent_id: str, at: datetime) -> str:
    covering = [
        c for c in grants_in_force(consents, at, known_at=at) if Consent(c.org_id, c.agent_id).covers(org_id, agent_id)
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
    line: CallerLine | None = None,
    org_lists: Sequence[OrgListChange] = (),
) -> Finding:
    """The verdict for one caller number; `compensated_by` is the payout already booked for the pair,
    `line` the caller's registered line at the complaint's time (`window.before`), if it was one.

    A caller with no Check on record in the window (placed or not) is judged by its line instead
    (`outside_gateway`); with no line either it is NO_MATCHING_CALL. Otherwise, first match wins:
    VERIFIED (a call broke her do-not-disturb or the org's list: pays); CONSENT_ON_FILE (a consent
    excused such a call: a review may still make it VERIFIED, so it outranks what can never pay);
    RULE_VIOLATED (calls broke another rule: reported, pays nothing); NOT_REGISTERED_AT_CALL_TIME.
    """
    mine = [c for c in calls if c.caller_e164 == caller_e164 and c.at in window]
    placed = sorted((c for c in mine if c.placed), key=lambda c: (c.at, c.call_id))
    judged = [(c, judge(c, preferences, consents, org_lists)) for c in placed]
    violating = tuple(c.call_id for c, j in judged if j is Judgement.VIOLATION)
    zero = Money.zero(amount.currency)
    by_line = line if not mine else None
    if compensated_by is not None:
        org, agent = by_line.owner if by_line else ("", "")
        return Finding(
            caller_e164, CallerVerdict.ALREADY_COMPENSATED, zero, violating, compensated_by, org_id=org, agent_id=agent
        )
    if by_line is not None:
        return outside_gateway(caller_e164, by_line, window.before, preferences, consents, amount, org_lists)
    if violating:
        return Finding(caller_e164, CallerVerdict.VERIFIED, amount, violating)
    consented = [c for c, j in judged if j is Judgement.CONSENTED]
    if consented:
        evidence = "; ".join(dict.fromkeys(e for c in consented if (e := consent_evidence(c, consents))))
        ids = tuple(c.call_id for c in consented)
        return Finding(caller_e164, CallerVerdict.CONSENT_ON_FILE, zero, ids, consent_evidence=evidence)
    broke = [c for c in placed if c.broken_rule is not None]
    if broke:
        rules = rules_in_order(c.reason for c in broke)
        ids = tuple(c.call_id for c in broke)
        return Finding(caller_e164, CallerVerdict.RULE_VIOLATED, zero, ids, rules_broken=rules)
    if placed:
        return Finding(caller_e164, CallerVerdict.NOT_REGISTERED_AT_CALL_TIME, zero, tuple(c.call_id for c in placed))
    return Finding(caller_e164, CallerVerdict.NO_MATCHING_CALL, zero)


def outside_gateway(
    caller_e164: str,
    line: CallerLine,
    at: datetime,
    preferences: Sequence[PreferenceChange],
    consents: Sequence[ConsentChange],
    amount: Money,
    org_lists: Sequence[OrgListChange] = (),
) -> Finding:
    """A call from `line` with no Check on record, judged at the complaint's time `at` by the journal as
    recorded by then, as a placed call would be: CALLED_OUTSIDE_GATEWAY (paid like VERIFIED) where her
    do-not-disturb (any category: the call's category is unknown) or her entry on the line's org's own
    list was in force and no consent to the line's org (or its agent) in effect; else
    NOT_REGISTERED_AT_CALL_TIME or CONSENT_ON_FILE, which pay nothing.
    """
    zero = Money.zero(amount.currency)
    org, agent = line.owner
    judged = _judge(at, Category.UNSPECIFIED, org, agent, preferences, consents, org_lists)
    if judged is Judgement.NOT_REGISTERED:
        return Finding(caller_e164, CallerVerdict.NOT_REGISTERED_AT_CALL_TIME, zero, org_id=org, agent_id=agent)
    if judged is Judgement.CONSENTED:
        evidence = _evidence(consents, org, agent, at)
        return Finding(
            caller_e164, CallerVerdict.CONSENT_ON_FILE, zero, consent_evidence=evidence, org_id=org, agent_id=agent
        )
    return Finding(caller_e164, CallerVerdict.CALLED_OUTSIDE_GATEWAY, amount, org_id=org, agent_id=agent)


def verify(
    callers: Sequence[str],
    calls: Sequence[LoggedCall],
    window: Window,
    preferences: Sequence[PreferenceChange],
    consents: Sequence[ConsentChange],
    amount: Money,
    compensated: Mapping[str, str],
    lines: Sequence[CallerLine] = (),
    org_lists: Sequence[OrgListChange] = (),
) -> list[Finding]:
    """One finding per distinct caller number, in the order first named; `compensated` maps caller →
    payout; `lines` are the callers' caller-line journal rows (whose line each was at `window.before`);
    `org_lists` the consumer's org-list journal."""
    distinct = list(dict.fromkeys(callers))
    return [
        verify_caller(
            c,
            calls,
            window,
            preferences,
            consents,
            amount,
            compensated.get(c),
            owner_at(lines, c, window.before),
            org_lists,
        )
        for c in distinct
    ]


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


def disputable(finding: Finding) -> bool:
    """A consent finding a review can uphold her against: it rests on calls, or on the caller's line."""
    return finding.verdict is CallerVerdict.CONSENT_ON_FILE and bool(finding.call_ids or finding.org_id)


def upheld_on_review(finding: Finding, amount: Money) -> Finding:
    """An operator found the consent the consumer disputes not valid: the consented calls now count (a
    finding resting on the caller's line, with no Check on record, becomes CALLED_OUTSIDE_GATEWAY)."""
    verdict = CallerVerdict.VERIFIED if finding.call_ids else CallerVerdict.CALLED_OUTSIDE_GATEWAY
    return replace(finding, verdict=verdict, amount=amount)


def total(findings: Iterable[Finding], currency: str) -> Money:
    out = Money.zero(currency)
    for f in findings:
        if f.owed:
            out = out + f.amount
    return out
