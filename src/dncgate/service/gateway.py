"""The Check use case: parse, decide every case in the domain, one Redis round trip to classify and log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.exceptions

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Mode
from dncgate.service.checkplan import CheckPlan, MinuteTables, new_call_ids
from dncgate.service.checks import MAX_ID_LENGTH, CheckInput, CheckResult, own_fields_valid, validate
from dncgate.service.single import SingleCheck
from dncgate.store.calls import CallStream
from dncgate.store.checkscript import NOT_LOADED, CheckScript, is_noscript
from dncgate.store.hot import HotRegistry, NotLoaded
from dncgate.store.resp import Multiplexer

__all__ = ["MAX_ID_LENGTH", "CheckInput", "CheckResult", "Gateway", "new_call_id"]

_STORE_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError, NotLoaded)


def new_call_id(now: datetime) -> str:
    """A time-ordered unique id: 48 bits of milliseconds then 80 random bits, as 32 hex digits."""
    return new_call_ids(epoch_us(now), 1)[0]


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
        self.single = SingleCheck(self)

    def hold(self) -> None:
        """Fail every Check closed (BLOCK / REGISTRY_UNAVAILABLE, event logged) until `release`: while
        Redis may lack journal entries (at start-up, after Redis restarted) nothing may be allowed."""
        self.script.hold()

    def release(self) -> None:
        self.script.release()

    @property
    def held(self) -> bool:
        return self.script.held

    def _validate(self, req: CheckInput, prefix: str) -> phone.PhoneNumber:
        return validate(req, prefix, self.region)

    async def check(self, req: CheckInput) -> CheckResult:
        """One Check (service/single.py): the same answer and event as in a batch, at less cost."""
        return await self.single.check(req)

    def deadline(self, n: int) -> float:
        """The event-loop time by which `n` Checks' Redis round trip must be done, or they fail closed.

        A batch gets half a millisecond more per number: a 1,000-number scrub must not fail closed just
        because its one round trip carries a thousand callees.
        """
        return asyncio.get_running_loop().time() + self.timeout_s + 0.0005 * (n - 1)

    async def execute(self, commands: Sequence[tuple[Any, ...]], deadline: float, bulk: bool = False) -> list[Any]:
        """Run the commands in one round trip within the deadline.

        A reply is the command's result, or NOT_LOADED when that command failed (so its Check fails
        closed) — one bad command does not sink the rest of a batch. If Redis lost our script (restart,
        SCRIPT FLUSH), it is loaded and the commands run once more.
        """
        for attempt in range(2):
            try:
                replies = await self._send(commands, deadline, bulk)
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

    async def log_unlogged(self, events: Sequence[CallEvent], deadline: float) -> list[bool]:
        """Append the events of Checks no script call logged, within what is left of the deadline; for
        each, whether it is known stored.

        A Check answers with its call_id only if its event is stored: one whose append failed (or had
        no time left) is answered BLOCK / REGISTRY_UNAVAILABLE with an empty call_id (`unlogged`).
        """
        with contextlib.suppress(*_STORE_ERRORS):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining > 0:
                return await asyncio.wait_for(self.calls.store(events), remaining)
        return [False] * len(events)

    async def aclose(self) -> None:
        for lane in (self.lane, self.bulk_lane):
            if lane is not None:
                await lane.aclose()

    async def _send(self, commands: Sequence[tuple[Any, ...]], deadline: float, bulk: bool) -> list[Any]:
        lane = self.bulk_lane if bulk else self.lane
        if lane is not None:
            return await lane.execute(commands, deadline)  # enforces the deadline itself, without a timer per call
        async with asyncio.timeout_at(deadline):
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
            if caller is None or not own_fields_valid(req):
                caller = seen[shared] = self._validate(req, f"requests[{i}]." if batch else "")
            callers.append(caller)
        return callers

    async def check_many(self, reqs: Sequence[CheckInput], batch: bool = True) -> list[CheckResult]:
        """Answer every request with one Redis round trip: read, classify and log in one script call per
        chunk of callees, on the batch lane (service/checkplan.py)."""
        callers = self._validate_all(reqs, batch)
        if not reqs:
            return []
        now = datetime.fromtimestamp(self.clock(), UTC)
        plan = CheckPlan(self, reqs, callers, now)
        commands = plan.commands()
        # The deadline bounds the Redis round trip, so it starts once the commands are built: taken
        # before, parsing and masking a huge callee (10 MB: half a second) used it all up, and the
        # Check failed closed without Redis ever being asked.
        deadline = self.deadline(len(reqs))
        verdicts, unlogged = plan.read(await self.execute(commands, deadline, bulk=True))
        call_ids = plan.call_ids
        if unlogged:
            stored = await self.log_unlogged([plan.event(i, verdicts[i]) for i in unlogged], deadline)
            for i, ok in zip(unlogged, stored, strict=True):
                if not ok:  # no event to point to: no call_id, and nothing known but that Redis failed
                    verdicts[i], call_ids[i] = rules.REGISTRY_UNAVAILABLE, ""
        return [
            CheckResult(v, call_id, e164, mask, r.request_id)
            for r, v, call_id, e164, mask in zip(reqs, verdicts, call_ids, plan.e164s, plan.masks, strict=True)
        ]
