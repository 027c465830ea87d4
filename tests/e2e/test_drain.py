"""SIGTERM drains: health NOT_SERVING at once, RPCs still answered for DNCGATE_DRAIN_SECONDS, then a clean stop.

A real `dncgate serve` (its own embedded stores) under a steady Check load gets SIGTERM. No RPC that started
before the drain began may fail; health must say NOT_SERVING while Checks are still answered; the process
exits 0 once the drain and the grace period are over.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dncgate.v1 import gateway_pb2, gateway_pb2_grpc
from tests.auth import aio_channel
from tests.e2e.conftest import check_request, free_port, serve_env, served_token
from tests.wait import until

pytestmark = pytest.mark.e2e

DRAIN_S = 3


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`dncgate serve` on its own data dir and port, with a short drain; killed if still there at the end."""
    port = free_port()
    env = serve_env(port, tmp_path / "data", DRAIN_SECONDS=str(DRAIN_S))
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dncgate.cli", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc, port, log_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_sigterm_drains_before_it_stops_and_fails_no_rpc_started_before(
    serve: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    """Health goes NOT_SERVING, Checks go on being answered for the drain, nothing in flight is cut."""
    proc, port, log_path = serve
    answers: list[tuple[float, float, str]] = []  # (sent, answered, status code name)
    health_seen: list[tuple[float, int]] = []
    token = await served_token(log_path.parent / "data")
    async with aio_channel(f"127.0.0.1:{port}", token) as channel:
        stub = gateway_pb2_grpc.CallGateStub(channel)
        health = health_pb2_grpc.HealthStub(channel)

        async def serving() -> bool:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                r = await health.Check(health_pb2.HealthCheckRequest(service="dncgate.v1.CallGate"), timeout=1)
            except grpc.aio.AioRpcError:
                return False
            return r.status == health_pb2.HealthCheckResponse.SERVING

        await until(serving, 120, "serve to be SERVING")
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    r = await stub.Check(check_request(), timeout=5)
                    code = "OK" if r.decision == gateway_pb2.DECISION_ALLOW else "BLOCK"
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                answers.append((sent, time.monotonic(), code))
                await asyncio.sleep(0.01)

        async def watch_health() -> None:
            while not stop.is_set():
                try:
                    r = await health.Check(health_pb2.HealthCheckRequest(service="dncgate.v1.CallGate"), timeout=1)
                    health_seen.append((time.monotonic(), r.status))
                except grpc.aio.AioRpcError:
                    health_seen.append((time.monotonic(), -1))
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(load()) for _ in range(4)] + [asyncio.create_task(watch_health())]
        await until(lambda: len(answers) > 40, 30, "some Checks answered")
        drained_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await until(lambda: proc.poll() is not None, DRAIN_S + 40, "serve to exit")
        stop.set()
        await asyncio.gather(*tasks)
    log = log_path.read_text()
    assert proc.returncode == 0, log[-3000:]
    before = [a for a in answers if a[0] < drained_at]
    assert before and all(code == "OK" for _, _, code in before), [a for a in before if a[2] != "OK"][:5]
    not_serving = [t for t, s in health_seen if t > drained_at and s == health_pb2.HealthCheckResponse.NOT_SERVING]
    assert not_serving, "health never said NOT_SERVING after SIGTERM"
    # Checks were still answered during the drain, after health had turned.
    during = [a for a in answers if not_serving[0] < a[1] < drained_at + DRAIN_S - 0.5 and a[2] == "OK"]
    assert during, "no Check was answered during the drain"
    assert "draining" in log and "Traceback" not in log
