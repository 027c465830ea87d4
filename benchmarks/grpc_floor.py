"""What a Check costs the server beyond gRPC itself: the floor under the throughput ratio.

    python -m benchmarks.grpc_floor --registry 100000 --duration 1 --sequential 0.5 --rounds 9

One grpc.aio server process on uvloop (as `dncgate serve` runs) serves six unary methods over raw
bytes, and one client process calls each in turn, first with 16 requests in flight (calls/s and server
CPU per call), then one at a time (latency, as the sequential Check benchmark measures it):

- `empty`: returns at once (what Health/Check costs, without its servicer);
- `redis`: awaits one round trip (PING) on the gateway's multiplexed Redis connection, then returns
  a Check-sized response: gRPC plus the Redis wait, without our code;
- `script`: awaits the Check's own script call (lookup, classify, XADD), pre-built for 1,000 callees in
  turn, then returns a Check-sized response: gRPC plus what Redis does for a Check, without our Python;
- `check, no Redis`: the real `CallGateServicer.Check` with the gateway's Redis call answered at once
  (case 0) instead of sent: our Python alone;
- `check`: the real `CallGateServicer.Check` (request parse, gateway, Lua script, response);
- `check+log`: the same as `serve` serves it: its request decoded and held to the input limits, and
  wrapped as every RPC of our services (`api.interceptors.instrument`; the log level is `warning`, as in
  the other benchmarks, so no line is written per request); on a tree with access control its calls
  carry a `dialer` bearer token that `api.access.Guard` checks (made in an embedded PostgreSQL, as
  `benchmarks.check_path --instrumented` does). Only this method's calls carry the token.

Medians of the rounds. `empty` / `redis` / `script` bound what any Check with one Redis round trip could
reach on this server; `check, no Redis` is what our code costs inside a loaded gRPC server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
import psutil
import structlog
import uvloop

from benchmarks.check_path import dialer_guard, has_access_control
from benchmarks.common import Output, add_common_args, cap_settings, caps_line, command_line, machine, median, record
from benchmarks.registry_load import PEPPER, consumer_number, load_fast
from dncgate.embedded import EmbeddedPostgres, EmbeddedRedis

BITS = 16
IN_FLIGHT = 16
METHODS = ("empty", "redis", "script", "check, no Redis", "check", "check+log")
ROUTE = {m: m.replace(", ", "-").replace(" ", "_") for m in METHODS}  # method names on the wire


def _serve(redis_url: str, registry: int, conn: Connection, database_url: str | None) -> None:
    import redis.asyncio as aioredis

    from dncgate import phone
    from dncgate.api.gateway import CallGateServicer
    from dncgate.api.interceptors import instrument, rpc_lines_logged
    from dncgate.bootstrap import build_gateway
    from dncgate.config import Settings
    from dncgate.domain.hours import CallingHours
    from dncgate.domain.types import Category
    from dncgate.service.gateway import CheckInput, Gateway
    from dncgate.store.hot import HotRegistry
    from dncgate.v1 import gateway_pb2

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    async def main() -> None:
        guard, token = None, ""
        if database_url is not None:
            guard, token = await contextlib.AsyncExitStack().enter_async_context(dialer_guard(database_url, []))
        client = aioredis.Redis.from_url(redis_url)
        hot = HotRegistry(client, BITS)
        await hot.finish_rebuild(0)  # every shard marked loaded

        # Some methods call one callee again and again: frequency caps off.
        settings = Settings(
            calling_hours=CallingHours.parse("00:00-24:00"), redis_timeout_ms=1000, pepper=PEPPER, **cap_settings()
        )

        def new_gateway() -> Gateway:
            return build_gateway(settings, hot, phone.NumberKeyer(PEPPER))

        gateway, offline = new_gateway(), new_gateway()

        async def answered_at_once(commands: Any, deadline: float, mux: Any) -> list[Any]:
            return [0] * len(commands)

        offline.lane._send = answered_at_once  # type: ignore[attr-defined]
        # no ReportCallOutcome here, hence no outcome service
        servicer = CallGateServicer(gateway, 5000, None, log_fields=False)  # type: ignore[arg-type]
        offline_servicer = CallGateServicer(offline, 5000, None, log_fields=False)  # type: ignore[arg-type]
        lane = gateway.lane.mux  # type: ignore[attr-defined]
        assert lane is not None
        await gateway.lane.script.load()  # type: ignore[attr-defined]
        # The script calls of 1,000 Checks (half to registered numbers), as the gateway builds them.
        scripts: list[Any] = []

        async def keep(commands: Any, deadline: float, mux: Any) -> list[Any]:
            scripts.extend(commands)
            return [0] * len(commands)

        recorder = new_gateway()
        recorder.lane._send = keep  # type: ignore[attr-defined]
        for i in range(1000):
            callee = consumer_number(i if i % 2 else registry + i)
            await recorder.check(CheckInput("+862759001234", callee, "a1", "bench", "", Category.REAL_ESTATE, ""))
        turn = itertools.count()
        assert lane is not None
        sized = gateway_pb2.CheckResponse(
            decision=gateway_pb2.DECISION_ALLOW,
            reason=gateway_pb2.REASON_NOT_REGISTERED,
            call_id="0" * 32,
            callee_e164="+8613800138000",
        ).SerializeToString()

        async def empty(request: bytes, context: Any) -> bytes:
            return b""

        async def redis_wait(request: bytes, context: Any) -> bytes:
            await lane.execute([("PING",)])
            return sized

        async def script(request: bytes, context: Any) -> bytes:
            await lane.execute([scripts[next(turn) % len(scripts)]])
            return sized

        def serving(s: CallGateServicer) -> Any:
            async def check(request: bytes, context: Any) -> bytes:
                reply = await s.Check(gateway_pb2.CheckRequest.FromString(request), context)
                return reply.SerializeToString()

            return check

        plain = {"empty": empty, "redis": redis_wait, "script": script}
        plain |= {"check, no Redis": serving(offline_servicer), "check": serving(servicer)}
        handlers = {ROUTE[name]: grpc.unary_unary_rpc_method_handler(f) for name, f in plain.items()}
        # As served: the request decoded (and held to the input limits) and the response encoded by the
        # handler, under the method's own name, which the dialer role names (an old tree's `instrument`
        # takes no guard).
        logged = grpc.unary_unary_rpc_method_handler(
            servicer.Check,
            request_deserializer=gateway_pb2.CheckRequest.FromString,
            response_serializer=gateway_pb2.CheckResponse.SerializeToString,
        )
        served, lines = "/dncgate.v1.CallGate/Check", rpc_lines_logged()
        wrapped = instrument(served, logged, lines, guard=guard) if guard else instrument(served, logged, lines)
        handlers[ROUTE["check+log"]] = wrapped
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("floor", handlers)])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        conn.send((port, token))
        while True:  # keep the stream short; the recorder is not part of this measurement
            await asyncio.sleep(1)
            for stream in hot.layout.streams:
                await client.xtrim(stream, maxlen=1_000, approximate=True)

    uvloop.run(main())


def _client(port: int, registry: int, conn: Connection, token: str) -> None:
    """The load process: runs each job `(method, in_flight, seconds, first number)` sent down `conn` as a
    closed loop with `in_flight` callers and sends back (calls/s, median latency in seconds); None stops it.
    The calls of `check+log` carry `token` (none if empty)."""
    from benchmarks.check_path import request as check_request

    async def job(channel: grpc.aio.Channel, method: str, in_flight: int, duration_s: float, first: int) -> Any:
        call = channel.unary_unary(f"/floor/{ROUTE[method]}")
        metadata = (("authorization", f"Bearer {token}"),) if token and method == "check+log" else None
        latencies: list[float] = []
        stop = time.perf_counter() + duration_s

        async def caller(k: int) -> None:
            i = first + k
            while time.perf_counter() < stop:
                request = check_request(i, registry)
                started = time.perf_counter()
                await call(request, metadata=metadata)
                latencies.append(time.perf_counter() - started)
                i += in_flight

        await asyncio.gather(*(caller(k) for k in range(in_flight)))
        return len(latencies) / duration_s, median(latencies)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            while (todo := await loop.run_in_executor(None, conn.recv)) is not None:
                conn.send(await job(channel, *todo))

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per method and round, 16 in flight")
    parser.add_argument("--sequential", type=float, default=0.5, help="seconds per method and round, one at a time")
    parser.add_argument("--rounds", type=int, default=9)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.duration, ns.sequential, ns.rounds = 1000, 0.3, 0.2, 1
    ctx = multiprocessing.get_context("spawn")
    rounds: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        embedded = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        postgres = EmbeddedPostgres(Path(tmp) / "postgres").start() if has_access_control() else None
        server = None
        try:
            load_fast(embedded.url, ns.registry, BITS)
            info = machine(embedded.url)
            ours, theirs = ctx.Pipe()
            database_url = postgres.url if postgres is not None else None
            server = ctx.Process(target=_serve, args=(embedded.url, ns.registry, theirs, database_url), daemon=True)
            server.start()
            port, token = ours.recv()
            proc = psutil.Process(server.pid)
            jobs, theirs = ctx.Pipe()
            client = ctx.Process(target=_client, args=(port, ns.registry, theirs, token), daemon=True)
            client.start()

            def run(method: str, in_flight: int, duration_s: float, first: int) -> tuple[float, float, float]:
                """calls/s, median latency (s), server CPU per call (us)"""
                before = proc.cpu_times()
                jobs.send((method, in_flight, duration_s, first))
                per_s, latency = jobs.recv()
                after = proc.cpu_times()
                cpu = (after.user + after.system) - (before.user + before.system)
                return per_s, latency, cpu / (per_s * duration_s) * 1e6

            first = 0
            for r in range(ns.rounds + 1):  # round 0 warms up
                for method in METHODS if r % 2 == 0 else tuple(reversed(METHODS)):
                    per_s, _, cpu_us = run(method, IN_FLIGHT, ns.duration, first)
                    _, latency, _ = run(method, 1, ns.sequential, first + 500_000)
                    first += 1_000_000
                    if r:
                        rounds[method].append({"per_s": per_s, "cpu_us": cpu_us, "sequential_ms": latency * 1000})
            jobs.send(None)
            client.join(10)
        finally:
            if server is not None:
                server.kill()
                server.join()
            if postgres is not None:
                postgres.stop()
            embedded.stop()
    keys = ("per_s", "cpu_us", "sequential_ms")
    s = {m: {k: median([x[k] for x in rounds[m]]) for k in keys} for m in METHODS}
    ratio = {m: s[m]["per_s"] / s["empty"]["per_s"] for m in METHODS}
    seq_ratio = {m: s[m]["sequential_ms"] / s["empty"]["sequential_ms"] for m in METHODS}
    labels = {
        "empty": "empty unary call",
        "redis": "one Redis round trip (PING, multiplexed), then a Check-sized reply",
        "script": "the Check's script call (pre-built), then a Check-sized reply",
        "check, no Redis": "`CallGateServicer.Check`, its Redis call answered at once",
        "check": "`CallGateServicer.Check`",
        "check+log": "`CallGateServicer.Check`, instrumented as `serve` does"
        + (", a `dialer` token checked" if postgres is not None else " (no access control in this tree)"),
    }
    rows = [
        f"| {labels[m]} | {s[m]['per_s']:.0f} | {s[m]['cpu_us']:.0f} | {ratio[m]:.2f} | "
        f"{s[m]['sequential_ms']:.3f} | {seq_ratio[m]:.2f} |"
        for m in METHODS
    ]
    table = "\n".join(
        [
            "## The gRPC floor under a Check",
            "",
            f"One grpc.aio server process (uvloop) serving raw-bytes methods; one client process calls each in "
            f"turn with {IN_FLIGHT} in flight for {ns.duration:g} s, then one at a time for {ns.sequential:g} s; "
            f"embedded Redis with {ns.registry:,} registered numbers, every number distinct; medians of "
            f"{ns.rounds} rounds. Server CPU is both of its threads (the event loop and gRPC's poller). "
            f"{caps_line(cap_settings()).capitalize()}.",
            "",
            f"| method | calls/s ({IN_FLIGHT} in flight) | server CPU per call (µs) | calls/s ratio to empty | "
            "sequential p50 (ms) | sequential ratio to empty |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Server CPU per call against the empty call: {s['redis']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs with "
            f"one Redis wait, {s['script']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs waiting for the Check's script, "
            f"{s['check, no Redis']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs for our Python alone, "
            f"{s['check']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs for the whole Check (differences of a few tens of "
            "µs are within this machine's noise).",
        ]
    )
    result = {"summary": s, "ratio": ratio, "sequential_ratio": seq_ratio, "rounds": rounds}
    record("grpc_floor", result, table, command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
