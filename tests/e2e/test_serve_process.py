"""The quick start as a user runs it: `dncgate serve` with embedded stores, the CLI, then Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes_using(path: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "name"]):
        try:
            if any(str(path) in part for part in p.info["cmdline"] or []):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _cli(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DNCGATE_TARGET": f"127.0.0.1:{port}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dncgate.cli", *args], capture_output=True, text=True, env=env, timeout=30
    )


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int, dict[str, str]]:
    """`dncgate serve ARGS` with its own data dir and port, once it answers the CLI (90 s at most)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")} | {
        "DNCGATE_LISTEN": f"127.0.0.1:{port}",
        "DNCGATE_DATA_DIR": str(tmp_path / "data"),
        "DNCGATE_CALLING_HOURS": "00:00-24:00",
        "DNCGATE_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dncgate.cli", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while _cli(port, "org", "get", "x").returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            output, _ = proc.communicate()
            raise AssertionError(f"dncgate serve did not start: {output[-2000:]}")
        time.sleep(0.3)
    return proc, port, env


def test_serve_answers_the_cli_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """`dncgate serve` starts its own Redis and PostgreSQL, answers the CLI, and leaves nothing behind."""
    proc, port, env = _serve(tmp_path)
    try:
        # pg_ctl daemonises postgres, so look for every process using our data directory.
        children = _processes_using(tmp_path)
        assert any("redis-server" in c.name() for c in children)
        assert any("postgres" in c.name() for c in children)

        args = [
            "--caller",
            "+862759001234",
            "--callee",
            "13800138000",
            "--agent",
            "a17",
            "--org",
            "wuhan-01",
            "--category",
            "real-estate",
        ]
        out = _cli(port, "check", *args)
        assert out.returncode == 0 and "ALLOW" in out.stdout and "NOT_REGISTERED" in out.stdout, out
        assert _cli(port, "registry", "set", "13800138000", "--dnd").returncode == 0
        out = _cli(port, "check", *args)
        assert "BLOCK" in out.stdout and "REGISTERED" in out.stdout, out.stdout
        out = _cli(port, "registry", "get", "13800138000")
        assert "+86138****8000" in out.stdout and "yes" in out.stdout, out.stdout
        out = _cli(port, "consent", "grant", "13800138000", "--org", "wuhan-01")
        assert out.returncode == 0, out
        assert "CONSENT_ON_FILE" in _cli(port, "check", *args).stdout
        bad = _cli(port, "check", "--caller", "+862759001234", "--callee", "13800138000", "--org", "")
        assert bad.returncode == 1 and "org_id" in bad.stdout
        # `registry rebuild` joins the running embedded servers instead of starting its own.
        rebuilt = subprocess.run(
            [sys.executable, "-m", "dncgate.cli", "registry", "rebuild"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rebuilt.returncode == 0 and "1 numbers, 1 consents" in rebuilt.stdout, rebuilt
        assert "CONSENT_ON_FILE" in _cli(port, "check", *args).stdout
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "13800138000" not in output and "+8613800138000" not in output
    deadline = time.monotonic() + 10
    while (leftovers := [c for c in _processes_using(tmp_path) if c.status() != psutil.STATUS_ZOMBIE]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert leftovers == [], leftovers


def test_workers_share_the_port_and_all_stop_on_ctrl_c(tmp_path: Path) -> None:
    """`serve --workers 2` runs two API processes and a recorder on one port; Ctrl-C stops every one."""
    proc, port, _ = _serve(tmp_path, "--workers", "2")
    try:
        workers = [c for c in psutil.Process(proc.pid).children() if "dncgate.cli" in " ".join(c.cmdline())]
        assert len(workers) == 3  # two API workers and the recorder
        args = ["--caller", "+862759001234", "--callee", "13800138000", "--org", "wuhan-01"]
        assert _cli(port, "registry", "set", "13800138000", "--dnd").returncode == 0
        for _ in range(6):  # new connections land on either worker: every one must see the registry
            out = _cli(port, "check", *args)
            assert "REGISTERED" in out.stdout and "BLOCK" in out.stdout, out.stdout
        everything = _processes_using(tmp_path)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    deadline = time.monotonic() + 10
    while (left := [c for c in everything if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert left == [], left
