"""A Check as the gateway takes and answers it, what makes a request acceptable, what the use case is
configured with, and the ports it needs: `CheckLane` (the store side of Redis) and `Keyer`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from dncgate import phone
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.types import Category, Mode

# Ids are logged with every call and kept for years: bounded, and printable (the single script's field
# separator is a control character).
MAX_ID_LENGTH = 128
# A phone number in any format a person types (spaces, dashes, +86, 0086, an extension) fits in 64.
MAX_NUMBER_LENGTH = 64


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


class CheckResult(NamedTuple):
    """How a Check was answered (a tuple for the same reason as CheckInput: one per Check)."""

    verdict: Verdict
    call_id: str
    callee_e164: str
    callee_masked: str
    request_id: str
    receipt: tuple[bytes, bytes] | None = None  # (payload, signature) for an org with signed receipts


def validate(req: CheckInput, prefix: str, region: str) -> phone.PhoneNumber:
    """The request's caller number, or InvalidArgument naming the first bad field (after `prefix`).

    The callee is not judged here: an unusable callee is an answer (INVALID_NUMBER), not an error.
    """
    for name in ("caller_number", "callee_number", "org_id"):
        if not getattr(req, name).strip():
            raise InvalidArgument(prefix + name, "is required")
    for name in ("org_id", "agent_id", "campaign_id", "request_id"):
        value: str = getattr(req, name)
        if len(value) > MAX_ID_LENGTH:
            raise InvalidArgument(prefix + name, f"is longer than {MAX_ID_LENGTH} characters")
        if not value.isprintable():
            raise InvalidArgument(prefix + name, "must not contain control characters")
    caller = phone.try_parse(req.caller_number, region)
    if caller is None:
        raise InvalidArgument(prefix + "caller_number", "is not a valid phone number")
    return caller


def own_fields_valid(req: CheckInput) -> bool:
    """Whether what `validate` asks of the fields a Check does not share with others holds: a callee
    given, a request id short and printable. Shared fields are validated once per distinct value."""
    callee, rid = req.callee_number, req.request_id
    return bool(callee) and not callee.isspace() and len(rid) <= MAX_ID_LENGTH and rid.isprintable()


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """What the Check use case is configured with, read once from `config.Settings`."""

    region: str  # for numbers written without a country code
    default_zones: tuple[ZoneInfo, ...]  # for callees whose time zone phonenumbers can't tell
    hours: CallingHours
    default_mode: Mode  # for orgs without a policy
    timeout_s: float  # the Redis round trip of one Check; a batch gets more (`deadline`)
    default_monitor: bool = field(init=False)  # default_mode is MONITOR (read by every Check)

    def __post_init__(self) -> None:
        object.__setattr__(self, "default_monitor", self.default_mode is Mode.MONITOR)

    def deadline(self, n: int) -> float:
        """The event-loop time by which `n` Checks' Redis round trip must be done, or they fail closed.

        A batch gets half a millisecond more per number: a 1,000-number scrub must not fail closed just
        because its one round trip carries a thousand callees.
        """
        return asyncio.get_running_loop().time() + self.timeout_s + 0.0005 * (n - 1)


def new_call_id(now_us: int) -> str:
    """A time-ordered unique id: 48 bits of milliseconds since the epoch, then 80 random bits, as 32 hex
    digits. `new_call_ids` is the same format drawn for a whole batch at once."""
    return f"{(now_us // 1000) & 0xFFFFFFFFFFFF:012x}{os.urandom(10).hex()}"


def new_call_ids(now_us: int, n: int) -> list[str]:
    """`n` ids as `new_call_id` makes them at `now_us`, their random parts drawn in one go."""
    head = f"{(now_us // 1000) & 0xFFFFFFFFFFFF:012x}"
    random = os.urandom(10 * n).hex()
    return [head + random[i : i + 20] for i in range(0, 20 * n, 20)]


def call_event(
    req: CheckInput, call_id: str, at: datetime, caller_e164: str, key_hex: str, masked: str, v: Verdict
) -> CallEvent:
    """The event of a Check answered `v`, as it is stored when no script logged it."""
    return CallEvent(
        call_id=call_id,
        at=at,
        caller_e164=caller_e164,
        callee_key=key_hex,
        callee_masked=masked,
        agent_id=req.agent_id,
        org_id=req.org_id,
        campaign_id=req.campaign_id,
        category=req.category,
        decision=v.decision,
        reason=v.reason,
        violation=v.violation,
        request_id=req.request_id,
    )


class Keyer(Protocol):
    """The keyed hash of consumer numbers (`phone.NumberKeyer`)."""

    def digest(self, e164: str) -> bytes: ...

    def uncached(self) -> Callable[[str], bytes]: ...


# One callee of a scrub for `CheckLane.classify_and_log_many`: caller E.164, org, agent, campaign,
# category, verdict code (`CheckLane.encode`), key (None: an invalid number), call id, mask, request id.
ScrubItem = tuple[str, str, str, str, Category, bytes, bytes | None, str, str, str]


class CheckLane(Protocol):
    """Classify-and-log in the registry's Redis, one round trip per Check or scrub (`store.checklane`).

    A case is the registry state a callee was sorted into (`domain.decision.CASES`); None means nothing
    is known to be logged (Redis failed, timed out, or holds no loaded registry): fail closed.
    """

    def route(self, caller_e164: str, agent_id: str, org_id: str, campaign_id: str, category: Category) -> Any:
        """The wire form of what a dialer's Checks repeat, built once per route."""

    def encode(self, verdicts: Sequence[Verdict]) -> bytes:
        """The sixteen verdicts as the scripts take them, built once per verdict table."""

    def hold(self) -> None: ...

    def release(self) -> None: ...

    @property
    def held(self) -> bool: ...

    async def classify_and_log(
        self,
        route: Any,
        key: bytes,
        key_hex: str,
        now_us: int,
        default_monitor: bool,
        code: bytes,
        call_id: str,
        mask: str,
        request_id: str,
        deadline: float,
        org_cap: int = 0,
    ) -> int | None:
        """The callee's pick (its case index + the number of cases * the millisecond a slot frees up
        under the frequency caps, `org_cap` the org's own daily cap: 0 none); an ALLOW is counted."""

    async def classify_and_log_many(
        self,
        items: Sequence[ScrubItem],
        now_us: int,
        default_monitor: bool,
        deadline: float,
        org_caps: Mapping[str, int] = ...,
    ) -> list[int | None]:
        """Each callee's pick, as `classify_and_log` answers it, with the caps read only (`org_caps`:
        the orgs' own daily caps, by org)."""

    async def store_events(self, events: Sequence[CallEvent], deadline: float) -> list[bool]: ...

    async def aclose(self) -> None: ...
