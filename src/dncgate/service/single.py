"""A single Check on its fast path: the fields a dialer's Checks repeat (caller, org, agent, campaign,
category) are validated and put in their wire form once per route, so a Check pays for its own callee
and one script call only.

The answers and logged events are those of the same request in a batch (`service/batch.py`):
tests/integration/test_check_batch.py holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.decision import QUIET
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category
from dncgate.service.batch import BatchCheck
from dncgate.service.checks import (
    CheckInput,
    CheckLane,
    CheckResult,
    CheckSettings,
    Keyer,
    call_event,
    new_call_id,
    own_fields_valid,
    validate,
)
from dncgate.service.org_caps import OrgCaps
from dncgate.service.receipts import Receipts
from dncgate.service.verdicts import VerdictTables, callee_parser, mask, picked

# caller_number, org_id, agent_id, campaign_id, category: as the dialer sent them
_RouteKey = tuple[str, str, str, str, Category]


class Route(NamedTuple):
    """What Checks with the same caller, org, agent, campaign and category share, validated."""

    caller: phone.PhoneNumber
    wire: Any  # `CheckLane.route` of it


class SingleCheck:
    """`Gateway.check`: one callee, one script call on the lane's Check connection.

    Routes are kept for the process's life up to `limit` (then forgotten all at once and rebuilt as
    Checks come): a contact centre has a few thousand agents, and a route costs a few hundred bytes.
    A callee that is no valid number goes to `batch`, whose script logs it as INVALID_NUMBER.
    """

    def __init__(
        self,
        settings: CheckSettings,
        lane: CheckLane,
        keyer: Keyer,
        tables: VerdictTables,
        clock: Callable[[], float],
        batch: BatchCheck,
        receipts: Receipts,
        org_caps: OrgCaps,
        limit: int = 1 << 14,
    ) -> None:
        self.settings = settings
        self.lane = lane
        self.keyer = keyer
        self.tables = tables
        self.clock = clock
        self.batch = batch
        self.receipts = receipts
        self.org_caps = org_caps
        self.parse = callee_parser(settings.region)
        self.limit = limit
        self.routes: dict[_RouteKey, Route] = {}

    def route(self, req: CheckInput) -> Route:
        """The request's route; InvalidArgument (naming the field) as `checks.validate` raises it."""
        key = (req.caller_number, req.org_id, req.agent_id, req.campaign_id, req.category)
        route = self.routes.get(key)
        if route is None:
            caller = validate(req, "", self.settings.region)
            route = Route(caller, self.lane.route(caller.e164, req.agent_id, req.org_id, req.campaign_id, req.category))
            if len(self.routes) >= self.limit:
                self.routes.clear()
            self.routes[key] = route
        return route

    async def check(self, req: CheckInput) -> CheckResult:
        settings = self.settings
        route = self.route(req)
        if not own_fields_valid(req):
            validate(req, "", settings.region)  # raises what a batch raises for this request
        rid = req.request_id
        parsed = self.parse(req.callee_number)
        if parsed is None:  # logged as INVALID_NUMBER by the batch script, like any invalid callee
            return (await self.batch.check_many([req], batch=False))[0]
        e164, zones, country_code = parsed
        now = datetime.fromtimestamp(self.clock(), UTC)
        now_us = epoch_us(now)
        deadline = settings.deadline(1)
        checked = self.tables.rules
        if checked.active:  # what a Check pays for ranges, quiet days and caller lines when none is configured
            standing = checked.standing(req.org_id, req.category, e164, country_code, route.caller.e164, now_us)
            code = country_code if standing & QUIET else 0
            table_key = (zones, req.org_id, req.agent_id, req.category, standing, code)
        else:
            table_key = (zones, req.org_id, req.agent_id, req.category, 0, 0)
        table = self.tables.table(table_key, now, now_us)
        key = self.keyer.digest(e164)
        key_hex = key.hex()
        masked = mask(e164, country_code)
        call_id = new_call_id(now_us)
        policies = self.org_caps  # caps and modes read together, before any await: one version of both
        case = await self.lane.classify_and_log(
            route.wire,
            key,
            key_hex,
            now_us,
            policies.monitors.get(req.org_id, settings.default_monitor),
            table.code,
            call_id,
            masked,
            rid,
            deadline,
            policies.caps.get(req.org_id, 0),
        )
        if case is not None:
            verdicts = table.verdicts
            verdict = verdicts[case] if case < len(verdicts) else picked(verdicts, case)
            result = CheckResult(verdict, call_id, e164, masked, rid)
        else:  # Not loaded, or Redis failed: nothing is known to be logged, so block, and log it if we can.
            verdict = rules.REGISTRY_UNAVAILABLE
            event = call_event(req, call_id, now, route.caller.e164, key_hex, masked, verdict)
            if not (await self.lane.store_events([event], deadline))[0]:
                call_id = ""  # an answer carries a call_id only if its event is stored
            result = CheckResult(verdict, call_id, e164, masked, rid)
        if req.org_id in self.receipts.orgs:  # what an org without receipts pays for them
            return self.receipts.stamp(result, now_us, key_hex, route.caller.e164, req.org_id, req.agent_id)
        return result
