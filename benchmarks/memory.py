"""Registry memory: Redis `used_memory` per registered number, against a plain `SET key 1` per number.

    python -m benchmarks.memory --numbers 1000000 10000000

Each size loads ours and the baseline into fresh embedded Redis servers (no AOF, `hash-max-ziplist-entries
1024` as `dncgate serve` starts it) through the fast loader of benchmarks.registry_load, whose layout is
checked against HotRegistry.load first. When ours is over the goal at the largest size, the same size is
measured again at more bucket bits (`--sweep-bits`), as data for choosing DNCGATE_REGISTRY_BUCKET_BITS.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from benchmarks.common import Output, add_common_args, cap_settings, command_line, machine, record, table
from benchmarks.registry_load import PEPPER, assert_same_layout, digest_chunks, load_fast, mset_protocol, pipe_into
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


async def _cap_counters(url: str, callees: int) -> dict[str, float]:
    """Checks (caps on: 3 a day, 7 a week, as `serve`'s defaults) to `callees` distinct unregistered
    numbers, 16 at a time; used_memory of the cap counters they leave (the call streams deleted first)."""
    from benchmarks.check_path import CONCURRENCY, request, timed
    from dncgate import phone
    from dncgate.api.gateway import CallGateServicer
    from dncgate.bootstrap import build_gateway
    from dncgate.config import Settings
    from dncgate.domain.hours import CallingHours
    from dncgate.store.hot import CALLS_PREFIX, CAP_PREFIX, HotRegistry
    from dncgate.v1 import gateway_pb2

    client = aioredis.Redis.from_url(url)
    sync_client = redis.Redis.from_url(url)
    hot = HotRegistry(client, 16)
    await hot.finish_rebuild(0)
    settings = Settings(
        calling_hours=CallingHours.parse("00:00-24:00"), redis_timeout_ms=2000, pepper=PEPPER, **cap_settings(3, 7)
    )
    gw = build_gateway(settings, hot, phone.NumberKeyer(PEPPER))
    servicer = CallGateServicer(gw, 5000, None, log_fields=False)  # type: ignore[arg-type]

    async def check(i: int) -> None:
        # odd i: an unregistered number, every one distinct (registry size 0)
        reply = await servicer.Check(gateway_pb2.CheckRequest.FromString(request(2 * i + 1, 0)), None)
        assert reply.decision == gateway_pb2.DECISION_ALLOW, reply

    def streams_deleted() -> int:
        for k in sync_client.scan_iter(match=CALLS_PREFIX + b"*", count=1000):
            sync_client.delete(k)
        return settled_used_memory(sync_client)

    try:
        before = streams_deleted()
        await timed(check, 0, callees, CONCURRENCY)
        undrained = settled_used_memory(sync_client)  # every call's event still in its stream (no recorder)
        after = streams_deleted()
        keys = sum(1 for _ in sync_client.scan_iter(match=CAP_PREFIX + b"*", count=1000))
    finally:
        await gw.aclose()
        await client.aclose()
        sync_client.close()
    return {
        "callees": callees,
        "cap_keys": keys,
        "bytes_per_callee": (after - before) / callees,
        "bytes_per_undrained_event": (undrained - after) / callees,
    }


def cap_counters(callees: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dncgate-mem-") as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False).start()
        try:
            return asyncio.run(_cap_counters(server.url, callees))
        finally:
            server.stop()


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
    parser.add_argument(
        "--cap-callees", type=int, default=0, help="also measure the frequency caps' counters after Checks to N callees"
    )
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.numbers, ns.cap_callees = [20_000], 2_000
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
    caps = cap_counters(ns.cap_callees) if ns.cap_callees else None
    if caps:
        lines += [
            "",
            f"Frequency caps (3 a day, 7 a week, `serve`'s defaults): after allowed Checks to {caps['callees']:,} "
            f"distinct callees (16 at a time, call streams deleted before each reading), their counters "
            f"({caps['cap_keys']:,} keys, each expiring a week after its last call) hold "
            f"**{caps['bytes_per_callee']:.0f} B per callee called in the week**. A call event not yet drained by "
            f"the recorder holds **{caps['bytes_per_undrained_event']:.0f} B** of its stream.",
        ]
    record(
        "registry_memory",
        {"goal_bytes": GOAL_BYTES, "bucket_bits_meeting_goal": meets, "results": results, "cap_counters": caps},
        "\n".join(lines),
        command_line(),
        {**machine(), "redis-server": largest["redis_version"]},
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
