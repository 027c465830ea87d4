"""Privacy at rest: no consumer number in clear anywhere in Redis or PostgreSQL (or the logs)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.domain.types import Category, Mode, Source
from tests.integration.support import CALLER, check_input, stream_events

pytestmark = pytest.mark.integration

# National number as typed by a user -> E.164.
CONSUMERS = {
    "13800138000": "+8613800138000",
    "+86 139-1234-5678": "+8613912345678",
    "0086 137 0000 0001": "+8613700000001",
    "１５９１２３４５６７８": "+8615912345678",
    "010 6552 9988": "+861065529988",  # a Beijing landline can be a consumer too
}


def _forbidden() -> list[bytes]:
    """Every clear rendering of a consumer number, and the unkeyed SHA-256 a dictionary attack would find."""
    out: list[bytes] = []
    for e164 in CONSUMERS.values():
        national = e164.removeprefix("+86")
        unkeyed = hashlib.sha256(e164.encode()).digest()
        out += [national.encode(), e164.encode(), e164[1:].encode(), unkeyed[:9], unkeyed.hex().encode()[:18]]
    return out


def _leaks(blob: bytes) -> list[bytes]:
    digits = bytes(ch for ch in blob if 0x30 <= ch <= 0x39)
    return [f for f in _forbidden() if f in blob or (f.isdigit() and f in digits)]


async def _populate(app: Any) -> None:
    now = datetime.now(UTC)
    reg = app.registry
    for i, number in enumerate(CONSUMERS):
        await reg.set_preference(
            number, True, [Category.FINANCE] if i % 2 else [], Source.APP, None, f"set-{i}", actor="test"
        )
        await reg.set_preference(
            number, i % 2 == 0, [], Source.HOTLINE, now + timedelta(days=2), f"later-{i}", actor="test"
        )
        await reg.grant_consent(
            number, "acme", "", now + timedelta(days=30), "recorded call 2026-11-02", f"g-{i}", actor="test"
        )
        await reg.grant_consent(number, "acme", "agent-7", None, "signed form", f"ga-{i}", actor="test")
        if i % 2:
            await reg.revoke_consent(number, "acme", "", f"rv-{i}", actor="test")
        await reg.get_preference(number, now)
        await reg.history(number)
    await reg.set_org_policy("loose", Mode.MONITOR, "pol-1", actor="test")
    reqs = [
        check_input(n, org=org, request_id=f"chk-{i}") for i, n in enumerate(CONSUMERS) for org in ("acme", "loose")
    ]
    reqs += [check_input("12345", request_id="bad-1"), check_input("138001380", request_id="bad-2")]
    await app.gateway.check_many(reqs)
    for number in CONSUMERS:
        await app.gateway.check(check_input(number, caller="4001234567", agent="agent-7"))


async def _redis_blobs(app: Any) -> list[tuple[str, bytes]]:
    r = app.redis
    blobs: list[tuple[str, bytes]] = []
    async for key in r.scan_iter(count=1000):
        blobs.append(("key", key))
        kind = (await r.type(key)).decode()
        if kind == "string":
            blobs.append((f"{key!r}", await r.get(key)))
        elif kind == "hash":
            for f, v in (await r.hgetall(key)).items():
                blobs += [(f"{key!r} field", f), (f"{key!r}[{f!r}]", v)]
        elif kind == "stream":
            for entry_id, fields in await r.xrange(key):
                for f, v in fields.items():
                    blobs += [(f"{key!r} {entry_id!r} field", f), (f"{key!r} {entry_id!r}.{f!r}", v)]
        elif kind == "list":
            blobs += [(f"{key!r}", v) for v in await r.lrange(key, 0, -1)]
        elif kind == "set":
            blobs += [(f"{key!r}", v) for v in await r.smembers(key)]
        elif kind == "zset":
            blobs += [(f"{key!r}", v) for v, _ in await r.zrange(key, 0, -1, withscores=True)]
        else:
            raise AssertionError(f"unexpected Redis type {kind} for {key!r}")
    return blobs


async def _postgres_blobs(app: Any) -> list[tuple[str, bytes]]:
    blobs: list[tuple[str, bytes]] = []
    async with app.pool.connection() as conn:
        tables = await (await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).fetchall()
        for (table,) in tables:
            cur = await conn.execute(f'SELECT * FROM "{table}"'.encode())
            names = [d.name for d in cur.description or []]
            for row in await cur.fetchall():
                for name, value in zip(names, row, strict=True):
                    blob = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                    blobs.append((f"{table}.{name}", blob))
    return blobs


async def test_redis_holds_no_consumer_number_in_clear(app: Any) -> None:
    """Every Redis key, hash field and value and stream entry is free of consumer numbers in any clear form."""
    await _populate(app)
    blobs = await _redis_blobs(app)
    assert any(where.startswith("b'dnc:calls:{") for where, _ in blobs)
    assert any(blob == CALLER.encode() for _, blob in blobs)  # company lines are kept, as designed
    leaks = [(where, blob) for where, blob in blobs if _leaks(blob)]
    assert leaks == []


async def test_postgres_holds_no_consumer_number_in_clear(app: Any) -> None:
    """Every column of every row of every table is free of consumer numbers in any clear form."""
    await _populate(app)
    blobs = await _postgres_blobs(app)
    assert {where.split(".")[0] for where, _ in blobs} >= {"preference_journal", "consent_journal"}
    leaks = [(where, blob) for where, blob in blobs if _leaks(blob)]
    assert leaks == []


async def test_journal_keys_are_keyed_hashes_of_the_e164_number(app: Any) -> None:
    """The journal's consumer_key is HMAC-SHA256(pepper, E.164), the same digest the gateway logs as callee."""
    await _populate(app)
    expected = {app.registry.keyer.digest(e164) for e164 in CONSUMERS.values()}
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT DISTINCT consumer_key FROM preference_journal")).fetchall()
    assert {bytes(r[0]) for r in rows} == expected
    callees = {e.callee_key for e in await stream_events(app.redis) if e.callee_key}
    assert callees == {k.hex() for k in expected}


async def test_service_logs_show_only_masked_numbers(app: Any, capfd: pytest.CaptureFixture[str]) -> None:
    """What the registry services log while handling every kind of request contains no clear consumer number."""
    capfd.readouterr()
    await _populate(app)
    out, err = capfd.readouterr()
    text = (out + err).encode()
    if b"+86138****" not in text and b"+86139****" not in text:
        pytest.skip("log output is not routed to the captured stdout/stderr in this configuration")
    assert _leaks(text) == []
