"""RULE_VIOLATED over gRPC and the CLI: a monitored org over its frequency cap calls an unregistered consumer;
her complaint finds a violation of the cap that pays nothing, and ReportViolations counts it as such."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from dncgate.v1 import gateway_pb2, registry_pb2
from tests.e2e.compensation_support import ORG, A, V, call, db_rows, file, hotline, monitor, yuan
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.e2e.test_import_e2e import cli
from tests.wait import until

pytestmark = pytest.mark.e2e


async def _monitored_cap_of_one(server: Any) -> None:
    await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(
            org_id=ORG, max_calls_per_day=1, update_mask=FieldMask(paths=["max_calls_per_day"])
        )
    )
    await monitor(server)  # no mask: the cap stays


def _rules(finding: Any) -> list[str]:
    return [gateway_pb2.Reason.Name(r) for r in finding.rules_broken]


async def test_a_call_over_the_cap_is_a_rule_violation_that_pays_nothing_and_is_reported(server: Any) -> None:
    """Two calls, cap 1, monitor mode: the second is flagged; the finding is RULE_VIOLATED [FREQUENCY_CAP]
    on that call, 0 owed; the report counts one rule-violation complaint and one capped call."""
    await _monitored_cap_of_one(server)
    first = await call(server, A)
    second = await call(server, A)
    c = await file(server, A)
    f = c.findings[0]
    assert (V.Verdict.Name(f.verdict), _rules(f), list(f.call_ids)) == (
        "VERDICT_RULE_VIOLATED",
        ["REASON_FREQUENCY_CAP"],
        [second],
    )
    assert first not in f.call_ids and yuan(f.amount)[1:] == (0, 0) and yuan(c.total_compensation)[1:] == (0, 0)
    assert c.status == V.COMPLAINT_STATUS_REJECTED
    assert not await db_rows(server, "SELECT 1 FROM payouts WHERE case_id = %s", c.case_id)

    stored = await hotline(server).GetComplaint(V.GetComplaintRequest(case_id=c.case_id))
    assert (V.Verdict.Name(stored.findings[0].verdict), _rules(stored.findings[0])) == (
        "VERDICT_RULE_VIOLATED",
        ["REASON_FREQUENCY_CAP"],
    )
    seen = await hotline(server).GetComplaintStatus(
        V.GetComplaintStatusRequest(case_id=c.case_id, consumer_number=CONSUMER)
    )
    assert [(V.Verdict.Name(o.verdict), _rules(o)) for o in seen.callers] == [
        ("VERDICT_RULE_VIOLATED", ["REASON_FREQUENCY_CAP"])
    ]
    notices = await hotline(server).ListNotifications(V.ListNotificationsRequest(case_id=c.case_id))
    assert any("违反呼叫规则" in n.text for n in notices.notifications), [n.text for n in notices.notifications]

    r = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id=ORG))
    got = [(a.agent_id, a.violating_calls, a.verified_complaints, a.rule_violation_complaints) for a in r.agents]
    assert got == [("a17", 1, 0, 1)]
    assert (r.violating_calls, r.verified_complaints, r.rule_violation_complaints) == (1, 0, 1)
    assert [(gateway_pb2.Reason.Name(b.reason), b.calls) for b in r.violating_calls_by_reason] == [
        ("REASON_FREQUENCY_CAP", 1)
    ]

    # Once the recorder has drained both calls, the same complaint reads them from call_log alike.
    async def drained() -> bool:
        rows = await db_rows(server, "SELECT reason, violation FROM call_log WHERE call_id = ANY(%s)", [first, second])
        return len(rows) == 2

    await until(drained, 20, "both calls in call_log")
    again = await file(server, A)
    assert (V.Verdict.Name(again.findings[0].verdict), list(again.findings[0].call_ids)) == (
        "VERDICT_RULE_VIOLATED",
        [second],
    )
    r = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id=ORG))
    assert (r.violating_calls, r.verified_complaints, r.rule_violation_complaints) == (1, 0, 2)

    shown = await cli(server, "complaint", "show", again.case_id)
    assert shown.returncode == 0 and "RULE_VIOLATED" in shown.stdout, shown.stdout + shown.stderr
    assert "broke FREQUENCY_CAP (pays nothing)" in shown.stdout, shown.stdout
    report = await cli(server, "report", "violations", "--org", ORG)
    assert report.returncode == 0 and "FREQUENCY_CAP 1" in report.stdout, report.stdout + report.stderr


async def test_a_blocked_call_over_the_cap_counts_once_reported_dialled(server: Any) -> None:
    """Enforce mode: the capped call is blocked; not reported, her complaint finds no call; dialled
    anyway, the call is a violation of the cap: RULE_VIOLATED."""
    await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(
            org_id=ORG, max_calls_per_day=1, update_mask=FieldMask(paths=["max_calls_per_day"])
        )
    )
    await call(server, A)
    blocked = await call(server, A)
    before = await file(server, A)
    assert V.Verdict.Name(before.findings[0].verdict) == "VERDICT_NOT_REGISTERED_AT_CALL_TIME"  # the first rang
    await gate(server).ReportCallOutcome(gateway_pb2.ReportCallOutcomeRequest(call_id=blocked, dialled=True))
    after = await file(server, A)
    assert (V.Verdict.Name(after.findings[0].verdict), _rules(after.findings[0]), list(after.findings[0].call_ids)) == (
        "VERDICT_RULE_VIOLATED",
        ["REASON_FREQUENCY_CAP"],
        [blocked],
    )


async def test_an_opt_in_violation_is_rule_violated_naming_no_consent(server: Any) -> None:
    """A monitored opt-in org calls an unregistered consumer with no consent: NO_CONSENT, flagged; her
    complaint is RULE_VIOLATED [NO_CONSENT], paying nothing."""
    await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(
            org_id=ORG, consent_required=True, update_mask=FieldMask(paths=["consent_required"])
        )
    )
    await monitor(server)  # no mask: opt-in stays

    async def flagged() -> str | None:
        r = await gate(server).Check(check_request(CONSUMER, caller_number=A, org_id=ORG))
        return str(r.call_id) if (r.reason, r.violation) == (gateway_pb2.REASON_NO_CONSENT, True) else None

    call_id = await until(flagged, 10, "the opt-in policy on the Check path")
    f = (await file(server, A)).findings[0]
    assert (V.Verdict.Name(f.verdict), _rules(f), yuan(f.amount)[1:]) == (
        "VERDICT_RULE_VIOLATED",
        ["REASON_NO_CONSENT"],
        (0, 0),
    )
    assert call_id in f.call_ids
