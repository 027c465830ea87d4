"""Many Checks in one Redis round trip (`Gateway.check_many`): a list scrub, or a single Check whose
callee is no valid number.

Each request's callee is parsed, keyed and masked, its sixteen verdicts taken from the domain once per
distinct (time zones, org, agent, category) in the batch (`now` is one value per batch), and the lot
handed to the lane, which classifies and logs them in one script call per chunk of callees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.decision import QUIET, Verdict
from dncgate.domain.registry import epoch_us
from dncgate.service.checks import (
    CheckInput,
    CheckLane,
    CheckResult,
    CheckSettings,
    Keyer,
    ScrubItem,
    call_event,
    new_call_ids,
    own_fields_valid,
    validate,
)
from dncgate.service.org_caps import OrgCaps
from dncgate.service.receipts import Receipts
from dncgate.service.verdicts import TableKey, VerdictTable, VerdictTables, callee_parser, mask
from dncgate.service.verdicts import picked as pick_of

# Awaited with a batch's size once its fields are valid, before anything is checked; raises to refuse it.
Admit = Callable[[int], Awaitable[None]]


class BatchCheck:
    def __init__(
        self,
        settings: CheckSettings,
        lane: CheckLane,
        keyer: Keyer,
        tables: VerdictTables,
        clock: Callable[[], float],
        receipts: Receipts,
        org_caps: OrgCaps,
    ) -> None:
        self.settings = settings
        self.lane = lane
        self.keyer = keyer
        self.tables = tables
        self.clock = clock
        self.receipts = receipts
        self.org_caps = org_caps

    def callers(self, reqs: Sequence[CheckInput], batch: bool) -> list[phone.PhoneNumber]:
        """`validate` of every request, the fields requests share (caller, org, agent, campaign) checked
        once per distinct value; the first bad request raises exactly what `validate` raises for it."""
        region = self.settings.region
        seen: dict[tuple[str, str, str, str], phone.PhoneNumber] = {}
        callers = []
        for i, req in enumerate(reqs):
            shared = (req.caller_number, req.org_id, req.agent_id, req.campaign_id)
            caller = seen.get(shared)
            if caller is None or not own_fields_valid(req):
                caller = seen[shared] = validate(req, f"requests[{i}]." if batch else "", region)
            callers.append(caller)
        return callers

    async def check_many(
        self, reqs: Sequence[CheckInput], batch: bool = True, admit: Admit | None = None
    ) -> list[CheckResult]:
        callers = self.callers(reqs, batch)
        if not reqs:
            return []
        if admit is not None:
            await admit(len(reqs))
        now = datetime.fromtimestamp(self.clock(), UTC)
        now_us = epoch_us(now)
        parse = callee_parser(self.settings.region)
        callees = [parse(r.callee_number) for r in reqs]
        digest = self.keyer.digest if len(reqs) == 1 else self.keyer.uncached()  # a scrub: each number once
        keys = [digest(c[0]) if c else None for c in callees]
        masks = [
            mask(c[0], c[2]) if c else phone.mask_text(r.callee_number) for r, c in zip(reqs, callees, strict=True)
        ]
        call_ids = new_call_ids(now_us, len(reqs))
        tables: dict[TableKey, VerdictTable] = {}
        checked = self.tables.rules
        picked: list[VerdictTable] = []
        items: list[ScrubItem] = []
        for req, callee, caller, key, call_id, masked in zip(
            reqs, callees, callers, keys, call_ids, masks, strict=True
        ):
            if callee is None:
                table_key: TableKey = (None, req.org_id, req.agent_id, req.category, 0, 0)
            elif checked.active:  # as in a single Check (`single.SingleCheck.check`)
                standing = checked.standing(req.org_id, req.category, callee[0], callee[2], caller.e164, now_us)
                code = callee[2] if standing & QUIET else 0
                table_key = (callee[1], req.org_id, req.agent_id, req.category, standing, code)
            else:
                table_key = (callee[1], req.org_id, req.agent_id, req.category, 0, 0)
            table = tables.get(table_key)
            if table is None:
                table = tables[table_key] = self.tables.table(table_key, now, now_us)
            picked.append(table)
            items.append(
                (
                    caller.e164,
                    req.org_id,
                    req.agent_id,
                    req.campaign_id,
                    req.category,
                    table.code,
                    key,
                    call_id,
                    masked,
                    req.request_id,
                )
            )
        # The deadline bounds the Redis round trip, so it starts once the calls are built: taken before,
        # parsing and masking a huge batch used it up, and Checks failed closed without Redis being asked.
        deadline = self.settings.deadline(len(reqs))
        cases = await self.lane.classify_and_log_many(
            items, now_us, self.settings.default_monitor, deadline, self.org_caps.caps
        )
        verdicts: list[Verdict] = []
        unlogged: list[int] = []
        for i, (case, table, key) in enumerate(zip(cases, picked, keys, strict=True)):
            if case is None:  # its chunk failed: an invalid number stays INVALID_NUMBER, the others fail closed
                verdicts.append(rules.REGISTRY_UNAVAILABLE if key is not None else table.verdicts[0])
                unlogged.append(i)
            else:
                verdicts.append(pick_of(table.verdicts, case))
        if unlogged:
            events = [
                call_event(
                    reqs[i], call_ids[i], now, callers[i].e164, k.hex() if (k := keys[i]) else "", masks[i], verdicts[i]
                )
                for i in unlogged
            ]
            for i, ok in zip(unlogged, await self.lane.store_events(events, deadline), strict=True):
                if not ok:  # no event to point to: no call_id, and nothing known but that Redis failed
                    verdicts[i], call_ids[i] = rules.REGISTRY_UNAVAILABLE, ""
        results = [
            CheckResult(v, call_id, c[0] if c else "", m, r.request_id)
            for r, v, call_id, c, m in zip(reqs, verdicts, call_ids, callees, masks, strict=True)
        ]
        receipts = self.receipts
        if receipts.orgs:  # a batch with no org signed pays one truth test for receipts
            orgs = receipts.orgs
            for i, r in enumerate(reqs):
                if r.org_id in orgs:
                    k = keys[i]
                    results[i] = receipts.stamp(
                        results[i], now_us, k.hex() if k else "", callers[i].e164, r.org_id, r.agent_id
                    )
        return results
