"""Registry servicer: preferences, consents, org policies and bulk imports of registry feeds."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, TypeAlias

import structlog

from dncgate.api import access, convert, imports
from dncgate.service.importer import RegistryImporter
from dncgate.service.lines import CallerLineService
from dncgate.service.ranges import RangeRuleService
from dncgate.service.registry import RegistryService
from dncgate.v1 import registry_pb2, registry_pb2_grpc

Ctx: TypeAlias = Any  # grpc.aio.ServicerContext; grpcio ships no type information


class RegistryServicer(registry_pb2_grpc.RegistryServicer):
    def __init__(
        self,
        service: RegistryService[Any, Any],
        importer: RegistryImporter | None = None,
        *,
        lines: CallerLineService,
        ranges: RangeRuleService,
    ) -> None:
        self.service = service
        self.importer = importer or RegistryImporter(service)
        self.lines = lines
        self.ranges = ranges

    async def SetPreference(self, request: registry_pb2.SetPreferenceRequest, context: Ctx) -> registry_pb2.Preference:
        view = await self.service.set_preference(
            request.number,
            request.do_not_disturb,
            convert.categories(request.categories),
            convert.source(request.source),
            convert.opt_ts(request, "effective_from"),
            request.request_id,
            actor=access.current().label,
        )
        structlog.contextvars.bind_contextvars(number=view.number_masked, request_id=request.request_id)
        return convert.preference(view.number_masked, view.change)

    async def GetPreference(self, request: registry_pb2.GetPreferenceRequest, context: Ctx) -> registry_pb2.Preference:
        view = await self.service.get_preference(request.number, convert.opt_ts(request, "as_of"))
        structlog.contextvars.bind_contextvars(number=view.number_masked)
        return convert.preference(view.number_masked, view.change)

    async def GetPreferenceHistory(
        self, request: registry_pb2.GetPreferenceHistoryRequest, context: Ctx
    ) -> registry_pb2.PreferenceHistory:
        h = await self.service.history(request.number)
        structlog.contextvars.bind_contextvars(number=h.number_masked)
        return registry_pb2.PreferenceHistory(
            number_masked=h.number_masked,
            entries=[convert.preference(h.number_masked, c) for c in h.preferences],
            consents=[convert.consent(h.number_masked, c) for c in h.consents],
        )

    async def GrantConsent(self, request: registry_pb2.GrantConsentRequest, context: Ctx) -> registry_pb2.Consent:
        view = await self.service.grant_consent(
            request.consumer_number,
            request.org_id,
            request.agent_id,
            convert.opt_ts(request, "expires_at"),
            request.evidence,
            request.request_id,
            actor=access.current().label,
            exempt_from_caps=request.exempt_from_caps,
        )
        structlog.contextvars.bind_contextvars(number=view.number_masked, org=request.org_id)
        return convert.consent(view.number_masked, view.change)

    async def RevokeConsent(self, request: registry_pb2.RevokeConsentRequest, context: Ctx) -> registry_pb2.Consent:
        view = await self.service.revoke_consent(
            request.consumer_number, request.org_id, request.agent_id, request.request_id, actor=access.current().label
        )
        structlog.contextvars.bind_contextvars(number=view.number_masked, org=request.org_id)
        return convert.consent(view.number_masked, view.change)

    async def AddToOrgList(self, request: registry_pb2.AddToOrgListRequest, context: Ctx) -> registry_pb2.OrgListEntry:
        view = await self.service.add_to_org_list(
            request.org_id, request.number, request.reason, request.request_id, actor=access.current().label
        )
        structlog.contextvars.bind_contextvars(number=view.number_masked, org=request.org_id)
        return convert.org_list_entry(view.number_masked, view.change, on_list=view.listed)

    async def RemoveFromOrgList(
        self, request: registry_pb2.RemoveFromOrgListRequest, context: Ctx
    ) -> registry_pb2.OrgListEntry:
        view = await self.service.remove_from_org_list(
            request.org_id, request.number, request.request_id, actor=access.current().label
        )
        structlog.contextvars.bind_contextvars(number=view.number_masked, org=request.org_id)
        return convert.org_list_entry(view.number_masked, view.change, on_list=view.listed)

    async def GetOrgListHistory(
        self, request: registry_pb2.GetOrgListHistoryRequest, context: Ctx
    ) -> registry_pb2.OrgListHistory:
        h = await self.service.org_list_history(request.number, request.org_id, convert.opt_ts(request, "as_of"))
        structlog.contextvars.bind_contextvars(number=h.number_masked, org=request.org_id)
        return registry_pb2.OrgListHistory(
            number_masked=h.number_masked,
            org_id=request.org_id,
            entries=[convert.org_list_entry(h.number_masked, e) for e in h.entries],
            listed=h.listed,
            listed_by=convert.org_list_entry(h.number_masked, h.listed_since) if h.listed_since else None,
        )

    async def SetOrgPolicy(self, request: registry_pb2.SetOrgPolicyRequest, context: Ctx) -> registry_pb2.OrgPolicy:
        changes = convert.org_policy_changes(request)
        entry = await self.service.set_org_policy(
            request.org_id,
            changes.pop("mode"),  # type: ignore[arg-type]  # POLICY_FROM_PB reads it with mode_from_pb
            request.request_id,
            actor=access.current().label,
            changes=changes,
            update_mask=list(request.update_mask.paths) if request.HasField("update_mask") else (),
        )
        structlog.contextvars.bind_contextvars(org=request.org_id, mode=entry.mode.value)
        return registry_pb2.OrgPolicy(
            org_id=request.org_id,
            mode=convert.mode_to_pb(entry.mode),
            explicit=True,
            recorded_by=entry.recorded_by,
            signed_receipts=entry.signed_receipts,
            quiet_on_public_holidays=entry.quiet_on_public_holidays,
            require_registered_lines=entry.require_registered_lines,
            max_calls_per_day=entry.max_calls_per_day,
            consent_required=entry.consent_required,
            consent_required_categories=convert.category_list(entry.consent_required_categories),
        )

    async def GetOrgPolicy(self, request: registry_pb2.GetOrgPolicyRequest, context: Ctx) -> registry_pb2.OrgPolicy:
        view = await self.service.get_org_policy(request.org_id)
        return registry_pb2.OrgPolicy(
            org_id=request.org_id,
            mode=convert.mode_to_pb(view.mode),
            explicit=view.explicit,
            recorded_by=view.recorded_by,
            signed_receipts=view.signed_receipts,
            quiet_on_public_holidays=view.quiet_on_public_holidays,
            require_registered_lines=view.require_registered_lines,
            max_calls_per_day=view.max_calls_per_day,
            consent_required=view.consent_required,
            consent_required_categories=convert.category_list(view.consent_required_categories),
        )

    async def ImportRegistry(
        self, request_iterator: AsyncIterable[registry_pb2.ImportRegistryRequest], context: Ctx
    ) -> registry_pb2.ImportRegistrySummary:
        summary = await self.importer.run(imports.rows(request_iterator), actor=access.current().label)
        structlog.contextvars.bind_contextvars(rows=summary.rows, accepted=summary.accepted, invalid=summary.invalid)
        return imports.summary(summary)

    async def RegisterCallerLine(
        self, request: registry_pb2.RegisterCallerLineRequest, context: Ctx
    ) -> registry_pb2.CallerLine:
        line = await self.lines.register(
            request.caller_number,
            request.org_id,
            request.agent_id,
            convert.opt_ts(request, "valid_from"),
            convert.opt_ts(request, "valid_to"),
            request.request_id,
            actor=access.current().label,
        )
        structlog.contextvars.bind_contextvars(caller=line.caller_e164, org=line.org_id, request_id=request.request_id)
        return convert.caller_line(line, live=True)

    async def ListCallerLines(
        self, request: registry_pb2.ListCallerLinesRequest, context: Ctx
    ) -> registry_pb2.ListCallerLinesResponse:
        entries, token = await self.lines.list_lines(
            request.org_id, request.caller_number, convert.opt_ts(request, "at"), request.page_size, request.page_token
        )
        return registry_pb2.ListCallerLinesResponse(
            lines=[convert.caller_line(e.line, live=e.live) for e in entries], next_page_token=token
        )

    async def SetRangeRule(self, request: registry_pb2.SetRangeRuleRequest, context: Ctx) -> registry_pb2.RangeRule:
        rule = await self.ranges.set_rule(
            request.prefix,
            convert.range_action(request.action),
            convert.categories(request.categories),
            request.org_id,
            convert.opt_ts(request, "effective_from"),
            request.request_id,
            actor=access.current().label,
        )
        structlog.contextvars.bind_contextvars(prefix=rule.prefix, org=rule.org_id, request_id=request.request_id)
        return convert.range_rule(rule)

    async def ListRangeRules(
        self, request: registry_pb2.ListRangeRulesRequest, context: Ctx
    ) -> registry_pb2.ListRangeRulesResponse:
        rules = await self.ranges.list_rules(request.org_id, convert.opt_ts(request, "at"))
        return registry_pb2.ListRangeRulesResponse(rules=[convert.range_rule(r) for r in rules])
