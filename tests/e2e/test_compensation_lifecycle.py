"""After filing: payments, the consumer's confirmation, operator review, lists, overdue cases, fund totals."""

from __future__ import annotations

import grpc
import pytest

from dncgate.v1 import registry_pb2
from tests.e2e.compensation_support import (
    ORG,
    A,
    B,
    C,
    Clock,
    V,
    call,
    db_rows,
    file,
    hotline,
    register_dnd,
    story_calls,
    yuan,
)
from tests.e2e.conftest import CONSUMER, registry

pytestmark = pytest.mark.e2e

HOUR = 3600


async def pay(server, payout_id: str, reference: str, request_id: str = ""):
    return await hotline(server).MarkPayoutPaid(
        V.MarkPayoutPaidRequest(payout_id=payout_id, payment_reference=reference, request_id=request_id)
    )


async def get(server, case_id: str):
    return await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=case_id))


async def confirm(server, case_id: str, satisfied: bool, comment: str = ""):
    return await hotline(server).ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=case_id, satisfied=satisfied, comment=comment)
    )


async def review(server, case_id: str, decision: int, note: str = "consent form unsigned"):
    return await hotline(server).ReviewComplaint(
        V.ReviewComplaintRequest(case_id=case_id, decision=decision, note=note)
    )


async def test_paying_every_payout_makes_the_case_paid_and_repeating_a_payment_is_harmless(server) -> None:
    """MarkPayoutPaid is idempotent on its reference, refuses a second reference, and the last one pays the case."""
    await story_calls(server)
    c = await file(server, A, B, C)
    first, second = c.findings[0].payout_id, c.findings[1].payout_id
    paid = await pay(server, first, "BANK-001")
    assert (paid.status, paid.payment_reference, yuan(paid.amount)) == (
        V.PAYOUT_STATUS_PAID,
        "BANK-001",
        ("CNY", 100, 0),
    )
    assert (await get(server, c.case_id)).status == V.COMPLAINT_STATUS_PARTIALLY_VERIFIED
    assert await pay(server, first, "BANK-001") == paid
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await pay(server, first, "BANK-999")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await pay(server, second, "BANK-002", request_id="pay-2")
    await pay(server, second, "BANK-002", request_id="pay-2")
    done = await get(server, c.case_id)
    assert done.status == V.COMPLAINT_STATUS_PAID
    assert [h.action for h in done.history][-3:] == ["payout_paid", "payout_paid", "paid"]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await pay(server, "PO-unknown", "BANK-1")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_consumer_closes_a_paid_case_or_reopens_it(server) -> None:
    """Satisfied → CLOSED (and then nothing more to confirm); not satisfied → REOPENED."""
    await story_calls(server)
    c = await file(server, A)
    await pay(server, c.findings[0].payout_id, "BANK-1")
    closed = await confirm(server, c.case_id, True, "received, thanks")
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    admin = f"bootstrap-admin (token {server.token.split('_')[1]})"  # who relayed the consumer's word
    assert (closed.history[-1].actor, closed.history[-1].action) == (admin, "confirmed_resolved")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await confirm(server, c.case_id, True)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    rejected = await file(server, C)
    reopened = await confirm(server, rejected.case_id, False, "027 5900 3333 did call me on 138 0013 8000!")
    assert reopened.status == V.COMPLAINT_STATUS_REOPENED
    # The company line named in the case stays readable; the consumer's own number does not.
    assert reopened.history[-1].note == "027 5900 3333 did call me on +86138****8000!"


async def test_a_disputed_consent_goes_to_manual_review_and_the_operator_decision_is_audited(server) -> None:
    """A consent on file she disputes → MANUAL_REVIEW; an operator's VERIFIED books the payout and is in the history."""
    await register_dnd(server)
    await registry(server).GrantConsent(registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG))
    consented = await call(server, A)
    c = await file(server, A, disputes_consent=True)
    assert (c.status, c.findings[0].verdict) == (V.COMPLAINT_STATUS_MANUAL_REVIEW, V.VERDICT_CONSENT_ON_FILE)
    assert list(c.findings[0].call_ids) == [consented]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await review(server, c.case_id, V.COMPLAINT_STATUS_PAID)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    decided = await review(server, c.case_id, V.COMPLAINT_STATUS_VERIFIED)
    assert decided.status == V.COMPLAINT_STATUS_VERIFIED
    f = decided.findings[0]
    assert (f.verdict, yuan(f.amount), f.payout_id != "") == (V.VERDICT_VERIFIED, ("CNY", 100, 0), True)
    assert yuan(decided.total_compensation) == ("CNY", 100, 0)
    reviewer = f"bootstrap-admin (token {server.token.split('_')[1]})"  # the principal, not a typed name
    assert (reviewer, "reviewed", "VERIFIED: consent form unsigned") in [
        (h.actor, h.action, h.note) for h in decided.history
    ]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await review(server, c.case_id, V.COMPLAINT_STATUS_REJECTED)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert len(await db_rows(server, "SELECT 1 FROM payouts")) == 1


async def test_a_rejected_review_books_nothing(server) -> None:
    """REJECTED on a MANUAL_REVIEW case leaves the finding and books no payout."""
    await register_dnd(server)
    await registry(server).GrantConsent(registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG))
    await call(server, A)
    c = await file(server, A, disputes_consent=True)
    decided = await review(server, c.case_id, V.COMPLAINT_STATUS_REJECTED, note="signed form on file")
    assert (decided.status, decided.findings[0].verdict) == (V.COMPLAINT_STATUS_REJECTED, V.VERDICT_CONSENT_ON_FILE)
    assert await db_rows(server, "SELECT 1 FROM payouts") == []


async def test_complaints_list_newest_first_page_by_page_and_by_filter(server) -> None:
    """page_size 2 over five cases gives three pages with no case twice; filters narrow the list."""
    await story_calls(server)
    filed = [await file(server, n) for n in (A, B, C, C, C)]
    seen, token, pages = [], "", 0
    while True:
        page = await hotline(server).ListComplaints(V.ListComplaintsRequest(page_size=2, page_token=token))
        seen += [x.case_id for x in page.complaints]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and seen == [c.case_id for c in reversed(filed)]
    mine = await hotline(server).ListComplaints(V.ListComplaintsRequest(consumer_number="+86 138 0013 8000"))
    assert len(mine.complaints) == 5
    other = await hotline(server).ListComplaints(V.ListComplaintsRequest(consumer_number="13912345678"))
    assert list(other.complaints) == []
    rejected = await hotline(server).ListComplaints(V.ListComplaintsRequest(status=V.COMPLAINT_STATUS_REJECTED))
    assert [x.case_id for x in rejected.complaints] == [c.case_id for c in reversed(filed[2:])]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await hotline(server).ListComplaints(V.ListComplaintsRequest(page_token="garbage"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_open_cases_past_their_resolution_time_are_listed_as_overdue(server) -> None:
    """73 hours on, unpaid verified cases are overdue; rejected and paid ones are not."""
    await story_calls(server)
    clock = Clock(server)
    unpaid, paid = await file(server, A), await file(server, B)
    await file(server, C)
    await pay(server, paid.findings[0].payout_id, "BANK-1")
    overdue = await hotline(server).ListComplaints(V.ListComplaintsRequest(overdue_only=True))
    assert list(overdue.complaints) == []
    clock.advance(73 * HOUR)
    overdue = await hotline(server).ListComplaints(V.ListComplaintsRequest(overdue_only=True))
    assert [x.case_id for x in overdue.complaints] == [unpaid.case_id]


async def test_fund_summary_and_payout_list_add_up(server) -> None:
    """One payout paid and one pending: the summary, the period and the payout list agree."""
    await story_calls(server)
    c = await file(server, A, B)
    await pay(server, c.findings[0].payout_id, "BANK-1")
    s = await hotline(server).GetFundSummary(V.GetFundSummaryRequest(period="day"))
    assert (s.pending_count, yuan(s.pending_amount), s.paid_count, yuan(s.paid_amount)) == (
        1,
        ("CNY", 100, 0),
        1,
        ("CNY", 100, 0),
    )
    assert len(s.periods) == 1 and (s.periods[0].pending_count, s.periods[0].paid_count) == (1, 1)
    pending = await hotline(server).ListPayouts(V.ListPayoutsRequest(status=V.PAYOUT_STATUS_PENDING))
    assert [p.payout_id for p in pending.payouts] == [c.findings[1].payout_id]
    assert (pending.payouts[0].caller_number, pending.payouts[0].consumer_number_masked) == (B, "+86138****8000")
    every = await hotline(server).ListPayouts(V.ListPayoutsRequest(page_size=1))
    assert len(every.payouts) == 1 and every.next_page_token
    rest = await hotline(server).ListPayouts(V.ListPayoutsRequest(page_size=1, page_token=every.next_page_token))
    assert len(rest.payouts) == 1 and not rest.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await hotline(server).GetFundSummary(V.GetFundSummaryRequest(period="fortnight"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_confirm_and_review_replay_their_request_id(server) -> None:
    """The same request_id again returns the case as it is, even when the move itself could not repeat."""
    await story_calls(server)
    c = await file(server, C)
    req = V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True, request_id="confirm-1")
    closed = await hotline(server).ConfirmResolution(req)
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    assert await hotline(server).ConfirmResolution(req) == closed
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await hotline(server).ConfirmResolution(
            V.ConfirmResolutionRequest(case_id=(await file(server, C)).case_id, satisfied=True, request_id="confirm-1")
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_nothing_stored_or_logged_holds_the_consumer_number_in_clear(server) -> None:
    """Every column of every compensation table, and every log event, carries only the mask or sealed bytes."""
    from structlog.testing import capture_logs

    await story_calls(server)
    with capture_logs() as logs:
        c = await file(server, A, B, C, description="she gave 138 0013 8000 and +86 138-0013-8000")
        await pay(server, c.findings[0].payout_id, "BANK-1")
        await confirm(server, (await file(server, C)).case_id, False, "call me on 13800138000")
    national = CONSUMER
    tables = ("complaints", "complaint_findings", "complaint_history", "payouts", "compensation_requests")
    for table in tables:
        for row in await db_rows(server, f"SELECT * FROM {table}"):
            for value in row:
                text = value.hex() if isinstance(value, bytes) else str(value)
                assert national not in text and national.encode().hex() not in text, (table, value)
    assert logs and all(national not in str(event) for event in logs)
    assert "+86138****8000" in (await get(server, c.case_id)).description
