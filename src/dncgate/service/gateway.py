"""The Check use case: parse, decide every case in the domain, one Redis round trip to classify and log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import redis.exceptions

from dncgate import phone
from dncgate.domain.decision import Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.types import Category, Mode
from dncgate.service.checkplan import CheckPlan, MinuteTables, new_call_ids
from dncgate.store.calls import CallStream
from dncgate.store.checkscript import NOT_LOADED, CheckScript, is_noscript
from dncgate.store.hot import HotRegistry, NotLoaded
from dncgate.store.resp import Multiplexer

# Ids are logged with every call and kept for years: bounded, and printable (the single script's field
# separator is a control character).
MAX_ID_LENGTH = 128

_STORE_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError, NotLoaded)


def new_call_id(now: datetime) -> str:
    """A time-ordered unique id: 48 bits of milliseconds then 80 random bits, as 32 hex digits."""
    return new_call_ids(now, 1)[0]


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
        self.tables = MinuteTables()  # the domain's verdicts per callee group, for the current minute

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

    async def _execute(self, commands: Sequence[tuple[Any, ...]], deadline: float, bulk: bool = False) -> list[Any]:
        """Run the commands in one round trip within the deadline.

        A reply is the command's result, or NOT_LOADED when that command failed (so its Check fails
        closed) — one bad command does not sink the rest of a batch. If Redis lost our script (restart,
        SCRIPT FLUSH), it is loaded and the commands run once more.
        """
        for attempt in range(2):
            try:
                # asyncio.timeout_at, unlike wait_for, does not wrap the call in a new task (hot path).
                async with asyncio.timeout_at(deadline):
                    replies = await self._send(commands, bulk)
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

    async def _send(self, commands: Sequence[tuple[Any, ...]], bulk: bool) -> list[Any]:
        lane = self.bulk_lane if bulk else self.lane
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
        plan = CheckPlan(self, reqs, callers, now)
        commands = plan.commands()
        verdicts, unlogged = plan.read(await self._execute(commands, deadline, bulk=plan.bulk))
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
