"""Waiting in tests: poll the state waited for, with a deadline, instead of sleeping and hoping.

`await until(predicate, within_s, what=...)` calls the predicate (sync or async) until it returns
something truthy and returns that; past the deadline it fails with an AssertionError naming what it
waited for and the last value seen. `until_sync` is the same for code without an event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

_EVERY_S = 0.05


def _timed_out(what: str, within_s: float, last: object) -> AssertionError:
    return AssertionError(f"gave up after {within_s:g} s waiting for {what} (last seen: {last!r:.300})")


async def until(
    predicate: Callable[[], T | Awaitable[T]],
    within_s: float = 10.0,
    what: str = "the condition",
    every_s: float = _EVERY_S,
) -> T:
    """The predicate's first truthy value, polled every `every_s`; AssertionError after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _timed_out(what, within_s, value)
        await asyncio.sleep(every_s)


def until_sync(
    predicate: Callable[[], T], within_s: float = 10.0, what: str = "the condition", every_s: float = _EVERY_S
) -> T:
    """`until` without an event loop: blocks the calling thread between polls."""
    deadline = time.monotonic() + within_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, within_s, value)
        time.sleep(every_s)


def callgate_serving(port: int) -> bool:
    """Whether a `serve` on 127.0.0.1:`port` reports CallGate SERVING (its registry caught up): a
    predicate for `until_sync`, False while nothing answers."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            r = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="dncgate.v1.CallGate"), timeout=2
            )
        except grpc.RpcError:
            return False
    return bool(r.status == health_pb2.HealthCheckResponse.SERVING)
