"""Bulk import: rows/s through Registry.ImportRegistry (journal + Redis) from a CSV feed, against a plain
PostgreSQL COPY of the same file into an empty table of the same server.

    python -m benchmarks.bulk_import --rows 1000000 --repeats 3

Each repeat starts a fresh `dncgate serve` (embedded Redis and PostgreSQL, as users run it) and times
`dncgate registry import FEED.csv` in its own process, from start to the printed summary: reading
the CSV, gRPC, parsing and keying every number, COPY into `preference_journal`, folding and writing
Redis. Then, on the same PostgreSQL, it times `COPY ... FROM STDIN (FORMAT csv)` of the same file
into an empty, unindexed table (from this process, in 1 MiB blocks): what PostgreSQL alone takes to
ingest the bytes. Medians over repeats. The feed has distinct numbers in scrambled order, one in
ten with categories. After each import the journal is counted and a sample of numbers is checked
through CheckBatch (all must BLOCK), so a fast but wrong import cannot pass.

The machine is shared and the client, server, PostgreSQL and Redis compete for its cores, so each
repeat also records the CPU time every process spent on the import (from /proc: the CLI, the
server's Python, its PostgreSQL backends, its Redis), per row, and how many cores everything else on
the machine kept busy meanwhile: rows/s moves with whatever else runs; CPU per row much less.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import grpc
import psycopg

from benchmarks.common import Output, add_common_args, command_line, machine, medians, record, table
from benchmarks.server import BenchServer, serve
from benchmarks.spy import maybe_profile
from dncgate.v1 import gateway_pb2, gateway_pb2_grpc

GOAL_PER_S = 50_000
SAMPLE = 1000
_CATEGORIES = ("real-estate", "finance;insurance", "education;health;tourism")
ROLES = ("cli", "server", "postgres", "redis")


def number(i: int, rows: int) -> str:
    """The i-th feed number: distinct mobiles in scrambled order (an odd multiplier permutes 0..rows-1)."""
    return f"13{(i * 7_919) % rows:09d}"


def write_feed(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "do_not_disturb", "categories"])
        for i in range(rows):
            w.writerow([number(i, rows), "yes", _CATEGORIES[i // 10 % 3] if i % 10 == 0 else ""])


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far), read from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        fields = rest.split()  # state, ppid, ..., utime (11), stime (12)
        out[int(entry.name)] = (int(fields[1]), head.partition("(")[2], (int(fields[11]) + int(fields[12])) / tick)
    return out


def machine_busy() -> float:
    """CPU seconds all processes of the machine have spent so far (/proc/stat, every core)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def server_cpu(server: BenchServer) -> dict[str, float]:
    """CPU seconds so far of the server's Python, its PostgreSQL (postmaster and backends) and its Redis."""
    postmaster = int((server.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    procs = _processes()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in procs.items():
        children[ppid].append(pid)
    seconds: dict[str, float] = defaultdict(float)
    todo = [server.pid, postmaster]
    while todo:
        pid = todo.pop()
        if pid in procs:
            name = procs[pid][1]
            seconds["postgres" if "postgres" in name else "redis" if "redis" in name else "server"] += procs[pid][2]
            todo.extend(children[pid])
    return dict(seconds)


def import_feed(server: BenchServer, feed: Path) -> tuple[float, dict[str, float]]:
    """Seconds for `dncgate registry import` in its own process, start to summary; CPU seconds per process."""
    env = {k: v for k, v in os.environ.items() if k != "DNCGATE_TOKEN"}
    env |= {"DNCGATE_TARGET": server.target, "COLUMNS": "200"}
    if (token := server.token("importer")) is not None:  # none: a server from before access control
        env["DNCGATE_TOKEN"] = token
    before, cli_before, busy = server_cpu(server), resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dncgate.cli", "registry", "import", str(feed)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import failed:\n{done.stdout}\n{done.stderr}")
    after, cli_after = server_cpu(server), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in ("server", "postgres", "redis")}
    cpu["cli"] = (cli_after.ru_utime + cli_after.ru_stime) - (cli_before.ru_utime + cli_before.ru_stime)
    cpu["others"] = max(0.0, machine_busy() - busy - sum(cpu.values()))  # everything else on the machine
    return seconds, cpu


def check_imported(server: BenchServer, rows: int, journal_rows: int) -> None:
    """Every row is journaled once per import, and a sample of numbers BLOCKs through CheckBatch."""
    with psycopg.connect(server.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM preference_journal").fetchone()
    assert row is not None and row[0] == journal_rows, f"journal holds {row} rows, expected {journal_rows}"
    step = max(1, rows // SAMPLE)
    reqs = [
        gateway_pb2.CheckRequest(caller_number="+862759001234", callee_number=number(i, rows), org_id="bench")
        for i in range(0, rows, step)
    ]
    with grpc.insecure_channel(server.target) as ch:
        reply = gateway_pb2_grpc.CallGateStub(ch).CheckBatch(
            gateway_pb2.CheckBatchRequest(requests=reqs), timeout=30, metadata=server.dialer
        )
    wrong = [r for r in reply.responses if r.decision != gateway_pb2.DECISION_BLOCK]
    assert not wrong, f"{len(wrong)} imported numbers were not blocked, e.g. {wrong[0]}"


def copy_feed(server: BenchServer, feed: Path) -> float:
    """Seconds for PostgreSQL to COPY the same CSV into an empty, unindexed table (the baseline)."""
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_feed")
        conn.execute("CREATE TABLE bench_feed (number text, do_not_disturb boolean, categories text)")
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_feed FROM STDIN (FORMAT csv, HEADER)") as copy,
            feed.open("rb") as f,
        ):
            while block := f.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_feed")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="fresh servers, one import and one COPY each")
    parser.add_argument("--profile", help="also sample the server with py-spy during one more import; stacks here")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.rows, ns.repeats = 20_000, 1
    rounds: list[dict[str, float]] = []
    info: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="dncgate-feed-") as tmp:
        feed = Path(tmp) / "feed.csv"
        write_feed(feed, ns.rows)
        for _ in range(ns.repeats):
            with serve() as server:
                info = info or machine(server.redis_url)
                ours, cpu = import_feed(server, feed)
                check_imported(server, ns.rows, ns.rows)
                base = copy_feed(server, feed)
                others = cpu.pop("others") / ours
                per_row = {f"cpu_us_{k}": v / ns.rows * 1e6 for k, v in cpu.items()}
                rounds.append(
                    {"import_per_s": ns.rows / ours, "copy_per_s": ns.rows / base, "other_cores": others, **per_row}
                )
                print(
                    f"import {ns.rows / ours:,.0f} rows/s, COPY {ns.rows / base:,.0f} rows/s, "
                    f"other processes {others:.2f} cores, "
                    f"CPU µs/row {', '.join(f'{k} {v:.1f}' for k, v in per_row.items())}",
                    flush=True,
                )
        if ns.profile:  # one more fresh server: a second import into the same one would fold twice the rows
            with serve() as server:
                maybe_profile(ns.profile, server.pid, lambda: import_feed(server, feed), ns.rows / GOAL_PER_S)
    summary = medians(rounds)
    ours_s, base_s = summary["import_per_s"], summary["copy_per_s"]
    ratio = ours_s / base_s
    cpu_total = sum(summary[f"cpu_us_{k}"] for k in ROLES)
    result = {"rows": ns.rows, "rounds": rounds, "summary": summary, "import_per_s": ours_s, "copy_per_s": base_s}
    result |= {"ratio": ratio, "goal_per_s": GOAL_PER_S, "cpu_us_per_row": cpu_total}
    cores = os.cpu_count() or 1
    lines = [
        "## Bulk import",
        "",
        f"A CSV feed of {ns.rows:,} distinct numbers (one in ten with categories), imported by "
        "`dncgate registry import` in its own process into a fresh `dncgate serve` (embedded stores): CSV, "
        "gRPC, number parsing and keying, COPY into the journal, fold and Redis writes, start to summary. "
        "Baseline: PostgreSQL's own `COPY ... (FORMAT csv)` of the same file into an empty unindexed table "
        f"of the same server. Medians of {ns.repeats} fresh servers. Goal: ≥ 50,000 rows/s.",
        "",
        *table(
            ["path", "rows/s", "goal"],
            [
                [
                    "`Registry.ImportRegistry` via the CLI",
                    f"**{ours_s:,.0f}**",
                    "yes" if ours_s >= GOAL_PER_S else "**no**",
                ],
                ["`COPY` of the CSV into an empty table (baseline)", f"{base_s:,.0f}", ""],
            ],
        ),
        "",
        f"Ratio import / COPY: **{ratio:.2f}**. Per repeat: "
        + ", ".join(f"{r['import_per_s']:,.0f}" for r in rounds)
        + " rows/s, while other processes of this shared machine kept "
        + ", ".join(f"{r['other_cores']:.2f}" for r in rounds)
        + f" of its {cores} cores busy.",
        "",
        "CPU time per imported row, medians (µs): "
        + ", ".join(f"{k} {summary[f'cpu_us_{k}']:.1f}" for k in ROLES)
        + f"; total **{cpu_total:.1f}**. With {cores} cores and nothing else running, that caps an import "
        f"near {cores * 1e6 / cpu_total:,.0f} rows/s; the stages overlap (parse, COPY, Redis apply run "
        "concurrently) but not perfectly, and other load on the machine takes its share.",
    ]
    record("bulk_import", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
