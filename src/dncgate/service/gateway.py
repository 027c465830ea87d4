"""The Check use case: parse, decide every case in the domain, one Redis round trip to classify and log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import redis.exceptions

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Mode
from dncgate.phone_fast import FastE164
from dncgate.store.calls import CallStream, event_context
from dncgate.store.checkscript import CASES, CHUNK, NOT_LOADED, CheckChunk, CheckScript, encode_outcomes, is_noscript
from dncgate.store.hot import HotRegistry, NotLoaded
from dncgate.store.resp import Multiplexer

# Ids are logged with every call and kept for years: bounded, and printable (the single script's field
# separator is a control character).
MAX_ID_LENGTH = 128

_STORE_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError, NotLoaded)


def new_call_id(now: datetime) -> str:
    """A time-ordered unique id: 48 bits of milliseconds then 80 random bits, as 32 hex digits."""
    return new_call_ids(now, 1)[0]


def new_call_ids(now: datetime, n: int) -> list[str]:
    """`n` ids as `new_call_id` makes them, their random parts drawn in one go."""
    head = f"{(epoch_us(now) // 1000) & 0xFFFFFFFFFFFF:012x}"
    random = os.urandom(10 * n).hex()
    return [head + random[i : i + 20] for i in range(0, 20 * n, 20)]


class CheckInput(NamedTuple):
    """One Check as a dialer asked it. A tuple rather than a frozen dataclass: a list scrub builds a
    thousand per batch, and a tuple is built at a third of the cost."""

    caller_number: str
    callee_number: str
    agent_id: str
    org_id: str
    campaign_id: str
    category: Category
    request_id: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    verdict: Verdict
    call_id: str
    callee_e164: str
    callee_masked: str
    request_id: str


class Gateway:
    def __init__(
        self,
        hot: HotRegistry,
        calls: CallStream,
        keyer: phone.NumberKeyer,
        *,
        region: str,
        default_zone: str,
        hours: CallingHours,
        default_mode: Mode,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
        multiplex: bool = True,
    ) -> None:
        self.hot = hot
        # Single Checks share one multiplexed connection (their commands written together, replies read
        # together); batches get a second one, so a live Check never queues behind a scrub's scripts on the
        # same socket. Without a multiplexer (TLS, or multiplex=False) redis-py's pool is used.
        stale_after_s = max(timeout_s * 10, 5.0)
        self.lane = Multiplexer.for_client(hot.client, "dncgate-check", stale_after_s) if multiplex else None
        self.bulk_lane = Multiplexer.for_client(hot.client, "dncgate-batch", stale_after_s) if multiplex else None
        self.script = CheckScript(hot)
        self.calls = calls
        self.keyer = keyer
        self.region = region
        self.default_zones = (phone.zone(default_zone),)
        self.hours = hours
        self.default_mode = default_mode
        self.timeout_s = timeout_s
        self.clock = clock

    def _validate(self, req: CheckInput, prefix: str) -> phone.PhoneNumber:
        for name in ("caller_number", "callee_number", "org_id"):
            if not getattr(req, name).strip():
                raise InvalidArgument(prefix + name, "is required")
        for name in ("org_id", "agent_id", "campaign_id", "request_id"):
            value: str = getattr(req, name)
            if len(value) > MAX_ID_LENGTH:
                raise InvalidArgument(prefix + name, f"is longer than {MAX_ID_LENGTH} characters")
            if not value.isprintable():
                raise InvalidArgument(prefix + name, "must not contain control characters")
        caller = phone.try_parse(req.caller_number, self.region)
        if caller is None:
            raise InvalidArgument(prefix + "caller_number", "is not a valid phone number")
        return caller

    async def check(self, req: CheckInput) -> CheckResult:
        return (await self.check_many([req], batch=False))[0]

    async def _execute(self, commands: Sequence[tuple[Any, ...]], deadline: float) -> list[Any]:
        """Run the commands in one round trip within the deadline.

        A reply is the command's result, or NOT_LOADED when that command failed (so its Check fails
        closed) — one bad command does not sink the rest of a batch. If Redis lost our script (restart,
        SCRIPT FLUSH), it is loaded and the commands run once more.
        """
        for attempt in range(2):
            try:
                # asyncio.timeout_at, unlike wait_for, does not wrap the call in a new task (hot path).
                async with asyncio.timeout_at(deadline):
                    replies = await self._send(commands)
            except _STORE_ERRORS:
                break
            if attempt == 0 and any(is_noscript(r) for r in replies):
                with contextlib.suppress(*_STORE_ERRORS):
                    async with asyncio.timeout_at(deadline):
                        await self.script.load()
                continue
            return [NOT_LOADED if isinstance(r, Exception) else r for r in replies]
        # Nothing is known to be logged, so nothing may be allowed: fail closed.
        return [NOT_LOADED] * len(commands)

    async def aclose(self) -> None:
        for lane in (self.lane, self.bulk_lane):
            if lane is not None:
                await lane.aclose()

    async def _send(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        lane = self.lane if len(commands) == 1 else self.bulk_lane
        if lane is not None:
            return await lane.execute(commands)
        if len(commands) == 1:  # a plain command skips the pipeline's bookkeeping (~20 us a Check)
            try:
                return [await self.hot.client.execute_command(*commands[0])]  # type: ignore[no-untyped-call]
            except redis.exceptions.ResponseError as exc:
                return [exc]
        pipe = self.hot.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    def _validate_all(self, reqs: Sequence[CheckInput], batch: bool) -> list[phone.PhoneNumber]:
        """`_validate` of every request, the fields requests share (caller, org, agent, campaign) checked
        once per distinct value; the first bad request raises exactly what `_validate` raises for it."""
        seen: dict[tuple[str, str, str, str], phone.PhoneNumber] = {}
        callers = []
        for i, req in enumerate(reqs):
            shared = (req.caller_number, req.org_id, req.agent_id, req.campaign_id)
            caller = seen.get(shared)
            rid = req.request_id
            callee = req.callee_number
            if caller is None or not callee or callee.isspace() or len(rid) > MAX_ID_LENGTH or not rid.isprintable():
                caller = seen[shared] = self._validate(req, f"requests[{i}]." if batch else "")
            callers.append(caller)
        return callers

    async def check_many(self, reqs: Sequence[CheckInput], batch: bool = True) -> list[CheckResult]:
        """Answer every request with one Redis round trip: read, classify and log in one script call per
        chunk of callees (a single Check: the single-callee script)."""
        callers = self._validate_all(reqs, batch)
        if not reqs:
            return []
        now = datetime.fromtimestamp(self.clock(), UTC)
        # A batch gets half a millisecond more per number: a 1,000-number scrub must not fail closed
        # just because its one round trip carries a thousand callees.
        deadline = asyncio.get_running_loop().time() + self.timeout_s + 0.0005 * (len(reqs) - 1)
        plan = _Plan(self, reqs, callers, now)
        verdicts, unlogged = plan.read(await self._execute(plan.commands(), deadline))
        if unlogged:
            # Blocked either way; logging these is best effort within what is left of the deadline.
            with contextlib.suppress(*_STORE_ERRORS):
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining > 0:
                    await asyncio.wait_for(self.calls.append(unlogged), remaining)
        return [
            CheckResult(v, call_id, e164, mask, r.request_id)
            for r, v, call_id, e164, mask in zip(reqs, verdicts, plan.call_ids, plan.e164s, plan.masks, strict=True)
        ]


# A valid callee as the gateway needs it: E.164, time zone names, country code.
_Callee = tuple[str, tuple[str, ...], int]
# What the domain's six verdicts for a callee depend on: time zones (None: invalid number), org, agent, category.
_TableKey = tuple[tuple[str, ...] | None, str, str, Category]


@functools.cache
def _callee_parser(region: str) -> Callable[[str], _Callee | None]:
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


def _mask(e164: str, country_code: int) -> str:
    """`phone.mask_e164`, at a third of its cost."""
    start, stars, end = _mask_layout(len(e164), country_code)
    return e164[:start] + stars + e164[end:]


class _Plan:
    """One check_many: each request's callee, key, mask, call id and verdict table; the script calls
    that classify and log them; and the verdicts read back from their replies.

    The domain's six verdicts are computed once per distinct (time zones, org, agent, category) in the
    batch: they depend on nothing else (`now` is one value per batch).
    """

    def __init__(
        self, gateway: Gateway, reqs: Sequence[CheckInput], callers: list[phone.PhoneNumber], now: datetime
    ) -> None:
        self.gateway, self.reqs, self.callers, self.now = gateway, reqs, callers, now
        parse = _callee_parser(gateway.region)
        callees = [parse(r.callee_number) for r in reqs]
        digest = gateway.keyer.digest if len(reqs) == 1 else gateway.keyer.uncached()  # a scrub: each number once
        self.keys = [digest(c[0]) if c else None for c in callees]
        self.e164s = [c[0] if c else "" for c in callees]
        self.masks = [
            _mask(c[0], c[2]) if c else phone.mask_text(r.callee_number) for r, c in zip(reqs, callees, strict=True)
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

    def _verdicts(self, key: _TableKey) -> tuple[Verdict, ...]:
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
