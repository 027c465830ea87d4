"""Number ranges, quiet days, registered caller lines and opt-in over gRPC: what each blocks, what lifts
it and what it never lifts, monitor mode, CheckBatch answering as single Checks, and the command line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.domain.hours import CallingHours
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.conftest import start_server
from tests.e2e.compensation_support import A, V, file, hotline, verdicts
from tests.e2e.conftest import CALLER, CONSUMER, check_request, gate, registry
from tests.e2e.test_hotline_cli import cli
from tests.wait import until

pytestmark = pytest.mark.e2e

ORG, RIVAL = "wuhan-01", "wuhan-02"
OTHER_LINE = "+862759009999"


def _answer(r: Any) -> tuple[str, str, bool]:
    return gateway_pb2.Decision.Name(r.decision), gateway_pb2.Reason.Name(r.reason), r.violation


async def _check(server: Any, callee: str = CONSUMER, org: str = ORG, **kw: Any) -> tuple[str, str, bool]:
    return _answer(await gate(server).Check(check_request(callee, org_id=org, **kw)))


async def _range(server: Any, prefix: str, action: int, org: str = "", **kw: Any) -> Any:
    return await registry(server).SetRangeRule(
        registry_pb2.SetRangeRuleRequest(prefix=prefix, action=action, org_id=org, **kw)
    )


async def _policy(server: Any, org: str = ORG, **fields: Any) -> Any:
    return await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(org_id=org, update_mask=FieldMask(paths=list(fields)), **fields)
    )


async def _becomes(server: Any, expected: tuple[str, str, bool], callee: str = CONSUMER, **kw: Any) -> None:
    """Wait for a rule to reach the Check path (the in-process copy is refreshed about every second)."""

    async def seen() -> bool:
        return await _check(server, callee, **kw) == expected

    await until(seen, 10, what=f"the Check to answer {expected}")


async def test_a_range_block_blocks_and_a_longer_allow_lifts_it(server: Any) -> None:
    """+86138 blocked for every org: BLOCK / RANGE_BLOCKED (single, batch, stream alike); +8613800 allowed
    for one org lifts it for that org only; the rule's history and the rules in force are listed."""
    blocked = await _range(server, "+86138", registry_pb2.RANGE_ACTION_BLOCK)
    assert (blocked.prefix, blocked.action, blocked.org_id, blocked.journal_seq > 0) == (
        "+86138",
        registry_pb2.RANGE_ACTION_BLOCK,
        "",
        True,
    )
    await _becomes(server, ("DECISION_BLOCK", "REASON_RANGE_BLOCKED", False))
    assert await _check(server, "13900139000") == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
    batch = await gate(server).CheckBatch(
        gateway_pb2.CheckBatchRequest(requests=[check_request(CONSUMER), check_request("13900139000")])
    )
    assert [_answer(r)[1] for r in batch.responses] == ["REASON_RANGE_BLOCKED", "REASON_NOT_REGISTERED"]
    streamed = [r async for r in gate(server).CheckStream(iter([check_request(CONSUMER)]))]
    assert [_answer(r)[1] for r in streamed] == ["REASON_RANGE_BLOCKED"]
    await _range(server, "+8613800", registry_pb2.RANGE_ACTION_ALLOW, org=ORG)
    await _becomes(server, ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False))
    assert await _check(server, org=RIVAL) == ("DECISION_BLOCK", "REASON_RANGE_BLOCKED", False)
    listed = await registry(server).ListRangeRules(registry_pb2.ListRangeRulesRequest(org_id=RIVAL))
    assert [r.prefix for r in listed.rules] == ["+86138"]
    every = await registry(server).ListRangeRules(registry_pb2.ListRangeRulesRequest())
    assert [(r.prefix, r.org_id) for r in every.rules] == [("+86138", ""), ("+8613800", ORG)]
    before = await registry(server).ListRangeRules(
        registry_pb2.ListRangeRulesRequest(at=Timestamp(seconds=blocked.recorded_at.seconds - 3600))
    )
    assert list(before.rules) == []
    # Cleared (RANGE_ACTION_UNSPECIFIED): the every-org block ends, the journal keeps it.
    await _range(server, "+86138", registry_pb2.RANGE_ACTION_UNSPECIFIED)
    await _becomes(server, ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False), org=RIVAL)
    now = await registry(server).ListRangeRules(registry_pb2.ListRangeRulesRequest(at=Timestamp(seconds=2**33)))
    assert [r.prefix for r in now.rules] == ["+8613800"]


async def test_a_range_allow_never_lifts_do_not_disturb_and_a_consent_never_lifts_a_range_block(server: Any) -> None:
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )
    await _range(server, "+86138", registry_pb2.RANGE_ACTION_ALLOW)
    await until(lambda: server.app.gateway.rules.active, 10, what="the range to be copied")
    assert await _check(server) == ("DECISION_BLOCK", "REASON_REGISTERED", False)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG, evidence="form")
    )
    assert await _check(server) == ("DECISION_ALLOW", "REASON_CONSENT_ON_FILE", False)
    await _range(server, "+8613800", registry_pb2.RANGE_ACTION_BLOCK, org=ORG)
    await _becomes(server, ("DECISION_BLOCK", "REASON_RANGE_BLOCKED", False))


async def test_monitor_mode_allows_and_flags_a_range_block(server: Any) -> None:
    await _policy(server, mode=common_pb2.MODE_MONITOR)
    await _range(server, "+86", registry_pb2.RANGE_ACTION_BLOCK, categories=[common_pb2.CATEGORY_REAL_ESTATE])
    await _becomes(server, ("DECISION_ALLOW", "REASON_RANGE_BLOCKED", True))
    # The rule binds real estate only.
    assert await _check(server, category=common_pb2.CATEGORY_FINANCE) == (
        "DECISION_ALLOW",
        "REASON_NOT_REGISTERED",
        False,
    )


async def test_an_unregistered_caller_line_is_blocked_for_an_org_that_requires_registered_lines(
    server: Any,
) -> None:
    policy = await _policy(server, require_registered_lines=True)
    assert policy.require_registered_lines and not policy.quiet_on_public_holidays
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert (got.require_registered_lines, got.mode) == (True, common_pb2.MODE_ENFORCE)
    await _becomes(server, ("DECISION_BLOCK", "REASON_UNKNOWN_CALLER_LINE", False))
    assert await _check(server, org=RIVAL) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
    await registry(server).RegisterCallerLine(registry_pb2.RegisterCallerLineRequest(caller_number=CALLER, org_id=ORG))
    await _becomes(server, ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False))
    assert await _check(server, caller_number=OTHER_LINE) == ("DECISION_BLOCK", "REASON_UNKNOWN_CALLER_LINE", False)
    # It comes before her do-not-disturb: it is about the caller.
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )
    assert await _check(server, caller_number=OTHER_LINE) == ("DECISION_BLOCK", "REASON_UNKNOWN_CALLER_LINE", False)
    await _policy(server, mode=common_pb2.MODE_MONITOR)
    await _becomes(server, ("DECISION_ALLOW", "REASON_UNKNOWN_CALLER_LINE", True), caller_number=OTHER_LINE)


async def test_a_quiet_day_blocks_until_calling_hours_on_the_next_day_that_is_no_holiday(settings: Any) -> None:
    """National Day 2026 (1 to 7 October, China's calendar): BLOCK / QUIET_DAY with next_allowed_time
    8 October 09:00 Beijing time; a callee outside China has no quiet day; monitor mode flags it."""
    async with start_server(replace(settings, calling_hours=CallingHours.parse("09:00-21:00"))) as server:
        server.app.gateway.clock = lambda: datetime(
            2026, 10, 2, 1, 0, tzinfo=UTC
        ).timestamp()  # 09:00 +08, 18:00 in California
        policy = await _policy(server, quiet_on_public_holidays=True)
        assert policy.quiet_on_public_holidays
        await _becomes(server, ("DECISION_BLOCK", "REASON_QUIET_DAY", False))
        r = await gate(server).Check(check_request(CONSUMER))
        assert r.next_allowed_time.ToDatetime(tzinfo=UTC) == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)
        assert await _check(server, org=RIVAL) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
        assert await _check(server, "+16502530000") == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
        batch = await gate(server).CheckBatch(gateway_pb2.CheckBatchRequest(requests=[check_request(CONSUMER)]))
        assert batch.responses[0].next_allowed_time == r.next_allowed_time
        server.app.gateway.clock = lambda: datetime(2026, 10, 8, 4, 0, tzinfo=UTC).timestamp()
        assert await _check(server) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)
        server.app.gateway.clock = lambda: datetime(2026, 10, 2, 1, 0, tzinfo=UTC).timestamp()
        await _policy(server, mode=common_pb2.MODE_MONITOR)
        await _becomes(server, ("DECISION_ALLOW", "REASON_QUIET_DAY", True))


NO_CONSENT = ("DECISION_BLOCK", "REASON_NO_CONSENT", False)
CONSENTED = ("DECISION_ALLOW", "REASON_CONSENT_ON_FILE", False)
NOT_REGISTERED = ("DECISION_ALLOW", "REASON_NOT_REGISTERED", False)


async def _batch(server: Any, *reqs: Any) -> list[tuple[str, str, bool]]:
    r = await gate(server).CheckBatch(gateway_pb2.CheckBatchRequest(requests=list(reqs)))
    return [_answer(x) for x in r.responses]


async def test_opt_in_blocks_a_call_without_a_consent_and_a_consent_allows_it(server: Any) -> None:
    """consent_required through SetOrgPolicy's mask (the mode kept): an unregistered callee with no consent
    is BLOCK / NO_CONSENT (single and batch alike), another org's call is untouched; GrantConsent allows
    it as CONSENT_ON_FILE; a later org-list entry ends that consent (ORG_LIST), an agent's consent after
    it allows that agent again."""
    await _policy(server, mode=common_pb2.MODE_ENFORCE)
    policy = await _policy(server, consent_required=True)
    assert (policy.consent_required, list(policy.consent_required_categories), policy.mode) == (
        True,
        [],
        common_pb2.MODE_ENFORCE,
    )
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert got.consent_required and not got.quiet_on_public_holidays
    await _becomes(server, NO_CONSENT)
    assert await _check(server, category=common_pb2.CATEGORY_UNSPECIFIED) == NO_CONSENT
    assert await _check(server, org=RIVAL) == NOT_REGISTERED
    assert await _batch(server, check_request(CONSUMER), check_request(CONSUMER, org_id=RIVAL)) == [
        NO_CONSENT,
        NOT_REGISTERED,
    ]
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG, evidence="form 7")
    )
    assert await _check(server) == CONSENTED
    assert await _batch(server, check_request(CONSUMER)) == [CONSENTED]
    await registry(server).AddToOrgList(registry_pb2.AddToOrgListRequest(org_id=ORG, number=CONSUMER))
    assert await _check(server) == ("DECISION_BLOCK", "REASON_ORG_LIST", False)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG, agent_id="a17", evidence="call")
    )
    assert await _check(server) == CONSENTED
    assert await _check(server, agent_id="a18") == ("DECISION_BLOCK", "REASON_ORG_LIST", False)


async def test_opt_in_limited_to_categories_and_in_monitor_mode(server: Any) -> None:
    """consent_required_categories: finance only binds finance calls (and calls of no category); a
    real-estate call is answered as without opt-in. Monitor mode: ALLOW flagged NO_CONSENT."""
    await _policy(server, consent_required=True, consent_required_categories=[common_pb2.CATEGORY_FINANCE])
    await _becomes(server, NO_CONSENT, category=common_pb2.CATEGORY_FINANCE)
    assert await _check(server) == NOT_REGISTERED  # real estate
    assert await _check(server, category=common_pb2.CATEGORY_UNSPECIFIED) == NO_CONSENT
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert list(got.consent_required_categories) == [common_pb2.CATEGORY_FINANCE]
    await _policy(server, mode=common_pb2.MODE_MONITOR)
    await _becomes(server, ("DECISION_ALLOW", "REASON_NO_CONSENT", True), category=common_pb2.CATEGORY_FINANCE)
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert got.consent_required and list(got.consent_required_categories) == [common_pb2.CATEGORY_FINANCE]
    await _policy(server, consent_required=False)
    await _becomes(server, NOT_REGISTERED, category=common_pb2.CATEGORY_FINANCE)


async def test_an_unknown_category_in_consent_required_categories_is_invalid_argument(server: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await _policy(server, consent_required_categories=[common_pb2.CATEGORY_UNSPECIFIED])
    assert exc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "consent_required_categories" in (exc.value.details() or "")


async def _cli(server: Any, *args: str) -> str:
    done = await cli(server, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_command_line_sets_and_lists_ranges_and_the_new_policy_fields(server: Any) -> None:
    out = await _cli(server, "registry", "range", "set", "+86400", "block", "--category", "finance")
    assert "+86400" in out and "block" in out and "every org" in out
    out = await _cli(server, "registry", "range", "list")
    assert "+86400" in out and "finance" in out
    out = await _cli(server, "org", "set", ORG, "--quiet-on-holidays", "--require-registered-lines")
    assert "quiet on holidays" in out and "registered lines only" in out
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert got.quiet_on_public_holidays and got.require_registered_lines
    await _cli(server, "org", "set", ORG, "--no-quiet-on-holidays")
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert not got.quiet_on_public_holidays and got.require_registered_lines


async def test_range_violations_are_counted_in_report_violations_and_pay_nothing(server: Any) -> None:
    """Monitor mode, a range block: the calls are ALLOWed and flagged; ReportViolations counts them; a
    complaint about them finds the range broken (RULE_VIOLATED) and no do-not-disturb at the call's
    time, so nothing is owed; the report counts those findings apart from verified ones."""
    await _policy(server, mode=common_pb2.MODE_MONITOR)
    await _range(server, "+86138", registry_pb2.RANGE_ACTION_BLOCK)
    await _becomes(server, ("DECISION_ALLOW", "REASON_RANGE_BLOCKED", True))  # the first flagged call
    await gate(server).Check(check_request(CONSUMER, caller_number=A))  # the second

    async def counted() -> int:
        r = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id=ORG))
        return int(r.violating_calls)

    assert await until(lambda: _at_least(counted, 2), 30, what="the range violations in ReportViolations")
    c = await file(server, CALLER, A)
    assert verdicts(c) == [(CALLER, "VERDICT_RULE_VIOLATED"), (A, "VERDICT_RULE_VIOLATED")]
    assert [list(f.rules_broken) for f in c.findings] == [[gateway_pb2.REASON_RANGE_BLOCKED]] * 2
    assert c.total_compensation.units == 0
    r = await hotline(server).ReportViolations(V.ReportViolationsRequest(org_id=ORG))
    assert (r.verified_complaints, r.rule_violation_complaints) == (0, 2)


async def _at_least(read: Any, n: int) -> bool:
    return bool(await read() >= n)


async def test_the_command_line_sets_opt_in_with_the_mode_and_alone(server: Any) -> None:
    """`org set-mode ORG enforce --consent-required --consent-categories finance,real-estate`, then
    `org set --no-consent-required`: only the fields named change; `org get` shows them as typed."""
    await _cli(server, "org", "set", ORG, "--cap-per-day", "3")
    out = await _cli(
        server, "org", "set-mode", ORG, "enforce", "--consent-required", "--consent-categories", "finance,real-estate"
    )
    assert "real-estate,finance" in out  # in the categories' order, as typed
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert got.consent_required and got.max_calls_per_day == 3
    assert list(got.consent_required_categories) == [common_pb2.CATEGORY_REAL_ESTATE, common_pb2.CATEGORY_FINANCE]
    await _becomes(server, NO_CONSENT)
    await _cli(server, "org", "set", ORG, "--no-consent-required")
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert not got.consent_required and len(got.consent_required_categories) == 2 and got.max_calls_per_day == 3
    out = await _cli(server, "org", "get", ORG)
    assert "consent required" in out and "off" in out
    await _cli(server, "org", "set-mode", ORG, "monitor")
    got = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ORG))
    assert got.mode == common_pb2.MODE_MONITOR and len(got.consent_required_categories) == 2
    await _cli(server, "org", "set", ORG, "--consent-required", "--consent-categories", "all")
    out = await _cli(server, "org", "get", ORG)
    assert "all" in out
    done = await cli(server, "org", "set", ORG, "--consent-categories", "finance,gambling")
    assert done.returncode != 0 and "gambling" in done.stderr
