"""The rebuild's bulk write rate into a local Redis Cluster of 3 primaries against one Redis node, in the same run.

    python -m benchmarks.cluster_import --numbers 200000 --rounds 3

What a `registry rebuild` sends Redis (`HotRegistry.load`, batches of `sync._BATCH` numbers, as
benchmarks.registry_load's `load_product` does): every number's do-not-disturb field, then a consent
field for a quarter of them and an org-list field for a tenth, each batch awaited before the next is
sent, into one embedded Redis (a unix socket), one redis-server over TCP (benchmarks.cluster's
`tcp_node`: the like-for-like baseline, cluster nodes are reached over TCP) and a Redis Cluster of 3
primaries and 3 replicas (started as the cluster tests start it: tests/cluster/conftest.py). The keyed
hashes are computed before the clock starts: the figure is the write path alone (our client's CPU and
Redis's). Every Redis is flushed before each round; rounds alternate between the targets (reversed
every other round), and the figures are the medians of the rounds.

`measure_import` is called by benchmarks.cluster too.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
import structlog
import uvloop

from benchmarks.common import Output, add_common_args, command_line, median, record
from benchmarks.registry_load import digests
from dncgate.bootstrap import cluster_client
from dncgate.domain.registry import Consent, Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK
from dncgate.service.sync import _BATCH
from dncgate.store.hot import HotRegistry

BITS = 16
_CONSENT = Consent("acme", "", datetime(2036, 1, 1, tzinfo=UTC))


def _batches(n: int) -> list[tuple[list[tuple[bytes, Schedule]], list[tuple[bytes, str, str, Consent]], list[Any]]]:
    """The rebuild's batches for n numbers: schedules, then consents (every 4th number), then org lists (every 10th)."""
    keys = digests(0, n)
    schedule = Schedule(ALL_CATEGORIES_MASK)
    out: list[Any] = []
    for lo in range(0, n, _BATCH):
        out.append(([(k, schedule) for k in keys[lo : lo + _BATCH]], [], []))
    consents = [(k, "acme", "", _CONSENT) for k in keys[::4]]
    for lo in range(0, len(consents), _BATCH):
        out.append(([], consents[lo : lo + _BATCH], []))
    listed = [(k, "globex") for k in keys[::10]]
    for lo in range(0, len(listed), _BATCH):
        out.append(([], [], listed[lo : lo + _BATCH]))
    return out


def _flush(urls: list[str]) -> None:
    for url in urls:
        with redis.Redis.from_url(url) as r:
            if r.info("replication")["role"] == "master":
                r.flushall()


async def _round(hot: HotRegistry, batches: list[Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for schedules, consents, lists in batches:
        await hot.load(schedules, consents, lists)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


async def measure_import(
    single_url: str, cluster_url: str, numbers: int, rounds: int = 3, tcp_url: str | None = None
) -> dict[str, Any]:
    """Numbers written a second by the rebuild's path (`HotRegistry.load`) into one node (`single_url`) and
    into the cluster (`cluster_url`: every node, comma-separated), medians of `rounds` alternating rounds;
    `ratio`: the cluster's rate over one node's. With `tcp_url` (one redis-server over TCP, as cluster
    nodes are reached), that node too (`single_tcp`) and `ratio_tcp`, the cluster's rate over its."""
    batches = _batches(numbers)
    fields = sum(len(s) + len(c) + len(lst) for s, c, lst in batches)
    clients = {"single": aioredis.Redis.from_url(single_url), "cluster": cluster_client(cluster_url, 5.0)}
    flush_urls = {"single": [single_url], "cluster": [f"redis://{n}" for n in cluster_url[8:].split(",")]}
    if tcp_url is not None:
        clients["single_tcp"], flush_urls["single_tcp"] = aioredis.Redis.from_url(tcp_url), [tcp_url]
    hots = {name: HotRegistry(c, BITS) for name, c in clients.items()}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in hots}
    try:
        for hot in hots.values():  # warm-up: connections to every primary, the slot map
            await _round(hot, batches[:2])
        for r in range(rounds):
            for name in hots if r % 2 == 0 else reversed(list(hots)):
                _flush(flush_urls[name])
                runs[name].append(await _round(hots[name], batches))
    finally:
        for c in clients.values():
            await c.aclose()
    out: dict[str, Any] = {"numbers": numbers, "fields": fields, "rounds": rounds}
    for name, rs in runs.items():
        wall = median([x["wall_s"] for x in rs])
        out[name] = {
            "numbers_per_s": numbers / wall,
            "fields_per_s": fields / wall,
            "seconds": wall,
            "cpu_us_per_field": median([x["cpu_s"] for x in rs]) / fields * 1e6,
        }
    out["ratio"] = out["cluster"]["numbers_per_s"] / out["single"]["numbers_per_s"]
    if tcp_url is not None:
        out["ratio_tcp"] = out["cluster"]["numbers_per_s"] / out["single_tcp"]["numbers_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.numbers, ns.rounds = 5_000, 3
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from benchmarks.cluster import three_targets  # not at import: benchmarks.cluster imports this module

    with three_targets() as (single_url, tcp_url, cluster_url, info):
        s = uvloop.run(measure_import(single_url, cluster_url, ns.numbers, ns.rounds, tcp_url))

    def row(label: str, name: str) -> str:
        x = s[name]
        return (
            f"| {label} | {x['numbers_per_s']:,.0f} | {x['fields_per_s']:,.0f} | {x['seconds']:.2f} "
            f"| {x['cpu_us_per_field']:.2f} |"
        )

    table = "\n".join(
        [
            "## Registry rebuild writes: Redis Cluster against one node",
            "",
            f"What a rebuild writes (`HotRegistry.load` in batches of {_BATCH:,}, each awaited before the next): "
            f"{ns.numbers:,} numbers' do-not-disturb fields, consents for a quarter and org-list entries for a "
            f"tenth of them ({s['fields']:,} fields), into one embedded Redis, one redis-server over TCP and a "
            f"local Redis Cluster of 3 primaries and 3 replicas on the same machine. Keyed hashes computed "
            f"beforehand; every Redis flushed before each round; medians of {ns.rounds} alternating rounds.",
            "",
            "| Redis | numbers/s | fields/s | seconds | our CPU per field (µs) |",
            "|---|---|---|---|---|",
            row("one node, unix socket (as `serve` embeds it)", "single"),
            row("one node over TCP, as a cluster node runs", "single_tcp"),
            row("cluster, 3 primaries, a pipeline per primary", "cluster"),
            "",
            f"Ratio cluster / one node: **{s['ratio']:.2f}** (unix socket), **{s['ratio_tcp']:.2f}** (TCP). "
            f"Every Redis server runs on this machine's cores beside the writer, so three primaries share the "
            f"CPU one node has to itself.",
        ]
    )
    record("cluster_import", {"summary": s}, table, command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
