"""Registry use cases: journal first (PostgreSQL), then apply the folded state to Redis.

The use cases see their adapters through the ports below (`RegistryJournal`, `RegistryHot`), which
store/journal.py's `Journal` and store/hot.py's `HotRegistry` satisfy. `RegistryService` is generic
in them, so the bulk paths (service/importer.py, service/catchup.py, service/sync.py), which also
hand its adapters to the bulk writers, say which adapters they need: `RegistryService[Journal, HotRegistry]`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import structlog

from dncgate import phone
from dncgate.domain import access, org_policy
from dncgate.domain.errors import InvalidArgument, StoreUnavailable, Unavailable
from dncgate.domain.registry import (
    Consent,
    ConsentChange,
    OrgListChange,
    OrgPolicyEntry,
    PreferenceChange,
    Schedule,
    consent_states_in_effect,
    org_list_at,
    org_lists_at,
    preference_at,
    schedule_of,
)
from dncgate.domain.types import Category, Mode, Source, mask_of
from dncgate.service.redact import redact

log = structlog.get_logger("dncgate.registry")


class ConsumerWrites(Protocol):
    """One consumer's journal, under its write lock (`Journal.consumer`)."""

    async def append_preference(
        self,
        do_not_disturb: bool,
        mask: int,
        source: Source,
        effective_from: datetime | None,
        request_id: str | None,
        *,
        recorded_by: str,
    ) -> tuple[PreferenceChange, bool]: ...

    async def append_consent(
        self,
        org_id: str,
        agent_id: str,
        granted: bool,
        expires_at: datetime | None,
        evidence: str,
        request_id: str | None,
        *,
        recorded_by: str,
        exempt_from_caps: bool = False,
    ) -> tuple[ConsentChange, bool]: ...

    async def preference_changes(self) -> list[PreferenceChange]: ...

    async def consent_changes(self) -> list[ConsentChange]: ...

    async def append_org_list(
        self, org_id: str, listed: bool, reason: str, request_id: str | None, *, recorded_by: str
    ) -> tuple[OrgListChange, bool]: ...

    async def org_list_changes(self) -> list[OrgListChange]: ...


class RegistryJournal(Protocol):
    """The journal as the registry use cases write and read it (PostgreSQL: store/journal.py).

    `org_writer` yields the connection holding the org's lock, handed back to `set_org_policy` and
    `org_policy` so they run under it; the use case never looks inside it.
    """

    def consumer(self, key: bytes) -> AbstractAsyncContextManager[ConsumerWrites]: ...

    async def preference_changes(self, key: bytes) -> list[PreferenceChange]: ...

    async def consent_changes(self, key: bytes) -> list[ConsentChange]: ...

    async def org_list_changes(self, key: bytes) -> list[OrgListChange]: ...

    def org_writer(self, org_id: str) -> AbstractAsyncContextManager[Any]: ...

    async def set_org_policy(
        self, org_id: str, entry: OrgPolicyEntry, request_id: str | None, conn: Any = None
    ) -> OrgPolicyEntry: ...

    async def org_policy(self, org_id: str, conn: Any = None) -> OrgPolicyEntry | None: ...


class RegistryHot(Protocol):
    """The registry as the Check path reads it (Redis: store/hot.py); outages raise StoreUnavailable."""

    async def apply(
        self,
        key: bytes,
        schedule: Schedule | None,
        consents: Mapping[tuple[str, str], Consent | None],
        seq: int,
        org_lists: Mapping[str, bool] | None = None,
    ) -> None: ...

    async def set_mode(self, org_id: str, mode: Mode) -> None: ...


J = TypeVar("J", bound=RegistryJournal)
H = TypeVar("H", bound=RegistryHot)


class BulkWrites(Protocol):
    """Many consumers' folded state written to Redis in few round trips (`store.bulk.BulkHotWriter`):
    what an import and a catch-up apply with."""

    async def write(
        self,
        schedules: Sequence[tuple[bytes, Schedule]],
        seq: int,
        consents: Sequence[tuple[bytes, str, str, Consent | None]] = (),
        *,
        changes_only: bool = False,
        org_lists: Sequence[tuple[bytes, str, bool]] = (),
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class PreferenceView:
    number_masked: str
    change: PreferenceChange | None


@dataclass(frozen=True, slots=True)
class ConsentView:
    number_masked: str
    change: ConsentChange


@dataclass(frozen=True, slots=True)
class OrgPolicyView:
    mode: Mode
    explicit: bool  # False: the org has no policy of its own and the default applies
    recorded_by: str = ""  # who set the policy in force ("" for the default, or set before access control)
    signed_receipts: bool = False
    quiet_on_public_holidays: bool = False
    require_registered_lines: bool = False
    max_calls_per_day: int = 0
    consent_required: bool = False
    consent_required_categories: int = 0  # a preference mask, 0: every category


@dataclass(frozen=True, slots=True)
class OrgListView:
    """One org-list entry (the one just written), and whether the consumer is on the list after it."""

    number_masked: str
    change: OrgListChange
    listed: bool


@dataclass(frozen=True, slots=True)
class OrgListHistory:
    """A consumer's entries on one org's list, and whether she was on it as of the time asked (the entry
    that put her there)."""

    number_masked: str
    entries: list[OrgListChange]
    listed: bool
    listed_since: OrgListChange | None


@dataclass(frozen=True, slots=True)
class History:
    number_masked: str
    preferences: list[PreferenceChange]
    consents: list[ConsentChange]


class RegistryService(Generic[J, H]):
    """SetPreference, consents and org policies: journaled first, then applied to Redis."""

    def __init__(
        self,
        journal: J,
        hot: H,
        keyer: phone.NumberKeyer,
        *,
        region: str,
        default_mode: Mode,
        bulk: BulkWrites,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.hot = hot
        self.bulk = bulk  # for imports and catch-ups
        self.keyer = keyer
        self.region = region
        self.default_mode = default_mode
        self.clock = clock
        # Consumers whose journal entry is committed but whose Redis apply failed; sync retries them.
        self.dirty: set[bytes] = set()
        # Told of each org's policy once it is journaled (the gateway's receipt orgs, in this process
        # at once; other processes read the journal: service.receipts.ReceiptOrgs.watch).
        self.on_policy: Callable[[str, OrgPolicyEntry], None] | None = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _number(self, text: str, field: str) -> phone.PhoneNumber:
        if not text.strip():
            raise InvalidArgument(field, "is required")
        parsed = phone.try_parse(text, self.region)
        if parsed is None:
            raise InvalidArgument(field, "is not a valid phone number")
        return parsed

    async def set_preference(
        self,
        number: str,
        do_not_disturb: bool,
        categories: Sequence[Category],
        source: Source,
        effective_from: datetime | None,
        request_id: str | None,
        *,
        actor: str,
    ) -> PreferenceView:
        """Journal the change under `actor` (the principal that asked for it), then apply it to Redis."""
        n = self._number(number, "number")
        return await self.set_preference_by_key(
            self.keyer.digest(n.e164),
            n.masked,
            do_not_disturb,
            categories,
            source,
            effective_from,
            request_id,
            actor=actor,
        )

    async def set_preference_by_key(
        self,
        key: bytes,
        masked: str,
        do_not_disturb: bool,
        categories: Sequence[Category],
        source: Source,
        effective_from: datetime | None,
        request_id: str | None,
        *,
        actor: str,
    ) -> PreferenceView:
        """set_preference for a caller that holds the consumer's keyed hash, not the number.

        An in-call opt-out knows the call, and the call event keeps only the callee's digest and mask;
        the journal is keyed by that digest anyway, so the write goes through the same path.
        """
        access.actor(actor)
        if len(key) != 32:
            raise ValueError("a consumer key is the 32-byte HMAC-SHA256 digest of the E.164 number")
        if source is Source.UNSPECIFIED:
            raise InvalidArgument("source", "is required (APP, HOTLINE, IN_CALL, NATIONAL_REGISTRY or ADMIN)")
        async with self.journal.consumer(key) as session:
            change, created = await session.append_preference(
                do_not_disturb, mask_of(categories), source, effective_from, request_id or None, recorded_by=actor
            )
            await self._apply(session, key, change.seq, preferences=True)
        log.info("preference_set", number=masked, dnd=change.do_not_disturb, seq=change.seq, replay=not created)
        return PreferenceView(masked, change)

    async def get_preference(self, number: str, as_of: datetime | None) -> PreferenceView:
        n = self._number(number, "number")
        at = as_of or self.now()
        changes = await self.journal.preference_changes(self.keyer.digest(n.e164))
        return PreferenceView(n.masked, preference_at(changes, at, known_at=at))

    async def history(self, number: str) -> History:
        n = self._number(number, "number")
        key = self.keyer.digest(n.e164)
        return History(n.masked, await self.journal.preference_changes(key), await self.journal.consent_changes(key))

    async def grant_consent(
        self,
        number: str,
        org_id: str,
        agent_id: str,
        expires_at: datetime | None,
        evidence: str,
        request_id: str | None,
        *,
        actor: str,
        exempt_from_caps: bool = False,
    ) -> ConsentView:
        """`exempt_from_caps`: the consent's calls neither count nor are held to the frequency caps."""
        return await self._consent(
            number, org_id, agent_id, True, expires_at, evidence, request_id, actor, exempt_from_caps
        )

    async def revoke_consent(
        self, number: str, org_id: str, agent_id: str, request_id: str | None, *, actor: str
    ) -> ConsentView:
        return await self._consent(number, org_id, agent_id, False, None, "", request_id, actor)

    async def _consent(
        self,
        number: str,
        org_id: str,
        agent_id: str,
        granted: bool,
        expires_at: datetime | None,
        evidence: str,
        request_id: str | None,
        actor: str,
        exempt_from_caps: bool = False,
    ) -> ConsentView:
        access.actor(actor)
        n = self._number(number, "consumer_number")
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        if "\x00" in org_id or "\x00" in agent_id:
            raise InvalidArgument("org_id" if "\x00" in org_id else "agent_id", "must not contain NUL")
        if expires_at is not None and expires_at <= self.now():
            raise InvalidArgument("expires_at", "is in the past")
        key = self.keyer.digest(n.e164)
        evidence = redact(evidence, self.region)  # "recorded call from 139…": the journal is append-only
        async with self.journal.consumer(key) as session:
            change, created = await session.append_consent(
                org_id,
                agent_id,
                granted,
                expires_at,
                evidence,
                request_id or None,
                recorded_by=actor,
                exempt_from_caps=exempt_from_caps,
            )
            await self._apply(session, key, change.seq, consents=[(change.org_id, change.agent_id)])
        log.info(
            "consent_granted" if change.granted else "consent_revoked",
            number=n.masked,
            org=change.org_id,
            agent=change.agent_id,
            seq=change.seq,
            replay=not created,
        )
        return ConsentView(n.masked, change)

    async def _apply(
        self,
        session: ConsumerWrites,
        key: bytes,
        seq: int,
        preferences: bool = False,
        consents: Sequence[tuple[str, str]] = (),
        org_lists: Sequence[str] = (),
    ) -> None:
        """Fold this consumer's journal and write it to Redis (under the consumer's lock): her schedule
        (`preferences`), the named consents, and for the named orgs their list fields and all their
        consents."""
        # Dirty from the commit until Redis has it: an RPC's wait for PostgreSQL cut short at its bound
        # (store.pg) between the two leaves the consumer to the sync loop, not stale in Redis.
        self.dirty.add(key)
        now = self.now()
        schedule = schedule_of(await session.preference_changes(), now) if preferences else None
        consent_changes = await session.consent_changes() if consents or org_lists else []
        entries = await session.org_list_changes() if consents or org_lists else []
        every = consent_states_in_effect(consent_changes, entries, now)
        # An org-list entry ends the effect of the consents given that org before it: rewrite them all.
        pairs = set(consents) | {(c.org_id, c.agent_id) for c in consent_changes if c.org_id in org_lists}
        states = {pair: every.get(pair) for pair in pairs}
        orgs = set(org_lists) | {org for org, _ in consents}
        lists = {org: on for org, on in org_lists_at(entries, consent_changes, now).items() if org in orgs}
        try:
            await self.hot.apply(key, schedule, states, seq, lists)
        except StoreUnavailable as exc:
            log.warning("redis_apply_failed", seq=seq, error=exc.driver)
            raise Unavailable(
                "the change is recorded in the journal but Redis could not be updated; "
                "it will be applied when Redis is back (retrying with the same request_id is safe)"
            ) from exc
        self.dirty.discard(key)

    async def reapply(self, key: bytes) -> None:
        """Recompute one consumer's Redis state from the journal (catch-up and retries)."""
        async with self.journal.consumer(key) as session:
            prefs = await session.preference_changes()
            consent_changes = await session.consent_changes()
            entries = await session.org_list_changes()
            now = self.now()
            states = consent_states_in_effect(consent_changes, entries, now)
            lists = org_lists_at(entries, consent_changes, now)
            seq = max([c.seq for c in prefs] + [c.seq for c in consent_changes] + [e.seq for e in entries] + [0])
            await self.hot.apply(key, schedule_of(prefs, now), states, seq, lists)
        self.dirty.discard(key)

    async def add_to_org_list(
        self, org_id: str, number: str, reason: str, request_id: str | None, *, actor: str
    ) -> OrgListView:
        """Journal the consumer's entry on `org_id`'s own list under `actor`, then apply it to Redis."""
        n = self._number(number, "number")
        return await self.org_list_by_key(
            self.keyer.digest(n.e164), n.masked, org_id, True, reason, request_id, actor=actor
        )

    async def remove_from_org_list(
        self, org_id: str, number: str, request_id: str | None, *, actor: str
    ) -> OrgListView:
        n = self._number(number, "number")
        return await self.org_list_by_key(
            self.keyer.digest(n.e164), n.masked, org_id, False, "", request_id, actor=actor
        )

    async def org_list_by_key(
        self,
        key: bytes,
        masked: str,
        org_id: str,
        listed: bool,
        reason: str,
        request_id: str | None,
        *,
        actor: str,
    ) -> OrgListView:
        """An org-list write for a caller holding the consumer's keyed hash (an in-call opt-out to one org)."""
        access.actor(actor)
        if len(key) != 32:
            raise ValueError("a consumer key is the 32-byte HMAC-SHA256 digest of the E.164 number")
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        if "\x00" in org_id:
            raise InvalidArgument("org_id", "must not contain NUL")
        reason = redact(reason, self.region)  # "asked not to be called on 139…": the journal is append-only
        async with self.journal.consumer(key) as session:
            change, created = await session.append_org_list(
                org_id, listed, reason, request_id or None, recorded_by=actor
            )
            await self._apply(session, key, change.seq, org_lists=[change.org_id])
            now = self.now()
            on = org_list_at(await session.org_list_changes(), await session.consent_changes(), org_id, now)
        log.info(
            "org_list_added" if change.listed else "org_list_removed",
            number=masked,
            org=change.org_id,
            seq=change.seq,
            replay=not created,
        )
        return OrgListView(masked, change, on is not None)

    async def org_list_history(self, number: str, org_id: str, as_of: datetime | None) -> OrgListHistory:
        """The consumer's entries on `org_id`'s list, and whether she was on it as the registry stood at
        `as_of` (default now)."""
        n = self._number(number, "number")
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        key = self.keyer.digest(n.e164)
        at = as_of or self.now()
        entries = [e for e in await self.journal.org_list_changes(key) if e.org_id == org_id]
        since = org_list_at(entries, await self.journal.consent_changes(key), org_id, at, known_at=at)
        return OrgListHistory(n.masked, entries, since is not None, since)

    async def set_org_policy(
        self,
        org_id: str,
        mode: Mode | None,
        request_id: str | None,
        *,
        actor: str,
        changes: Mapping[str, object] | None = None,
        update_mask: Sequence[str] = (),
    ) -> OrgPolicyEntry:
        """Journal the org's policy under `actor`: its policy in force with the fields `update_mask`
        names (`org_policy.mask_paths`: only `mode` without one) taken from `mode` and `changes`.
        With a request_id already used, that entry (and who made it)."""
        access.actor(actor)
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        given = {"mode": mode, **(changes or {})}
        org_policy.updated(OrgPolicyEntry(self.default_mode), given, update_mask, actor)  # refused before any lock
        # Under the org's write lock, so concurrent changes reach Redis in journal order, and a mask
        # merges into the entry in force, not one another change is replacing; and Redis gets the
        # org's latest mode, not the entry a replayed (possibly superseded) request_id returns.
        async with self.journal.org_writer(org_id) as conn:
            before = await self.journal.org_policy(org_id, conn) or OrgPolicyEntry(self.default_mode)
            entry = org_policy.updated(before, given, update_mask, actor)
            stored = await self.journal.set_org_policy(org_id, entry, request_id or None, conn)
            current = await self.journal.org_policy(org_id, conn) or stored
            if self.on_policy is not None:
                self.on_policy(org_id, current)
            try:
                await self.hot.set_mode(org_id, current.mode)
            except StoreUnavailable as exc:
                raise Unavailable("the policy is recorded in the journal but Redis could not be updated") from exc
        log.info("org_policy_set", org=org_id, mode=stored.mode.value, signed_receipts=stored.signed_receipts)
        return stored

    async def get_org_policy(self, org_id: str) -> OrgPolicyView:
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        entry = await self.journal.org_policy(org_id)
        if entry is None:
            return OrgPolicyView(self.default_mode, explicit=False)
        return OrgPolicyView(
            entry.mode,
            explicit=True,
            recorded_by=entry.recorded_by,
            signed_receipts=entry.signed_receipts,
            quiet_on_public_holidays=entry.quiet_on_public_holidays,
            require_registered_lines=entry.require_registered_lines,
            max_calls_per_day=entry.max_calls_per_day,
            consent_required=entry.consent_required,
            consent_required_categories=entry.consent_required_categories,
        )
