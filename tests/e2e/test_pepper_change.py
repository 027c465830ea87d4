"""A changed DNCGATE_PEPPER never fails open: `serve` refuses to start, a running gateway blocks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.service import sync
from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.conftest import Server
from tests.e2e.conftest import CONSUMER, check_request, gate, registry

pytestmark = pytest.mark.e2e

OTHER_PEPPER = bytes.fromhex("07e4" * 16)
UNREGISTERED = "13912345678"
BLOCKED = (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_REGISTRY_UNAVAILABLE)


def _dncgate(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The `dncgate` command on embedded stores under `data_dir`, with only the DNCGATE_* variables given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "dncgate.cli", *args],
        env=clean
        | {
            "DNCGATE_DATA_DIR": str(data_dir),
            "DNCGATE_LISTEN": "127.0.0.1:0",
            "DNCGATE_HTTP_LISTEN": "off",
            "COLUMNS": "300",
        }
        | env,
        capture_output=True,
        text=True,
        timeout=90,  # a serve that does not refuse would run until killed here: the test fails
    )


def test_serve_refuses_to_start_on_a_data_dir_written_with_another_pepper(tmp_path: Path) -> None:
    """The data dir's journal was written with its generated pepper; `serve` with another DNCGATE_PEPPER exits 2
    with a message naming DNCGATE_PEPPER, and no traceback."""
    data = tmp_path / "data"
    first = _dncgate(data, "registry", "rebuild")  # starts the embedded stores once, with the generated pepper
    assert first.returncode == 0, first.stdout + first.stderr
    refused = _dncgate(data, "serve", DNCGATE_PEPPER=OTHER_PEPPER.hex())
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2, output
    assert "DNCGATE_PEPPER" in output
    assert "Traceback" not in output
    assert OTHER_PEPPER.hex() not in output and (data / "pepper").read_text().strip() not in output


async def _checks(server: Server) -> list[tuple[int, int]]:
    """Single Checks and a batch, for a registered and an unregistered number."""
    answers = [await gate(server).Check(check_request(n)) for n in (CONSUMER, UNREGISTERED)]
    batch = await gate(server).CheckBatch(
        gateway_pb2.CheckBatchRequest(requests=[check_request(n) for n in (CONSUMER, UNREGISTERED)])
    )
    return [(r.decision, r.reason) for r in [*answers, *batch.responses]]


async def _logged(capture: LogCapture, event: str, within_s: float) -> dict[str, Any] | None:
    limit = time.monotonic() + within_s
    while True:
        found = next((e for e in capture.entries if e["event"] == event), None)
        if found is not None or time.monotonic() > limit:
            return found
        await asyncio.sleep(0.05)


async def test_a_gateway_whose_registry_was_loaded_under_another_pepper_blocks_and_the_watcher_leaves_it(
    server: Server, settings: Settings
) -> None:
    """Stores taken over by a deployment with another pepper (journal fingerprint and Redis both its own): the
    running gateway answers BLOCK / REGISTRY_UNAVAILABLE, never ALLOW, and its watcher logs an error naming
    DNCGATE_PEPPER instead of rebuilding Redis under its own pepper."""
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )
    async with server.app.pool.connection() as conn:  # a journal restored from the other deployment
        await conn.execute("TRUNCATE pepper_fingerprint")
    async with open_app(replace(settings, pepper=OTHER_PEPPER)) as other:
        await sync.rebuild(other.journal, other.hot)
        theirs = other.hot.ready_value
    capture = LogCapture()
    old = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        assert await _checks(server) == [BLOCKED] * 4
        error = await _logged(capture, "registry_pepper_mismatch", within_s=10)
        assert error is not None, "the watcher did not notice the other pepper"
        watched = time.monotonic() + settings.sync_interval_s * 5
        while time.monotonic() < watched:  # through more watcher rounds: none may rebuild
            assert await _checks(server) == [BLOCKED] * 4
            assert await server.app.redis.get(server.app.hot.layout.readies[0]) == theirs
    finally:
        structlog.configure(**old)
    assert error["log_level"] == "error" and "DNCGATE_PEPPER" in error["detail"]
    assert [e["event"] for e in capture.entries].count("registry_pepper_mismatch") == 1  # said once, not every round
    assert "registry_rebuilt" not in [e["event"] for e in capture.entries]
    assert await server.app.redis.get(server.app.hot.layout.readies[0]) == theirs
