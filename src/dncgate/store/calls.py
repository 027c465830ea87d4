"""The call-event streams in Redis: every Check appends one entry, to its callee's shard's stream
(`dnc:calls:{s}`, store/hot.py), before it is answered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from dncgate.domain.calls import CallEvent
from dncgate.domain.registry import EPOCH, epoch_us
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.hot import Layout

# Between the fields and values of an event's context as the single-callee script receives it (ids and
# masks never contain it: the gateway refuses control characters in ids).
SEPARATOR = b"\x1f"


def route_parts(
    caller_e164: str, agent_id: str, org_id: str, campaign_id: str, category: Category
) -> tuple[bytes, bytes]:
    """What `single_context` takes from the fields a dialer's Checks repeat: the caller's pair, and the
    agent, org, campaign and category pairs, each already joined."""
    caller = b"caller" + SEPARATOR + caller_e164.encode()
    tail = SEPARATOR.join(
        [
            b"agent",
            agent_id.encode(),
            b"org",
            org_id.encode(),
            b"campaign",
            campaign_id.encode(),
            b"cat",
            b"%d" % category,
        ]
    )
    return caller, tail


def single_context(
    call_id: bytes, at_us: int, caller: bytes, callee_key: bytes, callee_masked: bytes, tail: bytes, request_id: bytes
) -> bytes:
    """`event_context` joined by SEPARATOR, built from `route_parts` and the Check's own fields in one go."""
    return b"id\x1f%s\x1fus\x1f%d\x1f%s\x1fcallee\x1f%s\x1fmask\x1f%s\x1f%s\x1frid\x1f%s" % (
        call_id,
        at_us,
        caller,
        callee_key,
        callee_masked,
        tail,
        request_id,
    )


def event_context(e: CallEvent) -> list[bytes]:
    """The event's field/value pairs other than its verdict (dec, rsn, vio), flattened: the one format
    of `single_context`, split (ids, numbers and masks never hold SEPARATOR)."""
    caller, tail = route_parts(e.caller_e164, e.agent_id, e.org_id, e.campaign_id, e.category)
    rid = e.request_id.encode()
    key, masked = e.callee_key.encode(), e.callee_masked.encode()
    return single_context(e.call_id.encode(), epoch_us(e.at), caller, key, masked, tail, rid).split(SEPARATOR)


def encode_event(e: CallEvent) -> dict[bytes, bytes]:
    ctx = event_context(e)
    fields = dict(zip(ctx[::2], ctx[1::2], strict=True))
    fields[b"dec"] = e.decision.value.encode()
    fields[b"rsn"] = e.reason.value.encode()
    fields[b"vio"] = b"1" if e.violation else b"0"
    return fields


# Each enum field as encode_event spells it: a dict lookup instead of an Enum call (a third of what
# decoding cost). Any other spelling still goes through the Enum, which accepts or refuses it as before.
_CATEGORIES = {b"%d" % c: c for c in Category}
_DECISIONS = {d.value.encode(): d for d in Decision}
_REASONS = {r.value.encode(): r for r in Reason}


def decode_time(us: bytes) -> datetime:
    """The call time of an event's `us` field; ValueError (not OverflowError) for one no datetime can hold."""
    try:
        return EPOCH + timedelta(microseconds=int(us))
    except OverflowError as exc:
        raise ValueError(f"call time out of range: {us[:40]!r}") from exc


def decode_event(fields: Mapping[bytes, bytes]) -> CallEvent:
    """The event of a stream entry; KeyError or ValueError if it has no such event."""
    return CallEvent(
        call_id=fields[b"id"].decode(),
        at=decode_time(fields[b"us"]),
        caller_e164=fields[b"caller"].decode(),
        callee_key=fields[b"callee"].decode(),
        callee_masked=fields[b"mask"].decode(),
        agent_id=fields[b"agent"].decode(),
        org_id=fields[b"org"].decode(),
        campaign_id=fields[b"campaign"].decode(),
        category=c if (c := _CATEGORIES.get(raw := fields[b"cat"])) is not None else Category(int(raw)),
        decision=d if (d := _DECISIONS.get(raw := fields[b"dec"])) is not None else Decision(raw.decode()),
        reason=r if (r := _REASONS.get(raw := fields[b"rsn"])) is not None else Reason(raw.decode()),
        violation=fields[b"vio"] == b"1",
        request_id=fields[b"rid"].decode(),
    )


class CallStream:
    """Appends call events to their callees' shard streams (`hot.calls_key`); an event without a
    callee key (an invalid number) goes to shard 0's."""

    def __init__(self, client: aioredis.Redis, layout: Layout) -> None:
        self.client = client
        self.layout = layout

    def stream_of(self, e: CallEvent) -> bytes:
        return self.layout.streams[self.layout.shard_of_hex(e.callee_key) if e.callee_key else 0]

    async def append(self, events: Sequence[CallEvent]) -> list[bytes]:
        """Append in one round trip; returns the stream ids, in order."""
        pipe = self.client.pipeline(transaction=False)
        for e in events:
            pipe.xadd(self.stream_of(e), encode_event(e))  # type: ignore[arg-type]
        ids: list[bytes] = await pipe.execute()
        return ids

    async def store(self, events: Sequence[CallEvent]) -> list[bool]:
        """Append in one round trip; for each event, whether Redis acknowledged it (an XADD can fail
        alone, out of memory for one; a lost connection fails them all by raising)."""
        pipe = self.client.pipeline(transaction=False)
        for e in events:
            pipe.xadd(self.stream_of(e), encode_event(e))  # type: ignore[arg-type]
        replies: list[object] = await pipe.execute(raise_on_error=False)
        return [isinstance(r, bytes) for r in replies]
