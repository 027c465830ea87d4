"""Compensation servicer: the hotline's complaints, the payout ledger and the reports, over gRPC."""

from __future__ import annotations

from typing import Any, TypeAlias

import structlog

from dncgate.api import access
from dncgate.api import compensation_convert as cc
from dncgate.api.convert import opt_ts
from dncgate.domain.access import OVERRIDE_ROLES
from dncgate.domain.case import Case
from dncgate.service.compensation import CompensationService, ComplaintInput
from dncgate.service.notices import NoticeDesk
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc

Ctx: TypeAlias = Any  # grpc.aio.ServicerContext; grpcio ships no type information


def _bind(**kw: Any) -> None:
    structlog.contextvars.bind_contextvars(**{k: v for k, v in kw.items() if v})


class CompensationServicer(compensation_pb2_grpc.CompensationServicer):
    def __init__(self, service: CompensationService, notices: NoticeDesk) -> None:
        self.service = service
        self.notices = notices
        self.lookup = service.lookup
        self.payouts = service.payouts
        self.updates = service.updates

    def _complaint(self, case: Case) -> pb.Complaint:
        return cc.complaint(case, self.updates.next_update_due(case), self.service.now())

    async def FileComplaint(self, request: pb.FileComplaintRequest, context: Ctx) -> pb.Complaint:
        case = await self.service.file_complaint(
            ComplaintInput(
                consumer_number=request.consumer_number,
                caller_numbers=list(request.caller_numbers),
                occurred_after=opt_ts(request, "occurred_after"),
                occurred_before=opt_ts(request, "occurred_before"),
                channel=cc.channel_from_pb(request.channel),
                description=request.description,
                request_id=request.request_id,
                disputes_consent=request.disputes_consent,
                escalate=request.escalate,
            ),
            actor=access.current().label,
            filer_name=access.current().name,
        )
        _bind(
            case_id=case.case_id,
            consumer=case.consumer_masked,
            case_status=case.status.value,
            request_id=request.request_id,
        )
        return self._complaint(case)

    async def GetComplaint(self, request: pb.GetComplaintRequest, context: Ctx) -> pb.Complaint:
        case = await self.service.get_complaint(request.case_id)
        _bind(case_id=case.case_id)
        return self._complaint(case)

    async def ListComplaints(self, request: pb.ListComplaintsRequest, context: Ctx) -> pb.ListComplaintsResponse:
        found, token = await self.service.list_complaints(
            request.consumer_number,
            cc.status_from_pb(request.status, "status"),
            request.overdue_only,
            request.page_size,
            request.page_token,
            update_overdue_only=request.update_overdue_only,
            assignee=request.assignee,
            stage=cc.stage_from_pb(request.stage),
            due_state=cc.due_state_from_pb(request.due_state),
            regulator_reply_overdue_only=request.regulator_reply_overdue_only,
        )
        _bind(count=str(len(found)))
        return pb.ListComplaintsResponse(complaints=[self._complaint(c) for c in found], next_page_token=token)

    async def ConfirmResolution(self, request: pb.ConfirmResolutionRequest, context: Ctx) -> pb.Complaint:
        principal = access.current()
        case = await self.service.confirm_resolution(
            request.case_id,
            request.satisfied,
            request.comment,
            request.request_id,
            actor=principal.label,
            override_reason=request.override_reason,
            may_override=bool(principal.roles & OVERRIDE_ROLES),
            resolved=request.resolved if request.HasField("resolved") else None,
            satisfaction=request.satisfaction,
            remaining_issue=request.remaining_issue,
        )
        _bind(case_id=case.case_id, case_status=case.status.value, request_id=request.request_id)
        return self._complaint(case)

    async def ReviewComplaint(self, request: pb.ReviewComplaintRequest, context: Ctx) -> pb.Complaint:
        case = await self.service.review(
            request.case_id,
            cc.status_from_pb(request.decision, "decision"),
            request.note,
            access.current().label,  # the authenticated principal, never a name the client typed
            request.request_id,
        )
        _bind(case_id=case.case_id, case_status=case.status.value)
        return self._complaint(case)

    async def AddComplaintUpdate(self, request: pb.AddComplaintUpdateRequest, context: Ctx) -> pb.Complaint:
        case = await self.updates.add_update(
            request.case_id,
            request.text,
            request.visible_to_consumer,
            request.request_id,
            author=access.current().label,
            kind=cc.update_kind_from_pb(request.kind),
        )
        _bind(case_id=case.case_id, request_id=request.request_id)
        return self._complaint(case)

    async def ExtendComplaint(self, request: pb.ExtendComplaintRequest, context: Ctx) -> pb.Complaint:
        case = await self.updates.extend(
            request.case_id,
            request.reason,
            opt_ts(request, "new_resolution_due"),
            request.request_id,
            author=access.current().label,
        )
        _bind(case_id=case.case_id, request_id=request.request_id)
        return self._complaint(case)

    async def AssignComplaint(self, request: pb.AssignComplaintRequest, context: Ctx) -> pb.Complaint:
        case = await self.service.owners.assign(
            request.case_id, request.assignee, request.note, request.request_id, actor=access.current().label
        )
        _bind(case_id=case.case_id, request_id=request.request_id)
        return self._complaint(case)

    async def SetOperatorAvailability(self, request: pb.SetOperatorAvailabilityRequest, context: Ctx) -> pb.Operator:
        principal = access.current()
        row = await self.service.owners.set_availability(
            request.available,
            request.operator,
            actor=principal.label,
            own_name=principal.name,
            may_set_others=bool(principal.roles & OVERRIDE_ROLES),
        )
        return cc.operator(row)

    async def GetComplaintStatus(self, request: pb.GetComplaintStatusRequest, context: Ctx) -> pb.CaseProgress:
        found = await self.lookup.status(request.case_id, request.consumer_number)
        _bind(case_id=found.case.case_id)
        return cc.case_progress(found.case, found.payouts, self.updates.next_update_due(found.case))

    async def ListPayouts(self, request: pb.ListPayoutsRequest, context: Ctx) -> pb.ListPayoutsResponse:
        found, token = await self.payouts.list_payouts(
            cc.payout_status_from_pb(request.status),
            opt_ts(request, "created_after"),
            opt_ts(request, "created_before"),
            request.page_size,
            request.page_token,
            overdue_only=request.overdue_only,
        )
        now = self.payouts.now()
        return pb.ListPayoutsResponse(payouts=[cc.payout(p, now) for p in found], next_page_token=token)

    async def MarkPayoutPaid(self, request: pb.MarkPayoutPaidRequest, context: Ctx) -> pb.Payout:
        paid = await self.payouts.mark_paid(
            request.payout_id, request.payment_reference, request.request_id, actor=access.current().label
        )
        _bind(payout_id=paid.payout_id, case_id=paid.case_id, request_id=request.request_id)
        return cc.payout(paid, self.payouts.now())

    async def GetFundSummary(self, request: pb.GetFundSummaryRequest, context: Ctx) -> pb.FundSummary:
        summary = await self.payouts.fund_summary(opt_ts(request, "from"), opt_ts(request, "to"), request.period)
        return cc.fund_summary(summary)

    async def ReportViolations(self, request: pb.ReportViolationsRequest, context: Ctx) -> pb.ViolationReport:
        report = await self.payouts.violations(request.org_id, opt_ts(request, "from"), opt_ts(request, "to"))
        _bind(org=request.org_id)
        return cc.violation_report(report)

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: Ctx
    ) -> pb.ListNotificationsResponse:
        found, token = await self.notices.list_notices(request.case_id, request.page_size, request.page_token)
        _bind(case_id=request.case_id.strip(), count=str(len(found)))
        return pb.ListNotificationsResponse(notifications=[cc.notification(n) for n in found], next_page_token=token)

    async def EscalateComplaint(self, request: pb.EscalateComplaintRequest, context: Ctx) -> pb.Complaint:
        case = await self.updates.escalate(
            request.case_id, request.reason, request.request_id, author=access.current().label
        )
        _bind(case_id=case.case_id, request_id=request.request_id)
        return self._complaint(case)

    async def ForgetConsumer(self, request: pb.ForgetConsumerRequest, context: Ctx) -> pb.ForgetConsumerResponse:
        erased = await self.service.erasure.forget(
            request.consumer_number, request.request_id, actor=access.current().label
        )
        _bind(erasure_id=erased.erasure_id, request_id=request.request_id)
        return cc.erasure(erased)
