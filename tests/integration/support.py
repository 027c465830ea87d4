"""Shared helpers for the integration tests: numbers, request builders, a fake clock, Redis dumps, probes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis.asyncio as aioredis

from dncgate import phone
from dncgate.domain.calls import CallEvent
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Mode, Source
from dncgate.service.checks import new_call_id as _new_call_id
from dncgate.service.gateway import CheckInput
from dncgate.store.calls import decode_event
from dncgate.store.hot import DEFAULT_SHARDS, LEGACY_CALLS, Layout

# Consumers (never to be found in clear in any store) and a company line (may be stored in clear).
CONSUMER = "13800138000"
CONSUMER_E164 = "+8613800138000"
OTHER_CONSUMER = "13912345678"
CALLER = "+862161234567"


class FakeClock:
    """A settable clock returning epoch seconds, for `app.gateway.clock` / `app.registry.clock`."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def check_input(
    callee: str,
    *,
    caller: str = CALLER,
    org: str = "acme",
    agent: str = "agent-1",
    category: Category = Category.UNSPECIFIED,
    campaign: str = "spring",
    request_id: str = "",
) -> CheckInput:
    return CheckInput(caller, callee, agent, org, campaign, category, request_id)


def key_of(app: Any, number: str) -> bytes:
    """The storage key (HMAC digest) the services use for a consumer number."""
    digest: bytes = app.registry.keyer.digest(phone.parse(number).e164)
    return digest


async def registry_hashes(client: aioredis.Redis) -> dict[bytes, dict[bytes, bytes]]:
    """HGETALL of every registry hash (dncr*, dncc*)."""
    out: dict[bytes, dict[bytes, bytes]] = {}
    for pattern in (b"dncr*", b"dncc*"):
        async for k in client.scan_iter(match=pattern, count=1000):
            out[k] = await client.hgetall(k)
    return out


async def advisory_lock_waiters(database_url: str) -> int:
    """How many sessions of this database are waiting for an advisory lock (pg_locks, not granted)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


async def redis_is_stalled(redis_url: str, within_s: float = 0.2) -> bool:
    """True when Redis does not answer a PING within `within_s` (a DEBUG SLEEP has begun)."""
    probe = aioredis.Redis.from_url(redis_url)
    try:
        await asyncio.wait_for(probe.ping(), within_s)
        return False
    except TimeoutError:
        return True
    finally:
        await probe.aclose()


def new_call_id(at: datetime) -> str:
    """A call id as the gateway makes it at `at`."""
    return _new_call_id(epoch_us(at))


ALL_STREAMS = (*Layout(shards=DEFAULT_SHARDS).streams, LEGACY_CALLS)


async def stream_entries(
    client: aioredis.Redis, count: int = 10_000, streams: tuple[bytes, ...] = ALL_STREAMS
) -> list[tuple[bytes, bytes, dict[bytes, bytes]]]:
    """(stream, id, fields) of every entry still in the call streams (every shard's, and the old single
    one), by call time (the streams' ids do not order entries across streams)."""
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.xrange(stream, count=count)
    out = [
        (stream, entry_id, fields)
        for stream, entries in zip(streams, await pipe.execute(), strict=True)
        for entry_id, fields in entries
    ]
    out.sort(key=lambda e: (int(e[2].get(b"us", b"0") or 0) if e[2].get(b"us", b"").isdigit() else 0, e[1]))
    return out


async def stream_length(client: aioredis.Redis, streams: tuple[bytes, ...] = ALL_STREAMS) -> int:
    """Entries in all call streams."""
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.xlen(stream)
    return sum(await pipe.execute())


async def clear_streams(client: aioredis.Redis) -> None:
    await client.delete(*ALL_STREAMS)


async def stream_events(client: aioredis.Redis, count: int = 10_000) -> list[CallEvent]:
    """Every call event still in the streams, by call time."""
    return [decode_event(fields) for _, _, fields in await stream_entries(client, count)]


def set_mode(app: Any, org_id: str, mode: Mode | None) -> None:
    """The org's mode in the gateway's in-process copy of the policies (None: the default mode), as a
    SetOrgPolicy or the journal watch puts it there."""
    monitors = {o: m for o, m in app.gateway.org_caps.monitors.items() if o != org_id}
    if mode is not None:
        monitors[org_id] = mode is Mode.MONITOR
    app.gateway.org_caps.monitors = monitors


VARIED_NUMBERS = [f"139{i:08d}" for i in range(120)]


async def varied_registry(app: Any) -> None:
    """`VARIED_NUMBERS` in every state Redis can hold: all or some categories, cleared, scheduled, org and
    agent consents (some with expiry, some revoked), and org `acme` in monitor mode."""
    reg = app.registry
    now = datetime.now(UTC)
    for i, number in enumerate(VARIED_NUMBERS):
        categories = [] if i % 3 else [Category.FINANCE, Category.HEALTH]
        await reg.set_preference(number, True, categories, Source.APP, None, None, actor="test")
        if i % 5 == 0:
            await reg.set_preference(number, False, [], Source.APP, None, None, actor="test")
        if i % 7 == 0:
            await reg.set_preference(number, i % 2 == 0, [], Source.ADMIN, now + timedelta(days=1), None, actor="test")
        if i % 4 == 0:
            await reg.grant_consent(number, "acme", "", None, "form", None, actor="test")
        if i % 6 == 0:
            await reg.grant_consent(number, "acme", f"agent-{i}", now + timedelta(days=30), "call", None, actor="test")
        if i % 8 == 0:
            await reg.revoke_consent(number, "acme", "", None, actor="test")
    await reg.set_org_policy("acme", Mode.MONITOR, None, actor="test")
