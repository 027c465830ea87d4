"""Shared helpers for the integration tests: numbers, request builders, a fake clock, Redis dumps."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from dncgate import phone
from dncgate.domain.types import Category
from dncgate.service.gateway import CheckInput
from dncgate.store.hot import MODES

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
    """HGETALL of every registry hash (dncr*, dncc*) and of dnc:mode."""
    out: dict[bytes, dict[bytes, bytes]] = {}
    for pattern in (b"dncr*", b"dncc*"):
        async for k in client.scan_iter(match=pattern, count=1000):
            out[k] = await client.hgetall(k)
    out[MODES] = await client.hgetall(MODES)
    return out
