"""A single Check on its fast path: the fields a dialer's Checks repeat (caller, org, agent, campaign,
category) are validated and encoded once per route, so a Check pays for its own callee and one script
call only.

The answers and logged events are those of the same request in a batch (`CheckPlan`):
tests/integration/test_check_batch.py holds the two equal.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Mode
from dncgate.service.checkplan import callee_parser, mask, table_for
from dncgate.service.checks import CheckInput, CheckResult, own_fields_valid, validate
from dncgate.store.calls import route_parts, single_context
from dncgate.store.checkscript import CASES, category_bit
from dncgate.store.hot import consent_scope

if TYPE_CHECKING:
    from dncgate.service.gateway import Gateway

# caller_number, org_id, agent_id, campaign_id, category: as the dialer sent them
_RouteKey = tuple[str, str, str, str, Category]


class Route(NamedTuple):
    """What Checks with the same caller, org, agent, campaign and category share, validated and encoded."""

    caller: phone.PhoneNumber
    caller_part: bytes  # the event's caller pair (`route_parts`)
    tail: bytes  # its agent, org, campaign and category pairs
    org_scope: bytes  # consent_scope(org, "")
    agent_scope: bytes  # consent_scope(org, agent)
    category_bit: int


class SingleCheck:
    """`Gateway.check`: one callee, one script call on the gateway's Check lane.

    Routes are kept for the process's life up to `limit` (then forgotten all at once and rebuilt as
    Checks come): a contact centre has a few thousand agents, and a route costs a few hundred bytes.
    """

    def __init__(self, gateway: Gateway, limit: int = 1 << 14) -> None:
        self.gateway = gateway
        self.limit = limit
        self.routes: dict[_RouteKey, Route] = {}

    def route(self, req: CheckInput) -> Route:
        """The request's route; InvalidArgument (naming the field) as `checks.validate` raises it."""
        key = (req.caller_number, req.org_id, req.agent_id, req.campaign_id, req.category)
        route = self.routes.get(key)
        if route is None:
            caller = validate(req, "", self.gateway.region)
            caller_part, tail = route_parts(caller.e164, req.agent_id, req.org_id, req.campaign_id, req.category)
            route = Route(
                caller,
                caller_part,
                tail,
                consent_scope(req.org_id, ""),
                consent_scope(req.org_id, req.agent_id),
                category_bit(req.category),
            )
            if len(self.routes) >= self.limit:
                self.routes.clear()
            self.routes[key] = route
        return route

    async def check(self, req: CheckInput) -> CheckResult:
        gw = self.gateway
        route = self.route(req)
        if not own_fields_valid(req):
            validate(req, "", gw.region)  # raises what a batch raises for this request
        rid = req.request_id
        parsed = callee_parser(gw.region)(req.callee_number)
        if parsed is None:  # logged as INVALID_NUMBER by the batch script, like any invalid callee
            return (await gw.check_many([req], batch=False))[0]
        e164, zones, country_code = parsed
        now = datetime.fromtimestamp(gw.clock(), UTC)
        now_us = epoch_us(now)
        loop_deadline = gw.deadline(1)
        table = table_for(gw, (zones, req.org_id, req.agent_id, req.category), now, now_us)
        key = gw.keyer.digest(e164)
        key_hex = key.hex()
        masked = mask(e164, country_code)
        call_id = f"{(now_us // 1000) & 0xFFFFFFFFFFFF:012x}{os.urandom(10).hex()}"
        context = single_context(
            call_id.encode(), now_us, route.caller_part, key_hex.encode(), masked.encode(), route.tail, rid.encode()
        )
        command = gw.script.command(
            key,
            req.org_id,
            route.org_scope,
            route.agent_scope,
            route.category_bit,
            now_us,
            gw.default_mode is Mode.MONITOR,
            table.outcomes,
            context,
        )
        [reply] = await gw.execute([command], loop_deadline)
        if isinstance(reply, int) and 0 <= reply < CASES:
            verdict = table.verdicts[reply]
        else:  # not loaded, or Redis failed: nothing is known to be logged, so block, and log it if we can
            verdict = rules.REGISTRY_UNAVAILABLE
            event = CallEvent(
                call_id=call_id,
                at=now,
                caller_e164=route.caller.e164,
                callee_key=key_hex,
                callee_masked=masked,
                agent_id=req.agent_id,
                org_id=req.org_id,
                campaign_id=req.campaign_id,
                category=req.category,
                decision=verdict.decision,
                reason=verdict.reason,
                violation=verdict.violation,
                request_id=rid,
            )
            if not (await gw.log_unlogged([event], loop_deadline))[0]:
                call_id = ""  # an answer carries a call_id only if its event is stored
        return CheckResult(verdict, call_id, e164, masked, rid)
