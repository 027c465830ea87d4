"""Preferences and consents as append-only journals, and what they say at a given time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dncgate.domain.types import Category, Mode, Source, mask_covers


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    """One journal entry: from `effective_from` on, the consumer's do-not-disturb is this."""

    seq: int
    do_not_disturb: bool
    categories_mask: int
    source: Source
    effective_from: datetime
    recorded_at: datetime
    # Who made the entry: the authenticated principal's label; "" for entries from before access control.
    recorded_by: str = ""

    @property
    def mask(self) -> int:
        """Categories blocked by this entry; 0 when it switches do-not-disturb off."""
        return self.categories_mask if self.do_not_disturb else 0


def _order(change: PreferenceChange) -> tuple[datetime, int]:
    return (change.effective_from, change.seq)


def preference_at(
    changes: Iterable[PreferenceChange], at: datetime, known_at: datetime | None = None
) -> PreferenceChange | None:
    """The entry in effect at `at`, counting only entries recorded by `known_at` (default: all).

    Entries are ordered by effective time, then by journal order, so a later correction with the same
    effective time wins. Asking with `known_at=at` answers "what did the registry say at that moment",
    which is what a past call must be judged by: a preference back-dated afterwards does not make an
    earlier call a violation.
    """
    best: PreferenceChange | None = None
    for c in changes:
        if c.effective_from > at or (known_at is not None and c.recorded_at > known_at):
            continue
        if best is None or _order(c) > _order(best):
            best = c
    return best


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def epoch_us(at: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    return (at - EPOCH) // _US


@dataclass(frozen=True, slots=True)
class Schedule:
    """A number's blocked-category mask now and at each known future change (for the hot path)."""

    mask: int
    # (epoch microseconds, mask from then on), ascending; empty unless a change was scheduled ahead.
    # Microseconds, like PostgreSQL's timestamptz, so the hot path switches at the journal's instant.
    upcoming: tuple[tuple[int, int], ...] = ()


def schedule_of(changes: Sequence[PreferenceChange], now: datetime) -> Schedule:
    """Fold a number's journal into what the hot path needs: the mask now and any later changes."""
    current = preference_at(changes, now)
    upcoming: list[tuple[int, int]] = []
    future = sorted((c for c in changes if c.effective_from > now), key=_order)
    for c in future:
        # Several entries may share an effective time; only the last of them counts.
        at = epoch_us(c.effective_from)
        if upcoming and upcoming[-1][0] == at:
            upcoming[-1] = (at, c.mask)
        else:
            upcoming.append((at, c.mask))
    return Schedule(mask=current.mask if current else 0, upcoming=tuple(upcoming))


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One consent journal entry: a grant (with optional expiry) or a revocation."""

    seq: int
    org_id: str
    agent_id: str  # "" = any agent of the org
    granted: bool
    expires_at: datetime | None
    evidence: str
    effective_at: datetime
    recorded_at: datetime
    recorded_by: str = ""  # as PreferenceChange.recorded_by
    exempt_from_caps: bool = False  # a grant whose calls neither count nor are held to the frequency caps


@dataclass(frozen=True, slots=True)
class OrgPolicyEntry:
    """An org's policy journal entry: its whole policy from then on, and who set it (as
    PreferenceChange.recorded_by). Each entry holds every field, so the policy in force at a time is
    the latest entry before it. The fields a SetOrgPolicy may change are `org_policy.POLICY_FIELDS`."""

    mode: Mode
    recorded_by: str = ""
    signed_receipts: bool = False  # every CheckResponse of the org carries a signed receipt
    quiet_on_public_holidays: bool = False  # no calls on the callee's public holidays (QUIET_DAY)
    require_registered_lines: bool = False  # Checks only from the org's caller lines (UNKNOWN_CALLER_LINE)
    max_calls_per_day: int = 0  # the org's own frequency cap per consumer and rolling day (0: none)
    consent_required: bool = False  # opt-in: calls only with a consent in force (NO_CONSENT)
    consent_required_categories: int = 0  # the categories opt-in binds, a preference mask (0: every one)

    def requires_consent(self, category: Category) -> bool:
        """Whether opt-in binds a call of this category: every category when none is named, and a call of
        no category whatever is named (as any registration covers it)."""
        mask = self.consent_required_categories
        return self.consent_required and (mask == 0 or mask_covers(mask, category))


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent in force: the consumer agreed to calls from this org (or one agent of it)."""

    org_id: str
    agent_id: str
    expires_at: datetime | None = None
    exempt_from_caps: bool = False  # its calls neither count nor are held to the frequency caps

    def active_at(self, at: datetime) -> bool:
        return self.expires_at is None or at < self.expires_at

    def covers(self, org_id: str, agent_id: str) -> bool:
        return self.org_id == org_id and (self.agent_id == "" or self.agent_id == agent_id)


def consents_at(changes: Iterable[ConsentChange], at: datetime, known_at: datetime | None = None) -> list[Consent]:
    """Consents granted, not revoked and not expired at `at`, as recorded by `known_at`."""
    return [
        Consent(c.org_id, c.agent_id, c.expires_at, c.exempt_from_caps) for c in grants_in_force(changes, at, known_at)
    ]


def grants_in_force(
    changes: Iterable[ConsentChange], at: datetime, known_at: datetime | None = None
) -> list[ConsentChange]:
    """The journal entries behind `consents_at`: per (org, agent), the latest entry by then, if a live grant."""
    latest: dict[tuple[str, str], ConsentChange] = {}
    for c in changes:
        if c.effective_at > at or (known_at is not None and c.recorded_at > known_at):
            continue
        key = (c.org_id, c.agent_id)
        prev = latest.get(key)
        if prev is None or (c.effective_at, c.seq) > (prev.effective_at, prev.seq):
            latest[key] = c
    return [c for c in latest.values() if c.granted and Consent(c.org_id, c.agent_id, c.expires_at).active_at(at)]


def consent_states(changes: Iterable[ConsentChange], at: datetime) -> dict[tuple[str, str], Consent | None]:
    """For each (org, agent) the changes name, the consent in force at `at`, or None (what Redis holds:
    a field per consent in force, none for the others)."""
    changes = list(changes)
    active: dict[tuple[str, str], Consent | None] = {(c.org_id, c.agent_id): c for c in consents_at(changes, at)}
    return {(c.org_id, c.agent_id): active.get((c.org_id, c.agent_id)) for c in changes}


@dataclass(frozen=True, slots=True)
class OrgListChange:
    """One entry of an org's own do-not-call list: the consumer put on it (`listed`) or taken off it."""

    seq: int
    org_id: str
    listed: bool
    reason: str  # free text, masked when recorded
    effective_at: datetime
    recorded_at: datetime
    recorded_by: str = ""  # as PreferenceChange.recorded_by


_NEVER = (EPOCH, 0)


def _when(e: OrgListChange) -> tuple[datetime, int]:
    """Journal order, as consents are ordered (`grants_in_force`): effective time, then seq. Both
    journals take the time from PostgreSQL's clock under the consumer's lock, so it follows the seq."""
    return (e.effective_at, e.seq)


def _known(at: datetime, known_at: datetime | None, effective_at: datetime, recorded_at: datetime) -> bool:
    return effective_at <= at and (known_at is None or recorded_at <= known_at)


def org_list_at(
    entries: Iterable[OrgListChange],
    consents: Iterable[ConsentChange],
    org_id: str,
    at: datetime,
    known_at: datetime | None = None,
) -> OrgListChange | None:
    """The entry keeping the consumer on `org_id`'s own list at `at` (as recorded by `known_at`), or None.

    The latest entry for the org by then, if an add, and unless an org-wide consent to the org was
    granted after it: between a consent and a list entry the later one (in journal order: `_when`) wins, and
    an org-wide grant ends the entry for good (its expiry or revocation does not bring it back). A
    grant to one agent of the org excuses that agent's calls while in force (`consents_in_effect`)
    but leaves the entry on the list.
    """
    latest: OrgListChange | None = None
    for e in entries:
        known = e.org_id == org_id and _known(at, known_at, e.effective_at, e.recorded_at)
        if known and (latest is None or _when(e) > _when(latest)):
            latest = e
    if latest is None or not latest.listed:
        return None
    for c in consents:
        if (
            c.org_id == org_id
            and c.agent_id == ""
            and c.granted
            and (c.effective_at, c.seq) > _when(latest)
            and _known(at, known_at, c.effective_at, c.recorded_at)
        ):
            return None
    return latest


def consents_in_effect(
    consents: Iterable[ConsentChange],
    entries: Iterable[OrgListChange],
    at: datetime,
    known_at: datetime | None = None,
) -> list[Consent]:
    """`consents_at`, less the grants made before the consumer's latest addition to that org's list.

    The other half of "the later one wins": putting a consumer on an org's list ends the effect of every
    consent she had given that org (org-wide or to one agent); the journal keeps them all.
    """
    added: dict[str, tuple[datetime, int]] = {}
    for e in entries:
        if e.listed and _known(at, known_at, e.effective_at, e.recorded_at):
            added[e.org_id] = max(added.get(e.org_id, _NEVER), _when(e))
    return [
        Consent(c.org_id, c.agent_id, c.expires_at, c.exempt_from_caps)
        for c in grants_in_force(consents, at, known_at)
        if (c.effective_at, c.seq) > added.get(c.org_id, _NEVER)
    ]


def consent_states_in_effect(
    consents: Iterable[ConsentChange], entries: Iterable[OrgListChange], at: datetime
) -> dict[tuple[str, str], Consent | None]:
    """`consent_states` with `consents_in_effect`: what Redis holds per (org, agent) the consents name."""
    consents = list(consents)
    active = {(c.org_id, c.agent_id): c for c in consents_in_effect(consents, entries, at)}
    return {(c.org_id, c.agent_id): active.get((c.org_id, c.agent_id)) for c in consents}


def org_lists_at(entries: Iterable[OrgListChange], consents: Iterable[ConsentChange], at: datetime) -> dict[str, bool]:
    """For each org the entries name, whether the consumer is on its list at `at` (what Redis holds: a
    field per org whose list she is on, none for the others)."""
    entries, consents = list(entries), list(consents)
    return {org: org_list_at(entries, consents, org, at) is not None for org in {e.org_id for e in entries}}
