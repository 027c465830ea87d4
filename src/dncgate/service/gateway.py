"""The Check use case: parse, read Redis once, decide, append the call event, answer."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.exceptions

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Mode
from dncgate.store.calls import CallStream
from dncgate.store.hot import HotRegistry, NotLoaded, Snapshot

_STORE_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError, NotLoaded)


def new_call_id(now: datetime) -> str:
    """A time-ordered unique id: 48 bits of milliseconds then 80 random bits, as 32 hex digits."""
    ms = epoch_us(now) // 1000
    return f"{ms & 0xFFFFFFFFFFFF:012x}{os.urandom(10).hex()}"


@dataclass(frozen=True, slots=True)
class CheckInput:
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
    ) -> None:
        self.hot = hot
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
        caller = phone.try_parse(req.caller_number, self.region)
        if caller is None:
            raise InvalidArgument(prefix + "caller_number", "is not a valid phone number")
        return caller

    async def check(self, req: CheckInput) -> CheckResult:
        return (await self.check_many([req], batch=False))[0]

    async def check_many(self, reqs: Sequence[CheckInput], batch: bool = True) -> list[CheckResult]:
        """Answer every request with one Redis round trip for the reads and one for the events."""
        callers = [self._validate(r, f"requests[{i}]." if batch else "") for i, r in enumerate(reqs)]
        now = datetime.fromtimestamp(self.clock(), UTC)
        callees = [phone.try_parse(r.callee_number, self.region) for r in reqs]
        keys = [self.keyer.digest(c.e164) if c else b"" for c in callees]

        # One deadline for the whole Check: reads and the event append share it.
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        snapshots: list[Snapshot | None] = [None] * len(reqs)
        available = True
        lookups = [i for i, c in enumerate(callees) if c is not None]
        if lookups:
            try:
                pipe = self.hot.client.pipeline(transaction=False)
                for i in lookups:
                    self.hot.lookup_commands(pipe, keys[i], reqs[i].org_id, reqs[i].agent_id)
                replies = await asyncio.wait_for(pipe.execute(), self.timeout_s)
                for n, i in enumerate(lookups):
                    snapshots[i] = self.hot.parse_lookup(replies[4 * n : 4 * n + 4], reqs[i].org_id, reqs[i].agent_id)
            except _STORE_ERRORS:
                available = False

        verdicts: list[Verdict] = []
        for req, callee, snap in zip(reqs, callees, snapshots, strict=True):
            if callee is None:
                verdicts.append(rules.INVALID_NUMBER)
            elif not available or snap is None:
                verdicts.append(rules.REGISTRY_UNAVAILABLE)
            else:
                attempt = CallAttempt(
                    callee_valid=True,
                    callee_zones=tuple(phone.zone(z) for z in callee.zone_names) or self.default_zones,
                    org_id=req.org_id,
                    agent_id=req.agent_id,
                    category=req.category,
                )
                mask = snap.schedule.mask_at(now)
                mode = snap.mode or self.default_mode
                verdicts.append(rules.decide(attempt, mask, snap.consents, mode, self.hours, now))

        events = [
            CallEvent(
                call_id=new_call_id(now),
                at=now,
                caller_e164=caller.e164,
                callee_key=key.hex(),
                callee_masked=callee.masked if callee else phone.mask_text(req.callee_number),
                agent_id=req.agent_id,
                org_id=req.org_id,
                campaign_id=req.campaign_id,
                category=req.category,
                decision=v.decision,
                reason=v.reason,
                violation=v.violation,
                request_id=req.request_id,
            )
            for req, caller, callee, key, v in zip(reqs, callers, callees, keys, verdicts, strict=True)
        ]
        try:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(self.calls.append(events), remaining)
        except _STORE_ERRORS:
            # An allowed call that is not on record could never be verified: fail closed.
            verdicts = [rules.REGISTRY_UNAVAILABLE if v.allowed else v for v in verdicts]
        return [
            CheckResult(v, e.call_id, c.e164 if c else "", e.callee_masked, r.request_id)
            for r, c, v, e in zip(reqs, callees, verdicts, events, strict=True)
        ]
