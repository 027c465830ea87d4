"""How one `Gateway.check_many` is carried out: parse and key the callees, ask the domain for each
callee's six verdicts, build the script calls that classify and log them, and read the verdicts back.

A single Check is one call of the single-callee script; a batch is one call of the batch script per
CHUNK callees, with what requests share (caller, campaign, verdict table) sent once per group.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Mode
from dncgate.phone_fast import FastE164
from dncgate.store.calls import event_context
from dncgate.store.checkscript import CASES, CHUNK, CheckChunk, encode_outcomes

if TYPE_CHECKING:
    from dncgate.service.gateway import CheckInput, Gateway


def new_call_ids(now: datetime, n: int) -> list[str]:
    """`n` ids as `new_call_id` makes them, their random parts drawn in one go."""
    head = f"{(epoch_us(now) // 1000) & 0xFFFFFFFFFFFF:012x}"
    random = os.urandom(10 * n).hex()
    return [head + random[i : i + 20] for i in range(0, 20 * n, 20)]


# A valid callee as the gateway needs it: E.164, time zone names, country code.
_Callee = tuple[str, tuple[str, ...], int]
# What the domain's six verdicts for a callee depend on: time zones (None: invalid number), org, agent, category.
_TableKey = tuple[tuple[str, ...] | None, str, str, Category]


@functools.cache
def callee_parser(region: str) -> Callable[[str], _Callee | None]:
    """`phone.try_parse` for callees, with the fast path for plain numbers where it knows the time zones.

    A scrub sees each number once, so the parse cache does not help it, and phonenumbers costs ~45 us
    a number; `FastE164` answers the usual spellings in ~1 us with the same E.164 and time zones.
    """

    def slow(text: str) -> _Callee | None:
        number = phone.try_parse(text, region)
        return None if number is None else (number.e164, number.zone_names, number.country_code)

    fast = FastE164(region)
    if fast.zones is None:
        return slow
    zones = tuple(z for z in fast.zones if z != "Etc/Unknown")  # as phone.try_parse filters them
    country_code, e164 = fast.country_code, fast.e164

    def parse(text: str) -> _Callee | None:
        number = e164(text)
        return slow(text) if number is None else (number, zones, country_code)

    return parse


@functools.lru_cache(maxsize=256)
def _mask_layout(length: int, country_code: int) -> tuple[int, str, int]:
    """Where `phone.mask_e164` puts its stars in an E.164 of this length: (start, stars, end).

    It looks at the lengths of the number and its country code only, so one probe tells.
    """
    masked = phone.mask_e164("+" + "0" * (length - 1), country_code)
    hidden = masked.count("*")
    start = masked.find("*") if hidden else length
    return start, "*" * hidden, start + hidden


def mask(e164: str, country_code: int) -> str:
    """`phone.mask_e164`, at a third of its cost."""
    start, stars, end = _mask_layout(len(e164), country_code)
    return e164[:start] + stars + e164[end:]


class MinuteTables:
    """Verdict tables of callees in one time zone, kept for the current minute.

    For such a callee, `verdicts_by_case` depends on `now` only through its minute: calling hours are
    whole minutes, every time zone's offset today is whole minutes, and the next opening it reports is
    the start of a window. Checks in the same minute with the same table key share one table instead
    of asking the domain again (tests/unit/test_gateway_parts.py holds the two equal). Tables whose
    next opening is not on a minute (a zone whose window never opens within the horizon) are not kept.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.minute = -1
        self.tables: dict[_TableKey, tuple[Verdict, ...]] = {}

    def get(
        self, key: _TableKey, now: datetime, compute: Callable[[_TableKey], tuple[Verdict, ...]]
    ) -> tuple[Verdict, ...]:
        minute = epoch_us(now) // 60_000_000
        if minute != self.minute:
            self.minute, self.tables = minute, {}
        table = self.tables.get(key)
        if table is None:
            table = compute(key)
            opens = {v.next_allowed_time for v in table} - {None}
            if len(self.tables) < self.limit and all(t.second == 0 and t.microsecond == 0 for t in opens if t):
                self.tables[key] = table
        return table


class CheckPlan:
    """One check_many: each request's callee, key, mask, call id and verdict table; the script calls
    that classify and log them; and the verdicts read back from their replies.

    The domain's six verdicts are computed once per distinct (time zones, org, agent, category) in the
    batch: they depend on nothing else (`now` is one value per batch).
    """

    def __init__(
        self, gateway: Gateway, reqs: Sequence[CheckInput], callers: list[phone.PhoneNumber], now: datetime
    ) -> None:
        self.gateway, self.reqs, self.callers, self.now = gateway, reqs, callers, now
        parse = callee_parser(gateway.region)
        callees = [parse(r.callee_number) for r in reqs]
        digest = gateway.keyer.digest if len(reqs) == 1 else gateway.keyer.uncached()  # a scrub: each number once
        self.keys = [digest(c[0]) if c else None for c in callees]
        self.e164s = [c[0] if c else "" for c in callees]
        self.masks = [
            mask(c[0], c[2]) if c else phone.mask_text(r.callee_number) for r, c in zip(reqs, callees, strict=True)
        ]
        self.call_ids = new_call_ids(now, len(reqs))
        self.table_keys: list[_TableKey] = []
        self.tables: dict[_TableKey, tuple[Verdict, ...]] = {}
        for req, callee in zip(reqs, callees, strict=True):
            key = (callee[1] if callee else None, req.org_id, req.agent_id, req.category)
            if key not in self.tables:
                self.tables[key] = self._verdicts(key)
            self.table_keys.append(key)
        self.chunks: list[CheckChunk] = []

    @property
    def bulk(self) -> bool:
        """Whether the commands are batch-script calls (after `commands()`): they go on the bulk lane."""
        return bool(self.chunks)

    def _verdicts(self, key: _TableKey) -> tuple[Verdict, ...]:
        zones = key[0]
        if zones is not None and len(zones) <= 1:  # one time zone (none: the default one)
            return self.gateway.tables.get(key, self.now, self._compute)
        return self._compute(key)

    def _compute(self, key: _TableKey) -> tuple[Verdict, ...]:
        zones, org_id, agent_id, category = key
        gw = self.gateway
        attempt = CallAttempt(
            callee_valid=zones is not None,
            callee_zones=(tuple(phone.zone(z) for z in zones) or gw.default_zones) if zones is not None else (),
            org_id=org_id,
            agent_id=agent_id,
            category=category,
        )
        return rules.verdicts_by_case(attempt, gw.hours, self.now)

    def event(self, i: int, v: Verdict) -> CallEvent:
        req, key = self.reqs[i], self.keys[i]
        return CallEvent(
            call_id=self.call_ids[i],
            at=self.now,
            caller_e164=self.callers[i].e164,
            callee_key=key.hex() if key else "",
            callee_masked=self.masks[i],
            agent_id=req.agent_id,
            org_id=req.org_id,
            campaign_id=req.campaign_id,
            category=req.category,
            decision=v.decision,
            reason=v.reason,
            violation=v.violation,
            request_id=req.request_id,
        )

    def commands(self) -> list[tuple[Any, ...]]:
        """A lone valid callee: the single-callee script. Else one script call per CHUNK callees, with a
        group per distinct caller, campaign and verdict table."""
        gw = self.gateway
        now_us = epoch_us(self.now)
        default_monitor = gw.default_mode is Mode.MONITOR
        if len(self.reqs) == 1 and self.keys[0] is not None:
            req, key, table = self.reqs[0], self.keys[0], self.tables[self.table_keys[0]]
            context = event_context(self.event(0, table[0]))
            return [
                gw.script.command(key, req.org_id, req.agent_id, req.category, now_us, default_monitor, table, context)
            ]
        outcomes = {k: encode_outcomes(t) for k, t in self.tables.items()}
        chunk = gw.script.chunk(now_us, default_monitor)
        groups: dict[tuple[str, str, _TableKey], bytes] = {}
        for req, caller, table_key, key, call_id, mask in zip(
            self.reqs, self.callers, self.table_keys, self.keys, self.call_ids, self.masks, strict=True
        ):
            if chunk.size == CHUNK:
                self.chunks.append(chunk)
                chunk, groups = gw.script.chunk(now_us, default_monitor), {}
            group_key = (caller.e164, req.campaign_id, table_key)
            group = groups.get(group_key)
            if group is None:
                group = groups[group_key] = chunk.group(
                    caller.e164, req.org_id, req.agent_id, req.campaign_id, req.category, outcomes[table_key]
                )
            chunk.add(group, key, call_id, mask, req.request_id)
        self.chunks.append(chunk)
        return [c.command() for c in self.chunks]

    def read(self, replies: list[Any]) -> tuple[list[Verdict], list[CallEvent]]:
        """Each request's verdict, and the events of those no script call logged (its chunk failed)."""
        tables, table_keys = self.tables, self.table_keys
        if not self.chunks:  # the single-callee script: its case index, or -1 / NOT_LOADED
            [reply] = replies
            if isinstance(reply, int) and 0 <= reply < CASES:
                return [tables[table_keys[0]][reply]], []
            return [rules.REGISTRY_UNAVAILABLE], [self.event(0, rules.REGISTRY_UNAVAILABLE)]
        verdicts: list[Verdict] = []
        unlogged: list[CallEvent] = []
        start = 0
        for chunk, reply in zip(self.chunks, replies, strict=True):
            stop = start + chunk.size
            digits = chunk.decode(reply)
            if digits is not None:
                verdicts += [tables[table_keys[i]][d - 48] for i, d in zip(range(start, stop), digits, strict=True)]
            else:
                for i in range(start, stop):
                    # An invalid number stays INVALID_NUMBER (its table's every case); the others fail closed.
                    v = rules.REGISTRY_UNAVAILABLE if self.keys[i] is not None else tables[table_keys[i]][0]
                    verdicts.append(v)
                    unlogged.append(self.event(i, v))
            start = stop
        return verdicts, unlogged
