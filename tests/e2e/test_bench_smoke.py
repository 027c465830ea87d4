"""The benchmark harness runs end to end on tiny sizes: every module's code path, no performance asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(780)]

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "check_latency_sequential",
    "check_path",
    "cluster",
    "cluster_memory",
    "cluster_failover",
    "cluster_import",
    "grpc_floor",
    "check_throughput",
    "check_open_loop",
    "list_scrub",
    "bulk_import",
    "registry_memory",
    "complaint_verification",
    "http_face",
    "server_cpu",
    "sip_edge",
    "suite",
)


def test_every_benchmark_runs_quick_and_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DNCGATE_BENCH_OUT"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=720,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    data = json.loads((tmp_path / "latest.json").read_text())
    failover = data["cluster_failover"]["runs"][0]
    assert failover["allow_for_registered"] == 0 and 0 < failover["recovered_s"] < 60
    assert data["cluster_memory"]["sizes"][0]["bytes_per_number"] > 0
    imported = data["cluster_import"]["summary"]
    assert imported["ratio"] == pytest.approx(
        imported["cluster"]["numbers_per_s"] / imported["single"]["numbers_per_s"]
    )
    assert set(SECTIONS) <= set(data)
    for name in SECTIONS:
        assert data[name]["command"].startswith("python -m benchmarks")
        assert data[name]["machine"]["cores"] >= 1
    assert data["check_latency_sequential"]["machine"]["redis-server"] not in ("", "-")
    assert data["list_scrub"]["wrong_answers"]["redis"] == 0

    markdown = (tmp_path / "RESULTS.md").read_text()
    for name in SECTIONS:
        assert markdown.count(f"<!-- {name}:begin -->") == 1
    assert "![p50 and p99 latency against offered load](latency_vs_load.png)" in markdown
    assert (tmp_path / "latency_vs_load.png").read_bytes().startswith(b"\x89PNG")

    # Running a benchmark again replaces its section instead of adding one.
    again = subprocess.run(
        [sys.executable, "-m", "benchmarks.check_latency", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "RESULTS.md").read_text().count("<!-- check_latency_sequential:begin -->") == 1
    committed = ROOT / "benchmarks" / "RESULTS.md"
    quick_runs = [
        line for line in committed.read_text().splitlines() if line.startswith("Command:") and "--quick" in line
    ]
    assert not quick_runs, "a quick run wrote into the committed RESULTS.md"


def test_the_partitioned_log_benchmark_runs_quick_against_both_tables(tmp_path: Path) -> None:
    """benchmarks.partitioned_log (not in `make bench`: its loads take minutes) on tiny sizes: both tables
    measured on the same complaints' path, the window read from a few partitions, its section written."""
    env = {k: v for k, v in os.environ.items() if k != "DNCGATE_BENCH_OUT"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.partitioned_log", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (size,) = json.loads((tmp_path / "latest.json").read_text())["partitioned_log"]["sizes"]
    assert size["partitioned"]["complaints"] == size["unpartitioned"]["complaints"] > 0
    assert 1 <= size["partitions_read"] <= 2 < size["partitions"]
    assert (tmp_path / "RESULTS.md").read_text().count("<!-- partitioned_log:begin -->") == 1
