"""Who handles a case and where it stands: stage moves, round-robin assignment, hand-overs, availability."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from dncgate.domain import access
from dncgate.domain import case as cases
from dncgate.domain.case import SYSTEM, Case, HistoryEntry, Operator, StageEntry, Status
from dncgate.domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from dncgate.service.compensation_ports import Cases, CaseWrites, OperatorQueue

log = structlog.get_logger("dncgate.compensation")

# (text, field, the case's caller numbers) -> the text checked and masked (CompensationService._text).
Masker = Callable[[str, str, frozenset[str]], str]


async def restage(tx: CaseWrites, case: Case, status: Status, at: datetime, actor: str) -> None:
    """Enter the stage `status` puts the case in (if it changes), under `actor`; an illegal move is refused."""
    moves = cases.stages_after(case.stage, status)
    await tx.enter_stages(case.case_id, [StageEntry(s, at, actor) for s in moves])


async def stage_filing(tx: CaseWrites, case_id: str, status: Status, at: datetime, filer: str) -> None:
    """A filing's timeline: RECEIVED by the filer, then what verification did (VERIFYING, the verdict's
    stage) by dncgate, all at `at`."""
    moves = cases.stages_after(None, status)
    actors = [filer] + [SYSTEM] * (len(moves) - 1)
    await tx.enter_stages(case_id, [StageEntry(s, at, a) for s, a in zip(moves, actors, strict=True)])


async def assign_new(tx: CaseWrites, case_id: str, filer_name: str, at: datetime) -> str:
    """Give a new case to the next available operator (round-robin), else leave it with its filer.

    The filing's history is not touched (the case's assignee says it; AssignComplaint's hand-overs are
    recorded). Called last in the filing transaction: the queue's lock is then held only until the commit, and
    never while waiting on another filing's payout rows.
    """
    picked = await tx.next_assignee(at)
    if picked is not None:
        await tx.set_assignee(case_id, picked, at)
    log.info("complaint_assigned", case_id=case_id, assignee=picked or filer_name, queue=picked is not None)
    return picked or filer_name


class OwnerDesk:
    """AssignComplaint and SetOperatorAvailability. `now` is the compensation service's clock."""

    def __init__(self, cases_store: Cases, queue: OperatorQueue, now: Callable[[], datetime], mask: Masker) -> None:
        self.cases = cases_store
        self.queue = queue
        self.now = now
        self.mask = mask

    async def assign(self, case_id: str, assignee: str, note: str, request_id: str = "", *, actor: str) -> Case:
        """Hand a case that is not CLOSED to `assignee`, an operator with a live hotline or supervisor token
        (or a console user with one of those roles)."""
        access.actor(actor)
        if not case_id.strip():
            raise InvalidArgument("case_id", "is required")
        assignee = assignee.strip()
        if not assignee:
            raise InvalidArgument("assignee", "is required: the operator's name")
        if not access.valid_name(assignee):
            raise InvalidArgument("assignee", "is not a principal's name")
        async with self.cases.transaction() as tx:
            case = await tx.lock_case(case_id.strip())
            if case is None:
                raise NotFound("no complaint with this case_id")
            if not request_id.strip() or await tx.claim_request(request_id.strip(), "AssignComplaint", case.case_id):
                cases.check_assignable(case.status)
                now = self.now()
                if not await tx.operator_live(assignee, now):
                    roles = ", ".join(sorted(access.QUEUE_ROLES))
                    raise FailedPrecondition(f"{assignee!r} has no live token (or console user) with a role of {roles}")
                text = self.mask(note, "note", frozenset(f.caller_number for f in case.findings))
                before = case.assignee or "nobody"
                await tx.set_assignee(case.case_id, assignee, now)
                entry = f"{before} -> {assignee}" + (f": {text}" if text else "")
                await tx.add_history(case.case_id, [HistoryEntry(now, actor, "assigned", entry)])
                log.info("complaint_assigned", case_id=case.case_id, assignee=assignee)
        found = await self.cases.get(case.case_id)
        assert found is not None  # cases are never deleted
        return found

    async def set_availability(
        self, available: bool, operator: str, *, actor: str, own_name: str, may_set_others: bool
    ) -> Operator:
        """Mark `operator` (empty: the caller, `own_name`) available for new cases or away.

        Someone else's availability needs a principal the api found entitled (`may_set_others`:
        supervisor or admin).
        """
        access.actor(actor)
        name = operator.strip() or own_name
        if not access.valid_name(name):
            raise InvalidArgument("operator", "is not a principal's name")
        if name != own_name and not may_set_others:
            roles = ",".join(sorted(access.OVERRIDE_ROLES))
            raise PermissionDenied(
                f"{actor} may set only its own availability: another operator's needs one of the roles {roles}",
                access.MISSING_ROLE,
                {"method": "/dncgate.v1.Compensation/SetOperatorAvailability", "roles": roles, "field": "operator"},
            )
        row = await self.queue.set_available(name, available, self.now(), actor)
        log.info("operator_availability", operator=name, available=available)
        return row
