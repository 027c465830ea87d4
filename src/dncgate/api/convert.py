"""Proto <-> domain mapping; protobuf messages stop here and never reach domain/ or store/."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.domain.decision import Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.lines import CallerLine
from dncgate.domain.ranges import RangeAction, RangeRule
from dncgate.domain.registry import ConsentChange, OrgListChange, PreferenceChange
from dncgate.domain.types import Category, Decision, Mode, OptOutScope, Reason, Source, categories_of
from dncgate.service.gateway import CheckInput, CheckResult
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2

_DECISION = {Decision.ALLOW: gateway_pb2.DECISION_ALLOW, Decision.BLOCK: gateway_pb2.DECISION_BLOCK}
_REASON: dict[Reason, Any] = {r: gateway_pb2.Reason.Value(f"REASON_{r.value}") for r in Reason}
_MODE_TO_PB = {Mode.ENFORCE: common_pb2.MODE_ENFORCE, Mode.MONITOR: common_pb2.MODE_MONITOR}
_MODE_FROM_PB = {v: k for k, v in _MODE_TO_PB.items()}
_CATEGORY = {int(c): c for c in Category}


def reasons(rs: Iterable[Reason]) -> list[Any]:
    """The wire values of domain reasons, in their order (a finding's rules broken)."""
    return [_REASON[r] for r in rs]


def ts(dt: datetime | None) -> Timestamp | None:
    if dt is None:
        return None
    t = Timestamp()
    t.FromDatetime(dt.astimezone(UTC))
    return t


def from_ts(t: Timestamp, field: str) -> datetime:
    try:
        return t.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(field, "is not a valid timestamp") from None


def opt_ts(msg: object, field: str, name: str | None = None) -> datetime | None:
    """A Timestamp field as an aware datetime, None when unset."""
    if not msg.HasField(field):  # type: ignore[attr-defined]
        return None
    return from_ts(getattr(msg, field), name or field)


def category(value: int, field: str = "category") -> Category:
    try:
        return Category(value)
    except ValueError:
        raise InvalidArgument(field, f"unknown category {value}") from None


def categories(values: Iterable[int], field: str = "categories") -> list[Category]:
    out: list[Category] = []
    for i, v in enumerate(values):
        c = category(v, f"{field}[{i}]")
        if c is Category.UNSPECIFIED:
            raise InvalidArgument(f"{field}[{i}]", "CATEGORY_UNSPECIFIED is not a category")
        out.append(c)
    return out


def source(value: int) -> Source:
    try:
        return Source(value)
    except ValueError:
        raise InvalidArgument("source", f"unknown source {value}") from None


_OPT_OUT_SCOPE = {
    gateway_pb2.OPT_OUT_SCOPE_UNSPECIFIED: OptOutScope.ALL,
    gateway_pb2.OPT_OUT_SCOPE_ALL: OptOutScope.ALL,
    gateway_pb2.OPT_OUT_SCOPE_ORG: OptOutScope.ORG,
}


def opt_out_scope(value: int) -> OptOutScope:
    try:
        return _OPT_OUT_SCOPE[value]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument("opt_out_scope", f"unknown scope {value}") from None


def mode_from_pb(value: int) -> Mode | None:
    if value == common_pb2.MODE_UNSPECIFIED:
        return None
    try:
        return _MODE_FROM_PB[value]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument("mode", f"unknown mode {value}") from None


def mode_to_pb(mode: Mode) -> Any:
    return _MODE_TO_PB[mode]


def check_input(req: gateway_pb2.CheckRequest, prefix: str = "") -> CheckInput:
    c = _CATEGORY.get(req.category)
    if c is None:
        c = category(req.category, prefix + "category")
    return CheckInput(
        req.caller_number, req.callee_number, req.agent_id, req.org_id, req.campaign_id, c, req.request_id
    )


def check_inputs(requests: Sequence[gateway_pb2.CheckRequest]) -> list[CheckInput]:
    """`check_input` of each request of a batch (errors name `requests[i].category`), at a third of the cost."""
    categories = _CATEGORY
    out: list[CheckInput] = []
    for r in requests:
        c = categories.get(r.category)
        if c is None:
            c = category(r.category, f"requests[{len(out)}].category")
        out.append(CheckInput(r.caller_number, r.callee_number, r.agent_id, r.org_id, r.campaign_id, c, r.request_id))
    return out


class VerdictFields:
    """The response fields of a verdict (decision, reason, violation, next opening), converted once.

    Verdicts are shared: one table of eight per callee group and minute, a few constants. Entries are
    keyed by identity and hold their verdict, so a reused id can never hand back another's fields.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.converted: dict[int, tuple[Verdict, Any, Any, bool, Timestamp | None]] = {}

    def __call__(self, v: Verdict) -> tuple[Verdict, Any, Any, bool, Timestamp | None]:
        fields = self.converted.get(id(v))
        if fields is None or fields[0] is not v:
            if len(self.converted) >= self.limit:
                self.converted.clear()
            fields = self.converted[id(v)] = (
                v,
                _DECISION[v.decision],
                _REASON[v.reason],
                v.violation,
                ts(v.next_allowed_time),
            )
        return fields


def check_batch_response(
    results: Sequence[CheckResult], fields_of: VerdictFields | None = None
) -> gateway_pb2.CheckBatchResponse:
    """The batch's responses, each as `check_response` makes it; a verdict's fields converted once."""
    fields_of = fields_of or VerdictFields()
    response = gateway_pb2.CheckBatchResponse()
    add = response.responses.add
    allowed = 0
    for r in results:
        _, decision, reason, violation, next_allowed_time = fields_of(r.verdict)
        item = add(
            decision=decision,
            reason=reason,
            call_id=r.call_id,
            callee_e164=r.callee_e164,
            violation=violation,
            next_allowed_time=next_allowed_time,
            request_id=r.request_id,
        )
        if r.receipt is not None:
            item.receipt_payload, item.receipt = r.receipt
        allowed += decision == gateway_pb2.DECISION_ALLOW
    response.allowed = allowed
    response.blocked = len(results) - allowed
    return response


def check_response(r: CheckResult, fields_of: VerdictFields | None = None) -> gateway_pb2.CheckResponse:
    _, decision, reason, violation, next_allowed_time = (fields_of or VerdictFields())(r.verdict)
    response = gateway_pb2.CheckResponse(
        decision=decision,
        reason=reason,
        call_id=r.call_id,
        callee_e164=r.callee_e164,
        violation=violation,
        next_allowed_time=next_allowed_time,
        request_id=r.request_id,
    )
    if r.receipt is not None:
        response.receipt_payload, response.receipt = r.receipt
    return response


# SetOrgPolicyRequest's policy fields (`domain.org_policy.POLICY_FIELDS`) in domain terms, None for
# a value not given: a later field is one line here.
POLICY_FROM_PB: dict[str, Callable[[registry_pb2.SetOrgPolicyRequest], object]] = {
    "mode": lambda r: mode_from_pb(r.mode),
    "signed_receipts": lambda r: r.signed_receipts,
    "quiet_on_public_holidays": lambda r: r.quiet_on_public_holidays,
    "require_registered_lines": lambda r: r.require_registered_lines,
    "max_calls_per_day": lambda r: r.max_calls_per_day,
    "consent_required": lambda r: r.consent_required,
    "consent_required_categories": lambda r: category_mask(r.consent_required_categories),
}


def category_mask(values: Iterable[int], field: str = "consent_required_categories") -> int:
    """The categories named, as a preference mask: 0 when none is (`OrgPolicyEntry.consent_required_categories`)."""
    return sum(1 << c for c in dict.fromkeys(categories(values, field)))


def category_list(mask: int) -> list[Any]:
    """`category_mask` back as wire categories (none: every category)."""
    return [int(c) for c in categories_of(mask)] if mask else []


def org_policy_changes(request: registry_pb2.SetOrgPolicyRequest) -> dict[str, object]:
    return {name: read(request) for name, read in POLICY_FROM_PB.items()}


def preference(masked: str, c: PreferenceChange | None) -> registry_pb2.Preference:
    if c is None:
        return registry_pb2.Preference(number_masked=masked, found=False)
    return registry_pb2.Preference(
        number_masked=masked,
        do_not_disturb=c.do_not_disturb,
        categories=[int(x) for x in categories_of(c.categories_mask)] if c.do_not_disturb else [],  # type: ignore[misc]
        source=int(c.source),  # type: ignore[arg-type]
        effective_from=ts(c.effective_from),
        recorded_at=ts(c.recorded_at),
        found=True,
        journal_seq=c.seq,
        recorded_by=c.recorded_by,
    )


def consent(masked: str, c: ConsentChange) -> registry_pb2.Consent:
    return registry_pb2.Consent(
        consumer_number_masked=masked,
        org_id=c.org_id,
        agent_id=c.agent_id,
        granted_at=ts(c.effective_at) if c.granted else None,
        expires_at=ts(c.expires_at),
        evidence=c.evidence,
        revoked=not c.granted,
        recorded_at=ts(c.recorded_at),
        journal_seq=c.seq,
        recorded_by=c.recorded_by,
        exempt_from_caps=c.exempt_from_caps,
    )


def org_list_entry(masked: str, e: OrgListChange, *, on_list: bool = False) -> registry_pb2.OrgListEntry:
    return registry_pb2.OrgListEntry(
        number_masked=masked,
        org_id=e.org_id,
        listed=e.listed,
        reason=e.reason,
        effective_at=ts(e.effective_at),
        recorded_at=ts(e.recorded_at),
        journal_seq=e.seq,
        recorded_by=e.recorded_by,
        on_list=on_list,
    )


def caller_line(line: CallerLine, *, live: bool) -> registry_pb2.CallerLine:
    return registry_pb2.CallerLine(
        caller_number=line.caller_e164,
        org_id=line.org_id,
        agent_id=line.agent_id,
        valid_from=ts(line.valid_from),
        valid_to=ts(line.valid_to),
        recorded_at=ts(line.recorded_at),
        journal_seq=line.seq,
        recorded_by=line.recorded_by,
        live=live,
    )


_RANGE_ACTION: dict[int, RangeAction] = {
    registry_pb2.RANGE_ACTION_UNSPECIFIED: RangeAction.NONE,
    registry_pb2.RANGE_ACTION_BLOCK: RangeAction.BLOCK,
    registry_pb2.RANGE_ACTION_ALLOW: RangeAction.ALLOW,
}
_RANGE_ACTION_PB = {a: v for v, a in _RANGE_ACTION.items()}


def range_action(value: int) -> RangeAction:
    action = _RANGE_ACTION.get(value)
    if action is None:
        raise InvalidArgument("action", f"unknown range action {value}")
    return action


def range_rule(rule: RangeRule) -> registry_pb2.RangeRule:
    return registry_pb2.RangeRule(
        prefix=rule.prefix,
        action=_RANGE_ACTION_PB[rule.action],  # type: ignore[arg-type]
        categories=[int(c) for c in categories_of(rule.categories)],  # type: ignore[misc]
        org_id=rule.org_id,
        effective_from=ts(rule.effective_from),
        recorded_at=ts(rule.recorded_at),
        journal_seq=rule.seq,
        recorded_by=rule.recorded_by,
    )
