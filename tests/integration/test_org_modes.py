"""An org's mode reaches the Checks of every replica from the journal, within 2 s, never half applied.

Redis holds no mode (no Check may read a key outside its callee's slot): each process keeps the
policies in force in its own copy (`service.org_caps`), read from the journal by the watch loop every
second, and a Check or a whole CheckBatch reads one version of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.domain.types import Mode, Reason, Source
from dncgate.service import sync
from tests.integration.support import check_input, key_of

pytestmark = pytest.mark.integration

NUMBERS = [f"139{i:08d}" for i in range(400)]


@contextlib.asynccontextmanager
async def _replica(settings: Settings) -> AsyncIterator[Any]:
    """A second process's composition over the same stores, its copy of the policies watched as `serve`
    watches it (the default interval)."""
    async with open_app(settings) as other:
        await sync.ensure_loaded(other.registry, other.journal, other.hot)
        await other.gateway.org_caps.refresh(other.journal.check_policies)
        stop = asyncio.Event()
        task = asyncio.create_task(other.gateway.org_caps.watch(other.journal.check_policies, stop))
        try:
            yield other
        finally:
            stop.set()
            await task


async def test_a_mode_set_on_one_replica_reaches_another_replicas_checks_within_two_seconds(
    app: Any, settings: Settings
) -> None:
    """SetOrgPolicy on one process: its own next Check has the new mode at once, the other process's
    Checks within 2 s (a real poll of the journal), both ways."""
    await app.registry.set_preference(NUMBERS[0], True, [], Source.APP, None, None, actor="test")
    async with _replica(settings) as other:
        for mode, violation in ((Mode.MONITOR, True), (Mode.ENFORCE, False)):
            await app.registry.set_org_policy("acme", mode, None, actor="test")
            assert (await app.gateway.check(check_input(NUMBERS[0]))).verdict.violation is violation
            started = time.monotonic()
            while (await other.gateway.check(check_input(NUMBERS[0]))).verdict.violation is not violation:
                assert time.monotonic() - started < 2.0, f"{mode} not on the other replica's Checks after 2 s"
                await asyncio.sleep(0.02)  # a Check every 20 ms until the watch loop has read the change


async def test_a_batch_across_every_shard_sees_one_mode_while_it_flips(app: Any, settings: Settings) -> None:
    """While the org's mode flips back and forth, every CheckBatch whose callees span all the shards (one
    script call per chunk) answers all of them in one mode: the copy is replaced whole, and read once."""
    for n in NUMBERS:
        await app.registry.set_preference(n, True, [], Source.APP, None, None, actor="test")
    shards = {app.hot.layout.shard(key_of(app, n)) for n in NUMBERS}
    assert len(shards) == app.hot.shards  # 400 numbers cover the 64 shards
    async with _replica(settings) as other:
        stop = asyncio.Event()

        async def flip() -> None:
            mode = Mode.MONITOR
            while not stop.is_set():
                await app.registry.set_org_policy("acme", mode, None, actor="test")
                mode = Mode.ENFORCE if mode is Mode.MONITOR else Mode.MONITOR
                await asyncio.sleep(0.05)

        flipper = asyncio.create_task(flip())
        seen: set[bool] = set()
        try:
            deadline = time.monotonic() + 15
            while len(seen) < 2 and time.monotonic() < deadline:
                for gateway in (app.gateway, other.gateway):
                    results = await gateway.check_many([check_input(n) for n in NUMBERS])
                    assert {r.verdict.reason for r in results} == {Reason.REGISTERED}
                    flags = {r.verdict.violation for r in results}
                    assert len(flags) == 1, "one batch answered in two modes"
                    seen |= flags
        finally:
            stop.set()
            await flipper
        assert seen == {True, False}
