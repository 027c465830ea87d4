"""An org's own do-not-call list over gRPC: the Check, consents against it, in-call opt-outs scoped to the
org, complaints that pay, and the command line."""

from __future__ import annotations

from typing import Any

import pytest

from dncgate.v1 import gateway_pb2, registry_pb2
from tests.e2e.compensation_support import ORG, A, V, call, file, monitor, verdicts
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

RIVAL = "wuhan-02"


async def _add(server: Any, org: str = ORG, number: str = CONSUMER, reason: str = "") -> Any:
    return await registry(server).AddToOrgList(
        registry_pb2.AddToOrgListRequest(org_id=org, number=number, reason=reason)
    )


async def _check(server: Any, org: str = ORG, **kw: Any) -> Any:
    return await gate(server).Check(check_request(CONSUMER, org_id=org, **kw))


def _answer(r: Any) -> tuple[str, str, bool]:
    return gateway_pb2.Decision.Name(r.decision), gateway_pb2.Reason.Name(r.reason), r.violation


async def _grant(server: Any, org: str = ORG, agent: str = "") -> None:
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=org, agent_id=agent, evidence="form")
    )


async def test_an_org_listed_callee_is_blocked_for_that_org_only_until_removed(server: Any) -> None:
    """BLOCK / REASON_ORG_LIST for the org (single, stream and batch alike), ALLOW for another org;
    removed, the org may call again."""
    entry = await _add(server, reason="asked on the call")
    assert (entry.listed, entry.on_list, entry.org_id, entry.number_masked) == (True, True, ORG, "+86138****8000")
    assert entry.recorded_by and entry.journal_seq > 0
    assert _answer(await _check(server)) == ("DECISION_BLOCK", "REASON_ORG_LIST", False)
    assert _answer(await _check(server, RIVAL)) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
    batch = await gate(server).CheckBatch(
        gateway_pb2.CheckBatchRequest(
            requests=[check_request(CONSUMER, org_id=ORG), check_request(CONSUMER, org_id=RIVAL)]
        )
    )
    assert [_answer(r)[1] for r in batch.responses] == ["REASON_ORG_LIST", "REASON_NOT_REGISTERED"]
    streamed = [r async for r in gate(server).CheckStream(iter([check_request(CONSUMER, org_id=ORG)]))]
    assert [_answer(r)[1] for r in streamed] == ["REASON_ORG_LIST"]
    removed = await registry(server).RemoveFromOrgList(
        registry_pb2.RemoveFromOrgListRequest(org_id=ORG, number=CONSUMER)
    )
    assert (removed.listed, removed.on_list) == (False, False)
    assert _answer(await _check(server)) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
    h = await registry(server).GetOrgListHistory(registry_pb2.GetOrgListHistoryRequest(number=CONSUMER, org_id=ORG))
    assert [e.listed for e in h.entries] == [True, False] and not h.listed
    assert h.entries[0].reason == "asked on the call"


async def test_monitor_mode_allows_and_flags_an_org_listed_callee(server: Any) -> None:
    """In monitor mode the org list is treated like do-not-disturb: ALLOW, REASON_ORG_LIST, violation."""
    await _add(server)
    await monitor(server)
    assert _answer(await _check(server)) == ("DECISION_ALLOW", "REASON_ORG_LIST", True)


async def test_the_later_of_a_consent_and_a_list_entry_wins(server: Any) -> None:
    """Listed, then an org-wide consent: allowed; consented, then listed again: blocked."""
    await _add(server)
    await _grant(server)
    assert _answer(await _check(server)) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
    await _add(server)
    assert _answer(await _check(server)) == ("DECISION_BLOCK", "REASON_ORG_LIST", False)


async def test_an_in_call_opt_out_scoped_to_the_org_lists_the_callee_for_that_org(server: Any) -> None:
    """opt_out_scope ORG: on the call's org's list (no do-not-disturb), so only that org is blocked."""
    call_id = await call(server, A)
    reported = await gate(server).ReportCallOutcome(
        gateway_pb2.ReportCallOutcomeRequest(
            call_id=call_id, dialled=True, consumer_opted_out=True, opt_out_scope=gateway_pb2.OPT_OUT_SCOPE_ORG
        )
    )
    assert reported.opt_out_registered
    assert _answer(await _check(server)) == ("DECISION_BLOCK", "REASON_ORG_LIST", False)
    assert _answer(await _check(server, RIVAL)) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
    pref = await registry(server).GetPreference(registry_pb2.GetPreferenceRequest(number=CONSUMER))
    assert not pref.found
    h = await registry(server).GetOrgListHistory(registry_pb2.GetOrgListHistoryRequest(number=CONSUMER, org_id=ORG))
    assert h.listed and h.listed_by.reason == "in-call opt-out"


async def test_a_placed_call_to_an_org_listed_consumer_pays_like_do_not_disturb(server: Any) -> None:
    """No do-not-disturb, on the org's list, a call placed in monitor mode: VERIFIED and paid."""
    await _add(server)
    await monitor(server)
    await call(server, A)
    c = await file(server, A)
    assert verdicts(c) == [(A, "VERDICT_VERIFIED")]
    assert c.total_compensation.units == 100 and c.status == V.COMPLAINT_STATUS_VERIFIED


async def test_org_list_from_the_command_line(server: Any) -> None:
    """`registry org-list add|history|remove`: the number masked, the reason masked, the state shown."""
    added = await cli(server, "registry", "org-list", "add", ORG, CONSUMER, "--reason", "call 13800138000 no more")
    assert added.returncode == 0, added.stdout + added.stderr
    assert "+86138****8000" in added.stdout and "13800138000" not in added.stdout
    history = await cli(server, "registry", "org-list", "history", ORG, CONSUMER)
    assert history.returncode == 0 and "on the list now" in history.stdout and "yes" in history.stdout
    removed = await cli(server, "registry", "org-list", "remove", ORG, CONSUMER)
    assert removed.returncode == 0 and "removed" in removed.stdout
    bad = await cli(server, "registry", "org-list", "add", ORG, "12")
    assert bad.returncode == 1 and "number" in bad.stderr
