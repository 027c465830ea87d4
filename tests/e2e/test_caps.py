"""Frequency caps over gRPC and the CLI: an org's own daily cap (SetOrgPolicy.max_calls_per_day, through
the mask), REASON_FREQUENCY_CAP with next_allowed_time, ReportCallOutcome.not_dialled giving the slot
back, GrantConsent.exempt_from_caps, and their bad input."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.e2e.test_import_e2e import cli

pytestmark = pytest.mark.e2e

ORG = "wuhan-01"


async def _cap(server: Any, cap: int, org: str = ORG) -> registry_pb2.OrgPolicy:
    policy: registry_pb2.OrgPolicy = await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(
            org_id=org, max_calls_per_day=cap, update_mask=FieldMask(paths=["max_calls_per_day"])
        )
    )
    return policy


def _field(exc: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(exc)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Unpack(bad):
            return str(bad.field_violations[0].field)
    return ""


async def test_an_orgs_daily_cap_blocks_over_grpc_and_a_call_not_dialled_gives_its_slot_back(server: Any) -> None:
    policy = await _cap(server, 2)
    assert (policy.max_calls_per_day, policy.mode) == (2, common_pb2.MODE_ENFORCE)
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert got.max_calls_per_day == 2
    first = await gate(server).Check(check_request())
    second = await gate(server).Check(check_request())
    assert [first.decision, second.decision] == [gateway_pb2.DECISION_ALLOW] * 2
    third = await gate(server).Check(check_request())
    assert (third.decision, third.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_FREQUENCY_CAP)
    # A slot frees up a day after the oldest counted call (a call id starts with its Check's milliseconds;
    # the script counts the call at its microsecond, so the slot time is within a millisecond after).
    first_ms = int(first.call_id[:12], 16)
    assert 0 <= third.next_allowed_time.ToMilliseconds() - (first_ms + 86_400_000) <= 1
    other = await gate(server).Check(check_request(org_id="wuhan-02"))  # another org: caps across orgs are off here
    assert other.decision == gateway_pb2.DECISION_ALLOW
    report = gateway_pb2.ReportCallOutcomeRequest(call_id=first.call_id, not_dialled=True)
    await gate(server).ReportCallOutcome(report)
    await gate(server).ReportCallOutcome(report)  # once per call id
    assert (await gate(server).Check(check_request())).decision == gateway_pb2.DECISION_ALLOW
    assert (await gate(server).Check(check_request())).reason == gateway_pb2.REASON_FREQUENCY_CAP
    # `org set-mode` (no mask) leaves the cap alone.
    await registry(server).SetOrgPolicy(registry_pb2.SetOrgPolicyRequest(org_id=ORG, mode=common_pb2.MODE_MONITOR))
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert (got.mode, got.max_calls_per_day) == (common_pb2.MODE_MONITOR, 2)
    monitored = await gate(server).Check(check_request())
    assert (monitored.decision, monitored.reason, monitored.violation) == (
        gateway_pb2.DECISION_ALLOW,
        gateway_pb2.REASON_FREQUENCY_CAP,
        True,
    )


async def test_bad_cap_and_outcome_input_is_invalid_argument_naming_the_field(server: Any) -> None:
    for cap in (-1, 1001):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await _cap(server, cap)
        assert exc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert _field(exc.value) == "max_calls_per_day"
    call = await gate(server).Check(check_request())
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await gate(server).ReportCallOutcome(
            gateway_pb2.ReportCallOutcomeRequest(call_id=call.call_id, dialled=True, not_dialled=True)
        )
    assert exc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _field(exc.value) == "not_dialled"


async def test_the_cli_sets_an_orgs_cap_and_grants_a_consent_exempt_from_caps(server: Any) -> None:
    done = await cli(server, "org", "set", ORG, "--cap-per-day", "1")
    assert done.returncode == 0 and "cap per day" in done.stdout and " 1" in done.stdout, done.stdout + done.stderr
    shown = await cli(server, "org", "get", ORG)
    assert "cap per day" in shown.stdout and "1" in shown.stdout, shown.stdout
    assert (await gate(server).Check(check_request())).decision == gateway_pb2.DECISION_ALLOW
    assert (await gate(server).Check(check_request())).reason == gateway_pb2.REASON_FREQUENCY_CAP
    granted = await cli(server, "consent", "grant", CONSUMER, "--org", ORG, "--exempt-from-caps", "--evidence", "cb")
    assert granted.returncode == 0 and "exempt from caps" in granted.stdout, granted.stdout + granted.stderr
    assert "yes" in granted.stdout
    for _ in range(3):
        assert (await gate(server).Check(check_request())).decision == gateway_pb2.DECISION_ALLOW
    off = await cli(server, "org", "set", ORG, "--cap-per-day", "0")
    assert off.returncode == 0 and "none" in off.stdout, off.stdout
    bad = await cli(server, "org", "set", ORG, "--cap-per-day", "-3")
    assert bad.returncode != 0 and "max_calls_per_day" in bad.stdout + bad.stderr
