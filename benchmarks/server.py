"""Run `dncgate serve` as users run it (its own process, embedded Redis and PostgreSQL) for a benchmark.

Once serve is up the benchmark holds its own tokens: the admin token serve wrote to `<data dir>/admin.token`
and a `dialer` token made with it (Access/CreateToken) for the Check load; `BenchServer.token(role)` makes
one for any other role. Each client sends its token as per-call metadata (`BenchServer.dialer`,
`bearer(token)`), not through a client interceptor, which would cost the load generator CPU on every call.

A server from before access control writes no admin.token and needs no token: then every token is None and
every call goes without metadata, so the same harness measures an old commit side by side with the new one.
`DNCGATE_BENCH_SERVER_SRC=<other tree>/src` runs `dncgate serve` from that tree (e.g. a `git worktree` of an
old commit) while the benchmark's own code, the clients included, stays this tree's.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.common import SERVE_ARGS_ENV, SERVER_SRC_ENV
from benchmarks.registry_load import PEPPER, consumer_number, load_fast, server_bucket_bits
from dncgate.store.hot import LEGACY_CALLS, Layout

__all__ = [
    "BenchServer",
    "Metadata",
    "attach",
    "bearer",
    "consumer_number",
    "free_port",
    "preload_registry",
    "serve",
    "settle",
    "spawn",
    "stop",
]

Metadata = tuple[tuple[str, str], ...] | None  # a call's `metadata=`: None sends none


def bearer(token: str | None) -> Metadata:
    """The call metadata that names `token`'s principal; None (no metadata) without a token."""
    return (("authorization", f"Bearer {token}"),) if token else None


@dataclass
class BenchServer:
    target: str
    data_dir: Path
    redis_url: str
    database_url: str
    pid: int  # the `dncgate serve` process, for py-spy
    admin_token: str | None = None  # None: a server from before access control (it wrote no admin.token)
    dialer_token: str | None = None  # made with the admin token, for the Check load
    _tokens: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def dialer(self) -> Metadata:
        """The metadata of a Check (CallGate) call."""
        return bearer(self.dialer_token)

    @property
    def admin(self) -> Metadata:
        return bearer(self.admin_token)

    @property
    def credentials(self) -> str:
        """How the benchmark's Checks name their caller, for its table."""
        if self.dialer_token is None:
            return "no token (a server from before access control)"
        return "each Check carries a `dialer` bearer token as call metadata"

    def token(self, role: str) -> str | None:
        """A token with `role` only, made on first use (None against a server that needs none)."""
        if role not in self._tokens:
            self._tokens[role] = create_token(self.target, self.admin_token, f"bench-{role}", [role])
        return self._tokens[role]


def create_token(target: str, admin_token: str | None, name: str, roles: list[str]) -> str | None:
    """A new token with `roles` through Access/CreateToken, authorized by `admin_token` (None: no token, as
    a server from before access control needs none)."""
    if admin_token is None:
        return None
    from dncgate.v1 import access_pb2, access_pb2_grpc  # only a tree with access control has them

    with grpc.insecure_channel(target) as ch:
        reply = access_pb2_grpc.AccessStub(ch).CreateToken(
            access_pb2.CreateTokenRequest(name=name, roles=roles), metadata=bearer(admin_token), timeout=30
        )
    return str(reply.secret_token)


def attach(target: str, data_dir: Path, pid: int) -> BenchServer:
    """The BenchServer of a `dncgate serve` that is up (health SERVING) with its embedded stores under
    `data_dir`: its store URLs, the admin token it wrote (if any), and a new dialer token."""
    urls = json.loads((data_dir / "endpoints.json").read_text())
    admin_file = data_dir / "admin.token"
    admin_token = admin_file.read_text().strip() if admin_file.exists() else None
    server = BenchServer(target, data_dir, urls["redis_url"], urls["database_url"], pid, admin_token)
    server.dialer_token = server.token("dialer")
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(data_dir: Path, port: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Any]:
    """Start `dncgate serve` on `port` with its embedded stores under `data_dir` (fresh or not), as the
    benchmarks run it; its stderr is appended to <data dir>/serve.log. The process and that log file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")} | {
        "DNCGATE_LISTEN": f"127.0.0.1:{port}",
        "DNCGATE_DATA_DIR": str(data_dir),
        "DNCGATE_PEPPER": PEPPER.hex(),
        "DNCGATE_CALLING_HOURS": "00:00-24:00",
        # Benchmarks call the same callees again and again: frequency caps off unless `extra_env` says
        # otherwise (each benchmark states its cap settings in its output).
        "DNCGATE_CAP_PER_DAY": "0",
        "DNCGATE_CAP_PER_WEEK": "0",
        "DNCGATE_LOG_LEVEL": "warning",
        "DNCGATE_HTTP_LISTEN": "off",  # the HTTP/JSON face's benchmark gives it a free port
        "DNCGATE_CONSOLE_LISTEN": "off",  # the console's default 8080 is the quick start's (and one serve's)
        **(extra_env or {}),
    }
    if src := os.environ.get(SERVER_SRC_ENV):  # serve from another tree; its own imports only
        env["PYTHONPATH"] = str(Path(src).resolve())
    args = shlex.split(os.environ.get(SERVE_ARGS_ENV, ""))
    log = (data_dir / "serve.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dncgate.cli", "serve", *args], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    return proc, log


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGINT, as Ctrl-C does; killed if it has not exited within `timeout_s`."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serve(extra_env: dict[str, str] | None = None) -> Iterator[BenchServer]:
    """`dncgate serve` on a free port with fresh embedded stores; its stderr goes to <data dir>/serve.log."""
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        port = free_port()
        proc, log = spawn(Path(tmp), port, extra_env)
        try:
            target = f"127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            # The port opens before the registry is loaded: a role that serves Checks is ready once
            # health says CallGate SERVING (until then a Check fails closed).
            role = (extra_env or {}).get("DNCGATE_ROLE", "all")
            service = "dncgate.v1.CallGate" if role in ("all", "api", "gateway") else ""
            with grpc.insecure_channel(target) as ch:
                stub = health_pb2_grpc.HealthStub(ch)
                while True:
                    try:
                        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
                        if answer.status != health_pb2.HealthCheckResponse.SERVING:
                            raise grpc.RpcError()
                        break
                    except grpc.RpcError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            tail = (Path(tmp) / "serve.log").read_text(errors="replace")[-2000:]
                            raise RuntimeError(f"dncgate serve did not start:\n{tail}") from None
                        time.sleep(0.2)
            yield attach(target, Path(tmp), proc.pid)
        finally:
            stop(proc)
            log.close()


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by `pid` and its descendants, summed by command name."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, str, float]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        procs[int(d.name)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / tick)
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (parent, _, _) in procs.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    out: dict[str, float] = {}
    for p in tree & procs.keys():
        _, comm, cpu = procs[p]
        out[comm] = out.get(comm, 0.0) + cpu
    return out


def settle(server: BenchServer, limit_s: float = 20.0) -> float:
    """Wait until the server is idle again; the seconds waited.

    Between load steps, so that one step's backlog does not slow the next one down: first the recorder
    drains the call-event stream, then Health/Check must answer quickly (10 in a row under 5 ms), which it
    does only once the requests still queued from an overloaded step are gone.
    """
    started = time.monotonic()
    client = redis.Redis.from_url(server.redis_url)
    try:
        streams = [*Layout().streams, LEGACY_CALLS]
        while time.monotonic() - started < limit_s and sum(int(client.xlen(s)) for s in streams) > 1000:
            time.sleep(0.1)
    finally:
        client.close()
    with grpc.insecure_channel(server.target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        quick = 0
        while quick < 10 and time.monotonic() - started < limit_s:
            t = time.perf_counter()
            stub.Check(health_pb2.HealthCheckRequest(), timeout=limit_s)
            quick = quick + 1 if time.perf_counter() - t < 0.005 else 0
            time.sleep(0.01)
    return time.monotonic() - started


def preload_registry(redis_url: str, n: int) -> None:
    """Register consumers 0..n-1 straight into the server's Redis, in its bucket layout (fast set-up)."""
    load_fast(redis_url, n, server_bucket_bits(redis_url))
