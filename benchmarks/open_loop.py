"""Check under open-loop load: latency at a fixed offered rate, and a sweep of offered rates with a plot.

    python -m benchmarks.open_loop --registry 1000000 --rate 1500 --duration 30 \\
        --sweep 250 500 1000 1500 2000 3000 --sweep-duration 4

Requests leave on a Poisson schedule (`--fixed` for a fixed rate) from load-generator process(es)
(benchmarks.loadgen) whatever the server does, and latency runs from each request's scheduled send time,
so queueing shows up instead of hiding (no coordinated omission). The generator's own send lag (uvloop
timers tick in milliseconds) and the latency from the actual send are reported beside it. The sweep runs
Check and grpc.health.v1 Health/Check at each rate, alternating, lowest rate first, and plots both.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Output, add_common_args, command_line, machine, percentile, record, table
from benchmarks.loadgen import Job, LoadGen, Sample
from benchmarks.server import cpu_seconds, preload_registry, serve, settle
from benchmarks.spy import maybe_profile

GOAL_P99_MS = 5.0
PLOT = "latency_vs_load.png"


def summarize(s: Sample, rate: float) -> dict[str, float]:
    ms = [x * 1000 for x in s.latencies]
    return {
        "offered_per_s": rate,
        "sent": float(s.sent),
        "achieved_per_s": len(s.latencies) / s.duration_s,
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "p999_ms": percentile(ms, 99.9),
        "max_ms": max(ms, default=float("nan")),
        "service_p50_ms": percentile(s.service, 50) * 1000,
        "service_p99_ms": percentile(s.service, 99) * 1000,
        "lag_p50_ms": percentile(s.lags, 50) * 1000,
        "lag_p99_ms": percentile(s.lags, 99) * 1000,
        "errors": float(sum(s.errors.values())),
    }


def plot(sweep: dict[str, list[dict[str, float]]], path: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    styles = {"check": ("tab:red", "CallGate.Check"), "health": ("tab:blue", "Health/Check (baseline)")}
    for method, points in sweep.items():
        color, label = styles[method]
        x = [p["offered_per_s"] for p in points]
        ax.plot(x, [p["p50_ms"] for p in points], "o-", color=color, label=f"{label} p50")
        ax.plot(x, [p["p99_ms"] for p in points], "s--", color=color, label=f"{label} p99")
        for p in points:
            if p["errors"]:
                ax.annotate(
                    f"{p['errors']:.0f} errors",
                    (p["offered_per_s"], p["p99_ms"]),
                    xytext=(4, 6),
                    textcoords="offset points",
                    fontsize=7,
                    color=color,
                )
    ax.axhline(GOAL_P99_MS, color="grey", linestyle=":", label=f"goal: Check p99 ≤ {GOAL_P99_MS:g} ms")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("offered load (requests/s, Poisson arrivals)")
    ax.set_ylabel("latency from scheduled send (ms, log scale)")
    ax.set_title(f"dncgate: latency against offered load\n{subtitle}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1500.0, help="checks/s offered in the main run")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the main run")
    parser.add_argument("--sweep", type=float, nargs="*", default=[250, 500, 1000, 1500, 2000, 3000])
    parser.add_argument("--sweep-duration", type=float, default=4.0)
    parser.add_argument("--fixed", action="store_true", help="fixed-rate schedule instead of Poisson arrivals")
    parser.add_argument("--clients", type=int, default=1, help="load generator processes")
    parser.add_argument("--profile", help="write py-spy collapsed stacks of the server at --rate to this file")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.rate, ns.duration, ns.sweep, ns.sweep_duration = 1000, 200.0, 1.0, [100, 300], 0.5
    poisson = not ns.fixed
    out = Output.at(ns.out)
    sweep: dict[str, list[dict[str, float]]] = {"check": [], "health": []}
    with serve() as server:
        preload_registry(server.redis_url, ns.registry)
        info = machine(server.redis_url)
        credentials = server.credentials
        with LoadGen(server.target, ns.registry, ns.clients, server.dialer) as gen:
            for method in ("check", "health"):  # warm-up
                gen.run(Job(method, 0.5 if ns.quick else 2.0, rate=ns.rate / 2, poisson=poisson))
            settle(server)
            before, started = cpu_seconds(server.pid), time.perf_counter()
            main_sample = gen.run(Job("check", ns.duration, rate=ns.rate, poisson=poisson, seed=7))
            wall, after = time.perf_counter() - started, cpu_seconds(server.pid)
            main_run = summarize(main_sample, ns.rate)
            main_run["server_cores"] = (after.get("python", 0) - before.get("python", 0)) / wall
            main_run["redis_cores"] = (after.get("redis-server", 0) - before.get("redis-server", 0)) / wall
            main_run["loadgen_cores"] = main_sample.cpu_s / wall
            for i, rate in enumerate(sorted(ns.sweep)):
                for method in ("check", "health") if i % 2 == 0 else ("health", "check"):
                    settle(server)
                    s = gen.run(Job(method, ns.sweep_duration, rate=rate, poisson=poisson, seed=11 + i))
                    sweep[method].append(summarize(s, rate))
            settle(server)
            maybe_profile(ns.profile, server.pid, lambda: gen.run(Job("check", 10.0, rate=ns.rate, poisson=poisson)))
    schedule = "Poisson" if poisson else "fixed-rate"
    png = out.artifacts / PLOT
    plot(sweep, png, f"registry {ns.registry:,}, {schedule} arrivals, {ns.sweep_duration:g} s per point")
    rel = Path(os.path.relpath(png, out.markdown.parent)).as_posix()
    m = main_run
    met = m["p99_ms"] <= GOAL_P99_MS and not m["errors"]
    rows = []
    for c, h in zip(sweep["check"], sweep["health"], strict=True):
        rows.append(
            [
                f"{c['offered_per_s']:.0f}",
                f"{c['achieved_per_s']:.0f}",
                f"{c['p50_ms']:.2f} / **{c['p99_ms']:.2f}**",
                f"{c['errors']:.0f}",
                f"{h['p50_ms']:.2f} / {h['p99_ms']:.2f}",
                f"{h['errors']:.0f}",
                f"{c['lag_p99_ms']:.1f} / {h['lag_p99_ms']:.1f}",
            ]
        )
    lines = [
        "## Check under open-loop load",
        "",
        f"Registry of {ns.registry:,} numbers, half the Checks hit a registered number, every number distinct, "
        f"{credentials}; {schedule} arrivals from {ns.clients} load-generator process(es) (grpc.aio + uvloop); "
        "latency from each request's scheduled send time. An error is a failed RPC or an answer other than the "
        "expected BLOCK/ALLOW (e.g. fail-closed REGISTRY_UNAVAILABLE); each request has a 2 s deadline (CANCELLED or "
        "DEADLINE_EXCEEDED: the request waited that long). Between steps the recorder is let drain the stream.",
        "",
        f"**{ns.rate:.0f} checks/s offered for {ns.duration:g} s** (goal: p99 ≤ {GOAL_P99_MS:g} ms, no errors: "
        f"{'met' if met else '**not met**'}):",
        "",
        *table(
            ["sent", "answered/s", "p50 (ms)", "p99 (ms)", "p99.9 (ms)", "max (ms)", "errors"],
            [
                [
                    f"{m['sent']:.0f}",
                    f"{m['achieved_per_s']:.0f}",
                    f"{m['p50_ms']:.2f}",
                    f"**{m['p99_ms']:.2f}**",
                    f"{m['p999_ms']:.2f}",
                    f"{m['max_ms']:.1f}",
                    f"**{m['errors']:.0f}**"
                    + (
                        f" ({', '.join(f'{k} {v}' for k, v in sorted(main_sample.errors.items()))})"
                        if m["errors"]
                        else ""
                    ),
                ]
            ],
        ),
        "",
        f"Of which the generator's own send lag: p50 {m['lag_p50_ms']:.2f} ms, p99 {m['lag_p99_ms']:.2f} ms; "
        f"latency from the actual send: p50 {m['service_p50_ms']:.2f} ms, p99 {m['service_p99_ms']:.2f} ms. "
        f"CPU used (cores of 2): server {m['server_cores']:.2f}, its Redis {m['redis_cores']:.2f}, "
        f"load generator {m['loadgen_cores']:.2f}.",
        "",
        f"Sweep, {ns.sweep_duration:g} s per point, Check and Health alternating. A large send lag means the "
        "load generator itself was short of CPU (it shares the 2 cores with the server, Redis and PostgreSQL):",
        "",
        *table(
            [
                "offered/s",
                "Check answered/s",
                "Check p50 / p99 (ms)",
                "Check errors",
                "Health p50 / p99 (ms)",
                "Health errors",
                "send lag p99, Check / Health (ms)",
            ],
            rows,
        ),
        "",
        f"![p50 and p99 latency against offered load]({rel})",
    ]
    result: dict[str, Any] = {"main": main_run, "sweep": sweep, "schedule": schedule, "plot": rel}
    result["credentials"] = credentials
    result["errors"] = dict(main_sample.errors)
    record("check_open_loop", result, "\n".join(lines), command_line(), info, out)


if __name__ == "__main__":
    main()
