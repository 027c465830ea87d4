"""`dncgate serve --workers 2` on the local Redis Cluster, as a process, with its recorder child.

The workers and the separate recorder get the cluster's settings from their parent
(DNCGATE_REDIS_CLUSTER, the seed nodes, DNCGATE_STREAM_SHARDS): numbers registered through one worker
are read by the Checks of both, and the recorder child drains every shard's stream, on all three
primaries, into call_log.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from dncgate.config import Settings
from dncgate.store.migrate import migrate
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.auth import aio_channel
from tests.cluster.conftest import Cluster
from tests.e2e.conftest import check_request, free_port, serve_env, served_token
from tests.wait import callgate_serving, until, until_sync

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.timeout(120)]

NUMBERS = [f"139{i:08d}" for i in range(60)]


def _children(proc: subprocess.Popen[str]) -> list[str]:
    """The roles (DNCGATE_ROLE) of the `dncgate serve` children of `proc`."""
    roles = []
    for c in psutil.Process(proc.pid).children():
        try:
            if "dncgate.cli" in c.cmdline():
                roles.append(c.environ().get("DNCGATE_ROLE", "?"))
        except psutil.NoSuchProcess:
            continue
    return sorted(roles)


def _serve_workers(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dncgate.cli", "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_serve_workers_on_the_cluster_answer_and_their_recorder_child_logs_every_call(
    settings: Settings, redis_cluster: Cluster, cluster_client: Any, tmp_path: Path
) -> None:
    """Two API workers and the recorder child, all on the cluster: numbers registered through one are
    read by the Checks of both (six connections, spread by the kernel), and every answered call reaches
    call_log through the recorder child reading every shard's stream on the three primaries."""
    async with await psycopg.AsyncConnection.connect(str(settings.database_url), autocommit=True) as conn:
        await migrate(conn)  # beforehand, as a deployment's `dncgate migrate`: the serve's own start is what waits
    port = free_port()
    data_dir = tmp_path / "serve"
    env = serve_env(
        port,
        data_dir,
        REDIS_URL=redis_cluster.url,
        REDIS_CLUSTER="true",
        DATABASE_URL=str(settings.database_url),
        RECORDER_MODE="process",
        DRAIN_SECONDS="0",
        PEPPER=settings.resolve_pepper().hex(),
    )
    proc = _serve_workers(env)
    try:
        until_sync(lambda: proc.poll() is not None or callgate_serving(port), 45, what="CallGate SERVING")
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert _children(proc) == ["api", "api", "recorder"]
        token = await served_token(data_dir, 10)
        async with aio_channel(f"127.0.0.1:{port}", token) as channel:
            reg = registry_pb2_grpc.RegistryStub(channel)
            for n in NUMBERS[::2]:
                await reg.SetPreference(
                    registry_pb2.SetPreferenceRequest(number=n, do_not_disturb=True, source=common_pb2.SOURCE_APP)
                )
        answered: set[str] = set()
        for i in range(6):  # a channel (a connection) each: the kernel spreads them over both workers
            async with aio_channel(f"127.0.0.1:{port}", token) as channel:
                stub = gateway_pb2_grpc.CallGateStub(channel)
                for j, n in enumerate(NUMBERS[i::6]):
                    reply = await stub.Check(check_request(n))
                    registered = (i + 6 * j) % 2 == 0
                    expected = gateway_pb2.REASON_REGISTERED if registered else gateway_pb2.REASON_NOT_REGISTERED
                    assert reply.reason == expected, (n, reply)
                    answered.add(reply.call_id)
        assert len(answered) == len(NUMBERS) and "" not in answered

        async def recorded() -> bool:
            async with await psycopg.AsyncConnection.connect(str(settings.database_url)) as conn:
                rows = await (await conn.execute("SELECT call_id FROM call_log")).fetchall()
            return {r[0] for r in rows} == answered

        await until(recorded, 30, what="every answered call in call_log (the recorder child on every shard stream)")
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        print(output[-6000:])  # shown by pytest when the test fails: the workers' and the recorder's log
    assert proc.returncode == 0, output[-3000:]
