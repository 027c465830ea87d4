"""Figures for /metrics that need a store query: read every few seconds by `api.observe`, never by a Check.

Each function asks one store, bounded by the caller's timeout; an outage raises the driver's error,
which the caller logs once and reports by leaving the gauge as it was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from dncgate.domain.money import exponent
from dncgate.store.cases import OVERDUE
from dncgate.store.hot import HotRegistry
from dncgate.store.recorder import GROUP

_HLEN_CHUNK = 4096  # buckets per script call: a millisecond or two of Redis, Checks run in between
# The fields of the buckets lo, lo + step, ... up to hi of one shard (their 3-byte big-endian numbers after
# its prefix and tag, ARGV[1]), summed in Redis: the client sends one command per chunk instead of one
# per bucket (65,536 HLENs packed by redis-py would cost the event loop about 0.3 s of CPU each time).
# KEYS[1], a key of the shard (its ready marker, not touched), routes the call on a Redis Cluster.
_SUM_HLEN = """
local n = 0
for i = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) do
  n = n + redis.call('HLEN', ARGV[1] .. string.char(math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256))
end
return n
"""


async def registry_numbers(hot: HotRegistry) -> int:
    """Numbers with a preference in the registry as Redis holds it: the fields of every `dncr` bucket,
    shard by shard (a bucket b is in shard b % S)."""
    script = hot.client.register_script(_SUM_HLEN)
    layout, buckets = hot.layout, 1 << hot.bits
    step = layout.shards
    total = 0
    for shard in range(min(step, buckets)):
        per_call = _HLEN_CHUNK * step
        for lo in range(shard, buckets, per_call):
            hi = min(lo + per_call, buckets) - 1
            total += int(await script(keys=[layout.readies[shard]], args=[layout.prefs[shard], lo, hi, step]))
    return total


def _ms(stream_id: Any) -> int:
    raw = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(raw.split("-", 1)[0])


async def stream_figures(
    client: aioredis.Redis, streams: Sequence[bytes], now_s: float | None = None
) -> tuple[int, int, float]:
    """(entries in all call streams, entries the recorder read and has not acknowledged, age in seconds
    of the oldest event not yet recorded in any stream: pending, or after its group's last delivered id;
    0 when there is none).

    A stream entry's id is the Redis clock in milliseconds when it was appended, so its age needs no read
    of the event itself. Two pipelined round trips whatever the number of streams: their lengths, groups
    and pending summaries, then the first entry not yet delivered of those that have no pending one.
    """
    now_ms = (time.time() if now_s is None else now_s) * 1000
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.xlen(stream)
        pipe.xinfo_groups(stream)
        pipe.xpending(stream, GROUP)
    replies = await pipe.execute(raise_on_error=False)
    length = pending = 0
    oldest: list[int] = []
    after: list[tuple[bytes, bytes | None]] = []  # (stream, read after this id; None: from its start)
    for i, stream in enumerate(streams):
        n, groups, summary = replies[3 * i : 3 * i + 3]
        if isinstance(groups, Exception):  # no such stream
            continue
        length += int(n)
        group = next((g for g in groups if g["name"] in (GROUP, GROUP.encode())), None)
        if group is None:  # no recorder has started on it yet: everything is unrecorded
            after.append((stream, None))
            continue
        if not isinstance(summary, Exception) and int(summary["pending"]):
            pending += int(summary["pending"])
            oldest.append(_ms(summary["min"]))
            continue
        last = group["last-delivered-id"]
        after.append((stream, last if isinstance(last, bytes) else last.encode()))
    if after:
        pipe = client.pipeline(transaction=False)
        for stream, last in after:
            pipe.xrange(stream, min=b"-" if last is None else b"(" + last, count=1)
        for first in await pipe.execute():
            if first:
                oldest.append(_ms(first[0][0]))
    return length, pending, (max(now_ms - min(oldest), 0) / 1000 if oldest else 0.0)


async def complaint_figures(
    pool: AsyncConnectionPool[Any], now: Any
) -> tuple[dict[tuple[str, str], int], int, dict[str, float]]:
    """(complaints per (channel, status), open complaints overdue at `now`, payouts pending per currency
    in major units). Overdue as `CaseStore.page` reads it."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT channel, status, count(*) FROM complaints GROUP BY channel, status")
        per = {(str(c), str(s)): int(n) for c, s, n in await cur.fetchall()}
        cur = await conn.execute(f"SELECT count(*) FROM complaints WHERE {OVERDUE}", (now, now))
        row = await cur.fetchone()
        overdue = int(row[0]) if row else 0
        cur = await conn.execute(
            "SELECT currency, sum(amount_minor) FROM payouts WHERE status = 'PENDING' GROUP BY currency"
        )
        owed = {str(c): int(m) / 10 ** exponent(str(c)) for c, m in await cur.fetchall()}
    return per, overdue, owed
