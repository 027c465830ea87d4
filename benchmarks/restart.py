"""Restart after a big import: from `dncgate serve` started to CallGate SERVING, with N rows just imported.

    python -m benchmarks.restart --rows 1000000 --restarts 5

A fresh `dncgate serve` (embedded Redis and PostgreSQL, as users run it) imports a CSV feed of N
distinct numbers through `dncgate registry import` (as benchmarks.bulk_import does), and is stopped
with SIGINT. Then it is started again on the same data directory, `--restarts` times, each time
timed from the moment the process is spawned to:

- **port open**: the first answer of any kind on the gRPC port (Health.Check for
  `dncgate.v1.CallGate` answering at all, whatever its status);
- **CallGate SERVING**: `grpc.health.v1` Check for `dncgate.v1.CallGate` answering SERVING.

Until the server opens its port before the registry is current, both moments coincide: the port
opens once the catch-up is done. Every restart re-applies the whole import (its rows are within the
catch-up window of the journal's latest entry), so each is the worst case right after an import.
The catch-up's own figures come from the `registry_caught_up` line of the server's log. After each
restart a sample of the imported numbers must BLOCK through CheckBatch. Medians over the restarts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.bulk_import import check_imported, import_feed, write_feed
from benchmarks.common import Output, add_common_args, command_line, machine, median, record, table
from benchmarks.server import attach, free_port, spawn, stop

GOAL_S = 10.0
CALLGATE = "dncgate.v1.CallGate"
_POLL_S = 0.01
# Reconnect at once after a refused connection: gRPC's default backoff (1 s, growing) would be measured.
_CHANNEL = [
    ("grpc.initial_reconnect_backoff_ms", 10),
    ("grpc.min_reconnect_backoff_ms", 10),
    ("grpc.max_reconnect_backoff_ms", 20),
]
_CAUGHT_UP = re.compile(r"registry_caught_up")


def wait_serving(proc: subprocess.Popen[bytes], target: str, started: float, limit_s: float) -> tuple[float, float]:
    """(seconds to the port's first answer, seconds to CallGate SERVING), from `started` (perf_counter)."""
    opened: float | None = None
    with grpc.insecure_channel(target, options=_CHANNEL) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=CALLGATE), timeout=0.5)
                serving = reply.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    serving = None  # nothing listening yet
                else:
                    serving = False  # answered (e.g. NOT_FOUND: not registered yet): the port is open
            now = time.perf_counter() - started
            if serving is not None and opened is None:
                opened = now
            if serving:
                assert opened is not None
                return opened, now
            if proc.poll() is not None or now > limit_s:
                raise RuntimeError(f"dncgate serve was not SERVING after {now:.1f} s (exit code {proc.poll()})")
            time.sleep(_POLL_S)


def caught_up(log: Path, offset: int) -> dict[str, Any]:
    """The `registry_caught_up` fields logged after byte `offset` of the server's log ({} if none)."""
    text = log.read_bytes()[offset:].decode(errors="replace")
    for line in text.splitlines():
        if _CAUGHT_UP.search(line):
            try:
                fields: dict[str, Any] = json.loads(line)
                return fields
            except json.JSONDecodeError:
                return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}
    return {}


def restart_once(data_dir: Path, rows: int, limit_s: float) -> dict[str, float]:
    port = free_port()
    target = f"127.0.0.1:{port}"
    log_path = data_dir / "serve.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    started = time.perf_counter()
    proc, log = spawn(data_dir, port, {"DNCGATE_LOG_LEVEL": "info"})  # info: the registry_caught_up line
    try:
        opened, serving = wait_serving(proc, target, started, limit_s)
        check_imported(attach(target, data_dir, proc.pid), rows, rows)
    finally:
        stop(proc)
        log.close()
    fields = caught_up(log_path, offset)
    return {
        "port_open_s": opened,
        "serving_s": serving,
        "caught_up_consumers": float(fields.get("consumers", 0)),
        "catch_up_s": float(fields.get("seconds", "nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--limit", type=float, default=300.0, help="seconds a restart may take before it fails")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.rows, ns.restarts = 2_000, 1
    with tempfile.TemporaryDirectory(prefix="dncgate-restart-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        feed = Path(tmp) / "feed.csv"
        write_feed(feed, ns.rows)
        port = free_port()
        first_started = time.perf_counter()
        proc, log = spawn(data_dir, port)
        try:
            wait_serving(proc, f"127.0.0.1:{port}", first_started, ns.limit)
            server = attach(f"127.0.0.1:{port}", data_dir, proc.pid)
            info = machine(server.redis_url)
            import_s, _ = import_feed(server, feed)
            print(f"imported {ns.rows:,} rows in {import_s:.1f} s", flush=True)
        finally:
            stop(proc)
            log.close()
        rounds = []
        for _ in range(ns.restarts):
            rounds.append(restart_once(data_dir, ns.rows, ns.limit))
            r = rounds[-1]
            print(
                f"restart: port open {r['port_open_s']:.2f} s, CallGate SERVING {r['serving_s']:.2f} s, "
                f"catch-up {r['caught_up_consumers']:,.0f} consumers in {r['catch_up_s']:.2f} s",
                flush=True,
            )
    summary = {k: median([r[k] for r in rounds]) for k in rounds[0]}
    load = os.getloadavg()[1]  # the last five minutes: this run, and whatever else shared the machine
    result = {"rows": ns.rows, "import_s": import_s, "rounds": rounds, "summary": summary, "goal_s": GOAL_S}
    result["load_average_5min"] = load
    serving = summary["serving_s"]
    lines = [
        "## Restart after a big import",
        "",
        f"`dncgate serve` (embedded stores) imported a CSV feed of {ns.rows:,} distinct numbers through "
        f"`dncgate registry import` ({import_s:.0f} s), was stopped with SIGINT, then started again on the same "
        f"data directory {ns.restarts} times. Timed from spawning the process to the gRPC port's first answer, "
        "and to `grpc.health.v1` Check for `dncgate.v1.CallGate` answering SERVING. Each restart catches up "
        "the whole import (its rows are within the catch-up window of the journal's latest entry); afterwards "
        f"a sample of the imported numbers must BLOCK through CheckBatch. Medians. Goal: SERVING ≤ {GOAL_S:.0f} s.",
        "",
        *table(
            ["from spawn to", "seconds", "goal"],
            [
                ["gRPC port answering", f"{summary['port_open_s']:.2f}", ""],
                ["CallGate SERVING", f"**{serving:.2f}**", "yes" if serving <= GOAL_S else "**no**"],
                [
                    f"(of which the catch-up: {summary['caught_up_consumers']:,.0f} consumers)",
                    f"{summary['catch_up_s']:.2f}",
                    "",
                ],
            ],
        ),
        "",
        "Per restart, SERVING after: " + ", ".join(f"{r['serving_s']:.2f}" for r in rounds) + " s. "
        "While the server opens its gRPC port only once the registry is loaded, the port's first answer "
        "and SERVING are the same moment; once it opens the port at once (CallGate NOT_SERVING until "
        "the registry is current), the first row is the port and the second the registry. Before the "
        "catch-up come the process's start, Redis loading its append-only file (it grows by the fields "
        "the catch-up changes) and PostgreSQL's start. The machine's 5-minute load average at the end of "
        f"the run: {load:.1f} (this benchmark and whatever else shared it).",
    ]
    record("restart", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
