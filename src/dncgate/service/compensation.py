"""Complaint use cases: file and verify at once, book payouts exactly once, then confirm or review."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from dncgate import phone
from dncgate.domain import access, notices
from dncgate.domain import case as cases
from dncgate.domain import verification as v
from dncgate.domain.case import (
    SYSTEM,
    Case,
    CaseFilters,
    Channel,
    Confirmation,
    Deadlines,
    DueState,
    HistoryEntry,
    Revisit,
    Stage,
    StageEntry,
    Status,
    WorkdayDeadlines,
)
from dncgate.domain.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from dncgate.domain.lines import CallerLine
from dncgate.domain.money import Money
from dncgate.domain.notices import NoticeKind
from dncgate.domain.registry import ConsentChange, OrgListChange, PreferenceChange
from dncgate.domain.verification import LoggedCall
from dncgate.sealing import NumberSealer
from dncgate.service.checks import MAX_NUMBER_LENGTH
from dncgate.service.compensation_ports import (
    CallerLineHistory,
    CallsToConsumer,
    Cases,
    CaseWrites,
    Erasures,
    OperatorQueue,
    RegistryHistory,
    ServiceFigureSource,
    WorkdayCalendar,
)
from dncgate.service.erasure import ErasureDesk
from dncgate.service.lookup import StatusLookup
from dncgate.service.notices import Notifier
from dncgate.service.owners import OwnerDesk, assign_new, restage, stage_filing
from dncgate.service.paging import decode_token, encode_token, page_size
from dncgate.service.payouts import PayoutDesk
from dncgate.service.redact import redact
from dncgate.service.service_report import ReportDesk
from dncgate.service.updates import UpdateDesk

log = structlog.get_logger("dncgate.compensation")

DEFAULT_WINDOW = timedelta(days=30)
MAX_CALLERS = 50
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class ComplaintInput:
    consumer_number: str
    caller_numbers: Sequence[str]
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    channel: Channel | None = None
    description: str = ""
    request_id: str = ""
    # The consumer says a consent on file is not valid: a consented caller sends the case to a human.
    disputes_consent: bool = False
    # A major dispute: major from its filing, a progress statement due in working days.
    escalate: bool = False


@dataclass(frozen=True, slots=True)
class _Filing:
    """What a filing read before its transaction (`CompensationService._gather`), and what it files."""

    key: bytes
    named: list[tuple[str, bool]]
    window: v.Window
    channel: Channel
    description: str
    now: datetime
    calls: list[LoggedCall]
    preferences: list[PreferenceChange]
    consents: list[ConsentChange]
    # The caller-line journal rows of the named callers (domain.lines): whose line each was.
    lines: list[CallerLine]
    org_lists: list[OrgListChange]
    disputes_consent: bool = False
    escalate: bool = False
    recurrence_of: str = ""


class CompensationService:
    def __init__(
        self,
        cases_store: Cases,
        evidence: CallsToConsumer,
        journal: RegistryHistory,
        keyer: phone.NumberKeyer,
        sealer: NumberSealer,
        payouts: PayoutDesk,
        queue: OperatorQueue,
        notifier: Notifier,
        erasures: Erasures,
        *,
        amount: Money,
        deadlines: Deadlines,
        calendar: WorkdayCalendar,
        payout_due_workdays: int,
        update_hours: int,
        region: str,
        zone: str,
        workday_deadlines: WorkdayDeadlines,
        lookup: StatusLookup,
        service_figures: ServiceFigureSource,
        lines: CallerLineHistory,
        revisit_days: int = 7,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cases = cases_store
        self.evidence = evidence
        self.journal = journal
        self.lines = lines
        self.keyer = keyer
        self.sealer = sealer
        self.payouts = payouts
        self.amount = amount
        self.deadlines = deadlines
        self.calendar = calendar
        self.payout_due_workdays = payout_due_workdays
        self.region = region
        self.zone = ZoneInfo(zone)
        self.clock = clock
        self.notifier = notifier
        self.workday_deadlines = workday_deadlines
        self.erasure = ErasureDesk(erasures, keyer, region, self.now)
        self.updates = UpdateDesk(
            cases_store, update_hours, self.now, self._text, notifier, calendar, workday_deadlines.major_progress
        )
        self.owners = OwnerDesk(cases_store, queue, self.now, self._text)
        self.lookup = lookup
        self.revisit_days = revisit_days
        self.reports = ReportDesk(service_figures, deadlines, update_hours, zone, self.now)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _consumer(self, text: str) -> phone.PhoneNumber:
        if not text.strip():
            raise InvalidArgument("consumer_number", "is required")
        parsed = phone.try_parse(text, self.region)
        if parsed is None:
            raise InvalidArgument("consumer_number", "is not a valid phone number")
        return parsed

    def _callers(self, texts: Sequence[str]) -> list[tuple[str, bool]]:
        """Distinct callers in the order named: (E.164, True), or (the text as given, False) if unparsable."""
        if not texts:
            raise InvalidArgument("caller_numbers", "name at least one number that called")
        if len(texts) > MAX_CALLERS:
            raise InvalidArgument("caller_numbers", f"at most {MAX_CALLERS} numbers per complaint")
        out: dict[str, bool] = {}
        for i, text in enumerate(texts):
            if not text.strip():
                raise InvalidArgument(f"caller_numbers[{i}]", "is empty")
            if len(text) > MAX_NUMBER_LENGTH:
                raise InvalidArgument(f"caller_numbers[{i}]", f"is longer than {MAX_NUMBER_LENGTH} characters")
            parsed = phone.try_parse(text, self.region)
            out.setdefault(parsed.e164 if parsed else text.strip(), parsed is not None)
        return list(out.items())

    def _window(self, after: datetime | None, before: datetime | None, now: datetime) -> v.Window:
        before = before or now
        after = after or before - DEFAULT_WINDOW
        if after > before:
            raise InvalidArgument("occurred_after", "is later than occurred_before")
        return v.Window(after, before)

    def _text(self, text: str, field: str, keep: frozenset[str] = frozenset()) -> str:
        if len(text) > MAX_TEXT:
            raise InvalidArgument(field, f"is longer than {MAX_TEXT} characters")
        return redact(text.strip(), self.region, keep)

    async def file_complaint(self, req: ComplaintInput, *, actor: str, filer_name: str) -> Case:
        """Verify every named caller now and book what is owed, all in one transaction; `actor` (the
        principal that filed it) is the history's "filed" entry, dncgate the verification's.

        The case goes to the next available operator, else to the filer (`filer_name`: its principal's name).
        """
        access.actor(actor)
        access.actor(filer_name)
        consumer = self._consumer(req.consumer_number)
        named = self._callers(req.caller_numbers)
        now = self.now()
        window = self._window(req.occurred_after, req.occurred_before, now)
        callers = [c for c, ok in named if ok]
        description = self._text(req.description, "description", frozenset(callers))
        key = self.keyer.digest(consumer.e164)
        request_id = req.request_id.strip() or None
        if request_id and (replay := await self._replay(request_id, key)):
            return replay
        filing = await self._gather(
            key, named, window, req.channel or Channel.HOTLINE, description, now, req.disputes_consent, req.escalate
        )
        async with self.cases.transaction() as tx:
            created = await self._open(tx, filing, consumer, request_id, actor, filer_name)
        if created is None:
            assert request_id is not None
            replay = await self._replay(request_id, key)
            assert replay is not None
            return replay
        return await self.get_complaint(created)

    async def _gather(
        self,
        key: bytes,
        named: list[tuple[str, bool]],
        window: v.Window,
        channel: Channel,
        description: str,
        now: datetime,
        disputes_consent: bool = False,
        escalate: bool = False,
        recurrence_of: str = "",
    ) -> _Filing:
        """A filing's reads, done before its transaction: the calls in the window, the registry journal,
        the caller lines of the callers with no Check on record."""
        callers = [c for c, ok in named if ok]
        calls = await self.evidence.calls_to(key, callers, window.after, window.before) if callers else []
        preferences = await self.journal.preference_changes(key)
        consents = await self.journal.consent_changes(key)
        org_lists = await self.journal.org_list_changes(key)
        checked = {c.caller_e164 for c in calls}
        lines = await self.lines.lines_of([c for c in callers if c not in checked])
        return _Filing(
            key,
            named,
            window,
            channel,
            description,
            now,
            calls,
            preferences,
            consents,
            lines,
            org_lists,
            disputes_consent,
            escalate,
            recurrence_of,
        )

    async def _open(
        self,
        tx: CaseWrites,
        filing: _Filing,
        consumer: phone.PhoneNumber,
        request_id: str | None,
        actor: str,
        filer_name: str,
    ) -> str | None:
        """A filing's writes, in the transaction `tx` (FileComplaint's own, or a revisit's): the case, its
        verification, its payouts (each pair once), its assignee, stages, history and notices. The new
        case's id; None when `request_id` was used already (a concurrent request won; nothing written)."""
        now = filing.now
        callers = [c for c, ok in filing.named if ok]
        seq = await tx.next_seq()
        draft = Case(
            case_id=cases.case_id(now.astimezone(self.zone).date(), seq),
            status=Status.RECEIVED,
            consumer_masked=consumer.masked,
            channel=filing.channel,
            description=filing.description,
            window=filing.window,
            findings=(),
            total=Money.zero(self.amount.currency),
            created_at=now,
            first_response_due=self.deadlines.first_response_due(now),
            resolution_due=self.deadlines.resolution_due(now),
            assignee=filer_name,
            regulator_reply_due=(
                self.calendar.add(now, self.workday_deadlines.regulator_reply)
                if filing.channel is Channel.REGULATOR
                else None
            ),
            major_since=now if filing.escalate else None,
            progress_statement_due=self.updates.progress_statement_due(now) if filing.escalate else None,
            recurrence_of=filing.recurrence_of,
        )
        sealed = self.sealer.seal(consumer.e164, draft.case_id)
        if not await tx.insert_case(draft, seq, filing.key, sealed, request_id):
            return None
        compensated = await tx.compensated(filing.key, callers)
        verified = v.verify(
            callers,
            filing.calls,
            filing.window,
            filing.preferences,
            filing.consents,
            self.amount,
            compensated,
            filing.lines,
            filing.org_lists,
        )
        by_caller = {f.caller_number: f for f in verified}
        findings = [by_caller[c] if ok else v.unparsable(c, self.amount.currency) for c, ok in filing.named]
        findings = await self._book(tx, draft.case_id, filing.key, consumer, findings, now)
        # The queue's lock is taken once the payouts are booked (never held while waiting on
        # another filing's payout rows); what follows writes only this case's rows.
        assignee = await assign_new(tx, draft.case_id, filer_name, now)
        created = await self._settle(
            tx, draft, findings, now, actor, len(filing.calls), filing.disputes_consent, consumer, assignee
        )
        log.info("complaint_filed", case_id=created, consumer=consumer.masked, callers=len(filing.named))
        return created

    async def _book(
        self,
        tx: CaseWrites,
        case_id: str,
        key: bytes,
        consumer: phone.PhoneNumber,
        findings: list[v.Finding],
        now: datetime,
    ) -> list[v.Finding]:
        """Book a payout for each owed finding; a pair another case booked first is not owed again.

        Each payout booked now is due `payout_due_workdays` working days after `now`'s day (China's
        calendar: the end of that day, Beijing time). Pairs are booked in caller order so concurrent
        complaints wait on each other instead of deadlocking.
        """
        out = list(findings)
        owed = sorted((i for i, f in enumerate(out) if f.owed and not f.payout_id), key=lambda i: out[i].caller_number)
        if not owed:
            return out
        due = self.calendar.add(now, self.payout_due_workdays)
        for i in owed:
            f = out[i]
            pid = cases.payout_id(key, f.caller_number)
            sealed = self.sealer.seal(consumer.e164, pid)
            got, new = await tx.book_payout(
                pid, key, f.caller_number, case_id, consumer.masked, sealed, f.amount, now, due
            )
            out[i] = v.booked(f, got) if new else v.compensated_elsewhere(f, got)
        return out

    async def _settle(
        self,
        tx: CaseWrites,
        draft: Case,
        findings: list[v.Finding],
        now: datetime,
        actor: str,
        calls: int,
        disputes_consent: bool,
        consumer: phone.PhoneNumber,
        assignee: str,
    ) -> str:
        """Record the verification's outcome and the stages it went through, and tell the consumer:
        accepted (with `assignee`, the person in charge), and (when the verification decided alone) the
        verdict with what is owed."""
        status = cases.status_of(findings, disputes_consent)
        total = v.total(findings, self.amount.currency)
        await tx.save_findings(draft.case_id, findings)
        window = (
            f"{draft.window.after.isoformat(timespec='seconds')} .. {draft.window.before.isoformat(timespec='seconds')}"
        )
        await tx.add_history(
            draft.case_id,
            [
                HistoryEntry(
                    now,
                    actor,
                    "filed",
                    f"via {draft.channel.value.lower()}: {len(findings)} caller numbers, calls in {window}"
                    + ("; she disputes the consent on file" if disputes_consent else ""),
                ),
                *self._deadline_entries(draft, actor),
                *(
                    [
                        HistoryEntry(
                            now, actor, "recurrence_of", f"the problem recurred after case {draft.recurrence_of}"
                        )
                    ]
                    if draft.recurrence_of
                    else []
                ),
                HistoryEntry(
                    now, SYSTEM, status.value.lower(), f"{calls} calls on record; {cases.summary(findings, total)}"
                ),
            ],
        )
        await tx.set_status(draft.case_id, status, total, now)
        await stage_filing(tx, draft.case_id, status, now, actor)
        text = notices.accepted_text(draft.case_id, assignee, draft.first_response_due, self.notifier.zone)
        await self.notifier.append(
            tx, draft, notices.accepted_id(draft.case_id), NoticeKind.ACCEPTED, text, now, consumer
        )
        if status is not Status.MANUAL_REVIEW:
            await self._notify_verdict(tx, draft, 0, findings, total, now, consumer)
        return draft.case_id

    async def _notify_verdict(
        self,
        tx: CaseWrites,
        case: Case,
        review: int,
        findings: Sequence[v.Finding],
        owed: Money,
        now: datetime,
        consumer: phone.PhoneNumber | None,
    ) -> None:
        # A pair compensated by an earlier case was a violation all the same: the text says it was paid before.
        verified = sum(1 for f in findings if f.verdict in _VIOLATIONS)
        rules = sum(1 for f in findings if f.verdict is v.CallerVerdict.RULE_VIOLATED)
        text = notices.verdict_text(case.case_id, verified, len(findings), owed, rules)
        await self.notifier.append(
            tx, case, notices.verdict_id(case.case_id, review), NoticeKind.VERDICT, text, now, consumer
        )

    @staticmethod
    def _deadline_entries(draft: Case, actor: str) -> list[HistoryEntry]:
        """The working-day deadlines a filing sets, each its own history entry, and the case it recurs from."""
        out = []
        if draft.recurrence_of:
            note = f"opened by the revisit of case {draft.recurrence_of}: the problem recurred"
            out.append(HistoryEntry(draft.created_at, actor, "recurrence_of", note))
        if draft.regulator_reply_due is not None:
            note = f"reply to the regulator due {draft.regulator_reply_due.isoformat(timespec='seconds')}"
            out.append(HistoryEntry(draft.created_at, SYSTEM, "regulator_reply_due", note))
        if draft.progress_statement_due is not None:
            due = draft.progress_statement_due.isoformat(timespec="seconds")
            note = f"major at filing; progress statement due {due}"
            out.append(HistoryEntry(draft.created_at, actor, "escalated", note))
        return out

    async def _replay(self, request_id: str, key: bytes) -> Case | None:
        found = await self.cases.by_request_id(request_id)
        if found is None:
            return None
        case, owner = found
        if owner != key:
            raise Conflict(f"request_id {request_id!r} was already used for another consumer's complaint")
        return case

    async def get_complaint(self, case_id: str) -> Case:
        if not case_id.strip():
            raise InvalidArgument("case_id", "is required")
        case = await self.cases.get(case_id.strip())
        if case is None:
            raise NotFound("no complaint with this case_id")
        return case

    async def list_complaints(
        self,
        consumer_number: str,
        status: Status | None,
        overdue_only: bool,
        size: int,
        token: str,
        update_overdue_only: bool = False,
        *,
        assignee: str = "",
        stage: Stage | None = None,
        due_state: DueState | None = None,
        regulator_reply_overdue_only: bool = False,
    ) -> tuple[list[Case], str]:
        """A page of cases, newest first; every filter given must hold (`due_state`: past that due time now)."""
        key = self.keyer.digest(self._consumer(consumer_number).e164) if consumer_number.strip() else None
        if assignee.strip() and not access.valid_name(assignee.strip()):
            raise InvalidArgument("assignee", "is not a principal's name")
        now = self.now()
        update_overdue_only = update_overdue_only or due_state is DueState.UPDATE_OVERDUE
        filters = CaseFilters(
            assignee=assignee.strip(),
            stage=stage,
            first_response_overdue_at=now if due_state is DueState.FIRST_RESPONSE_OVERDUE else None,
            resolution_overdue_at=now if due_state is DueState.RESOLUTION_OVERDUE else None,
            revisit_overdue_at=now if due_state is DueState.REVISIT_OVERDUE else None,
        )
        found, more = await self.cases.page(
            key,
            status,
            now if overdue_only else None,
            decode_token(token, "c"),
            page_size(size),
            update_clock_before=now - timedelta(hours=self.updates.update_hours) if update_overdue_only else None,
            filters=filters,
            regulator_reply_late_at=now if regulator_reply_overdue_only else None,
        )
        return found, encode_token("c", more)

    async def confirm_resolution(
        self,
        case_id: str,
        satisfied: bool,
        comment: str,
        request_id: str = "",
        *,
        actor: str,
        override_reason: str = "",
        may_override: bool = False,
        resolved: bool | None = None,
        satisfaction: int = 0,
        remaining_issue: str = "",
    ) -> Case:
        """The consumer's word on the outcome, relayed by `actor` (the principal that called): CLOSED
        when she says it is resolved (`resolved`; None: as `satisfied`) and nothing remains
        (`remaining_issue` empty), else REOPENED for another look, with the same assignee. Her answer
        (resolved, `satisfaction` 1-5 or 0, the remaining issue masked) is kept on the case.

        A case with a PENDING payout closes only with `override_reason`, which only a principal the api
        found entitled (`may_override`: supervisor or admin) may give; it is recorded with the reason.
        """
        access.actor(actor)
        if not case_id.strip():
            raise InvalidArgument("case_id", "is required")
        if override_reason.strip() and not may_override:
            roles = ",".join(sorted(access.OVERRIDE_ROLES))
            raise PermissionDenied(
                f"{actor} may not close a case over pending payouts: override_reason needs one of the roles {roles}",
                access.MISSING_ROLE,
                {"method": "/dncgate.v1.Compensation/ConfirmResolution", "roles": roles, "field": "override_reason"},
            )
        cases.check_satisfaction(satisfaction)
        said_resolved = satisfied if resolved is None else resolved
        closing = cases.closes(said_resolved, remaining_issue)
        if override_reason.strip() and not closing:
            raise InvalidArgument(
                "override_reason", "only closing a case (resolved, nothing remaining) can be overridden"
            )
        async with self.cases.transaction() as tx:
            case = await tx.lock_case(case_id.strip())
            if case is None:
                raise NotFound("no complaint with this case_id")
            if not request_id.strip() or await tx.claim_request(request_id.strip(), "ConfirmResolution", case.case_id):
                pending = await tx.pending_payouts(case.case_id) if closing else []
                override = bool(override_reason.strip())
                status = cases.after_confirmation(case.status, closing, pending_payouts=pending, override=override)
                now = self.now()
                action = "confirmed_resolved" if closing else "reopened"
                callers = _callers_of(case)
                note = self._text(comment, "comment", callers)
                remaining = self._text(remaining_issue, "remaining_issue", callers)
                history = [HistoryEntry(now, actor, action, note)]
                if pending:
                    reason = self._text(override_reason, "override_reason", callers)
                    note = f"{reason} (pending: {', '.join(pending)})"
                    history.append(HistoryEntry(now, actor, "closed_over_pending_payouts", note))
                await tx.add_history(case.case_id, history)
                await tx.set_status(case.case_id, status, case.total, now)
                await tx.save_confirmation(case.case_id, Confirmation(said_resolved, satisfaction, remaining))
                await restage(tx, case, status, now, actor)
                if status is Status.CLOSED:
                    await tx.set_closed(case.case_id, now, cases.revisit_due(now, self.revisit_days))
                log.info("complaint_confirmed", case_id=case.case_id, status=status.value, overridden=bool(pending))
        return await self.get_complaint(case.case_id)

    async def record_revisit(
        self, case_id: str, recurred: bool, rating: int, note: str, request_id: str = "", *, actor: str, filer_name: str
    ) -> Case:
        """The revisit of a CLOSED case the consumer confirmed, once, by `actor` (the principal that called
        her back): her `rating` (1-5, 0 none) and `note` (masked) recorded, stage REVISITED, the REVISIT
        notice queued, all in one transaction.

        If the problem `recurred`, a linked case is opened in that same transaction, through the filing's
        own path: her number, the original's caller numbers, calls from the original's closing to now,
        its channel; verified against the call log, each (consumer, caller) pair paid once (a pair the
        original paid is ALREADY_COMPENSATED), assigned round-robin (else to `filer_name`), its
        ACCEPTED and VERDICT notices queued. The same `request_id` again answers the case, nothing written.
        """
        access.actor(actor)
        access.actor(filer_name)
        if not case_id.strip():
            raise InvalidArgument("case_id", "is required")
        cases.check_rating(rating)
        seen = await self.cases.get(case_id.strip())
        if seen is None:
            raise NotFound("no complaint with this case_id")
        callers = _callers_of(seen)
        text = self._text(note, "note", callers)
        now = self.now()
        filing: _Filing | None = None
        key = await self.cases.consumer_key(seen.case_id)
        if recurred and key is not None and seen.revisit is None and seen.status is Status.CLOSED:
            # The recurrence's reads, before the transaction (as a filing's); the case is checked again
            # under its lock, where a concurrent revisit (or replay) is found and these are dropped.
            filing = await self._recurrence(seen, key, text, now)
        async with self.cases.transaction() as tx:
            case = await tx.lock_case(seen.case_id)
            assert case is not None  # cases are never deleted
            if request_id.strip() and not await tx.claim_request(request_id.strip(), "RecordRevisit", case.case_id):
                return await self.get_complaint(case.case_id)
            cases.check_revisitable(case)
            stage = cases.revisited(case.stage)
            opened = ""
            if recurred:
                owner, sealed = await tx.consumer_of(case.case_id)
                if sealed is None:
                    raise FailedPrecondition(
                        "the consumer's number was erased (ForgetConsumer): no recurrence case can be opened for her"
                    )
                if filing is None:  # it closed between the read and the lock: read its calls now
                    filing = await self._recurrence(case, owner, text, now)
                consumer = phone.parse(self.sealer.unseal(sealed, case.case_id))
                created = await self._open(tx, filing, consumer, None, actor, filer_name)
                assert created is not None  # no request_id: nothing to collide with
                opened = created
            said = "recurred" if recurred else "did not recur"
            entry = f"the problem {said}" + (f"; new case {opened}" if opened else "")
            entry += (f"; rating {rating}" if rating else "") + (f": {text}" if text else "")
            await tx.add_history(case.case_id, [HistoryEntry(now, actor, "revisited", entry)])
            await tx.enter_stages(case.case_id, [StageEntry(stage, now, actor)])
            await self.notifier.append(
                tx, case, notices.revisit_id(case.case_id), NoticeKind.REVISIT, notices.revisit_text(case.case_id), now
            )
            await tx.add_revisit(case.case_id, Revisit(now, actor, recurred, rating, text, opened))
            log.info("complaint_revisited", case_id=case.case_id, recurred=recurred, recurrence_case_id=opened)
        return await self.get_complaint(case.case_id)

    async def _recurrence(self, case: Case, key: bytes, note: str, now: datetime) -> _Filing:
        """What a recurrence of `case` files, read: the original's numbers and channel, the calls from
        its closing to `now`, a description naming it (and the revisit's masked `note`)."""
        named = self._callers([f.caller_number for f in case.findings])
        after = min(_closed_at(case), now)
        description = f"recurs from case {case.case_id} (revisit)" + (f": {note}" if note else "")
        return await self._gather(
            key, named, v.Window(after, now), case.channel, description, now, recurrence_of=case.case_id
        )

    async def review(self, case_id: str, decision: Status | None, note: str, actor: str, request_id: str = "") -> Case:
        """An operator (`actor`: the authenticated principal) decides a case waiting for a human
        (MANUAL_REVIEW or REOPENED).

        VERIFIED upholds the consumer against the consent on file: each consent-disputed caller with calls
        earns its payout (unless that pair was compensated already); REJECTED leaves the findings as they are.
        """
        access.actor(actor)
        if not case_id.strip():
            raise InvalidArgument("case_id", "is required")
        if decision not in (Status.VERIFIED, Status.REJECTED):
            raise InvalidArgument("decision", "is required: COMPLAINT_STATUS_VERIFIED or COMPLAINT_STATUS_REJECTED")
        if not note.strip():
            raise InvalidArgument("note", "is required: say why")
        async with self.cases.transaction() as tx:
            case = await tx.lock_case(case_id.strip())
            if case is None:
                raise NotFound("no complaint with this case_id")
            if not request_id.strip() or await tx.claim_request(request_id.strip(), "ReviewComplaint", case.case_id):
                await self._decide(tx, case, decision, self._text(note, "note", _callers_of(case)), actor)
        return await self.get_complaint(case.case_id)

    async def _decide(self, tx: CaseWrites, case: Case, decision: Status, note: str, operator: str) -> None:
        status = cases.after_review(case.status, decision)
        now = self.now()
        findings = list(case.findings)
        history = [HistoryEntry(now, operator, "reviewed", f"{decision.value}: {note}")]
        consumer: phone.PhoneNumber | None = None
        if decision is Status.VERIFIED:
            key, sealed = await tx.consumer_of(case.case_id)
            if sealed is None:
                raise FailedPrecondition("the consumer's number was erased (ForgetConsumer): no payout can be booked")
            consumer = phone.parse(self.sealer.unseal(sealed, case.case_id))
            disputed = [i for i, f in enumerate(findings) if v.disputable(f)]
            compensated = await tx.compensated(key, [findings[i].caller_number for i in disputed])
            for i in disputed:
                paid_by = compensated.get(findings[i].caller_number)
                findings[i] = (
                    v.compensated_elsewhere(findings[i], paid_by)
                    if paid_by
                    else v.upheld_on_review(findings[i], self.amount)
                )
            findings = await self._book(tx, case.case_id, key, consumer, findings, now)
            status = cases.after_payment(status, await tx.payouts_paid(case.case_id))
            total = v.total(findings, case.total.currency)
            history.append(HistoryEntry(now, SYSTEM, status.value.lower(), cases.summary(findings, total)))
        await tx.save_findings(case.case_id, findings)
        await tx.add_history(case.case_id, history)
        owed = v.total(findings, case.total.currency)
        await tx.set_status(case.case_id, status, owed, now)
        await restage(tx, case, status, now, operator)
        reviews = 1 + sum(1 for h in case.history if h.action == "reviewed")  # this review's number
        await self._notify_verdict(tx, case, reviews, findings, owed, now, consumer)
        log.info("complaint_reviewed", case_id=case.case_id, operator=operator, status=status.value)


_VIOLATIONS = v.PAYING | {v.CallerVerdict.ALREADY_COMPENSATED}


def _closed_at(case: Case) -> datetime:
    """When the case closed: as recorded, else (closed before that was) its last CONSUMER_CONFIRMED stage."""
    if case.closed_at is not None:
        return case.closed_at
    confirmed = [e.at for e in case.timeline if e.stage is Stage.CONSUMER_CONFIRMED]
    return max(confirmed, default=case.created_at)


def _callers_of(case: Case) -> frozenset[str]:
    """The company lines a case names: free text about it may mention them in clear."""
    return frozenset(f.caller_number for f in case.findings)
