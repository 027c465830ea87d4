"""The HTTP/JSON face's benchmark runs end to end on tiny sizes, h2load driving both faces: no figure asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]


def test_the_http_face_benchmark_runs_quick_and_writes_both_faces(tmp_path: Path) -> None:
    """`python -m benchmarks.http_face --quick`: a p50, p99 and rate for each face and their ratio."""
    env = {k: v for k, v in os.environ.items() if k != "DNCGATE_BENCH_OUT"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.http_face", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads((tmp_path / "latest.json").read_text())["http_face"]
    assert data["command"].startswith("python -m benchmarks.http_face")
    for face in ("grpc", "http"):
        assert 0 < data[face]["p50_ms"] <= data[face]["p99_ms"], data
        assert data[face]["per_s"] > 0
    assert data["p50_ratio"] == pytest.approx(data["http"]["p50_ms"] / data["grpc"]["p50_ms"])
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert markdown.count("<!-- http_face:begin -->") == 1 and "HTTP p50 / gRPC p50" in markdown
