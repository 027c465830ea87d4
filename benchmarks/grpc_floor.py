"""What a Check costs the server beyond gRPC itself: the floor under the throughput ratio.

    python -m benchmarks.grpc_floor --registry 100000 --duration 2 --rounds 5

One grpc.aio server process on uvloop (as `dncgate serve` runs) serves four unary methods over raw
bytes, and one closed-loop client process keeps 16 requests in flight on each in turn:

- `empty`: returns at once (what Health/Check costs, without its servicer);
- `redis`: awaits one round trip (PING) on the gateway's multiplexed Redis connection, then returns
  a Check-sized response: gRPC plus the Redis wait, without our code;
- `check`: the real `CallGateServicer.Check` (request parse, gateway, Lua script, response);
- `check+log`: the same wrapped as `serve` wraps every RPC of our services (`api.interceptors.instrument`:
  context binding, error mapping, the log call; the log level is `warning`, as in the other benchmarks).

Server CPU time per call (both its threads) and calls/s, medians of the rounds. `empty` / `redis` is the
best throughput ratio a Check with one Redis round trip could have on this server; the steps from
`redis` to `check` are what our code costs inside a loaded gRPC server.
"""

from __future__ import annotations

import argparse
import asyncio
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

from benchmarks.common import Output, add_common_args, command_line, machine, median, record
from benchmarks.registry_load import PEPPER, consumer_number, load_fast
from dncgate.embedded import EmbeddedRedis

BITS = 16
IN_FLIGHT = 16
METHODS = ("empty", "redis", "check", "check+log")


def _serve(redis_url: str, conn: Connection) -> None:
    import redis.asyncio as aioredis

    from dncgate import phone
    from dncgate.api.gateway import CallGateServicer
    from dncgate.api.interceptors import instrument
    from dncgate.domain.hours import CallingHours
    from dncgate.domain.types import Mode
    from dncgate.service.gateway import Gateway
    from dncgate.store.calls import CallStream
    from dncgate.store.hot import CALLS, HotRegistry
    from dncgate.v1 import gateway_pb2

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        hot = HotRegistry(client, BITS)
        await client.set("dnc:ready", hot.ready_value)
        gateway = Gateway(
            hot,
            CallStream(client),
            phone.NumberKeyer(PEPPER),
            region="CN",
            default_zone="Asia/Shanghai",
            hours=CallingHours.parse("00:00-24:00"),
            default_mode=Mode.ENFORCE,
            timeout_s=1.0,
        )
        servicer = CallGateServicer(gateway, 5000, None)  # type: ignore[arg-type]  # no ReportCallOutcome here
        lane = gateway.lane
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

        async def check(request: bytes, context: Any) -> bytes:
            reply = await servicer.Check(gateway_pb2.CheckRequest.FromString(request), context)
            return reply.SerializeToString()

        plain = {"empty": empty, "redis": redis_wait, "check": check}
        handlers = {name: grpc.unary_unary_rpc_method_handler(f) for name, f in plain.items()}
        handlers["check+log"] = instrument("/floor/check+log", grpc.unary_unary_rpc_method_handler(check))
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("floor", handlers)])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        conn.send(port)
        while True:  # keep the stream short; the recorder is not part of this measurement
            await asyncio.sleep(1)
            await client.xtrim(CALLS, maxlen=10_000, approximate=True)

    uvloop.run(main())


def _load(port: int, method: str, duration_s: float, first: int, registry: int, conn: Connection) -> None:
    from dncgate.v1 import common_pb2, gateway_pb2

    async def main() -> float:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(f"/floor/{method}")
            done = 0
            stop = time.perf_counter() + duration_s

            async def caller(k: int) -> None:
                nonlocal done
                i = first + k
                while time.perf_counter() < stop:
                    number = consumer_number(i % registry) if i % 2 == 0 else consumer_number(registry + i)
                    request = gateway_pb2.CheckRequest(
                        caller_number="+862759001234",
                        callee_number=number,
                        agent_id="a1",
                        org_id="bench",
                        category=common_pb2.CATEGORY_REAL_ESTATE,
                    )
                    await call(request.SerializeToString())
                    done += 1
                    i += IN_FLIGHT

            await asyncio.gather(*(caller(k) for k in range(IN_FLIGHT)))
            return done / duration_s

    conn.send(uvloop.run(main()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per method and round")
    parser.add_argument("--rounds", type=int, default=5)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.duration, ns.rounds = 1000, 0.3, 1
    ctx = multiprocessing.get_context("spawn")
    rounds: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        embedded = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        server = None
        try:
            load_fast(embedded.url, ns.registry, BITS)
            info = machine(embedded.url)
            ours, theirs = ctx.Pipe()
            server = ctx.Process(target=_serve, args=(embedded.url, theirs), daemon=True)
            server.start()
            port = ours.recv()
            proc = psutil.Process(server.pid)
            first = 0
            for r in range(ns.rounds + 1):  # round 0 warms up
                for method in METHODS if r % 2 == 0 else tuple(reversed(METHODS)):
                    before = proc.cpu_times()
                    result, to_client = ctx.Pipe()
                    client = ctx.Process(
                        target=_load, args=(port, method, ns.duration, first, ns.registry, to_client), daemon=True
                    )
                    client.start()
                    per_s = result.recv()
                    client.join()
                    after = proc.cpu_times()
                    first += 1_000_000
                    cpu = (after.user + after.system) - (before.user + before.system)
                    if r:
                        rounds[method].append({"per_s": per_s, "cpu_us": cpu / (per_s * ns.duration) * 1e6})
        finally:
            if server is not None:
                server.kill()
                server.join()
            embedded.stop()
    s = {m: {k: median([x[k] for x in rounds[m]]) for k in ("per_s", "cpu_us")} for m in METHODS}
    ratio = {m: s[m]["per_s"] / s["empty"]["per_s"] for m in METHODS}
    labels = {
        "empty": "empty unary call",
        "redis": "one Redis round trip (PING, multiplexed), then a Check-sized reply",
        "check": "`CallGateServicer.Check`",
        "check+log": "`CallGateServicer.Check`, instrumented as `serve` does",
    }
    table = "\n".join(
        [
            "## The gRPC floor under a Check",
            "",
            f"One grpc.aio server process (uvloop) serving raw-bytes methods, one client process with {IN_FLIGHT} "
            f"in flight on each in turn; embedded Redis with {ns.registry:,} registered numbers, every number "
            f"distinct; {ns.duration:g} s per method, medians of {ns.rounds} rounds. Server CPU is both of its "
            f"threads (the event loop and gRPC's poller).",
            "",
            "| method | calls/s | server CPU per call (µs) | calls/s ratio to empty |",
            "|---|---|---|---|",
            *(f"| {labels[m]} | {s[m]['per_s']:.0f} | {s[m]['cpu_us']:.0f} | {ratio[m]:.2f} |" for m in METHODS),
            "",
            f"Server CPU per call against the empty call: {s['redis']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs with "
            f"one Redis wait, {s['check']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs with our Check path, "
            f"{s['check+log']['cpu_us'] - s['empty']['cpu_us']:+.0f} µs with it instrumented (differences of a "
            f"few tens of µs are within this machine's noise).",
        ]
    )
    record("grpc_floor", {"summary": s, "rounds": rounds}, table, command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
