"""Check latency from one sequential client, against grpc.health.v1 Health/Check on the same server.

    python -m benchmarks.check_latency --registry 1000000 --calls 2000 --rounds 5

Rounds alternate ours and the baseline so that machine noise hits both; medians of the rounds are reported.
Half of the Checks hit a registered number.
"""

from __future__ import annotations

import argparse
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.common import Output, add_common_args, command_line, machine, median, percentile, record
from benchmarks.server import Metadata, consumer_number, preload_registry, serve
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

GOAL_RATIO, GOAL_P99_MS = 1.3, 2.5


def run_checks(
    stub: gateway_pb2_grpc.CallGateStub, calls: int, registry: int, start: int = 0, metadata: Metadata = None
) -> list[float]:
    """`calls` sequential Checks of numbers start..start+calls-1 (never repeated across rounds, so no cache
    helps), each carrying `metadata` (the dialer's token)."""
    out = []
    for i in range(start, start + calls):
        # Even calls hit a registered number, odd ones an unregistered one.
        n = consumer_number((i * 7919) % registry) if i % 2 == 0 else consumer_number(registry + i)
        req = gateway_pb2.CheckRequest(
            caller_number="+862759001234",
            callee_number=n,
            agent_id="a1",
            org_id="bench",
            category=common_pb2.CATEGORY_REAL_ESTATE,
        )
        t = time.perf_counter()
        r = stub.Check(req, metadata=metadata)
        out.append(time.perf_counter() - t)
        if i % 2 == 0:
            assert r.decision == gateway_pb2.DECISION_BLOCK, r
    return out


def run_health(stub: health_pb2_grpc.HealthStub, calls: int) -> list[float]:
    out = []
    req = health_pb2.HealthCheckRequest()
    for _ in range(calls):
        t = time.perf_counter()
        stub.Check(req)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.calls, ns.rounds = 1000, 50, 1
    ours: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    with serve() as server:
        preload_registry(server.redis_url, ns.registry)
        info = machine(server.redis_url)
        credentials = server.credentials
        with grpc.insecure_channel(server.target) as ch:
            gate, health = gateway_pb2_grpc.CallGateStub(ch), health_pb2_grpc.HealthStub(ch)
            token = server.dialer
            run_checks(gate, 200, ns.registry, metadata=token)  # warm-up: connections, code paths, the token
            run_health(health, 200)
            for r in range(ns.rounds):
                for method in ("check", "health") if r % 2 == 0 else ("health", "check"):
                    if method == "check":
                        sink, samples = ours, run_checks(gate, ns.calls, ns.registry, 200 + r * ns.calls, token)
                    else:
                        sink, samples = base, run_health(health, ns.calls)
                    sink.append(
                        {
                            "p50_ms": percentile(samples, 50) * 1000,
                            "p99_ms": percentile(samples, 99) * 1000,
                            "per_s": len(samples) / sum(samples),
                        }
                    )
    summary = {
        name: {k: median([r[k] for r in rounds]) for k in ("p50_ms", "p99_ms", "per_s")}
        for name, rounds in (("check", ours), ("health", base))
    }
    ratio = summary["check"]["p50_ms"] / summary["health"]["p50_ms"]
    table = "\n".join(
        [
            "## Check latency, one sequential client",
            "",
            f"Registry of {ns.registry:,} numbers, half the Checks hit a registered number, every number distinct, "
            f"{credentials}; one synchronous grpcio client in the benchmark process; medians of {ns.rounds} rounds "
            f"of {ns.calls} calls each, Check and Health alternating. Goals: p50 ratio ≤ {GOAL_RATIO}, "
            f"Check p99 ≤ {GOAL_P99_MS} ms.",
            "",
            "| call | p50 (ms) | p99 (ms) | calls/s |",
            "|---|---|---|---|",
            *(
                f"| {label} | {summary[k]['p50_ms']:.3f} | {summary[k]['p99_ms']:.3f} | {summary[k]['per_s']:.0f} |"
                for label, k in (("`CallGate.Check`", "check"), ("`grpc.health.v1.Health/Check` (baseline)", "health"))
            ),
            "",
            f"p50 ratio Check / Health: **{ratio:.2f}** ({'met' if ratio <= GOAL_RATIO else '**not met**'}); "
            f"Check p99 {summary['check']['p99_ms']:.2f} ms "
            f"({'met' if summary['check']['p99_ms'] <= GOAL_P99_MS else '**not met**'}).",
        ]
    )
    record(
        "check_latency_sequential",
        {"rounds": {"check": ours, "health": base}, "summary": summary, "p50_ratio": ratio, "credentials": credentials},
        table,
        command_line(),
        info,
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
