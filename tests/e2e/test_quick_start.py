"""The README's quick start, literally: `dncgate serve` in a fresh directory with no DNCGATE_* variable,
so the data dir is the relative default `.dncgate` and the port the default 127.0.0.1:50051; the
README's `dncgate check` and `registry rebuild`; then a Ctrl-C as a terminal sends it, to the whole
foreground process group.

A test that set an absolute data dir once hid a crash of this very first command: this one sets
nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psutil
import pytest

from dncgate.v1 import registry_pb2, registry_pb2_grpc

pytestmark = pytest.mark.e2e

DEFAULT_TARGET = ("127.0.0.1", 50051)
ROOT = Path(__file__).resolve().parents[2]
README_CHECK = [
    "check",
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


def _dncgate() -> str:
    """The venv's `dncgate` script, as `make serve` runs it."""
    script = Path(sys.executable).parent / "dncgate"
    assert script.exists(), f"{script} missing: install the package (make install)"
    return str(script)


def _port_in_use() -> bool:
    with socket.socket() as s:
        return s.connect_ex(DEFAULT_TARGET) == 0


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")} | {"COLUMNS": "200"}


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_dncgate(), *args], cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=60)


def test_the_readme_quick_start_runs_as_written_with_nothing_set(tmp_path: Path) -> None:
    """`dncgate serve` with the default relative data dir answers the README's check, then Ctrl-C stops all."""
    assert not _port_in_use(), "127.0.0.1:50051 is taken: the quick start needs the default port free"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as out:
        # Its own process group, as a shell gives a foreground job: the Ctrl-C below goes to the group.
        proc = subprocess.Popen(
            [_dncgate(), "serve"],
            cwd=tmp_path,
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        deadline = time.monotonic() + 120
        # The port opens before the registry is loaded; until then a Check fails closed.
        while (out := _cli(tmp_path, *README_CHECK)).returncode != 0 or "REGISTRY_UNAVAILABLE" in out.stdout:
            assert proc.poll() is None, f"serve died: {log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"serve did not answer: {out.stdout}{out.stderr}"
            time.sleep(0.3)
        assert any(answer in out.stdout for answer in _first_answers()), out.stdout
        decision, reason = readme_curl_check(tmp_path)  # the same question over HTTP/JSON on :8081
        assert decision in ("DECISION_ALLOW", "DECISION_BLOCK") and reason.removeprefix("REASON_") in out.stdout
        data_dir = tmp_path / ".dncgate"
        assert (data_dir / "endpoints.json").exists() and (data_dir / "pepper").exists()
        # The CLI found the admin token serve wrote; without one, the same port refuses everything.
        assert stat.S_IMODE((data_dir / "admin.token").stat().st_mode) == 0o600
        with grpc.insecure_channel("127.0.0.1:50051") as anonymous:
            set_dnd = registry_pb2.SetPreferenceRequest(number="13800138000", do_not_disturb=True)
            with pytest.raises(grpc.RpcError) as refused:
                registry_pb2_grpc.RegistryStub(anonymous).SetPreference(set_dnd, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        redis_log = data_dir / "redis" / "redis.log"
        assert redis_log.exists()  # the file redis-server could not open with a relative path
        assert _cli(tmp_path, "registry", "set", "13800138000", "--dnd").returncode == 0
        rebuilt = _cli(tmp_path, "registry", "rebuild")
        assert rebuilt.returncode == 0 and "1 numbers" in rebuilt.stdout, rebuilt
        out = _cli(tmp_path, *README_CHECK)
        assert "BLOCK" in out.stdout and "REGISTERED" in out.stdout, out.stdout
        database_url = json.loads((data_dir / "endpoints.json").read_text())["database_url"]
        everything = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        everything += [
            p for p in psutil.process_iter(["cmdline"]) if str(data_dir) in " ".join(p.info["cmdline"] or [])
        ]
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = log_path.read_text()
    assert proc.returncode == 0, log[-3000:]
    assert database_url
    assert "Traceback" not in log, log[-3000:]
    events = [json.loads(line).get("event") for line in log.splitlines() if line.startswith("{")]
    # The terminal's SIGINT reached serve alone: Redis was still up for the recorder's last flush.
    assert "recorder_flush_incomplete" not in events and "recorder_stopped" in events, log[-3000:]
    assert "13800138000" not in log and "+8613800138000" not in log
    deadline = time.monotonic() + 15
    while left := [p for p in everything if _alive(p)]:
        assert time.monotonic() < deadline, f"left behind: {left}"
        time.sleep(0.2)


def readme_curl_check(cwd: Path, port: int = 8081) -> tuple[str, str]:
    """The README's quick-start `curl ... 127.0.0.1:8081/v1/check`, sent as written (its token file read
    from `cwd`, as `$(cat .dncgate/admin.token)` does; to `port` for a serve on another one): the
    answer's decision and reason."""
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith('curl -H "Authorization: Bearer $(cat .dncgate/'))
    found = re.fullmatch(
        r"""curl -H "Authorization: Bearer \$\(cat ([^)]+)\)" -d '([^']+)' 127\.0\.0\.1:8081(\S+)""", line
    )
    assert found is not None, line
    token_file, body, path = found.groups()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body.encode(),
        headers={"Authorization": f"Bearer {(cwd / token_file).read_text().strip()}"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200
        answer = json.loads(reply.read())
    return answer["decision"], answer["reason"]


def _first_answers() -> set[str]:
    """What the README's check may answer with nothing set: NOT_REGISTERED (ALLOW), or at night in the
    callee's zone, by the default calling hours, OUTSIDE_CALLING_HOURS (BLOCK). Told by the domain's own
    rule; within a minute of an opening or closing, either."""
    from dncgate.config import Settings
    from dncgate.domain.hours import window_check
    from dncgate.phone import zone

    defaults = Settings()
    zones = [zone(defaults.default_timezone)]
    now = datetime.now(UTC)
    return {
        "NOT_REGISTERED"
        if window_check(defaults.calling_hours, zones, now + timedelta(minutes=m)) is None
        else "OUTSIDE_CALLING_HOURS"
        for m in (-1, 0, 1)
    }


def _alive(p: psutil.Process) -> bool:
    try:
        return bool(p.is_running() and p.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
