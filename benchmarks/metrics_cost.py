"""What counting for /metrics adds to one Check's CPU, measured on the real functions, without Redis.

    python -m benchmarks.metrics_cost --calls 1000000 --rounds 5

`benchmarks.check_path` run at two commits gives the whole Check with and without counting, but on a
shared 2-core machine its runs vary by several µs, more than the counting costs. This measures the
added work itself, each part as a Check pays it: the RPC's tally in `api.interceptors.instrument`
(`started += 1`, two clock reads, `MethodTally.ok`), the verdict's count
(in `CallGateServicer.Check`) and the Redis round trip's histogram (`CheckLane.classify_and_log`: two clock
reads and `Timings.observe`). Microseconds per Check, medians of the rounds, minus an empty loop.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from benchmarks.common import Output, add_common_args, command_line, machine, median, record
from dncgate import metrics
from dncgate.domain.decision import INVALID_NUMBER
from dncgate.service.checks import CheckResult


def parts() -> dict[str, Callable[[int], None]]:
    tally = metrics.Tally()
    counts = tally.method("/dncgate.v1.CallGate/Check", "unary")
    result = CheckResult(INVALID_NUMBER, "", "", "", "")
    clock = time.perf_counter

    def empty(n: int) -> None:
        for _ in range(n):
            pass

    def rpc(n: int) -> None:  # as `instrument`'s quiet path counts a Check that succeeds
        for _ in range(n):
            counts.started += 1
            started = clock()
            counts.ok(clock() - started)

    def verdict(n: int) -> None:  # as `CallGateServicer.Check` counts it (`_count` inlined there)
        checks = tally.checks
        for _ in range(n):
            v = result.verdict
            key = (v.decision._value_, v.reason._value_)
            checks[key] = checks.get(key, 0) + 1

    def redis(n: int) -> None:
        timings = tally.check_redis
        for _ in range(n):
            started = clock()
            timings.observe(clock() - started)

    return {"empty": empty, "rpc": rpc, "verdict": verdict, "redis": redis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check-cpu-us", type=float, default=28.0, help="our CPU per Check beyond a PING")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.calls, ns.rounds = 10_000, 1
    runs: dict[str, list[float]] = {}
    for _ in range(ns.rounds):
        for name, part in parts().items():
            cpu = time.process_time()
            part(ns.calls)
            runs.setdefault(name, []).append((time.process_time() - cpu) / ns.calls * 1e6)
    us = {name: median(values) for name, values in runs.items()}
    added = {name: max(us[name] - us["empty"], 0.0) for name in ("rpc", "verdict", "redis")}
    total = sum(added.values())
    table = "\n".join(
        [
            "## Metrics: what counting adds to a Check (the parts, measured alone)",
            "",
            f"CPU µs per Check of the counting each part of a Check does, medians of {ns.rounds} rounds of "
            f"{ns.calls:,}, an empty loop subtracted.",
            "",
            "| part | µs per Check |",
            "|---|---|",
            f"| the RPC's tally (`instrument`: started, clock reads, handled + histogram) | {added['rpc']:.3f} |",
            f"| the verdict's count (`dncgate_checks_total`) | {added['verdict']:.3f} |",
            f"| the Redis round trip's histogram (`dncgate_check_redis_seconds`) | {added['redis']:.3f} |",
            f"| **total** | **{total:.3f}** ({total / ns.check_cpu_us:.1%} of {ns.check_cpu_us:g} µs) |",
        ]
    )
    record(
        "metrics_cost",
        {"us": us, "added": added, "total_us": total},
        table,
        command_line(),
        machine(),
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
