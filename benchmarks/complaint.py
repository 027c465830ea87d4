"""Complaint verification: Compensation.FileComplaint p50/p99 with N synthetic rows in call_log.

    python -m benchmarks.complaint --rows 10000000 --complaints 200

The rows are COPYed (psycopg, text format) into the server's PostgreSQL: consumers get rows/consumers
calls each, from a pool of company lines, spread evenly over the last 29 days; 70% ALLOW (1 in 10 of
them a monitor-mode violation), 30% BLOCK. call_log's indexes are dropped for the load and recreated
from their own definitions after it (as a restore would), then the table is ANALYZEd. Half of the
complaining consumers get a do-not-disturb journal entry recorded 60 days ago, so their complaints
verify and book payouts; the others are NOT_REGISTERED_AT_CALL_TIME. Each complaint names two numbers
that called the consumer and one that did not; every complaint is from a different consumer.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg

from benchmarks.common import Output, add_common_args, command_line, machine, percentile, record, table
from benchmarks.registry_load import consumer_number, digest
from benchmarks.server import Metadata, bearer, serve
from dncgate.domain.types import ALL_CATEGORIES_MASK, Source
from dncgate.v1 import compensation_pb2, compensation_pb2_grpc

GOAL_P50_MS = 20.0
_MIX = 2654435761  # row j belongs to consumer (j * _MIX) % consumers: each consumer gets the same number of rows
# The column order of the COPY: what varies per row first, then per consumer, per caller line, per outcome.
COLUMNS = (
    "call_id, at, recorded_at, callee_key, callee_masked, caller_e164, agent_id, org_id, campaign_id, category,"
    " decision, reason, violation, request_id"
)
_OUTCOMES = [  # by row % 100: 70% ALLOW (7 of them monitor-mode violations), 30% BLOCK
    "ALLOW\tREGISTERED\tt\t\n" if k < 7 else "ALLOW\tNOT_REGISTERED\tf\t\n" if k < 70 else "BLOCK\tREGISTERED\tf\t\n"
    for k in range(100)
]


_CLOCK = [f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}." for t in range(86_400)]  # "HH:MM:SS." by second


class CallLog:
    """The synthetic call log: which consumer, caller and time every row j has, without storing them."""

    def __init__(self, rows: int, consumers: int, callers: int, now: datetime, days: int = 29) -> None:
        self.rows, self.consumers, self.callers = rows, consumers, callers
        self.end_us = int(now.timestamp() * 1e6) - 3_600_000_000  # the newest call an hour ago
        self.span_us = days * 86_400_000_000

    def at_us(self, j: int) -> int:
        """When row j's call was made (rows are oldest first, evenly spread)."""
        return self.end_us - self.span_us + j * self.span_us // self.rows

    def consumer(self, j: int) -> int:
        return (j * _MIX) % self.consumers

    def caller_index(self, j: int) -> int:
        return (j * 7 + self.consumer(j)) % self.callers

    def caller(self, j: int) -> str:
        return f"+8627590{self.caller_index(j):05d}"

    def rows_of(self, c: int) -> list[int]:
        first = (c * pow(_MIX, -1, self.consumers)) % self.consumers
        return list(range(first, self.rows, self.consumers))

    def copy_text(self, lo: int, hi: int, consumer_parts: list[str], caller_parts: list[str]) -> str:
        """COPY text of rows lo..hi-1 (oldest first), in COLUMNS order."""
        start, span, rows, mix, m, nc = (
            self.end_us - self.span_us,
            self.span_us,
            self.rows,
            _MIX,
            self.consumers,
            self.callers,
        )
        day0 = start // 86_400_000_000
        days = [
            datetime.fromtimestamp((day0 + d) * 86_400, UTC).strftime("%Y-%m-%d ")
            for d in range(span // 86_400_000_000 + 3)
        ]
        clock = _CLOCK
        out = []
        for j in range(lo, hi):
            us = start + j * span // rows
            s = us // 1_000_000
            at = f"{days[s // 86_400 - day0]}{clock[s % 86_400]}{us % 1_000_000:06d}+00"
            c = (j * mix) % m
            out.append(
                f"{us // 1000:012x}{j:020x}\t{at}\t{at}\t{consumer_parts[c]}"
                f"{caller_parts[(j * 7 + c) % nc]}{_OUTCOMES[j % 100]}"
            )
        return "".join(out)


def _copy_part(job: tuple[str, CallLog, int, int]) -> float:
    """In a worker process: COPY rows lo..hi-1 over a connection of its own; the seconds it took."""
    url, log, lo, hi = job
    started = time.perf_counter()
    consumer_parts = [
        f"\\\\x{digest(b'+86' + consumer_number(c).encode()).hex()}\t+86139****{c % 10000:04d}\t"
        for c in range(log.consumers)
    ]
    caller_parts = [
        f"+8627590{k:05d}\ta{k % 997}\torg-{k % 50}\tcamp-{k % 200}\t{1 + k % 8}\t" for k in range(log.callers)
    ]
    sql = f"COPY call_log ({COLUMNS}) FROM STDIN".encode()
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
        for a in range(lo, hi, 20_000):
            copy.write(log.copy_text(a, min(a + 20_000, hi), consumer_parts, caller_parts))
    return time.perf_counter() - started


def load(url: str, log: CallLog, workers: int) -> dict[str, float]:
    """COPY the rows (in `workers` processes) with call_log's indexes dropped, recreate them, ANALYZE."""
    took: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'call_log'::regclass AND contype IN ('p', 'u')"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'call_log' AND indexname <> ALL(%s)",
            ([name for name, _ in constraints],),
        ).fetchall()
        for name, _ in constraints:
            conn.execute(f'ALTER TABLE call_log DROP CONSTRAINT "{name}"'.encode())
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"'.encode())
        started = time.perf_counter()
        step = -(-log.rows // workers)
        parts = [(url, log, lo, min(lo + step, log.rows)) for lo in range(0, log.rows, step)]
        with multiprocessing.get_context("spawn").Pool(len(parts)) as pool:
            pool.map(_copy_part, parts)
        took["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for name, definition in constraints:
            conn.execute(f'ALTER TABLE call_log ADD CONSTRAINT "{name}" {definition}'.encode())
        for _, definition in indexes:
            # A partitioned table's index is shown `ON ONLY` (its partitions' indexes are attached to it
            # one by one); created plainly it is built on every partition at once.
            conn.execute(definition.replace(" ON ONLY ", " ON ", 1).encode())
        took["index_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("ANALYZE call_log")
        took["analyze_s"] = time.perf_counter() - started
    return took


def register(url: str, consumers: list[int], now: datetime) -> None:
    """Do-not-disturb for every category, effective and recorded 60 days ago (a journal row as the app writes it)."""
    then = now - timedelta(days=60)
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        # Every journal row names who wrote it since access control; a tree from before has no such column.
        cur.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'preference_journal'"
            " AND column_name = 'recorded_by'"
        )
        named = cur.fetchone() is not None
        extra = (", recorded_by", ", 'benchmark'") if named else ("", "")
        cur.executemany(
            "INSERT INTO preference_journal (consumer_key, do_not_disturb, categories, source, effective_from,"
            f" recorded_at, request_id{extra[0]}) VALUES (%s, true, %s, %s, %s, %s, %s{extra[1]})",
            [
                (
                    digest(b"+86" + consumer_number(c).encode()),
                    ALL_CATEGORIES_MASK,
                    int(Source.APP),
                    then,
                    then,
                    f"b{c}",
                )
                for c in consumers
            ],
        )


def file_complaints(
    target: str,
    log: CallLog,
    consumers: list[int],
    metadata: Metadata = None,
    callers_of: Callable[[int], list[str]] | None = None,
) -> tuple[list[float], dict[str, int]]:
    """File a complaint from each consumer, naming two lines that called her (`callers_of`, by default
    the first two of all hers) and one that never called; the latencies (s) and statuses."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    with grpc.insecure_channel(target) as channel:
        stub = compensation_pb2_grpc.CompensationStub(channel)
        for c in consumers:
            called = callers_of(c) if callers_of else sorted({log.caller(j) for j in log.rows_of(c)})
            req = compensation_pb2.FileComplaintRequest(
                consumer_number=consumer_number(c),
                caller_numbers=[*called[:2], "+862759199999"],
                channel=compensation_pb2.CHANNEL_HOTLINE,
                description="called twice this week",
            )
            started = time.perf_counter()
            case = stub.FileComplaint(req, timeout=30, metadata=metadata)
            latencies.append(time.perf_counter() - started)
            status = compensation_pb2.ComplaintStatus.Name(case.status)
            statuses[status] = statuses.get(status, 0) + 1
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="synthetic rows in call_log")
    parser.add_argument("--consumers", type=int, default=1_000_000, help="distinct callees among the rows")
    parser.add_argument("--callers", type=int, default=5_000, help="company lines placing the calls")
    parser.add_argument("--complaints", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="processes generating and COPYing rows")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.rows, ns.consumers, ns.complaints = 20_000, 2_000, 10
    now = datetime.now(UTC)
    log = CallLog(ns.rows, ns.consumers, ns.callers, now)
    warmup = 10
    chosen = [(k * 7919 + 13) % ns.consumers for k in range(ns.complaints + warmup)]
    assert len(set(chosen)) == len(chosen), "pick more consumers"
    with serve() as server:
        info = machine(server.redis_url)
        took = load(server.database_url, log, ns.workers)
        register(server.database_url, chosen[::2], now)
        hotline = bearer(server.token("hotline"))  # what a hotline agent's desk would hold
        file_complaints(server.target, log, chosen[:warmup], hotline)
        latencies, statuses = file_complaints(server.target, log, chosen[warmup:], hotline)
    ms = [x * 1000 for x in latencies]
    p50, p99 = percentile(ms, 50), percentile(ms, 99)
    load_s = sum(took.values())
    lines = [
        "## Complaint verification",
        "",
        f"`Compensation.FileComplaint` with **{ns.rows:,} rows in `call_log`** ({ns.consumers:,} consumers, "
        f"{ns.callers:,} caller lines, 29 days), {ns.complaints} complaints from distinct consumers filed one "
        "after another over gRPC, each naming three caller numbers (two that called). Half the consumers were "
        f"registered at call time. Goal: p50 ≤ {GOAL_P50_MS:g} ms.",
        "",
        *table(
            ["complaints", "p50 (ms)", "p99 (ms)", "max (ms)", "goal", "case statuses"],
            [
                [
                    f"{len(ms)}",
                    f"**{p50:.1f}**",
                    f"{p99:.1f}",
                    f"{max(ms):.1f}",
                    "met" if p50 <= GOAL_P50_MS else "**not met**",
                    ", ".join(f"{k.removeprefix('COMPLAINT_STATUS_')} {v}" for k, v in sorted(statuses.items())),
                ]
            ],
        ),
        "",
        f"Loading the call log took {load_s:.0f} s: COPY ({ns.workers} processes) {took['copy_s']:.0f} s, "
        f"indexes {took['index_s']:.0f} s, ANALYZE {took['analyze_s']:.0f} s.",
    ]
    result: dict[str, Any] = {
        "rows": ns.rows,
        "consumers": ns.consumers,
        "complaints": len(ms),
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": max(ms),
        "statuses": statuses,
        "load_seconds": took,
    }
    record("complaint_verification", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
