"""Registry memory: Redis `used_memory` per registered number, against a plain `SET key 1` per number.

python -m benchmarks.memory --numbers 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis

from benchmarks.common import record
from dncgate.domain.registry import Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK
from dncgate.embedded import EmbeddedRedis
from dncgate.store.hot import HotRegistry

PEPPER = b"benchmark-pepper-0123456789abcdef"
BATCH = 10_000


def digests(n: int) -> list[bytes]:
    """Keyed hashes of n distinct Chinese mobile numbers, as the gateway would store them."""
    return [hmac.new(PEPPER, f"+86139{i:08d}".encode(), hashlib.sha256).digest() for i in range(n)]


def used_memory(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


async def load_registry(url: str, keys: list[bytes], bits: int) -> None:
    client = aioredis.Redis.from_url(url)
    hot = HotRegistry(client, bits)
    schedule = Schedule(ALL_CATEGORIES_MASK)
    for i in range(0, len(keys), BATCH):
        await hot.load([(k, schedule) for k in keys[i : i + BATCH]], ())
    await client.aclose()


def load_baseline(url: str, keys: list[bytes]) -> None:
    client = redis.Redis.from_url(url)
    for i in range(0, len(keys), BATCH):
        pipe = client.pipeline(transaction=False)
        for k in keys[i : i + BATCH]:
            pipe.set(k.hex(), 1)
        pipe.execute()
    client.close()


def measure(n: int, bits: int) -> dict[str, float]:
    keys = digests(n)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, loader in (
            ("ours", lambda url: asyncio.run(load_registry(url, keys, bits))),
            ("baseline", lambda url: load_baseline(url, keys)),
        ):
            server = EmbeddedRedis(Path(tmp) / name, persistent=False).start()
            try:
                before = used_memory(server.url)
                started = time.perf_counter()
                loader(server.url)
                out[f"{name}_load_s"] = time.perf_counter() - started
                out[f"{name}_bytes_per_number"] = (used_memory(server.url) - before) / n
            finally:
                server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--bucket-bits", type=int, default=16)
    ns = parser.parse_args()
    rows = []
    results = {}
    for n in ns.numbers:
        r = measure(n, ns.bucket_bits)
        results[str(n)] = r
        rows.append(
            f"| {n:,} | {r['ours_bytes_per_number']:.1f} | {r['baseline_bytes_per_number']:.1f} | "
            f"{r['ours_bytes_per_number'] / r['baseline_bytes_per_number']:.2f} | {r['ours_load_s']:.1f} s |"
        )
    table = "\n".join(
        [
            "## Registry memory (Redis `used_memory` delta per registered number)",
            "",
            f"Bucketed hashes, {ns.bucket_bits} bucket bits, embedded Redis with `hash-max-ziplist-entries 1024`.",
            "",
            "| numbers | ours (bytes/number) | baseline `SET key 1` (bytes/number) | ratio | our load time |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    record(
        "registry_memory",
        {"bucket_bits": ns.bucket_bits, "results": results},
        table,
        f"python -m benchmarks.memory --numbers {' '.join(map(str, ns.numbers))} --bucket-bits {ns.bucket_bits}",
    )


if __name__ == "__main__":
    main()
