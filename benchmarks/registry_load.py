"""Put a registry of N numbers straight into Redis, fast, in exactly the layout HotRegistry writes.

HotRegistry.load (the rebuild path) sends one HSET per number: ~20 s per million on this machine. This
path computes the keyed hashes in two processes, groups them by bucket with numpy, writes one HSET per
bucket as raw protocol and streams it through `redis-cli --pipe` (Redis's mass-insertion mode), so 10M
numbers load in seconds. Bucket keys, fields, values and their order within each bucket are those of
HotRegistry: `assert_same_layout` checks it against HotRegistry.load itself on every memory run.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import redis
import redis.asyncio as aioredis

from dncgate.domain.registry import Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK
from dncgate.embedded import redis_server_binary
from dncgate.store.hot import DEFAULT_SHARDS, LEGACY_READY, HotRegistry, encode_schedule, ready_key

PEPPER = b"benchmark-pepper-0123456789abcdef"
CHUNK = 1_000_000  # numbers per pass: bounds the loader's memory
_PARALLEL_FROM = 200_000  # below this, hashing in this process is quicker than starting workers

_key = PEPPER.ljust(64, b"\0")  # HMAC-SHA256 by hand: the inner/outer states are computed once
_INNER = hashlib.sha256(bytes(b ^ 0x36 for b in _key))
_OUTER = hashlib.sha256(bytes(b ^ 0x5C for b in _key))


def consumer_number(i: int) -> str:
    """The i-th consumer number, as a dialer would send it (national format, no +86)."""
    return f"139{i:08d}"


def digest(e164: bytes) -> bytes:
    """HMAC-SHA256(PEPPER, e164): what the gateway's NumberKeyer computes, about twice as fast as hmac.digest."""
    inner = _INNER.copy()
    inner.update(e164)
    outer = _OUTER.copy()
    outer.update(inner.digest())
    return outer.digest()


def _digest_range(bounds: tuple[int, int]) -> bytes:
    return b"".join([digest(b"+86139%08d" % i) for i in range(*bounds)])


def digests(start: int, stop: int) -> list[bytes]:
    """Keyed hashes of consumers start..stop-1 (in this process)."""
    return [digest(b"+86139%08d" % i) for i in range(start, stop)]


def digest_chunks(start: int, stop: int) -> Iterator[np.ndarray]:
    """Keyed hashes of consumers start..stop-1, CHUNK numbers at a time as (n, 32) uint8 arrays, on every core."""
    bounds = [(lo, min(lo + CHUNK, stop)) for lo in range(start, stop, CHUNK)]
    if stop - start < _PARALLEL_FROM:
        for b in bounds:
            yield np.frombuffer(_digest_range(b), dtype=np.uint8).reshape(-1, 32)
        return
    halves = [p for lo, hi in bounds for p in ((lo, (lo + hi) // 2), ((lo + hi) // 2, hi))]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parts = pool.imap(_digest_range, halves)
        for first, second in zip(parts, parts, strict=True):
            yield np.frombuffer(first + second, dtype=np.uint8).reshape(-1, 32)


def registry_protocol(d: np.ndarray, bits: int) -> Iterator[bytes]:
    """`HSET <bucket> <field> <value> ...` per bucket, as Redis protocol, numbers in order within a bucket."""
    for _, chunk in registry_protocol_by_shard(d, bits, lambda shard: 0):
        yield chunk


def registry_protocol_by_shard(
    d: np.ndarray, bits: int, group_of: Callable[[int], int], shards: int = DEFAULT_SHARDS
) -> Iterator[tuple[int, bytes]]:
    """registry_protocol's commands, grouped: (group_of(shard), protocol) for the buckets of the shards
    of each group (on a Redis Cluster, a group is the primary that holds those shards' slots)."""
    hot = HotRegistry(aioredis.Redis(), bits, shards=shards)  # only pref_location: no connection is ever opened
    value = encode_schedule(Schedule(ALL_CATEGORIES_MASK))
    assert value is not None
    sample = d[0].tobytes()
    assert hot.pref_location(sample)[1] == sample[3:9], "HotRegistry's field is no longer digest[3:9]"
    top = (d[:, 0].astype(np.int64) << 16 | d[:, 1].astype(np.int64) << 8 | d[:, 2]) >> (24 - bits)
    order = np.argsort(top, kind="stable")
    entry = b"$6\r\n......\r\n$%d\r\n%s\r\n" % (len(value), value)
    entries = np.tile(np.frombuffer(entry, dtype=np.uint8), (len(d), 1))
    entries[:, 4:10] = d[order, 3:9]
    raw = entries.tobytes()
    starts = np.flatnonzero(np.diff(top[order], prepend=-1))
    ends = [*starts[1:].tolist(), len(d)]
    size = len(entry)
    batches: dict[int, list[bytes]] = {}
    for lo, hi in zip(starts.tolist(), ends, strict=True):
        key = d[order[lo]].tobytes()
        hkey = hot.pref_location(key)[0]
        group = group_of(hot.callee_location(key)[0])
        batch = batches.setdefault(group, [])
        batch.append(b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (2 + 2 * (hi - lo), len(hkey), hkey))
        batch.append(raw[lo * size : hi * size])
        if len(batch) >= 4096:
            yield group, b"".join(batch)
            batches[group] = []
    for group, batch in batches.items():
        yield group, b"".join(batch)


def mset_protocol(d: np.ndarray, per_command: int = 1000) -> bytes:
    """The baseline, a plain `SET <64 hex digits> 1` per number, sent as MSETs of `per_command` keys."""
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    head, tail = b"$64\r\n", b"\r\n$1\r\n1\r\n"
    rows = np.empty((len(d), len(head) + 64 + len(tail)), dtype=np.uint8)
    rows[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rows[:, len(head) : len(head) + 64 : 2] = hexdigits[d >> 4]
    rows[:, len(head) + 1 : len(head) + 64 : 2] = hexdigits[d & 15]
    rows[:, len(head) + 64 :] = np.frombuffer(tail, dtype=np.uint8)
    raw, size = rows.tobytes(), rows.shape[1]
    out = []
    for lo in range(0, len(d), per_command):
        n = min(per_command, len(d) - lo)
        out.append(b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * n))
        out.append(raw[lo * size : (lo + n) * size])
    return b"".join(out)


def pipe_into(url: str, chunks: Iterator[bytes], db: int = 0) -> None:
    """Stream Redis protocol through `redis-cli --pipe`; raises if any command failed."""
    cli = str(Path(redis_server_binary()).with_name("redis-cli"))
    where = ["-s", url.removeprefix("unix://")] if url.startswith("unix://") else ["-u", url]
    proc = subprocess.Popen([cli, *where, "-n", str(db), "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    for chunk in chunks:
        proc.stdin.write(chunk)
    proc.stdin.close()
    report = proc.stdout.read().decode()
    if proc.wait() != 0 or "errors: 0," not in report:
        raise RuntimeError(f"redis-cli --pipe failed: ...{report.strip()[-1500:]}")


def load_fast(url: str, n: int, bits: int, start: int = 0, db: int = 0, chunks: list[np.ndarray] | None = None) -> None:
    """Register consumers start..start+n-1 (do-not-disturb, every category), one HSET per bucket and pass.

    `chunks`, if given, are their digests already computed (by digest_chunks).
    """
    source = chunks if chunks is not None else digest_chunks(start, start + n)
    pipe_into(url, (p for d in source for p in registry_protocol(d, bits)), db)


async def load_product(url: str, n: int, bits: int, start: int = 0, db: int = 0, batch: int = 10_000) -> None:
    """The same numbers through HotRegistry.load (the rebuild path)."""
    client = aioredis.Redis.from_url(url, db=db)
    hot = HotRegistry(client, bits)
    schedule = Schedule(ALL_CATEGORIES_MASK)
    try:
        for lo in range(start, start + n, batch):
            await hot.load([(k, schedule) for k in digests(lo, min(lo + batch, start + n))], ())
    finally:
        await client.aclose()


def server_bucket_bits(url: str, default: int = 16) -> int:
    """The bucket bits of a loaded server's registry, from shard 0's marker ("<layout>/<bits>/...") or
    the layout before shards' `dnc:ready`."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.get(ready_key(0)) or client.get(LEGACY_READY)
    finally:
        client.close()
    return int(raw.split(b"/")[1]) if isinstance(raw, bytes) and b"/" in raw else default


def assert_same_layout(url: str, bits: int, n: int = 3_000) -> None:
    """Load n numbers both ways into two scratch databases; compare every key, field, value, order, encoding."""
    scratch = (14, 15)
    clients = [redis.Redis.from_url(url, db=db) for db in scratch]
    got: list[list[object]] = []
    try:
        for c in clients:
            c.flushdb()
        load_fast(url, n, bits, db=scratch[0])
        asyncio.run(load_product(url, n, bits, db=scratch[1]))
        fast, product = clients
        keys = sorted(fast.scan_iter(count=5000))
        assert keys == sorted(product.scan_iter(count=5000)), "the fast loader writes other keys"
        for c in clients:  # every bucket's fields and values in order, and its encoding
            pipe = c.pipeline(transaction=False)
            for k in keys:
                pipe.hgetall(k)
                pipe.object("encoding", k)
            got.append([list(r.items()) if isinstance(r, dict) else r for r in pipe.execute()])
        assert got[0] == got[1], "the fast loader's buckets differ from HotRegistry.load's"
    finally:
        for c in clients:
            c.flushdb()
            c.close()
