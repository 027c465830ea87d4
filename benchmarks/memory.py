"""Registry memory: Redis `used_memory` per registered number, against a plain `SET key 1` per number.

    python -m benchmarks.memory --numbers 1000000 10000000

Each size loads ours and the baseline into fresh embedded Redis servers (no AOF, `hash-max-ziplist-entries
1024` as `dncgate serve` starts it) through the fast loader of benchmarks.registry_load, whose layout is
checked against HotRegistry.load first. When ours is over the goal at the largest size, the same size is
measured again at more bucket bits (`--sweep-bits`), as data for choosing DNCGATE_REGISTRY_BUCKET_BITS.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis

from benchmarks.common import Output, add_common_args, command_line, machine, record, table
from benchmarks.registry_load import assert_same_layout, digest_chunks, load_fast, mset_protocol, pipe_into
from dncgate.embedded import EmbeddedRedis

GOAL_BYTES = 24.0


def settled_used_memory(client: redis.Redis) -> int:
    """used_memory once it stops moving (Redis finishes rehashing its key space in the background)."""
    last = -1
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = int(client.info("memory")["used_memory"])
        if now == last:
            return now
        last = now
        time.sleep(0.3)
    return last


def measure_one(load: Callable[[str], None], n: int) -> tuple[float, float, str]:
    """(bytes per number, load seconds, Redis version) for one load into a fresh Redis."""
    with tempfile.TemporaryDirectory(prefix="dncgate-mem-") as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False).start()
        client = redis.Redis.from_url(server.url)
        try:
            before = settled_used_memory(client)
            started = time.perf_counter()
            load(server.url)
            seconds = time.perf_counter() - started
            used = settled_used_memory(client) - before
            return used / n, seconds, str(client.info("server")["redis_version"])
        finally:
            client.close()
            server.stop()


def measure(n: int, bits: list[int], sweep: list[int]) -> dict[str, Any]:
    started = time.perf_counter()
    chunks = list(digest_chunks(0, n))
    out: dict[str, Any] = {"hash_s": time.perf_counter() - started, "ours": {}}

    def ours(b: int) -> Callable[[str], None]:
        return lambda url: load_fast(url, n, b, chunks=chunks)

    def baseline(url: str) -> None:
        pipe_into(url, (mset_protocol(d) for d in chunks))

    # Ours and the baseline load side by side into two Redis servers: each Redis is single-threaded and
    # this machine has two cores, so the pair takes about as long as the slower one.
    with ThreadPoolExecutor(2) as pool:
        base = pool.submit(measure_one, baseline, n)
        for b in bits:
            per, secs, version = measure_one(ours(b), n)
            out["ours"][str(b)] = {"bytes_per_number": per, "load_s": secs}
        per, secs, _ = base.result()
    out["baseline"] = {"bytes_per_number": per, "load_s": secs}
    if min(r["bytes_per_number"] for r in out["ours"].values()) > GOAL_BYTES:
        for b in sweep:
            if str(b) not in out["ours"]:
                per, secs, _ = measure_one(ours(b), n)
                out["ours"][str(b)] = {"bytes_per_number": per, "load_s": secs}
    out["redis_version"] = version
    return out


def check_layout(bits: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="dncgate-mem-") as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False).start()
        try:
            for b in bits:
                assert_same_layout(server.url, b)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--bucket-bits", type=int, nargs="+", default=[16], help="measured at every size")
    parser.add_argument("--sweep-bits", type=int, nargs="*", default=[16, 17, 18], help="tried if over the goal")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.numbers = [20_000]
    check_layout(sorted({*ns.bucket_bits, *ns.sweep_bits}))
    results = {str(n): measure(n, ns.bucket_bits, ns.sweep_bits) for n in ns.numbers}
    rows = []
    for n in ns.numbers:
        r = results[str(n)]
        base = r["baseline"]["bytes_per_number"]
        for b, o in sorted(r["ours"].items()):
            rows.append(
                [
                    f"{n:,}",
                    b,
                    f"**{o['bytes_per_number']:.1f}**",
                    f"{base:.1f}",
                    f"{o['bytes_per_number'] / base:.2f}",
                    "yes" if o["bytes_per_number"] <= GOAL_BYTES else "**no**",
                    f"{o['load_s']:.1f} s / {r['baseline']['load_s']:.1f} s",
                ]
            )
    largest = results[str(max(ns.numbers))]
    meets = sorted(int(b) for b, o in largest["ours"].items() if o["bytes_per_number"] <= GOAL_BYTES)
    lines = [
        "## Registry memory (Redis `used_memory` delta per registered number)",
        "",
        "Bucketed hashes as HotRegistry writes them (checked field by field against `HotRegistry.load`), "
        "embedded Redis as `dncgate serve` starts it (`hash-max-ziplist-entries 1024`), AOF off. "
        "Baseline: a plain `SET <64 hex digits> 1` per number. Both loaded as pipelined raw protocol "
        "(`redis-cli --pipe`), side by side into two servers; used_memory read once settled. "
        f"Goal: ≤ {GOAL_BYTES:.0f} bytes/number at the largest size.",
        "",
        *table(
            [
                "numbers",
                "bucket bits",
                "ours (B/number)",
                "`SET key 1` (B/number)",
                "ratio",
                "goal",
                "load ours / base",
            ],
            rows,
        ),
        "",
        f"At {max(ns.numbers):,} numbers the goal is met with bucket bits: {', '.join(map(str, meets)) or 'none'}.",
    ]
    record(
        "registry_memory",
        {"goal_bytes": GOAL_BYTES, "bucket_bits_meeting_goal": meets, "results": results},
        "\n".join(lines),
        command_line(),
        {**machine(), "redis-server": largest["redis_version"]},
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
