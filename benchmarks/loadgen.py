"""The load generator: grpc.aio clients on uvloop, each in its own process, driven over a pipe.

Closed loop: `concurrency` callers each send a request, wait for the reply, and send the next.
Open loop: requests leave on a schedule (Poisson or fixed rate) whatever the replies do, and latency is
measured from each request's *scheduled* send time, so a stall shows up in the figures instead of
silently delaying the requests behind it (no coordinated omission). How late the generator itself sent
(`lag`) and the latency from the actual send (`service`) are kept too, to tell client and server apart.

Checks alternate a registered number (expected BLOCK) and an unregistered one (expected ALLOW), all
distinct; an answer other than the expected one (e.g. fail-closed REGISTRY_UNAVAILABLE) counts as an error.
Each Check carries the metadata given (the dialer's bearer token, `BenchServer.dialer`) as a per-call
argument: a client interceptor would run Python of its own on every call and take the generator's CPU.
Health calls carry none.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from time import perf_counter
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.registry_load import consumer_number
from benchmarks.server import Metadata
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

CALLER = "+862759001234"
Call = Callable[[float], Awaitable[str | None]]  # deadline in seconds -> None, or what went wrong


@dataclass(frozen=True)
class Job:
    method: str  # "check" or "health"
    duration_s: float
    concurrency: int = 0  # closed loop: requests kept in flight
    rate: float = 0.0  # open loop: requests per second offered
    warmup_s: float = 0.0  # closed loop: run this long before measuring
    poisson: bool = True
    seed: int = 1
    timeout_s: float = 2.0


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds
    service: list[float] = field(default_factory=list)  # open loop: from the actual send
    lags: list[float] = field(default_factory=list)  # open loop: actual send - scheduled send
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    duration_s: float = 0.0
    cpu_s: float = 0.0  # CPU (user + system) the load generator processes used for the job

    def merge(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.service += other.service
        self.lags += other.lags
        self.errors.update(other.errors)
        self.sent += other.sent
        self.duration_s = max(self.duration_s, other.duration_s)
        self.cpu_s += other.cpu_s


def _check_call(channel: grpc.aio.Channel, registry: int, first: int, metadata: Metadata = None) -> Call:
    method = gateway_pb2_grpc.CallGateStub(channel).Check
    counter = itertools.count(first)
    spare = 99_999_999 - registry
    block, allow = gateway_pb2.DECISION_BLOCK, gateway_pb2.DECISION_ALLOW

    async def call(limit_s: float) -> str | None:
        i = next(counter)
        registered = i % 2 == 0 and registry > 0
        n = (i * 7919) % registry if registered else registry + i % spare
        req = gateway_pb2.CheckRequest(
            caller_number=CALLER,
            callee_number=consumer_number(n),
            agent_id="a1",
            org_id="bench",
            category=common_pb2.CATEGORY_REAL_ESTATE,
        )
        try:
            r = await method(req, timeout=limit_s, metadata=metadata)
        except grpc.aio.AioRpcError as e:
            return str(e.code().name)
        if r.decision != (block if registered else allow):
            return "answer " + gateway_pb2.Reason.Name(r.reason)
        return None

    return call


def _health_call(channel: grpc.aio.Channel) -> Call:
    method = health_pb2_grpc.HealthStub(channel).Check
    req = health_pb2.HealthCheckRequest()

    async def call(limit_s: float) -> str | None:
        try:
            r = await method(req, timeout=limit_s)
        except grpc.aio.AioRpcError as e:
            return str(e.code().name)
        return None if r.status == health_pb2.HealthCheckResponse.SERVING else "NOT_SERVING"

    return call


async def closed_loop(call: Call, job: Job) -> Sample:
    """Completions that end inside the window after the warm-up; throughput = len(latencies) / duration."""
    out = Sample(duration_s=job.duration_s)
    t0 = perf_counter() + job.warmup_s
    t1 = t0 + job.duration_s

    async def caller() -> None:
        while (start := perf_counter()) < t1:
            err = await call(job.timeout_s)
            end = perf_counter()
            if t0 <= end < t1:
                out.sent += 1
                if err:
                    out.errors[err] += 1
                else:
                    out.latencies.append(end - start)

    await asyncio.gather(*(caller() for _ in range(job.concurrency)))
    return out


async def open_loop(call: Call, job: Job) -> Sample:
    """Send at the scheduled times for `duration_s`, then wait (bounded) for the last replies."""
    out = Sample(duration_s=job.duration_s)
    if job.rate <= 0:
        return out
    rng = random.Random(job.seed)
    pending: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    async def one(scheduled: float) -> None:
        sent = perf_counter()
        err = await call(job.timeout_s)
        done = perf_counter()
        out.lags.append(sent - scheduled)
        if err:
            out.errors[err] += 1
        else:
            out.latencies.append(done - scheduled)
            out.service.append(done - sent)

    next_at = perf_counter() + 0.01
    end = next_at + job.duration_s
    while next_at < end:
        now = perf_counter()
        while next_at <= now and next_at < end:
            task = loop.create_task(one(next_at))
            pending.add(task)
            task.add_done_callback(pending.discard)
            out.sent += 1
            next_at += rng.expovariate(job.rate) if job.poisson else 1 / job.rate
        await asyncio.sleep(max(0.0, next_at - perf_counter()))
    if pending:
        await asyncio.wait(pending, timeout=job.timeout_s + 1)
    return out


async def _serve_jobs(conn: Connection, target: str, registry: int, index: int, metadata: Metadata) -> None:
    loop = asyncio.get_running_loop()
    async with grpc.aio.insecure_channel(target) as channel:
        check = _check_call(channel, registry, index * 10_000_000, metadata)
        calls = {"check": check, "health": _health_call(channel)}
        while (job := await loop.run_in_executor(None, conn.recv)) is not None:
            run = closed_loop if job.concurrency else open_loop
            before = os.times()
            sample = await run(calls[job.method], job)
            after = os.times()
            sample.cpu_s = after.user + after.system - before.user - before.system
            conn.send(sample)


def _worker(conn: Connection, target: str, registry: int, index: int, metadata: Metadata) -> None:
    import uvloop

    uvloop.run(_serve_jobs(conn, target, registry, index, metadata))


class LoadGen:
    """`processes` client processes against one server; a job's concurrency or rate is split among them.
    Every Check carries `metadata` (e.g. `BenchServer.dialer`; None: no token)."""

    def __init__(self, target: str, registry: int, processes: int = 1, metadata: Metadata = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for k in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, target, registry, k, metadata), daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    def run(self, job: Job) -> Sample:
        n = len(self._conns)
        for k, conn in enumerate(self._conns):
            share = job.concurrency // n + (k < job.concurrency % n)
            conn.send(replace(job, concurrency=share, rate=job.rate / n, seed=job.seed * 1000 + k))
        total = Sample()
        limit = job.warmup_s + job.duration_s + job.timeout_s + 60
        for conn, proc in zip(self._conns, self._procs, strict=True):
            waited = 0.0
            while not conn.poll(1.0):
                waited += 1.0
                if not proc.is_alive() or waited > limit:
                    raise RuntimeError(f"load generator process {proc.pid} died or hung (exit code {proc.exitcode})")
            total.merge(conn.recv())
        return total

    def close(self) -> None:
        for conn in self._conns:
            conn.send(None)
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()

    def __enter__(self) -> LoadGen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
