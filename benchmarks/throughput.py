"""Check throughput, closed loop: checks/s and p50/p99 at 4, 16, 64 requests in flight, against
grpc.health.v1 Health/Check at the same concurrency on the same server, from the same client processes.

    python -m benchmarks.throughput --registry 1000000 --concurrency 4 16 64 --duration 2 --rounds 3

The load generator runs in its own process(es) (grpc.aio + uvloop, benchmarks.loadgen). Every round runs
each concurrency for Check and Health back to back, alternating which goes first; medians over rounds are
reported. The knee is the lowest concurrency whose Check throughput is within 10% of the best one: past
it, more requests in flight add latency, not throughput.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.common import (
    Output,
    add_common_args,
    command_line,
    machine,
    median,
    percentile,
    record,
    table,
)
from benchmarks.loadgen import Job, LoadGen, Sample
from benchmarks.server import cpu_seconds, preload_registry, serve, settle
from benchmarks.spy import maybe_profile

KNEE_SHARE = 0.9


def summarize(s: Sample, wall_s: float, cpu: dict[str, float]) -> dict[str, float]:
    return {
        "per_s": len(s.latencies) / s.duration_s,
        "server_cores": cpu.get("python", 0.0) / wall_s,
        "redis_cores": cpu.get("redis-server", 0.0) / wall_s,
        "loadgen_cores": s.cpu_s / wall_s,
        "p50_ms": percentile(s.latencies, 50) * 1000,
        "p99_ms": percentile(s.latencies, 99) * 1000,
        "errors": float(sum(s.errors.values())),
    }


def knee(per_s: dict[int, float]) -> int:
    best = max(per_s.values())
    return min(c for c, v in per_s.items() if v >= KNEE_SHARE * best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds measured per step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1, help="load generator processes")
    parser.add_argument("--profile", help="write a py-spy flame graph of the server at the knee to this SVG")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.duration, ns.rounds, ns.concurrency = 1000, 0.3, 1, [2, 4]
    rounds: dict[str, dict[int, list[dict[str, float]]]] = {
        m: {c: [] for c in ns.concurrency} for m in ("check", "health")
    }
    errors: dict[str, int] = {}
    with serve() as server:
        preload_registry(server.redis_url, ns.registry)
        info = machine(server.redis_url)
        credentials = server.credentials
        with LoadGen(server.target, ns.registry, ns.clients, server.dialer) as gen:
            for method in ("check", "health"):  # warm-up: connections, caches, the recorder's first batches
                gen.run(Job(method, 0.5 if ns.quick else 2.0, concurrency=16))
            for r in range(ns.rounds):
                for c in ns.concurrency:
                    order = ("check", "health") if (r + c) % 2 == 0 else ("health", "check")
                    for method in order:
                        settle(server)
                        before, started = cpu_seconds(server.pid), time.perf_counter()
                        sample = gen.run(Job(method, ns.duration, concurrency=c, warmup_s=0.3))
                        wall = time.perf_counter() - started
                        after = cpu_seconds(server.pid)
                        used = {k: after[k] - before.get(k, 0.0) for k in after}
                        rounds[method][c].append(summarize(sample, wall, used))
                        for err, count in sample.errors.items():
                            errors[f"{method}@{c} {err}"] = errors.get(f"{method}@{c} {err}", 0) + count
            summary = {
                m: {c: {k: median([x[k] for x in rs]) for k in rs[0]} for c, rs in per_c.items()}
                for m, per_c in rounds.items()
            }
            k = knee({c: s["per_s"] for c, s in summary["check"].items()})
            maybe_profile(ns.profile, server.pid, lambda: gen.run(Job("check", 10.0, concurrency=k)))
    ratios = {c: summary["check"][c]["per_s"] / summary["health"][c]["per_s"] for c in ns.concurrency}
    rows = []
    for c in ns.concurrency:
        ch, he = summary["check"][c], summary["health"][c]
        mark = " (knee)" if c == k else ""
        rows.append(
            [
                f"{c}{mark}",
                f"**{ch['per_s']:.0f}**",
                f"{ch['p50_ms']:.2f} / {ch['p99_ms']:.2f}",
                f"{he['per_s']:.0f}",
                f"{he['p50_ms']:.2f} / {he['p99_ms']:.2f}",
                f"**{ratios[c]:.2f}**",
            ]
        )
    lines = [
        "## Check throughput, closed loop",
        "",
        f"Registry of {ns.registry:,} numbers, half the Checks hit a registered number, every number distinct. "
        f"{ns.clients} load-generator process(es) (grpc.aio + uvloop, one channel each) on the same 2-core "
        f"machine as the server; {ns.duration:g} s per step, medians of {ns.rounds} rounds, Check and Health "
        f"alternating; {credentials}. Goal: throughput ratio ≥ 0.75 at the knee.",
        "",
        *table(
            ["in flight", "Check/s", "Check p50 / p99 (ms)", "Health/s", "Health p50 / p99 (ms)", "ratio"],
            rows,
        ),
        "",
        f"Knee (lowest concurrency within {KNEE_SHARE:.0%} of the best Check throughput): **{k}** in flight, "
        f"throughput ratio there **{ratios[k]:.2f}**. Errors: {sum(errors.values())}"
        + (f" ({', '.join(f'{e}: {n}' for e, n in sorted(errors.items()))})" if errors else "")
        + ".",
        "",
        "CPU used during the steps, in cores (of 2): the server's Python process(es), its Redis, the load generator "
        "(PostgreSQL, where the recorder writes, is not counted):",
        "",
        *table(
            ["in flight", "Check: server / Redis / load gen", "Health: server / Redis / load gen"],
            [
                [str(c)]
                + [
                    " / ".join(f"{summary[m][c][x]:.2f}" for x in ("server_cores", "redis_cores", "loadgen_cores"))
                    for m in ("check", "health")
                ]
                for c in ns.concurrency
            ],
        ),
    ]
    result: dict[str, Any] = {
        "rounds": {m: {str(c): rs for c, rs in per_c.items()} for m, per_c in rounds.items()},
        "summary": {m: {str(c): s for c, s in per_c.items()} for m, per_c in summary.items()},
        "ratio": {str(c): v for c, v in ratios.items()},
        "knee": k,
        "ratio_at_knee": ratios[k],
        "errors": errors,
        "clients": ns.clients,
        "credentials": credentials,
    }
    record("check_throughput", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
