"""A case's outcome over the real server: filed again when already paid, closing over pending
payouts, and a consent on file the consumer does or does not dispute."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.v1 import registry_pb2
from tests.e2e.compensation_support import (
    ORG,
    A,
    B,
    C,
    V,
    call,
    db_rows,
    file,
    hotline,
    monitor,
    refused,
    register_dnd,
    story_calls,
)
from tests.e2e.conftest import CONSUMER, registry

pytestmark = pytest.mark.e2e


def _close(case_id: str, override_reason: str = "", satisfied: bool = True) -> Any:
    return V.ConfirmResolutionRequest(case_id=case_id, satisfied=satisfied, override_reason=override_reason)


async def test_filing_again_is_its_own_settled_case_linked_to_the_one_that_paid(server: Any) -> None:
    """The refiled case is ALREADY_COMPENSATED (listed under that status, not REJECTED), names the paying
    case per number, and closes at once: the pending payout is the first case's, not its own."""
    await story_calls(server)
    first = await file(server, A)
    again = await file(server, A, C)
    assert again.status == V.COMPLAINT_STATUS_ALREADY_COMPENSATED
    assert [(f.verdict, f.compensated_by_case_id) for f in again.findings] == [
        (V.VERDICT_ALREADY_COMPENSATED, first.case_id),
        (V.VERDICT_NO_MATCHING_CALL, ""),
    ]
    assert again.findings[0].payout_id == first.findings[0].payout_id
    listed = await hotline(server).ListComplaints(
        V.ListComplaintsRequest(status=V.COMPLAINT_STATUS_ALREADY_COMPENSATED)
    )
    assert [c.case_id for c in listed.complaints] == [again.case_id]
    rejected = await hotline(server).ListComplaints(V.ListComplaintsRequest(status=V.COMPLAINT_STATUS_REJECTED))
    assert list(rejected.complaints) == []
    closed = await hotline(server).ConfirmResolution(_close(again.case_id))
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    stored = await db_rows(server, "SELECT status FROM complaints ORDER BY seq")
    assert stored == [("VERIFIED",), ("CLOSED",)]


async def test_a_case_closes_only_once_its_payouts_are_paid_or_a_supervisor_overrides(server: Any, desk: Any) -> None:
    """Closing over a PENDING payout is FAILED_PRECONDITION naming it; a hotline token may not override
    (PERMISSION_DENIED, MISSING_ROLE); a supervisor's override closes and is recorded with its reason."""
    await story_calls(server)
    c = await file(server, A, B)
    first, second = (f.payout_id for f in c.findings)
    line, _ = await desk("hotline zhao", "hotline")
    boss, boss_label = await desk("supervisor qian", "supervisor")
    refusal = await refused(line.ConfirmResolution, _close(c.case_id))
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first in (refusal.details() or "") and second in (refusal.details() or "")
    await hotline(server).MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=first, payment_reference="BANK-1"))
    refusal = await refused(line.ConfirmResolution, _close(c.case_id))
    assert second in (refusal.details() or "") and first not in (refusal.details() or "")
    denied = await refused(line.ConfirmResolution, _close(c.case_id, "she has it in cash"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    status = rpc_status.from_call(denied)
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    assert (info.reason, info.metadata["field"]) == ("MISSING_ROLE", "override_reason")
    bad = await refused(boss.ConfirmResolution, _close(c.case_id, "why not", satisfied=False))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=c.case_id))).status == (
        V.COMPLAINT_STATUS_VERIFIED
    )
    closed = await boss.ConfirmResolution(_close(c.case_id, "paid in cash at the branch, she called from 13800138000"))
    assert closed.status == V.COMPLAINT_STATUS_CLOSED
    assert [(h.actor, h.action, h.note) for h in closed.history[-2:]] == [
        (boss_label, "confirmed_resolved", ""),
        (
            boss_label,
            "closed_over_pending_payouts",
            f"paid in cash at the branch, she called from +86138****8000 (pending: {second})",
        ),
    ]
    paid = await db_rows(server, "SELECT payout_id, status FROM payouts ORDER BY payout_id")
    assert sorted(paid) == sorted([(first, "PAID"), (second, "PENDING")])  # the override pays nothing


async def test_an_undisputed_consent_rejects_with_its_evidence_and_a_disputed_one_goes_to_review(server: Any) -> None:
    """CONSENT_ON_FILE without disputes_consent: REJECTED, citing the consent's (masked) evidence; with it:
    MANUAL_REVIEW; a verified caller beside an undisputed consent still makes the case PARTIALLY_VERIFIED."""
    await register_dnd(server)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(
            consumer_number=CONSUMER, org_id=ORG, agent_id="a17", evidence="signed form F-77, given as 138 0013 8000"
        )
    )
    consented = await call(server, A)
    evidence = "signed form F-77, given as +86138****8000"
    plain = await file(server, A)
    f = plain.findings[0]
    assert (plain.status, f.verdict, list(f.call_ids)) == (
        V.COMPLAINT_STATUS_REJECTED,
        V.VERDICT_CONSENT_ON_FILE,
        [consented],
    )
    assert f.consent_evidence == evidence
    disputed = await file(server, A, disputes_consent=True)
    assert (disputed.status, disputed.findings[0].consent_evidence) == (V.COMPLAINT_STATUS_MANUAL_REVIEW, evidence)
    assert disputed.history[0].note.endswith("she disputes the consent on file")
    await monitor(server)
    await call(server, B, agent_id="a18")  # the consent is a17's: a18's call in monitor mode is a violation
    mixed = await file(server, A, B)
    assert mixed.status == V.COMPLAINT_STATUS_PARTIALLY_VERIFIED
    assert [(x.verdict, x.consent_evidence) for x in mixed.findings] == [
        (V.VERDICT_CONSENT_ON_FILE, evidence),
        (V.VERDICT_VERIFIED, ""),
    ]
    stored = await db_rows(
        server, "SELECT verdict, consent_evidence FROM complaint_findings ORDER BY case_id, position"
    )
    assert stored == [("CONSENT_ON_FILE", evidence)] * 3 + [("VERIFIED", "")]
