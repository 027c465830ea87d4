"""Progress on a case: updates (visible to the consumer or internal), extensions of its resolution due
time, and escalation to a major case (a progress statement due in working days)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from dncgate.domain import access, notices
from dncgate.domain import case as cases
from dncgate.domain.case import Case, HistoryEntry, Update, UpdateKind
from dncgate.domain.errors import InvalidArgument, NotFound
from dncgate.domain.notices import NoticeKind
from dncgate.service.compensation_ports import Cases, CaseWrites, WorkdayCalendar
from dncgate.service.notices import Notifier

log = structlog.get_logger("dncgate.compensation")

# (text, field, the case's caller numbers) -> the text checked and masked (CompensationService._text).
Masker = Callable[[str, str, frozenset[str]], str]


class UpdateDesk:
    """AddComplaintUpdate and ExtendComplaint, and when a case's next update is due.

    `now` is the compensation service's clock (one clock for every due time of a case). A visible
    update and an extension notify the consumer (`notifier`), in their transaction; an internal one does not.
    """

    def __init__(
        self,
        cases_store: Cases,
        update_hours: int,
        now: Callable[[], datetime],
        mask: Masker,
        notifier: Notifier,
        calendar: WorkdayCalendar,
        major_progress_workdays: int,
    ) -> None:
        self.cases = cases_store
        self.update_hours = update_hours
        self.now = now
        self.mask = mask
        self.notifier = notifier
        self.calendar = calendar
        self.major_progress_workdays = major_progress_workdays

    def progress_statement_due(self, since: datetime) -> datetime:
        """A case major from `since` owes its progress statement by the end of this working day."""
        return self.calendar.add(since, self.major_progress_workdays)

    def next_update_due(self, case: Case) -> datetime | None:
        return cases.next_update_due(case, self.update_hours)

    async def add_update(
        self,
        case_id: str,
        text: str,
        visible_to_consumer: bool,
        request_id: str = "",
        *,
        author: str,
        kind: UpdateKind = UpdateKind.PROGRESS,
    ) -> Case:
        """Record progress on a case under `author` (the request's principal): PROGRESS in any status but
        CLOSED, a REGULATOR_REPLY on a regulator case, a PROGRESS_STATEMENT on a major one (always visible)."""
        access.actor(author)
        if not text.strip():
            raise InvalidArgument("text", "is required")
        if kind not in cases.ADDABLE_KINDS:
            raise InvalidArgument("kind", "EXTENSION is recorded by ExtendComplaint")
        async with self.cases.transaction() as tx:
            case = await self._lock(tx, case_id)
            if not request_id.strip() or await tx.claim_request(request_id.strip(), "AddComplaintUpdate", case.case_id):
                cases.check_update_kind(case, kind)
                masked = self.mask(text, "text", _callers_of(case))
                now = self.now()
                visible = cases.visible_for(kind, visible_to_consumer)
                await tx.add_update(case.case_id, Update(now, author, masked, visible, kind))
                if visible:
                    nid = notices.update_id(case.case_id, len(case.updates) + 1)
                    body = notices.update_text(case.case_id, self.notifier.clean(masked), now, self.notifier.zone)
                    await self.notifier.append(tx, case, nid, NoticeKind.UPDATE, body, now)
                log.info("complaint_updated", case_id=case.case_id, visible=visible, kind=kind.value)
        return await self._get(case.case_id)

    async def escalate(self, case_id: str, reason: str, request_id: str = "", *, author: str) -> Case:
        """Mark an open case major, under `author`, with a reason: its progress statement is due from now."""
        access.actor(author)
        if not reason.strip():
            raise InvalidArgument("reason", "is required: say why the dispute is major")
        async with self.cases.transaction() as tx:
            case = await self._lock(tx, case_id)
            if not request_id.strip() or await tx.claim_request(request_id.strip(), "EscalateComplaint", case.case_id):
                cases.check_escalatable(case)
                now = self.now()
                due = self.progress_statement_due(now)
                masked = self.mask(reason, "reason", _callers_of(case))
                await tx.make_major(case.case_id, now, due)
                note = f"major; progress statement due {_iso(due)}: {masked}"
                await tx.add_history(case.case_id, [HistoryEntry(now, author, "escalated", note)])
                log.info("complaint_escalated", case_id=case.case_id, progress_statement_due=_iso(due))
        return await self._get(case.case_id)

    async def extend(
        self, case_id: str, reason: str, new_due: datetime | None, request_id: str = "", *, author: str
    ) -> Case:
        """Move an open case's resolution due time later, with a reason the consumer sees (a visible update)."""
        access.actor(author)
        if not reason.strip():
            raise InvalidArgument("reason", "is required: say why the case needs longer")
        async with self.cases.transaction() as tx:
            case = await self._lock(tx, case_id)
            if not request_id.strip() or await tx.claim_request(request_id.strip(), "ExtendComplaint", case.case_id):
                now = self.now()
                due = cases.extended_due(case.status, case.resolution_due, new_due, now)
                masked = self.mask(reason, "reason", _callers_of(case))
                update = Update(now, author, masked, True, UpdateKind.EXTENSION, case.resolution_due, due)
                await tx.add_update(case.case_id, update)
                note = f"resolution due {_iso(case.resolution_due)} -> {_iso(due)}: {masked}"
                await tx.add_history(case.case_id, [HistoryEntry(now, author, "extended", note)])
                nid = notices.extension_id(case.case_id, len(case.updates) + 1)
                body = notices.extension_text(case.case_id, self.notifier.clean(masked), due, self.notifier.zone)
                await self.notifier.append(tx, case, nid, NoticeKind.EXTENSION, body, now)
                log.info("complaint_extended", case_id=case.case_id, resolution_due=_iso(due))
        return await self._get(case.case_id)

    async def _lock(self, tx: CaseWrites, case_id: str) -> Case:
        if not case_id.strip():
            raise InvalidArgument("case_id", "is required")
        case = await tx.lock_case(case_id.strip())
        if case is None:
            raise NotFound("no complaint with this case_id")
        return case

    async def _get(self, case_id: str) -> Case:
        case = await self.cases.get(case_id)
        assert case is not None  # cases are never deleted
        return case


def _callers_of(case: Case) -> frozenset[str]:
    return frozenset(f.caller_number for f in case.findings)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
