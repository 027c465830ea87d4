"""What checking a bearer token adds to one Check, measured inside a real grpc.aio handler, on its context.

    python -m benchmarks.auth_cost --calls 200 --reps 1000

`benchmarks.check_path --instrumented` gives the whole Check with and without a token, but its runs
vary by several µs on a shared 2-core machine, and its stand-in context hands the metadata over as a
ready tuple, where grpc.aio's `context.invocation_metadata()` builds a new one on every call. This
serves `/dncgate.v1.CallGate/Check` from a grpc.aio server on uvloop and, inside each call, times on
that call's own context, `--reps` times in a row: `invocation_metadata()`; `api.access.Guard.fast`
(the cache lookup of a `dialer` token verified once, made in an embedded PostgreSQL); and the whole
wrapper (`api.interceptors.instrument`, log level warning) around a servicer that returns at once,
with the Guard and without it, whose difference is what the token costs a Check as served.
Nanoseconds per Check, medians over the calls, minus an empty loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import uvloop

from benchmarks.check_path import dialer_guard
from benchmarks.common import Output, add_common_args, command_line, machine, median, record, table
from dncgate.api.interceptors import Dispatch, instrument
from dncgate.embedded import EmbeddedPostgres

METHOD = "/dncgate.v1.CallGate/Check"


class _Details(NamedTuple):  # grpc.HandlerCallDetails as grpc.aio hands it to a generic handler
    method: str
    invocation_metadata: tuple[tuple[str, Any], ...]


PARTS = {
    "empty": "an empty loop (subtracted from the others)",
    "metadata": "`context.invocation_metadata()` (grpc builds the tuple)",
    "fast": "`Guard.fast`: the metadata, its scan and the cache lookup",
    "cached": "`Guard.cached` on the tuple grpc built for the lookup: the scan and the cache lookup",
    "plain": "`instrument`'s wrapper without a Guard",
    "guarded": "`instrument`'s wrapper with the Guard, reading `context.invocation_metadata()`",
    "dispatched": "the same bound to the lookup's metadata by `Dispatch`, as served (a handler made per call)",
}


async def measure(ns: argparse.Namespace, database_url: str) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {k: [] for k in PARTS}
    async with dialer_guard(database_url, []) as (guard, token):

        async def nothing(request: Any, context: Any) -> bytes:
            return b""

        bare = grpc.unary_unary_rpc_method_handler(nothing)  # raw bytes: no decoding to time
        plain = instrument(METHOD, bare, False).unary_unary
        guarded_handler = instrument(METHOD, bare, False, guard=guard)
        guarded = guarded_handler.unary_unary
        dispatch = Dispatch()
        dispatch.add(METHOD, guarded_handler)

        async def timed_async(
            name: str, call: Callable[[bytes, Any], Awaitable[Any]], request: bytes, context: Any
        ) -> None:
            t = time.perf_counter_ns()
            for _ in range(ns.reps):
                await call(request, context)
            samples[name].append((time.perf_counter_ns() - t) / ns.reps)

        def timed(name: str, call: Callable[[], Any]) -> None:
            t = time.perf_counter_ns()
            for _ in range(ns.reps):
                call()
            samples[name].append((time.perf_counter_ns() - t) / ns.reps)

        async def handler(request: bytes, context: Any) -> bytes:
            if guard.fast(context) is None:  # the first call: `Guard.principal` verifies the token once
                await guarded(request, context)
                return b""
            looked_up = context.invocation_metadata()  # as grpc built it for the method lookup
            details = _Details(METHOD, looked_up)
            for name in PARTS if len(samples["empty"]) % 2 == 0 else reversed(PARTS):
                if name == "empty":
                    timed(name, lambda: None)
                elif name == "metadata":
                    timed(name, context.invocation_metadata)
                elif name == "fast":
                    timed(name, lambda: guard.fast(context))
                elif name == "cached":
                    timed(name, lambda: guard.cached(looked_up))
                elif name == "dispatched":
                    t = time.perf_counter_ns()
                    for _ in range(ns.reps):
                        await dispatch.service(details).unary_unary(request, context)
                    samples[name].append((time.perf_counter_ns() - t) / ns.reps)
                else:
                    await timed_async(name, plain if name == "plain" else guarded, request, context)
            return b""

        server = grpc.aio.server()
        service, name = METHOD.strip("/").split("/")
        server.add_registered_method_handlers(service, {name: grpc.unary_unary_rpc_method_handler(handler)})
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                call = channel.unary_unary(METHOD)
                for _ in range(ns.calls + 1):
                    await call(b"", metadata=(("authorization", f"Bearer {token}"),))
        finally:
            await server.stop(0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="Checks served, each timing every part")
    parser.add_argument("--reps", type=int, default=1000, help="times in a row each part runs within a call")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.calls, ns.reps = 5, 50
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres").start()
        try:
            samples = uvloop.run(measure(ns, postgres.url))
        finally:
            postgres.stop()
    base = median(samples["empty"])
    ns_per = {k: median(v) - base for k, v in samples.items() if k != "empty"}
    token_ns = ns_per["guarded"] - ns_per["plain"]
    served_ns = ns_per["dispatched"] - ns_per["plain"]
    lines = [
        "## What a bearer token costs a Check, in a real grpc.aio handler",
        "",
        f"Timed inside {ns.calls} Checks served by grpc.aio on uvloop, each part {ns.reps} times in a row on the "
        "call's own context, parts alternating in order; a `dialer` token, verified once and cached. "
        "Nanoseconds per Check, medians over the calls, less an empty loop.",
        "",
        *table(["part", "ns per Check"], [[PARTS[k], f"{v:,.0f}"] for k, v in ns_per.items()]),
        "",
        f"The token reading the context's metadata (wrapper with the Guard less without): {token_ns / 1000:.2f} µs "
        f"a Check, of which {ns_per['metadata'] / 1000:.2f} µs is grpc building the metadata tuple anew; as served, "
        f"bound to the lookup's metadata by `Dispatch`: **{served_ns / 1000:.2f} µs**.",
    ]
    record(
        "auth_cost",
        {"ns": ns_per, "token_us": token_ns / 1000, "served_us": served_ns / 1000, "calls": ns.calls, "reps": ns.reps},
        "\n".join(lines),
        command_line(),
        machine(),
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
