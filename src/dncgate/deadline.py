"""The deadline of the RPC being served, for the stores to bound their waits by; grpc-free.

api/interceptors.py records each RPC's context as the RPC starts (each runs in a task of its own);
`store.pg.Database` asks it how much time is left when it checks out a connection. A task the RPC
starts inherits the bound: work that must outlive it or must not be cut (an import's COPYs and
applies: a COPY cut off during its COMMIT could not tell whether it committed) uses the pool itself.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from typing import Protocol


class RpcClock(Protocol):
    """What the deadline is read from: grpc.aio.ServicerContext has this method."""

    def time_remaining(self) -> float | None: ...


_rpc: ContextVar[RpcClock | None] = ContextVar("dncgate_rpc", default=None)


def enter_rpc(clock: RpcClock) -> None:
    """Bind the current task's store waits to this RPC's deadline (about 0.1 us: every Check pays it)."""
    _rpc.set(clock)


def rpc_time_remaining() -> float | None:
    """Seconds to the current RPC's deadline (inf when it has none); None off an RPC's path.

    The clock is read at each checkout, not as the RPC starts: only the RPCs that touch PostgreSQL
    read it, and a Check never does.
    """
    clock = _rpc.get()
    if clock is None:
        return None
    remaining = clock.time_remaining()
    return math.inf if remaining is None else remaining
