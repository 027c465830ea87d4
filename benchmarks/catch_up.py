"""Catch-up in isolation: `sync.catch_up` over N recent journal rows, the folded sliced apply against the
old one-consumer-at-a-time `reapply`.

    python -m benchmarks.catch_up --rows 1000000 --repeats 3 --old-sample 100000

In one process (uvloop), over embedded Redis and PostgreSQL in a temporary directory, as `serve`
starts them: N distinct consumers get one do-not-disturb journal entry each, by the import's own
binary COPY (40,000 rows per transaction), all recorded just now, so every one of them is in the
catch-up window, as after an import just before a restart. Each repeat times `catch_up` (window
query, slices of 5,000 under the exclusive lock, fold, bulk script writes) from the first query to
the org modes written, twice: with Redis holding every consumer already (a restart after an import),
then with Redis emptied of them, after which a sample of the consumers is checked through the
gateway's check_many (all must BLOCK).

The old way (`RegistryService.reapply` for each consumer, as catch_up did before) is timed on the
first `--old-sample` consumers only and extrapolated linearly to N (each consumer is the same lock,
two queries and one Redis transaction, so its cost does not depend on N); the new way is timed on
the same sample too, for a like-for-like ratio. Wall time, and the CPU time of this process (the
Python side), medians of the repeats.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import uvloop

from benchmarks.common import Output, add_common_args, command_line, machine, median, record, table
from benchmarks.registry_load import PEPPER, consumer_number, digests
from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Source
from dncgate.service import catchup, sync
from dncgate.service.gateway import CheckInput
from dncgate.store.bulk import append_preferences
from dncgate.store.catchup import KEY_BYTES, Changed, PackedKeys, changed_since
from dncgate.store.hot import SEQ

COPY_ROWS = 40_000  # the importer's chunk
SAMPLE = 1000


async def journal_rows(app: Any, rows: int) -> None:
    """One do-not-disturb entry per consumer 0..rows-1, by the import's COPY, chunks sorted by key as it does."""
    now_us = epoch_us(datetime.now(UTC))
    for lo in range(0, rows, COPY_ROWS):
        keys = sorted(digests(lo, min(lo + COPY_ROWS, rows)))
        chunk = [(k, True, ALL_CATEGORIES_MASK, int(Source.NATIONAL_REGISTRY), now_us) for k in keys]
        await append_preferences(app.journal.pool, chunk, "catch-up benchmark")


async def forget(app: Any) -> None:
    """Redis loaded (ready) but without any consumer, watermark 0: what a catch-up must make good."""
    client = app.redis
    for pattern in (b"dncr*", b"dncc*"):
        batch = [k async for k in client.scan_iter(match=pattern, count=5000)]
        for i in range(0, len(batch), 5000):
            await client.unlink(*batch[i : i + 5000])
    await client.set(SEQ, 0)


async def check_applied(app: Any, rows: int) -> None:
    step = max(1, rows // SAMPLE)
    reqs = [
        CheckInput("+862759001234", consumer_number(i), "", "bench", "", Category.UNSPECIFIED, "")
        for i in range(0, rows, step)
    ]
    results = await app.gateway.check_many(reqs)
    wrong = [r for r in results if r.verdict.decision is not Decision.BLOCK]
    assert not wrong, f"{len(wrong)} consumers were not caught up, e.g. {wrong[0]}"


async def timed(coro: Any) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of awaiting `coro`."""
    wall, cpu = time.perf_counter(), time.process_time()
    await coro
    return time.perf_counter() - wall, time.process_time() - cpu


async def changed(app: Any) -> Changed:
    """What catch_up re-applies: its window query."""
    async with app.journal.pool.connection() as conn:
        return await changed_since(conn, 0, sync.CATCH_UP_WINDOW)


async def old_way(app: Any, keys: list[bytes]) -> None:
    for key in keys:
        await app.registry.reapply(key)


async def run(rows: int, repeats: int, old_sample: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dncgate-catchup-") as tmp:
        settings = Settings(data_dir=Path(tmp), pepper=PEPPER, log_level="warning")
        async with open_app(settings) as app:
            await sync.rebuild(app.journal, app.hot)
            started = time.perf_counter()
            await journal_rows(app, rows)
            load_s = time.perf_counter() - started
            print(f"journaled {rows:,} rows in {load_s:.1f} s", flush=True)
            caught = 0

            async def catch_up() -> None:
                nonlocal caught
                caught = await sync.catch_up(app.registry, app.journal, app.hot)

            await catch_up()  # Redis now holds every consumer, as after the import
            held: list[tuple[float, float]] = []
            missing: list[tuple[float, float]] = []
            for _ in range(repeats):
                held.append(await timed(catch_up()))
                assert caught == rows, f"caught up {caught:,} consumers, expected {rows:,}"
                await forget(app)
                missing.append(await timed(catch_up()))
                await check_applied(app, rows)
                print(
                    f"catch_up: {held[-1][0]:.2f} s wall ({held[-1][1]:.2f} s CPU here) with Redis holding them, "
                    f"{missing[-1][0]:.2f} s wall ({missing[-1][1]:.2f} s CPU) without",
                    flush=True,
                )
            window_s = median([(await timed(changed(app)))[0] for _ in range(3)])
            everyone = (await changed(app)).preferences
            sample = PackedKeys(everyone.packed[: old_sample * KEY_BYTES])
            keys = list(sample)
            old: list[tuple[float, float]] = []
            sample_new: list[tuple[float, float]] = []
            for _ in range(repeats):
                old.append(await timed(old_way(app, keys)))
                only_sample = Changed(sample, PackedKeys(), len(sample))
                sample_new.append(await timed(catchup.reapply_many(app.registry, only_sample)))
                print(
                    f"{len(keys):,} consumers: one by one {old[-1][0]:.1f} s, folded {sample_new[-1][0]:.2f} s",
                    flush=True,
                )
    return {
        "rows": rows,
        "old_sample": len(keys),
        "journal_load_s": load_s,
        "window_query_s": window_s,
        "new_s": median([w for w, _ in held]),
        "new_cpu_s": median([c for _, c in held]),
        "new_runs_s": [w for w, _ in held],
        "new_missing_s": median([w for w, _ in missing]),
        "new_missing_cpu_s": median([c for _, c in missing]),
        "old_sample_s": median([w for w, _ in old]),
        "old_sample_cpu_s": median([c for _, c in old]),
        "new_sample_s": median([w for w, _ in sample_new]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--old-sample", type=int, default=100_000, help="consumers re-applied the old way")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.rows, ns.repeats, ns.old_sample = 5_000, 1, 500
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)
    result = uvloop.run(run(ns.rows, ns.repeats, ns.old_sample))
    rows, sample = result["rows"], result["old_sample"]
    old_per = result["old_sample_s"] / sample
    old_extrapolated = old_per * rows
    result |= {"old_per_consumer_us": old_per * 1e6, "old_extrapolated_s": old_extrapolated}
    result["load_average_5min"] = os.getloadavg()[1]
    new_per = result["new_s"] / rows
    lines = [
        "## Catch-up after a restart, in isolation",
        "",
        f"`sync.catch_up` in one process over embedded Redis and PostgreSQL, with {rows:,} consumers each "
        "journaled just now by the import's COPY, so all are in the catch-up window, as at a restart right "
        "after an import; Redis holds them already (as the import left it). Old way: "
        "`RegistryService.reapply` per consumer (what catch_up did before), timed on "
        f"{sample:,} of them and extrapolated linearly. Medians of {ns.repeats} repeats.",
        "",
        *table(
            [
                "way",
                f"{sample:,} consumers, re-apply only (s)",
                f"{rows:,} consumers, all of catch_up (s)",
                "µs per consumer",
            ],
            [
                [
                    "folded, 5,000 per slice, bulk script (now)",
                    f"{result['new_sample_s']:.2f}",
                    f"**{result['new_s']:.2f}**",
                    f"{new_per * 1e6:.1f}",
                ],
                [
                    "one `reapply` per consumer (before)",
                    f"{result['old_sample_s']:.1f}",
                    f"{old_extrapolated:.0f} (extrapolated)" if sample < rows else f"{result['old_sample_s']:.1f}",
                    f"{old_per * 1e6:.0f}",
                ],
            ],
        ),
        "",
        f"Speed-up on the same {sample:,} consumers: **{result['old_sample_s'] / result['new_sample_s']:.0f}×**. "
        f"Of the {result['new_s']:.2f} s for {rows:,}, the window query (the keys to re-apply) takes "
        f"{result['window_query_s']:.2f} s and this process spends {result['new_cpu_s']:.2f} s of CPU "
        "(folding, packing the scripts' arguments); the rest is PostgreSQL reading the slices' journals and "
        "Redis running the writes. Per repeat: " + ", ".join(f"{s:.2f}" for s in result["new_runs_s"]) + " s.",
        "",
        f"With the consumers missing from Redis instead (every field written, then a sample checked through "
        f"the gateway: all BLOCK), catch_up takes {result['new_missing_s']:.2f} s. Where Redis already holds a "
        "field's value the bulk script leaves it alone: nothing is added to Redis's append-only file, which "
        "Redis reads back at every start. The machine's 5-minute load average at the end of the run: "
        f"{result['load_average_5min']:.1f} (this benchmark and whatever else shared it).",
    ]
    record("catch_up", result, "\n".join(lines), command_line(), machine(), Output.at(ns.out))


if __name__ == "__main__":
    main()
