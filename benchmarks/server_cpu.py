"""The CPU a whole `dncgate serve` spends on a gRPC Check, under h2load at a fixed concurrency.

    python -m benchmarks.server_cpu --requests 20000 --clients 8 --rounds 5
    python -m benchmarks.server_cpu --requests 20000 --clients 8 --rounds 5 --against /path/to/old/src

h2load (nghttp2) sends `CallGate/Check` over gRPC, a prebuilt length-prefixed CheckRequest with a `dialer`
bearer token (as `benchmarks.http_face` does), `--clients` connections with `--streams` requests in flight
on each. Each round reads the server process's CPU seconds (user + system, `/proc`) before and after, and
its `/metrics` count of Checks answered OK, which must have grown by exactly the requests sent (h2load
sees HTTP 200 whatever the gRPC status). CPU per Check is the Python process's CPU over those Checks: it
moves much less with the server's share of a loaded machine than its latency or throughput do.

With `--against`, a second server runs from that tree's `src` (a `git worktree` of an older commit) beside
this tree's, both up for the whole run, and each round measures both, their order alternating: the medians
and their ratio, this tree's over the other's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import grpc

from benchmarks.common import SERVER_SRC_ENV, Output, add_common_args, command_line, machine, median, record, table
from benchmarks.http_face import bodies, check_request
from benchmarks.server import BenchServer, cpu_seconds, free_port, serve, settle
from dncgate.v1 import gateway_pb2_grpc

_CHECKS_OK = re.compile(
    r'^grpc_server_handled_total\{(?=[^}]*grpc_method="Check")(?=[^}]*grpc_code="OK")[^}]*\} (\S+)$'
)


def checks_ok(metrics_port: int) -> int:
    """Checks the server has answered OK so far (its `/metrics`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return sum(int(float(m.group(1))) for line in text.splitlines() if (m := _CHECKS_OK.match(line)))


def h2load(server: BenchServer, body: Path, requests: int, clients: int, streams: int) -> list[str]:
    args = ["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams), "-t", "1", "-d", str(body)]
    args += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    if server.dialer_token:
        args += ["-H", f"authorization: Bearer {server.dialer_token}"]
    return [*args, f"http://{server.target}/dncgate.v1.CallGate/Check"]


def run_once(server: BenchServer, metrics_port: int, command: list[str], requests: int) -> dict[str, float]:
    """One h2load run: the server's CPU µs per Check (its Python process; Redis's apart) and Checks/s."""
    settle(server)
    ok, before, started = checks_ok(metrics_port), cpu_seconds(server.pid), time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout
    wall, after, answered = time.perf_counter() - started, cpu_seconds(server.pid), checks_ok(metrics_port) - ok
    if answered != requests:
        raise RuntimeError(f"{answered} of {requests} Checks answered OK:\n{out[-2000:]}")
    used = {k: after[k] - before.get(k, 0.0) for k in after}
    return {
        "server_us": used.get("python", 0.0) / requests * 1e6,
        "redis_us": used.get("redis-server", 0.0) / requests * 1e6,
        "per_s": requests / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="Checks per server and round")
    parser.add_argument("--clients", type=int, default=8, help="connections")
    parser.add_argument("--streams", type=int, default=1, help="requests in flight on each connection")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", help="another tree's src: its server is measured beside this tree's")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.requests, ns.clients, ns.rounds = 200, 2, 1
    if shutil.which("h2load") is None:
        raise SystemExit("h2load is not installed (Debian: apt-get install nghttp2-client)")
    names = ["this tree", *(["--against"] if ns.against else [])]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="dncgate-server-cpu-") as tmp, ExitStack() as stack:
        body = bodies(Path(tmp))["grpc"]
        servers: dict[str, tuple[BenchServer, int]] = {}
        for name in names:
            metrics_port = free_port()
            saved = os.environ.pop(SERVER_SRC_ENV, None)
            if name == "--against":
                os.environ[SERVER_SRC_ENV] = ns.against
            try:
                server = stack.enter_context(serve({"DNCGATE_METRICS_LISTEN": f"127.0.0.1:{metrics_port}"}))
            finally:
                os.environ.pop(SERVER_SRC_ENV, None)
                if saved is not None:
                    os.environ[SERVER_SRC_ENV] = saved
            with grpc.insecure_channel(server.target) as ch:  # the request is a Check this token may make
                gateway_pb2_grpc.CallGateStub(ch).Check(check_request(), metadata=server.dialer, timeout=10)
            servers[name] = (server, metrics_port)
        warm = max(ns.requests // 10, 50)
        for server, metrics_port in servers.values():  # warm-up: connections, caches, the token verified once
            run_once(server, metrics_port, h2load(server, body, warm, ns.clients, ns.streams), warm)
        for i in range(ns.rounds):
            for name in names if i % 2 == 0 else list(reversed(names)):
                server, metrics_port = servers[name]
                command = h2load(server, body, ns.requests, ns.clients, ns.streams)
                runs[name].append(run_once(server, metrics_port, command, ns.requests))
        info = machine(servers[names[0]][0].redis_url)
    result: dict[str, Any] = {
        name: {key: median([r[key] for r in runs[name]]) for key in ("server_us", "redis_us", "per_s")}
        for name in names
    }
    result["rounds"] = runs
    rows = [
        [
            f"`{ns.against}`" if name == "--against" else name,
            ", ".join(f"{r['server_us']:.0f}" for r in runs[name]),
            f"**{result[name]['server_us']:.1f}**",
            f"{result[name]['redis_us']:.1f}",
            f"{result[name]['per_s']:,.0f}",
        ]
        for name in names
    ]
    lines = [
        "## Server CPU per gRPC Check, whole server",
        "",
        f"h2load, {ns.clients} connections with {ns.streams} request(s) in flight each, {ns.requests:,} Checks "
        f"per server and round, {ns.rounds} round(s) (medians); each Check carries a `dialer` bearer token and "
        "every one was answered OK (the server's `/metrics`). CPU: the `dncgate serve` Python process's user + "
        "system seconds over the Checks.",
        "",
        *table(["server", "µs per Check, each round", "median µs", "Redis µs", "Checks/s"], rows),
    ]
    if ns.against:
        result["ratio"] = result["this tree"]["server_us"] / result["--against"]["server_us"]
        pairs = zip(runs["this tree"], runs["--against"], strict=True)
        result["paired_ratio"] = median([a["server_us"] / b["server_us"] for a, b in pairs])
        lines += [
            "",
            f"This tree / the other: **{result['ratio']:.3f}** (medians); the median of each round's own ratio: "
            f"{result['paired_ratio']:.3f}.",
        ]
    record("server_cpu", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
