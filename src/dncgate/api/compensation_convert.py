"""Proto <-> domain mapping for the Compensation service; money leaves here as google.type.Money."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.type import money_pb2

from dncgate.api.convert import reasons, ts
from dncgate.domain.case import (
    Case,
    Channel,
    DueState,
    Operator,
    Payout,
    PayoutStatus,
    Revisit,
    Stage,
    Status,
    Update,
    UpdateKind,
    consumer_updates,
    update_overdue,
)
from dncgate.domain.erasure import Erasure
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.money import Money
from dncgate.domain.notices import NoticeKind, SentNotice
from dncgate.domain.reports import CurrencyTotals, FundSummary, ServiceFigures, ServiceReport, Share, ViolationReport
from dncgate.domain.types import Reason
from dncgate.domain.verification import CallerVerdict, Finding
from dncgate.v1 import compensation_pb2 as pb

_STATUS_TO_PB: dict[Status, Any] = {s: pb.ComplaintStatus.Value(f"COMPLAINT_STATUS_{s.value}") for s in Status}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}
_CHANNEL_TO_PB: dict[Channel, Any] = {c: pb.Channel.Value(f"CHANNEL_{c.value}") for c in Channel}
_CHANNEL_FROM_PB = {v: k for k, v in _CHANNEL_TO_PB.items()}
_VERDICT_TO_PB: dict[CallerVerdict, Any] = {v: pb.Verdict.Value(f"VERDICT_{v.value}") for v in CallerVerdict}
_PAYOUT_TO_PB: dict[PayoutStatus, Any] = {s: pb.PayoutStatus.Value(f"PAYOUT_STATUS_{s.value}") for s in PayoutStatus}
_PAYOUT_FROM_PB = {v: k for k, v in _PAYOUT_TO_PB.items()}
_STAGE_TO_PB: dict[Stage, Any] = {s: pb.Stage.Value(f"STAGE_{s.value}") for s in Stage}
_STAGE_FROM_PB = {v: k for k, v in _STAGE_TO_PB.items()}
_DUE_FROM_PB: dict[Any, DueState] = {pb.DueState.Value(f"DUE_STATE_{d.value}"): d for d in DueState}
_KIND_TO_PB: dict[UpdateKind, Any] = {k: pb.UpdateKind.Value(f"UPDATE_KIND_{k.value}") for k in UpdateKind}
_KIND_FROM_PB = {v: k for k, v in _KIND_TO_PB.items()}


def update_kind_from_pb(value: int) -> UpdateKind:
    """UPDATE_KIND_UNSPECIFIED is a plain PROGRESS update."""
    if value == pb.UPDATE_KIND_UNSPECIFIED:
        return UpdateKind.PROGRESS
    try:
        return _KIND_FROM_PB[value]
    except KeyError:
        raise InvalidArgument("kind", f"unknown update kind {value}") from None


def erasure(e: Erasure) -> pb.ForgetConsumerResponse:
    return pb.ForgetConsumerResponse(
        erasure_id=e.erasure_id,
        erased_at=ts(e.at),
        complaints_erased=e.complaints,
        payouts_erased=e.payouts,
        calls_masked=e.calls,
        texts_rewritten=e.texts,
    )


def money(m: Money) -> money_pb2.Money:
    units, nanos = m.units_nanos()
    return money_pb2.Money(currency_code=m.currency, units=units, nanos=nanos)


def status_from_pb(value: int, field: str) -> Status | None:
    """None for COMPLAINT_STATUS_UNSPECIFIED (no filter, or no decision given)."""
    if value == pb.COMPLAINT_STATUS_UNSPECIFIED:
        return None
    try:
        return _STATUS_FROM_PB[value]
    except KeyError:
        raise InvalidArgument(field, f"unknown complaint status {value}") from None


def stage_from_pb(value: int) -> Stage | None:
    """None for STAGE_UNSPECIFIED (no filter)."""
    if value == pb.STAGE_UNSPECIFIED:
        return None
    try:
        return _STAGE_FROM_PB[value]
    except KeyError:
        raise InvalidArgument("stage", f"unknown stage {value}") from None


def due_state_from_pb(value: int) -> DueState | None:
    """None for DUE_STATE_UNSPECIFIED (no filter)."""
    if value == pb.DUE_STATE_UNSPECIFIED:
        return None
    try:
        return _DUE_FROM_PB[value]
    except KeyError:
        raise InvalidArgument("due_state", f"unknown due state {value}") from None


def operator(o: Operator) -> pb.Operator:
    return pb.Operator(
        name=o.name,
        available=o.available,
        updated_at=ts(o.updated_at),
        updated_by=o.updated_by,
        assigned_count=o.assigned_count,
    )


def channel_from_pb(value: int) -> Channel | None:
    if value == pb.CHANNEL_UNSPECIFIED:
        return None
    try:
        return _CHANNEL_FROM_PB[value]
    except KeyError:
        raise InvalidArgument("channel", f"unknown channel {value}") from None


def payout_status_from_pb(value: int) -> PayoutStatus | None:
    if value == pb.PAYOUT_STATUS_UNSPECIFIED:
        return None
    try:
        return _PAYOUT_FROM_PB[value]
    except KeyError:
        raise InvalidArgument("status", f"unknown payout status {value}") from None


def finding(f: Finding) -> pb.Finding:
    return pb.Finding(
        caller_number=f.caller_number,
        verdict=_VERDICT_TO_PB[f.verdict],
        call_ids=list(f.call_ids),
        payout_id=f.payout_id,
        amount=money(f.amount),
        consent_evidence=f.consent_evidence,
        compensated_by_case_id=f.compensated_by_case,
        org_id=f.org_id,
        agent_id=f.agent_id,
        rules_broken=reasons(f.rules_broken),
    )


def update(u: Update) -> pb.ComplaintUpdate:
    return pb.ComplaintUpdate(
        at=ts(u.at),
        author=u.author,
        text=u.text,
        visible_to_consumer=u.visible_to_consumer,
        kind=_KIND_TO_PB[u.kind],
        previous_resolution_due=ts(u.previous_due),
        new_resolution_due=ts(u.new_due),
    )


def complaint(c: Case, next_update_due: datetime | None, now: datetime) -> pb.Complaint:
    """The case as stored, with when its next update is due and whether that is past at `now`."""
    return pb.Complaint(
        case_id=c.case_id,
        status=_STATUS_TO_PB[c.status],
        findings=[finding(f) for f in c.findings],
        total_compensation=money(c.total),
        consumer_number_masked=c.consumer_masked,
        created_at=ts(c.created_at),
        first_response_due=ts(c.first_response_due),
        resolution_due=ts(c.resolution_due),
        history=[pb.HistoryEntry(at=ts(h.at), actor=h.actor, action=h.action, note=h.note) for h in c.history],
        channel=_CHANNEL_TO_PB[c.channel],
        description=c.description,
        occurred_after=ts(c.window.after),
        occurred_before=ts(c.window.before),
        updates=[update(u) for u in c.updates],
        next_update_due=ts(next_update_due),
        update_overdue=update_overdue(next_update_due, now),
        stage=_STAGE_TO_PB[c.stage],
        timeline=[pb.StageEntry(stage=_STAGE_TO_PB[e.stage], at=ts(e.at), actor=e.actor) for e in c.timeline],
        assignee=c.assignee,
        satisfaction=c.confirmation.satisfaction,
        resolved=c.confirmation.resolved,
        remaining_issue=c.confirmation.remaining_issue,
        regulator_reply_due=ts(c.regulator_reply_due),
        regulator_replied_at=ts(c.regulator_replied_at),
        regulator_reply_overdue=c.regulator_reply_overdue(now),
        major=c.major,
        progress_statement_due=ts(c.progress_statement_due),
        progress_statement_overdue=c.progress_statement_overdue(now),
        progress_statement_at=ts(c.progress_statement_at),
        revisit_due=ts(c.revisit_due),
        revisit_overdue=c.revisit_overdue(now),
        revisit=revisit(c.revisit) if c.revisit else None,
        recurrence_of=c.recurrence_of,
        closed_at=ts(c.closed_at),
    )


def revisit(r: Revisit) -> pb.Revisit:
    return pb.Revisit(
        at=ts(r.at),
        actor=r.actor,
        recurred=r.recurred,
        rating=r.rating,
        note=r.note,
        recurrence_case_id=r.recurrence_case_id,
    )


def case_progress(c: Case, payouts: Sequence[Payout], next_update_due: datetime | None) -> pb.CaseProgress:
    """What the consumer is shown: visible updates without their authors, verdicts without call ids."""
    return pb.CaseProgress(
        case_id=c.case_id,
        status=_STATUS_TO_PB[c.status],
        stage=_STAGE_TO_PB[c.stage],
        timeline=[pb.StageEntry(stage=_STAGE_TO_PB[e.stage], at=ts(e.at)) for e in c.timeline],
        assignee=c.assignee,
        revisit_due=ts(c.revisit_due),
        revisited_at=ts(c.revisit.at if c.revisit else None),
        recurrence_case_id=c.revisit.recurrence_case_id if c.revisit else "",
        recurrence_of=c.recurrence_of,
        consumer_number_masked=c.consumer_masked,
        created_at=ts(c.created_at),
        first_response_due=ts(c.first_response_due),
        resolution_due=ts(c.resolution_due),
        next_update_due=ts(next_update_due),
        updates=[
            pb.ConsumerUpdate(at=ts(u.at), text=u.text, kind=_KIND_TO_PB[u.kind], new_resolution_due=ts(u.new_due))
            for u in consumer_updates(c)
        ],
        total_compensation=money(c.total),
        callers=[
            pb.CallerOutcome(
                caller_number=f.caller_number,
                verdict=_VERDICT_TO_PB[f.verdict],
                amount=money(f.amount),
                rules_broken=reasons(f.rules_broken),
            )
            for f in c.findings
        ],
        payouts=[
            pb.PayoutProgress(
                caller_number=p.caller_e164,
                amount=money(p.amount),
                status=_PAYOUT_TO_PB[p.status],
                due_at=ts(p.due_at),
                paid_at=ts(p.paid_at),
            )
            for p in payouts
        ],
    )


def payout(p: Payout, now: datetime) -> pb.Payout:
    """The payout as stored, and whether it is overdue at `now` (the server's clock)."""
    return pb.Payout(
        payout_id=p.payout_id,
        case_id=p.case_id,
        consumer_number_masked=p.consumer_masked,
        caller_number=p.caller_e164,
        amount=money(p.amount),
        status=_PAYOUT_TO_PB[p.status],
        created_at=ts(p.created_at),
        paid_at=ts(p.paid_at),
        payment_reference=p.payment_reference,
        paid_by=p.paid_by,
        due_at=ts(p.due_at),
        overdue=p.overdue(now),
    )


def _totals(t: CurrencyTotals) -> pb.CurrencyTotals:
    return pb.CurrencyTotals(
        currency=t.currency,
        pending_count=t.pending_count,
        pending_amount=money(t.pending),
        paid_count=t.paid_count,
        paid_amount=money(t.paid),
        overdue_count=t.overdue_count,
        overdue_amount=money(t.overdue),
    )


def fund_summary(s: FundSummary) -> pb.FundSummary:
    """The amounts of the single-currency fields only when there is one currency (see the proto)."""
    single = s.single
    return pb.FundSummary(
        periods=[
            pb.FundPeriod(
                period_start=ts(p.start),
                pending_count=p.pending_count,
                pending_amount=money(p.pending),
                paid_count=p.paid_count,
                paid_amount=money(p.paid),
            )
            for p in s.periods
        ],
        pending_count=s.pending_count,
        pending_amount=money(single.pending) if single else None,
        paid_count=s.paid_count,
        paid_amount=money(single.paid) if single else None,
        totals=[_totals(t) for t in s.totals],
        payouts_overdue=s.overdue_count,
    )


def violation_report(r: ViolationReport) -> pb.ViolationReport:
    return pb.ViolationReport(
        org_id=r.org_id,
        agents=[
            pb.AgentViolations(
                agent_id=a.agent_id,
                violating_calls=a.violating_calls,
                verified_complaints=a.verified_complaints,
                calls_outside_gateway=a.calls_outside_gateway,
                rule_violation_complaints=a.rule_violation_complaints,
                violating_calls_by_reason=_reason_counts(a.by_reason),
            )
            for a in r.agents
        ],
        violating_calls=r.violating_calls,
        verified_complaints=r.verified_complaints,
        calls_outside_gateway=r.calls_outside_gateway,
        rule_violation_complaints=r.rule_violation_complaints,
        violating_calls_by_reason=_reason_counts(r.by_reason),
    )


def _reason_counts(counts: Sequence[tuple[Reason, int]]) -> list[pb.ReasonCount]:
    return [pb.ReasonCount(reason=w, calls=n) for w, (_, n) in zip(reasons(r for r, _ in counts), counts, strict=True)]


def _share(s: Share) -> pb.Share:
    return pb.Share(met=s.met, of=s.of)


def service_figures(f: ServiceFigures) -> pb.ServiceFigures:
    return pb.ServiceFigures(
        cases_filed=f.cases_filed,
        answered_in_time=_share(f.answered),
        answer_pending=f.answer_pending,
        resolved_in_time=_share(f.resolved),
        resolution_pending=f.resolution_pending,
        updates_overdue=f.updates_overdue,
        regulator_replies_on_time=_share(f.regulator_replies),
        satisfaction_sum=f.satisfaction_sum,
        rated=f.rated,
        mean_satisfaction=f.mean_satisfaction,
        revisits_done=f.revisits_done,
        revisits_on_time=f.revisits_on_time,
        revisits_overdue=f.revisits_overdue,
        recurrences=f.recurrences,
        payouts_paid_on_time=_share(f.payouts_on_time),
    )


def service_report(r: ServiceReport, hours: tuple[int, int, int], zone: str) -> pb.ServiceReport:
    """`hours`: the first-response, resolution and update hours the figures were counted against;
    `zone` the one the periods start in."""
    return pb.ServiceReport(
        period=r.period.value,
        periods=[
            pb.ServicePeriod(
                period_start=ts(p.start),
                assignees=[
                    pb.AssigneeService(assignee=a.assignee, figures=service_figures(a.figures)) for a in p.assignees
                ],
                total=service_figures(p.total),
            )
            for p in r.periods
        ],
        total=service_figures(r.total),
        generated_at=ts(r.generated_at),
        first_response_hours=hours[0],
        resolution_hours=hours[1],
        update_hours=hours[2],
        time_zone=zone,
    )


_NOTICE_KIND_TO_PB: dict[NoticeKind, Any] = {
    k: pb.NotificationKind.Value(f"NOTIFICATION_KIND_{k.value}") for k in NoticeKind
}


def notification(n: SentNotice) -> pb.Notification:
    return pb.Notification(
        notification_id=n.notice.notification_id,
        case_id=n.notice.case_id,
        kind=_NOTICE_KIND_TO_PB[n.notice.kind],
        text=n.notice.text,
        destination_masked=n.destination_masked,
        created_at=ts(n.notice.created_at),
        delivered_at=ts(n.delivered_at),
        attempts=n.attempts,
        last_error=n.last_error,
    )
