"""The restart and catch-up harnesses run end to end on tiny sizes: their code paths, no performance asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


def _quick(module: str, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DNCGATE_BENCH_OUT"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_the_restart_and_catch_up_benchmarks_run_quick_and_write_their_sections(tmp_path: Path) -> None:
    """Both harnesses import, restart or catch up a tiny registry, check it, and write JSON and Markdown."""
    _quick("benchmarks.restart", tmp_path)
    _quick("benchmarks.catch_up", tmp_path)
    data = json.loads((tmp_path / "latest.json").read_text())
    restart, catch_up = data["restart"], data["catch_up"]
    assert restart["command"] == "python -m benchmarks.restart --quick --out " + str(tmp_path)
    assert 0 < restart["summary"]["port_open_s"] <= restart["summary"]["serving_s"]
    assert restart["summary"]["caught_up_consumers"] == restart["rows"]
    assert catch_up["rows"] > catch_up["old_sample"] > 0 and catch_up["new_s"] > 0
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert markdown.count("<!-- restart:begin -->") == markdown.count("<!-- catch_up:begin -->") == 1
