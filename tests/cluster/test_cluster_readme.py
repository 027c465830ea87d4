"""`serve` with DNCGATE_REDIS_CLUSTER=true against a running Redis Cluster answers the README's commands.

The quick start's client commands are read from the README (the block after "From another terminal"),
each run as written: `[...]` options left out, `<call id>` the id a Check answered, the files they
name (`feed.csv`, `list.csv`) made first. `dncgate serve` runs as a process with its data in the
default relative `.dncgate` of a fresh directory and PostgreSQL embedded; only the cluster, and free
ports for its faces (the quick start's own are for `make serve`) and the pepper an external Redis
requires (the README's Redis Cluster section), are set. The client commands find
it through `DNCGATE_TARGET` and the admin token in `.dncgate/admin.token`, as the README says. Then
the README's curl over HTTP/JSON, and a Ctrl-C to the process group.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_quick_start import readme_curl_check
from tests.redis_cluster import Cluster
from tests.wait import callgate_serving, until_sync

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
FEED = "13900139000\n13900139001,no\n13900139002,yes,finance\n"
PEPPER = "c1a5" * 16
CALL_ID = "@call-id@"  # the README's placeholder `<call id>`, as one argument
LIST = "name,mobile\nLi,13800138000\nWang,13900139005\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readme_commands() -> list[list[str]]:
    """The quick start's client commands, each as argv after `.venv/bin/dncgate`, optional parts removed."""
    text = (ROOT / "README.md").read_text()
    block = text.split("From another terminal:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    out = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        while (shorter := re.sub(r"\s*\[[^\[\]]*\]", "", line)) != line:
            line = shorter
        argv = shlex.split(line.replace("<call id>", CALL_ID))
        assert argv[0] == ".venv/bin/dncgate", line
        out.append(argv[1:])
    return out


def test_the_readme_commands_name_what_they_need() -> None:
    """What the test below relies on: the block is there, and its placeholders are the ones it fills."""
    commands = readme_commands()
    assert commands[0][0] == "check" and ["registry", "rebuild"] in commands and ["health"] in commands
    assert [c for c in commands if CALL_ID in c] == [c for c in commands if c[0] == "report-outcome"]
    assert {a for c in commands for a in c if a.endswith(".csv")} == {"feed.csv", "list.csv", "dialable.csv"}


@pytest.mark.timeout(300)  # twenty-odd CLI processes, each a Python start
def test_serve_on_the_cluster_answers_the_readme_commands(
    redis_cluster: Cluster, cluster_client: Any, tmp_path: Path
) -> None:
    port, http_port, console_port = _free_port(), _free_port(), _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")} | {"COLUMNS": "200"}
    serve_env = base | {
        "DNCGATE_REDIS_CLUSTER": "true",
        "DNCGATE_REDIS_URL": redis_cluster.url,
        "DNCGATE_PEPPER": PEPPER,  # required with an external Redis (every replica the same)
        "DNCGATE_LISTEN": f"127.0.0.1:{port}",
        "DNCGATE_HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "DNCGATE_CONSOLE_LISTEN": f"127.0.0.1:{console_port}",
        "DNCGATE_METRICS_LISTEN": "off",
        "DNCGATE_CALLING_HOURS": "00:00-24:00",  # the answers checked below, by day or night
    }
    # Local commands (`registry rebuild`) take the stores from the running serve's endpoints file, and
    # its pepper from the environment, as the README's Redis Cluster section says.
    cli_env = base | {"DNCGATE_TARGET": f"127.0.0.1:{port}", "DNCGATE_PEPPER": PEPPER}
    dncgate = str(Path(sys.executable).parent / "dncgate")
    (tmp_path / "feed.csv").write_text(FEED)
    (tmp_path / "list.csv").write_text(LIST)

    def cli(*args: str, env: dict[str, str] = cli_env) -> subprocess.CompletedProcess[str]:
        return subprocess.run([dncgate, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)

    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [dncgate, "serve"], cwd=tmp_path, env=serve_env, stdout=log, stderr=subprocess.STDOUT, process_group=0
        )
    try:

        def up() -> bool:
            assert proc.poll() is None, f"serve exited: {log_path.read_text()[-3000:]}"
            return callgate_serving(port)

        until_sync(up, 120, what="CallGate SERVING on the cluster")
        commands = readme_commands()
        first = cli(*commands[0], "--output", "json")
        assert first.returncode == 0, first.stderr
        call_id = json.loads(first.stdout.splitlines()[0])["call_id"]
        for argv in commands:
            argv = [call_id if a == CALL_ID else a for a in argv]
            started = time.monotonic()
            done = cli(*argv)
            print(f"{time.monotonic() - started:5.1f} s  dncgate {' '.join(argv)}")
            assert done.returncode == 0, (argv, done.stdout, done.stderr, log_path.read_text()[-2000:])
            assert "REGISTRY_UNAVAILABLE" not in done.stdout and "Traceback" not in done.stderr, (argv, done)
            if argv[:2] == ["registry", "rebuild"]:
                assert re.search(r"\b[1-9]\d* numbers", done.stdout), done.stdout  # rebuilt onto the cluster
        # What the commands wrote is on the cluster: her preference as last set (finance only), and the
        # imported number registered (the org is in monitor mode now: ALLOW, marked a violation).
        got = cli("registry", "get", "13800138000")
        assert got.returncode == 0 and "finance" in got.stdout and "real-estate" not in got.stdout, got.stdout
        imported = cli(*[("13900139000" if a == "13800138000" else a) for a in commands[0]], "--output", "json")
        answer = json.loads(imported.stdout.splitlines()[0])
        assert (answer["decision"], answer["reason"], answer["violation"]) == ("allow", "registered", True), answer
        no_pepper = cli("registry", "rebuild", env={k: v for k, v in cli_env.items() if k != "DNCGATE_PEPPER"})
        assert no_pepper.returncode == 2 and "DNCGATE_PEPPER must be set" in no_pepper.stderr, no_pepper
        assert "Traceback" not in no_pepper.stderr
        assert (tmp_path / "dialable.csv").read_text().splitlines()[0] == "name,mobile"
        decision, reason = readme_curl_check(tmp_path, http_port)
        assert (decision, reason) == ("DECISION_ALLOW", "REASON_NOT_REGISTERED")  # finance only, a real-estate call
        assert (tmp_path / ".dncgate" / "endpoints.json").exists()
        assert json.loads((tmp_path / ".dncgate" / "endpoints.json").read_text())["redis_url"] == redis_cluster.url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log_text = log_path.read_text()
    assert proc.returncode == 0, log_text[-3000:]
    assert "Traceback" not in log_text, log_text[-3000:]
    assert "13800138000" not in log_text and "13900139000" not in log_text
