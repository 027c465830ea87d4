"""ReportCallOutcome: store what happened after a Check, and register an in-call opt-out at once.

Its ports: `Outcomes` (call_log and call_outcome in PostgreSQL: store/outcomes.py's `OutcomeStore`),
`StreamedCallLookup` (the call stream in Redis: store/recorder.py's `StreamedCalls`) and `OptOuts`
(the registry use case, service/registry.py's `RegistryService`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from dncgate.domain import access
from dncgate.domain.calls import CallEvent, CallOutcome
from dncgate.domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from dncgate.domain.types import Category, OptOutScope, Source
from dncgate.service.registry import OrgListView, PreferenceView
from dncgate.store.outcomes import CallRef

log = structlog.get_logger("dncgate.outcome")

_CALL_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    call_id: str
    dialled: bool
    connected: bool
    duration_seconds: int
    consumer_opted_out: bool
    request_id: str
    orgs: frozenset[str] = frozenset()  # the orgs the reporter may act for; empty: every org
    scope: OptOutScope = OptOutScope.ALL  # what an opt-out covers: do-not-disturb, or the call's org's list
    not_dialled: bool = False  # the ALLOWed call was not placed: its slot under the frequency caps goes back


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    call_id: str
    callee_masked: str
    outcome: CallOutcome  # as it stands after this report, merged with earlier ones
    opt_out_registered: bool


class Outcomes(Protocol):
    async def logged_call(self, call_id: str) -> CallRef | None: ...  # None: not in call_log (yet)

    async def merge(self, outcome: CallOutcome, call_at: datetime, request_id: str | None) -> CallOutcome: ...


class StreamedCallLookup(Protocol):
    async def find(self, call_id: str) -> CallEvent | None: ...  # None: not in the stream (any more)


class OptOuts(Protocol):
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
    ) -> PreferenceView: ...

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
    ) -> OrgListView: ...


def opt_out_request_id(call_id: str) -> str:
    """One opt-out per call in the journal, however often the dialler repeats its report."""
    return f"opt-out:{call_id}"


class Slots(Protocol):
    """The frequency caps' counted calls (`store.caps.CapSlots`)."""

    async def give_back(self, callee_key: bytes, org_id: str, call_id: str) -> bool: ...  # whether it was counted


class OutcomeService:
    def __init__(self, store: Outcomes, calls: StreamedCallLookup, registry: OptOuts, slots: Slots) -> None:
        self.store = store
        self.calls = calls
        self.registry = registry
        self.slots = slots

    async def report(self, r: OutcomeReport, *, actor: str) -> OutcomeResult:
        """Merge the report into the call's outcome; with an opt-out, write do-not-disturb (scope ALL) or
        an entry on the call's org's own list (scope ORG) to the journal, recorded as made by `actor`
        (the principal of the dialler that reported it)."""
        if not r.call_id.strip():
            raise InvalidArgument("call_id", "is required")
        if not _CALL_ID.match(r.call_id):
            raise InvalidArgument("call_id", "is not a call id returned by Check (32 lowercase hex digits)")
        if r.duration_seconds < 0:
            raise InvalidArgument("duration_seconds", "must not be negative")
        if r.not_dialled and (r.dialled or r.connected or r.duration_seconds or r.consumer_opted_out):
            raise InvalidArgument(
                "not_dialled", "contradicts dialled, connected, duration_seconds or consumer_opted_out"
            )
        call = await self._find(r.call_id)
        if call is None:
            raise NotFound("no call with this call_id")
        if r.orgs and call.org_id not in r.orgs:
            raise PermissionDenied(
                f"this credential may not report calls of org {call.org_id!r}",
                access.ORG_NOT_ALLOWED,
                {"org_id": call.org_id, "method": "ReportCallOutcome"},
            )
        if r.consumer_opted_out and not call.callee_key:
            raise FailedPrecondition("the call's callee number was invalid: there is nobody to register")

        reported = CallOutcome(r.call_id, r.dialled, r.connected, r.duration_seconds, r.consumer_opted_out)
        outcome = await self.store.merge(reported.implied(), call.at, r.request_id or None)
        if r.not_dialled and call.callee_key:
            # Only the Check's own call id is taken out of the count: once per call, whatever is repeated.
            await self.slots.give_back(call.callee_key, call.org_id, r.call_id)
        registered = False
        if r.consumer_opted_out and r.scope is OptOutScope.ORG:
            # The call's org only, effective now; a repeated report is a no-op as below.
            await self.registry.org_list_by_key(
                call.callee_key,
                call.callee_masked,
                call.org_id,
                True,
                "in-call opt-out",
                opt_out_request_id(r.call_id),
                actor=actor,
            )
            registered = True
        elif r.consumer_opted_out:
            # Every category, effective now; the journal's request_id makes a repeated report a no-op.
            await self.registry.set_preference_by_key(
                call.callee_key,
                call.callee_masked,
                True,
                (),
                Source.IN_CALL,
                None,
                opt_out_request_id(r.call_id),
                actor=actor,
            )
            registered = True
        log.info(
            "call_outcome",
            call_id=r.call_id,
            callee=call.callee_masked,
            dialled=outcome.dialled,
            connected=outcome.connected,
            opted_out=outcome.consumer_opted_out,
            not_dialled=r.not_dialled,
        )
        return OutcomeResult(r.call_id, call.callee_masked, outcome, registered)

    async def _find(self, call_id: str) -> CallRef | None:
        """The call from call_log, else from the stream (not drained yet), else call_log once more.

        The second look at call_log closes the race with the recorder: an event committed and trimmed
        between the first two looks is in call_log by the third.
        """
        if (logged := await self.store.logged_call(call_id)) is not None:
            return logged
        event = await self.calls.find(call_id)
        if event is not None:
            try:
                return CallRef(call_id, bytes.fromhex(event.callee_key), event.callee_masked, event.org_id, event.at)
            except ValueError:
                return None  # a malformed entry is no call; the recorder dead-letters it
        return await self.store.logged_call(call_id)
