"""Whether each part can answer now, for grpc.health.v1, and holding Checks until the registry is current.

CallGate is ready when the registry in Redis can be read and is current with the journal; Registry and
Compensation when PostgreSQL answers. `watch_health` publishes both as they change. `keep_current`
holds every Check closed (BLOCK / REGISTRY_UNAVAILABLE) until the registry has been loaded at start-up
and again whenever the Redis server restarts (a new run id): a Redis back from its append-only file
may miss the last second of registry writes, and a registered number must not ring meanwhile. The
journal has them all, so the catch-up puts them back before Checks are answered from Redis again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

log = structlog.get_logger("dncgate.readiness")


class Gate(Protocol):
    """What can be held closed: the gateway's Checks."""

    def hold(self) -> None: ...

    def release(self) -> None: ...

    @property
    def held(self) -> bool: ...


class Probe(Protocol):
    async def registry_readable(self) -> bool: ...

    async def database_answers(self) -> bool: ...

    async def redis_instance(self) -> str | None: ...


# (registry ready for Checks, database answers) -> publish them
Publish = Callable[[bool, bool], Awaitable[None]]


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def watch_health(
    gate: Gate,
    probe: Probe,
    publish: Publish,
    stop: asyncio.Event,
    interval_s: float,
    wake: asyncio.Event | None = None,
) -> None:
    """Probe the stores every `interval_s`, or at once when `wake` is set, and publish what changed
    (each change logged once)."""
    last: tuple[bool, bool] | None = None
    wake = wake or asyncio.Event()
    while not stop.is_set():
        wake.clear()
        readable, database = await asyncio.gather(probe.registry_readable(), probe.database_answers())
        now = (readable and not gate.held, database)
        if now != last:
            await publish(*now)
            log.info("readiness_changed", registry=now[0], database=now[1])
            last = now
        await _pause_or(stop, wake, interval_s)


async def _pause_or(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def keep_current(
    gate: Gate,
    probe: Probe,
    load: Callable[[], Awaitable[object]],
    catch_up: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    interval_s: float,
    changed: asyncio.Event | None = None,
) -> None:
    """Load the registry (retrying until the stores let us), then catch up after every Redis restart.

    `load` rebuilds an empty Redis or catches a loaded one up (sync.ensure_loaded); `catch_up` re-applies
    the journal's recent entries (sync.catch_up). Checks are held while either is due or running.
    `changed` is set whenever they are held or released (it wakes `watch_health`).
    """
    changed = changed or asyncio.Event()
    current = asyncio.Event()
    gate.hold()
    instance: str | None = None
    failures = 0
    while not stop.is_set():
        seen = await probe.redis_instance()
        if current.is_set() and seen is not None and instance is not None and seen != instance:
            gate.hold()
            current.clear()
            changed.set()
            log.warning("redis_restarted", action="catch_up")
        if not current.is_set() and seen is not None:
            try:
                await (load() if instance is None else _when_readable(probe, catch_up))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store went away mid-way: Checks stay held, try again
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    log.warning("registry_not_current", error=type(exc).__name__, detail=str(exc)[:200])
            else:
                instance, failures = seen, 0
                gate.release()
                current.set()
                changed.set()
                log.info("registry_current")
        await _pause(stop, interval_s)


async def _when_readable(probe: Probe, catch_up: Callable[[], Awaitable[object]]) -> None:
    """Catch up a Redis that holds a registry; one that came back empty is rebuilt by the watcher first."""
    if not await probe.registry_readable():
        raise NotReadable("the registry is being rebuilt")
    await catch_up()


class NotReadable(Exception):
    """Redis holds no loaded registry yet."""
