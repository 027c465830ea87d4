"""The quick start as a user runs it: `dncgate serve` with embedded stores, the CLI, then Ctrl-C.

Also the child processes `serve` supervises: the recorder of role `all`, and the `--workers`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import psutil
import psycopg
import pytest

from dncgate.api.server import running
from dncgate.config import Settings
from dncgate.v1 import gateway_pb2_grpc
from tests.auth import admin_token, aio_channel
from tests.e2e.conftest import check_request, free_port, serve_env
from tests.e2e.test_quick_start import README_CHECK
from tests.e2e.test_roles import logged_call_ids, wait_until_logged
from tests.wait import callgate_serving, until_sync

pytestmark = pytest.mark.e2e

T = TypeVar("T")


def _processes_using(path: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "name"]):
        try:
            if any(str(path) in part for part in p.info["cmdline"] or []):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _recorder_children(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    """The live `serve --role recorder` children of a `dncgate serve`."""
    found = []
    for c in psutil.Process(proc.pid).children():
        try:
            if "dncgate.cli" in c.cmdline() and "recorder" in c.cmdline() and c.status() != psutil.STATUS_ZOMBIE:
                found.append(c)
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_for(what: str, probe: Callable[[], T | None], within_s: float = 30.0) -> T:
    found = until_sync(probe, within_s, what=what, every_s=0.1)
    assert found is not None
    return found


def _logged(data_dir: Path, call_id: str) -> bool | None:
    """True once call_log has the call (else None), read from the PostgreSQL named in endpoints.json."""
    url = json.loads((data_dir / "endpoints.json").read_text())["database_url"]
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT 1 FROM call_log WHERE call_id = %s", (call_id,)).fetchone()
    return True if row else None


def _checked_call_id(port: int) -> str:
    out = _cli(port, "check", "--caller", "+862759001234", "--callee", "13800138000", "--org", "wuhan-01")
    assert out.returncode == 0, out
    match = re.search(r"call_id\s+([0-9a-f]+)", out.stdout)
    assert match, out.stdout
    return match.group(1)


def _gone(processes: list[psutil.Process], within_s: float = 10.0) -> list[psutil.Process]:
    """Those of `processes` still alive (and not zombies) after waiting up to `within_s` for them to go."""
    deadline = time.monotonic() + within_s
    while True:
        left = []
        for c in processes:
            try:
                if c.is_running() and c.status() != psutil.STATUS_ZOMBIE:
                    left.append(c)
            except psutil.NoSuchProcess:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


# The data dir of the `serve` on each port: the CLI finds the admin token there, as it would after `make serve`.
_DATA_DIRS: dict[int, Path] = {}


def _cli(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DNCGATE_TARGET": f"127.0.0.1:{port}", "COLUMNS": "200"}
    env.pop("DNCGATE_TOKEN", None)
    if port in _DATA_DIRS:
        env["DNCGATE_DATA_DIR"] = str(_DATA_DIRS[port])
    return subprocess.run(
        [sys.executable, "-m", "dncgate.cli", *args], capture_output=True, text=True, env=env, timeout=30
    )


def _serve(
    tmp_path: Path, *args: str, metrics_listen: str = "127.0.0.1:0"
) -> tuple[subprocess.Popen[str], int, dict[str, str]]:
    """`dncgate serve ARGS` with its own data dir and port, once it answers the CLI (90 s at most).

    Its metrics on ports of the kernel's choice unless `metrics_listen` says otherwise: the default
    9464 could be another process's."""
    port = free_port()
    env = serve_env(port, tmp_path / "data", METRICS_LISTEN=metrics_listen)
    _DATA_DIRS[port] = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dncgate.cli", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    # The port opens before the registry is loaded: wait for the CLI to be answered and for CallGate to
    # say SERVING (until then a Check is BLOCK / REGISTRY_UNAVAILABLE).
    while _cli(port, "org", "get", "x").returncode != 0 or not callgate_serving(port):
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
        # The recorder child's command line names no data dir: it is found as a child, and must go too.
        recorders = _wait_for("the recorder child", lambda: _recorder_children(proc))
        everything = children + psutil.Process(proc.pid).children(recursive=True)
        assert len(recorders) == 1 and recorders[0].pid in {c.pid for c in everything}

        args = README_CHECK[1:]  # the README's `dncgate check` arguments
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
        assert bad.returncode == 1 and "org_id" in bad.stderr
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
    assert _gone(everything + _processes_using(tmp_path)) == []


def test_workers_share_the_port_and_all_stop_on_ctrl_c(tmp_path: Path) -> None:
    """`serve --workers 2` runs two API processes and a recorder on one port; Ctrl-C stops every one.
    The consumer notices are delivered by the recorder process alone, each once."""
    proc, port, _ = _serve(tmp_path, "--workers", "2")
    try:
        workers = [c for c in psutil.Process(proc.pid).children() if "dncgate.cli" in " ".join(c.cmdline())]
        assert len(workers) == 3  # two API workers and the recorder
        # The `api` workers run no recorder child of their own: the one recorder is the parent's.
        assert not [c for w in workers for c in w.children() if "dncgate.cli" in " ".join(c.cmdline())]
        args = ["--caller", "+862759001234", "--callee", "13800138000", "--org", "wuhan-01"]
        assert _cli(port, "registry", "set", "13800138000", "--dnd").returncode == 0
        for _ in range(6):  # new connections land on either worker: every one must see the registry
            out = _cli(port, "check", *args)
            assert "REGISTERED" in out.stdout and "BLOCK" in out.stdout, out.stdout
        filed = _cli(port, "complaint", "file", "13800138000", "--caller", "+862759001234")
        assert filed.returncode == 0, filed
        notices = tmp_path / "data" / "notices.jsonl"
        written = _wait_for(
            "the filing's two notices delivered",
            lambda: notices.exists() and len(lines := notices.read_text().splitlines()) >= 2 and lines,
        )
        assert [json.loads(line)["kind"] for line in written] == ["ACCEPTED", "VERDICT"]
        everything = _processes_using(tmp_path)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert _gone(everything) == []
    events = [json.loads(line).get("event") for line in output.splitlines() if line.startswith("{")]
    assert events.count("notice_loop_started") == 1, output[-3000:]  # the recorder's; no API worker's
    assert len(notices.read_text().splitlines()) == 2


def test_serve_records_in_a_child_process_and_restarts_it_when_it_dies(tmp_path: Path) -> None:
    """By default the recorder is a child: it records Checks, comes back after a SIGKILL, and stops on Ctrl-C."""
    proc, port, _ = _serve(tmp_path)
    data_dir = tmp_path / "data"
    try:
        [first] = _wait_for("the recorder child", lambda: _recorder_children(proc))
        assert first.cmdline()[-5:] == ["-m", "dncgate.cli", "serve", "--role", "recorder"]
        call_id = _checked_call_id(port)
        _wait_for("the first call in call_log", lambda: _logged(data_dir, call_id))

        first.send_signal(signal.SIGKILL)
        # Checks are answered while no recorder runs; their events wait in the stream for the next one.
        call_id = _checked_call_id(port)
        [second] = _wait_for(
            "a restarted recorder", lambda: [c for c in _recorder_children(proc) if c.pid != first.pid] or None
        )
        _wait_for("the killed recorder reaped", lambda: None if psutil.pid_exists(first.pid) else True)
        _wait_for("the call in call_log after the restart", lambda: _logged(data_dir, call_id))
        call_id = _checked_call_id(port)
        _wait_for("a later call in call_log", lambda: _logged(data_dir, call_id))
        everything = _processes_using(tmp_path) + psutil.Process(proc.pid).children(recursive=True)
        assert second in everything
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    events = [json.loads(line).get("event") for line in output.splitlines() if line.startswith("{")]
    assert events.count("recorder_process_started") == 2 and "recorder_process_died" in events, output[-3000:]
    assert _gone(everything) == []


async def test_the_recorder_child_is_stopped_after_the_server_so_the_last_calls_are_recorded(
    settings: Settings,
) -> None:
    """On the default asyncio loop too, the child records Checks and is stopped only once the server has stopped."""
    async with (
        running(replace(settings, recorder_mode="process")) as r,
        aio_channel(f"127.0.0.1:{r.port}", admin_token(settings.data_dir)) as channel,
    ):
        await r.wait_current()
        assert r.recorder is not None and r.recorder.pid is not None
        pid = r.recorder.pid
        stub = gateway_pb2_grpc.CallGateStub(channel)
        first = await stub.Check(check_request())
        assert first.call_id in await wait_until_logged(settings.database_url, {first.call_id}, within_s=30)
        last = {(await stub.Check(check_request())).call_id for _ in range(20)}
    assert not psutil.pid_exists(pid)  # stopped and reaped
    assert last <= await logged_call_ids(settings.database_url)


def test_a_child_whose_parent_is_already_gone_exits_at_once() -> None:
    """The recorder child of `serve` checks the pid it was given: if that parent is gone, it does not run."""
    code = "import os; from dncgate.embedded import die_with_parent_pid; die_with_parent_pid(str(os.getppid() + 1))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "is gone" in done.stderr
    fine = "import os; from dncgate.embedded import die_with_parent_pid; die_with_parent_pid(str(os.getppid()))"
    assert subprocess.run([sys.executable, "-c", fine], timeout=60).returncode == 0


@pytest.mark.parametrize("face", ["CONSOLE_LISTEN", "HTTP_LISTEN"])
def test_a_face_whose_port_is_taken_stops_serve_with_the_setting_named(face: str, tmp_path: Path) -> None:
    """Another process on the console's (or HTTP face's) port: `serve` exits 2 naming the variable and the
    address, no traceback, and leaves no embedded store running."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        where = f"127.0.0.1:{taken.getsockname()[1]}"
        env = serve_env(free_port(), tmp_path / "data", **{face: where})
        done = subprocess.run(
            [sys.executable, "-m", "dncgate.cli", "serve"], env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"DNCGATE_{face}: cannot listen on {where}" in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert not _processes_using(tmp_path / "data")
