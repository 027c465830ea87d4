"""FileComplaint p50/p99 over a call log partitioned by month, against the same rows unpartitioned.

    python -m benchmarks.partitioned_log --rows 1000000 10000000 --complaints 200

For each size, one fresh `dncgate serve`: N synthetic rows (benchmarks/complaint.py's CallLog, spread
evenly over `--months` months, so a complaint's default 30-day window is a small part of the log) are
COPYed into call_log as migration 0020 made it, one partition per month, indexes rebuilt after the load.
The baseline is an unpartitioned copy of the same rows with the schema from before 0020 (PRIMARY KEY
(call_id) and the same two indexes), swapped in under the name `call_log` between rounds. Rounds
alternate partitioned and unpartitioned, each after 10 unmeasured complaints; each complaint is from
a consumer no other complaint is from, naming two lines that called her in the window (when some
did) and one that never called.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from benchmarks.common import Output, add_common_args, command_line, machine, percentile, record, table
from benchmarks.complaint import GOAL_P50_MS, CallLog, file_complaints, load, register
from benchmarks.server import bearer, serve
from dncgate.domain import retention as r

_FLAT = "call_log_flat"
_PARTED = "call_log_parted"
_WINDOW = timedelta(days=30)  # FileComplaint's default window (service/compensation.py DEFAULT_WINDOW)


def make_partitions(url: str, log: CallLog, now: datetime) -> int:
    """A partition for each month of the log through three ahead (the migration made only the recent
    ones); returns how many partitions call_log has."""
    first = r.month_of(datetime.fromtimestamp((log.end_us - log.span_us) / 1e6, UTC))
    last = r.add_months(r.month_of(now), 3)
    with psycopg.connect(url, autocommit=True) as conn:
        month = first
        while month <= last:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {r.partition_name('call_log', month)} PARTITION OF call_log"
                f" FOR VALUES FROM ('{r.month_start(month).isoformat()}') TO ('{r.month_end(month).isoformat()}')"
            )
            month = r.add_months(month, 1)
        row = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'call_log'::regclass").fetchone()
    assert row is not None
    return int(row[0])


def flat_copy(url: str) -> float:
    """The same rows in an unpartitioned table as before migration 0020; the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(f"CREATE TABLE {_FLAT} (LIKE call_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        conn.execute(f"INSERT INTO {_FLAT} SELECT * FROM call_log")
        conn.execute(f"ALTER TABLE {_FLAT} ADD PRIMARY KEY (call_id)")
        conn.execute(f"CREATE INDEX {_FLAT}_callee ON {_FLAT} (callee_key, caller_e164, at)")
        conn.execute(f"CREATE INDEX {_FLAT}_org ON {_FLAT} (org_id, at)")
        conn.execute(f"ANALYZE {_FLAT}")
    return time.perf_counter() - started


def log_bytes(url: str) -> int:
    """call_log's partitions on disk: tables, their indexes and TOAST (pg_total_relation_size)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'call_log'::regclass"
        ).fetchone()
    assert row is not None
    return int(row[0])


def use(url: str, partitioned: bool) -> None:
    """Put the partitioned log or its unpartitioned copy under the name call_log."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        now_parted = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'call_log'").fetchone() == ("p",)
        if now_parted == partitioned:
            return
        away, back = (_FLAT, _PARTED) if partitioned else (_PARTED, _FLAT)
        conn.execute(f"ALTER TABLE call_log RENAME TO {away}")
        conn.execute(f"ALTER TABLE {back} RENAME TO call_log")


def scanned(url: str, log: CallLog, consumer_key: bytes, callers: list[str], now: datetime) -> int:
    """How many call_log partitions the verification's query reads for a default window (EXPLAIN)."""
    from dncgate.store.evidence import CALLS_TO, OUTCOME_SLACK

    after, before = now - _WINDOW, now
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            ("EXPLAIN (FORMAT JSON) " + CALLS_TO).encode(),
            (after - OUTCOME_SLACK, before, consumer_key, callers, after, before),
        ).fetchone()
    assert row is not None
    plan = str(row[0])
    return sum(plan.count(f"'{r.partition_name('call_log', m)}'") for m in _months(log, now))


def _months(log: CallLog, now: datetime) -> list[Any]:
    out, month = [], r.month_of(datetime.fromtimestamp((log.end_us - log.span_us) / 1e6, UTC))
    while month <= r.add_months(r.month_of(now), 3):
        out.append(month)
        month = r.add_months(month, 1)
    return out


def run_size(rows: int, ns: argparse.Namespace, now: datetime) -> dict[str, Any]:
    consumers = ns.consumers or max(rows // 10, 1000)
    log = CallLog(rows, consumers, ns.callers, now, days=ns.months * 30)
    window_start_us = int((now - _WINDOW).timestamp() * 1e6)
    rounds = ns.rounds
    per_round = max(ns.complaints // (2 * rounds), 1)
    warmup = 10
    total = (warmup + per_round) * 2 * rounds
    chosen = [(k * 7919 + 13) % consumers for k in range(total)]
    assert len(set(chosen)) == len(chosen), "pick more consumers"
    result: dict[str, Any] = {"rows": rows, "consumers": consumers, "months": ns.months}
    with serve() as server:
        url = server.database_url
        partitions = make_partitions(url, log, now)
        took = load(url, log, ns.workers)
        disk = log_bytes(url)
        took["flat_copy_s"] = None if ns.no_baseline else flat_copy(url)
        register(url, chosen[::2], now)
        hotline = bearer(server.token("hotline"))

        def callers_of(c: int) -> list[str]:
            recent = sorted({log.caller(j) for j in log.rows_of(c) if log.at_us(j) >= window_start_us})
            return recent[:2] or sorted({log.caller(j) for j in log.rows_of(c)})[:2]

        latencies: dict[bool, list[float]] = {True: [], False: []}
        statuses: dict[bool, dict[str, int]] = {True: {}, False: {}}
        at = 0
        for _ in range(rounds):
            for partitioned in (True,) if ns.no_baseline else (True, False):
                use(url, partitioned)
                # A rename invalidates what every pooled connection cached of call_log (and, partitioned,
                # of each partition): a few complaints unmeasured after each swap cache it again, as a
                # server that never swaps tables has it.
                file_complaints(server.target, log, chosen[at : at + warmup], hotline, callers_of)
                at += warmup
                ms, st = file_complaints(server.target, log, chosen[at : at + per_round], hotline, callers_of)
                at += per_round
                latencies[partitioned] += [x * 1000 for x in ms]
                for k, v in st.items():
                    statuses[partitioned][k] = statuses[partitioned].get(k, 0) + v
        use(url, True)
        sample = chosen[0]
        from benchmarks.registry_load import consumer_number, digest

        read = scanned(url, log, digest(b"+86" + consumer_number(sample).encode()), callers_of(sample), now)
        info = machine(server.redis_url)
    for partitioned, label in ((True, "partitioned"), (False, "unpartitioned")):
        ms = latencies[partitioned]
        if not ms:  # --no-baseline: the unpartitioned copy was not made
            continue
        result[label] = {
            "complaints": len(ms),
            "p50_ms": percentile(ms, 50),
            "p99_ms": percentile(ms, 99),
            "mean_ms": statistics.fmean(ms),
            "statuses": statuses[partitioned],
        }
    result.update(
        partitions=partitions,
        partitions_read=read,
        load_seconds=took,
        machine=info,
        bytes=disk,
        bytes_per_row=disk / rows,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000], help="sizes, one run each")
    parser.add_argument("--months", type=int, default=24, help="months the rows are spread over")
    parser.add_argument("--consumers", type=int, default=0, help="distinct callees (default: rows / 10)")
    parser.add_argument("--callers", type=int, default=5_000, help="company lines placing the calls")
    parser.add_argument("--complaints", type=int, default=200, help="per size, half on each table")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two tables")
    parser.add_argument("--workers", type=int, default=2, help="processes generating and COPYing rows")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="partitioned only: no unpartitioned copy (at 100M rows it would double the ~30 GB of disk)",
    )
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.rows, ns.complaints, ns.months = [20_000], 8, 3
    now = datetime.now(UTC)
    results = [run_size(n, ns, now) for n in ns.rows]
    body = []
    for res in results:
        for label in ("partitioned", "unpartitioned"):
            if label not in res:
                continue
            x = res[label]
            body.append(
                [
                    f"{res['rows']:,}",
                    label,
                    f"{x['complaints']}",
                    f"**{x['p50_ms']:.1f}**" if label == "partitioned" else f"{x['p50_ms']:.1f}",
                    f"{x['p99_ms']:.1f}",
                    ("met" if x["p50_ms"] <= GOAL_P50_MS else "**not met**") if label == "partitioned" else "",
                    ", ".join(f"{k.removeprefix('COMPLAINT_STATUS_')} {v}" for k, v in sorted(x["statuses"].items())),
                ]
            )
    loads = "; ".join(
        f"{res['rows']:,} rows ({res['bytes'] / 1e9:.1f} GB on disk with their indexes, "
        f"{res['bytes_per_row']:.0f} B a row): COPY {res['load_seconds']['copy_s']:.0f} s, indexes "
        f"{res['load_seconds']['index_s']:.0f} s"
        + (
            ""
            if res["load_seconds"]["flat_copy_s"] is None
            else f", unpartitioned copy {res['load_seconds']['flat_copy_s']:.0f} s"
        )
        for res in results
    )
    first = results[0]
    lines = [
        "## Complaint verification over a partitioned call log",
        "",
        f"`Compensation.FileComplaint` with N rows in `call_log` partitioned by month (migration 0020), spread "
        f"over {first['months']} months ({first['partitions']} partitions with the ones ahead and the default), "
        + (
            "alone (`--no-baseline`: no unpartitioned copy, for lack of disk). "
            if ns.no_baseline
            else "against the same rows in an unpartitioned `call_log` as before 0020, in the same server, rounds "
            "alternating. "
        )
        + f"Complaints use the default 30-day window: EXPLAIN shows the query reading "
        f"{first['partitions_read']} of the months' partitions. Consumers: N / 10; each complaint from a distinct "
        f"consumer, naming two lines that called her in the window (if any) and one that never called. "
        f"Goal: p50 ≤ {GOAL_P50_MS:g} ms.",
        "",
        *table(["rows", "call_log", "complaints", "p50 (ms)", "p99 (ms)", "goal", "case statuses"], body),
        "",
        f"Loading: {loads}.",
    ]
    record(
        "partitioned_log",
        {"sizes": [{k: v for k, v in res.items() if k != "machine"} for res in results]},
        "\n".join(lines),
        command_line(),
        results[-1]["machine"],
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
