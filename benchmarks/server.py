"""Run `dncgate serve` as users run it (its own process, embedded Redis and PostgreSQL) for a benchmark."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.memory import PEPPER
from dncgate.domain.registry import Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK
from dncgate.phone import NumberKeyer
from dncgate.store.hot import HotRegistry


@dataclass
class BenchServer:
    target: str
    data_dir: Path
    redis_url: str
    database_url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(extra_env: dict[str, str] | None = None) -> Iterator[BenchServer]:
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")} | {
            "DNCGATE_LISTEN": f"127.0.0.1:{port}",
            "DNCGATE_DATA_DIR": tmp,
            "DNCGATE_PEPPER": PEPPER.hex(),
            "DNCGATE_CALLING_HOURS": "00:00-24:00",
            "DNCGATE_LOG_LEVEL": "warning",
            **(extra_env or {}),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "dncgate.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            target = f"127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            with grpc.insecure_channel(target) as ch:
                stub = health_pb2_grpc.HealthStub(ch)
                while True:
                    try:
                        stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                        break
                    except grpc.RpcError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError("dncgate serve did not start") from None
                        time.sleep(0.2)
            urls = json.loads((Path(tmp) / "endpoints.json").read_text())
            yield BenchServer(target, Path(tmp), urls["redis_url"], urls["database_url"])
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def consumer_number(i: int) -> str:
    return f"139{i:08d}"


def preload_registry(redis_url: str, n: int, bits: int = 16) -> None:
    """Register numbers 0..n-1 straight into the server's Redis (fast set-up for read benchmarks)."""

    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url)
        hot = HotRegistry(client, bits)
        keyer = NumberKeyer(PEPPER)
        schedule = Schedule(ALL_CATEGORIES_MASK)
        batch = []
        for i in range(n):
            batch.append((keyer.digest("+86" + consumer_number(i)), schedule))
            if len(batch) == 10_000:
                await hot.load(batch, ())
                batch = []
        if batch:
            await hot.load(batch, ())
        await client.aclose()

    asyncio.run(run())
