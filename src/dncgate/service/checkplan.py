"""How one `Gateway.check_many` is carried out: parse and key the callees, ask the domain for each
callee's six verdicts, build the script calls that classify and log them, and read the verdicts back.

A batch is one call of the batch script per CHUNK callees, with what requests share (caller, campaign,
verdict table) sent once per group. A single Check takes its own path (service/single.py) with the
single-callee script; both share the callee parser, masks, call ids and verdict tables kept here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Mode
from dncgate.phone_fast import FastE164
from dncgate.store.checkscript import CHUNK, CheckChunk, encode_outcomes

if TYPE_CHECKING:
    from dncgate.service.gateway import CheckInput, Gateway


def new_call_ids(now_us: int, n: int) -> list[str]:
    """`n` ids as `new_call_id` makes them at `now_us` (microseconds since the epoch), their random
    parts drawn in one go."""
    head = f"{(now_us // 1000) & 0xFFFFFFFFFFFF:012x}"
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


class VerdictTable(NamedTuple):
    """The domain's verdicts for the six cases a callee's stored state can be in, and their letters
    for the script (`encode_outcomes`)."""

    verdicts: tuple[Verdict, ...]
    outcomes: bytes


def verdict_table(verdicts: tuple[Verdict, ...]) -> VerdictTable:
    return VerdictTable(verdicts, encode_outcomes(verdicts))


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
        self.tables: dict[_TableKey, VerdictTable] = {}

    def get(self, key: _TableKey, now_us: int, compute: Callable[[_TableKey], VerdictTable]) -> VerdictTable:
        """The table for `key` in the minute of `now_us` (microseconds since the epoch)."""
        minute = now_us // 60_000_000
        if minute != self.minute:
            self.minute, self.tables = minute, {}
        table = self.tables.get(key)
        if table is None:
            table = compute(key)
            opens = {v.next_allowed_time for v in table.verdicts} - {None}
            if len(self.tables) < self.limit and all(t.second == 0 and t.microsecond == 0 for t in opens if t):
                self.tables[key] = table
        return table


def table_for(gateway: Gateway, key: _TableKey, now: datetime, now_us: int) -> VerdictTable:
    """The verdict table of a table key at `now` (`now_us` the same instant): from the minute's tables
    for a callee in one time zone (or none: the default one), else from the domain."""

    def compute(key: _TableKey) -> VerdictTable:
        zones, org_id, agent_id, category = key
        attempt = CallAttempt(
            callee_valid=zones is not None,
            callee_zones=(tuple(phone.zone(z) for z in zones) or gateway.default_zones) if zones is not None else (),
            org_id=org_id,
            agent_id=agent_id,
            category=category,
        )
        return verdict_table(rules.verdicts_by_case(attempt, gateway.hours, now))

    zones = key[0]
    if zones is not None and len(zones) <= 1:
        return gateway.tables.get(key, now_us, compute)
    return compute(key)


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
        self.now_us = now_us = epoch_us(now)
        parse = callee_parser(gateway.region)
        callees = [parse(r.callee_number) for r in reqs]
        digest = gateway.keyer.digest if len(reqs) == 1 else gateway.keyer.uncached()  # a scrub: each number once
        self.keys = [digest(c[0]) if c else None for c in callees]
        self.e164s = [c[0] if c else "" for c in callees]
        self.masks = [
            mask(c[0], c[2]) if c else phone.mask_text(r.callee_number) for r, c in zip(reqs, callees, strict=True)
        ]
        self.call_ids = new_call_ids(now_us, len(reqs))
        self.table_keys: list[_TableKey] = []
        self.tables: dict[_TableKey, VerdictTable] = {}
        for req, callee in zip(reqs, callees, strict=True):
            key = (callee[1] if callee else None, req.org_id, req.agent_id, req.category)
            if key not in self.tables:
                self.tables[key] = table_for(gateway, key, now, now_us)
            self.table_keys.append(key)
        self.chunks: list[CheckChunk] = []

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
        """One script call per CHUNK callees, with a group per distinct caller, campaign and verdict table."""
        gw = self.gateway
        default_monitor = gw.default_mode is Mode.MONITOR
        chunk = gw.script.chunk(self.now_us, default_monitor)
        groups: dict[tuple[str, str, _TableKey], bytes] = {}
        for req, caller, table_key, key, call_id, mask in zip(
            self.reqs, self.callers, self.table_keys, self.keys, self.call_ids, self.masks, strict=True
        ):
            if chunk.size == CHUNK:
                self.chunks.append(chunk)
                chunk, groups = gw.script.chunk(self.now_us, default_monitor), {}
            group_key = (caller.e164, req.campaign_id, table_key)
            group = groups.get(group_key)
            if group is None:
                group = groups[group_key] = chunk.group(
                    caller.e164,
                    req.org_id,
                    req.agent_id,
                    req.campaign_id,
                    req.category,
                    self.tables[table_key].outcomes,
                )
            chunk.add(group, key, call_id, mask, req.request_id)
        self.chunks.append(chunk)
        return [c.command() for c in self.chunks]

    def read(self, replies: list[Any]) -> tuple[list[Verdict], list[int]]:
        """Each request's verdict, and the indices of those no script call logged (its chunk failed):
        their events (`event`) are still to be stored."""
        tables, table_keys = self.tables, self.table_keys
        verdicts: list[Verdict] = []
        unlogged: list[int] = []
        start = 0
        for chunk, reply in zip(self.chunks, replies, strict=True):
            stop = start + chunk.size
            digits = chunk.decode(reply)
            if digits is not None:
                verdicts += [
                    tables[table_keys[i]].verdicts[d - 48] for i, d in zip(range(start, stop), digits, strict=True)
                ]
            else:
                for i in range(start, stop):
                    # An invalid number stays INVALID_NUMBER (its table's every case); the others fail closed.
                    v = rules.REGISTRY_UNAVAILABLE if self.keys[i] is not None else tables[table_keys[i]].verdicts[0]
                    verdicts.append(v)
                    unlogged.append(i)
            start = stop
        return verdicts, unlogged
