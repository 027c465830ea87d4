"""Helpers for end-to-end tests: stubs over the real server's channel."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dncgate.v1 import compensation_pb2_grpc, gateway_pb2, gateway_pb2_grpc, registry_pb2_grpc
from tests.auth import aio_channel

pytestmark = pytest.mark.e2e

CALLER = "+862759001234"
CONSUMER = "13800138000"


@pytest.fixture
async def desk(server: Any) -> AsyncIterator[Any]:
    """`await desk(name, *roles)`: (a Compensation stub on a new token with those roles, its label)."""
    channels: list[Any] = []

    async def make(name: str, *roles: str) -> tuple[Any, str]:
        new = await server.app.access.create("test", name=name, roles=list(roles))
        channels.append(aio_channel(server.target, new.token))
        return compensation_pb2_grpc.CompensationStub(channels[-1]), f"{name} (token {new.row.id})"

    yield make
    for channel in channels:
        await channel.close()


def check_request(callee: str = CONSUMER, **kw: Any) -> gateway_pb2.CheckRequest:
    fields: dict[str, Any] = {
        "caller_number": CALLER,
        "callee_number": callee,
        "agent_id": "a17",
        "org_id": "wuhan-01",
        "campaign_id": "c1",
        "category": gateway_pb2.CATEGORY_REAL_ESTATE if hasattr(gateway_pb2, "CATEGORY_REAL_ESTATE") else 1,
    }
    fields.update(kw)
    return gateway_pb2.CheckRequest(**fields)


def gate(server: Any) -> Any:
    return gateway_pb2_grpc.CallGateStub(server.channel)


def registry(server: Any) -> Any:
    return registry_pb2_grpc.RegistryStub(server.channel)


async def served_token(data_dir: Path, within_s: float = 120.0) -> str:
    """The admin token a `dncgate serve` child writes to its data dir before its port opens."""
    from tests.auth import admin_token
    from tests.wait import until

    path = data_dir / "admin.token"
    await until(lambda: path.exists(), within_s, what="serve to write admin.token")
    return admin_token(data_dir)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_env(port: int, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `dncgate serve` child: none of this shell's DNCGATE_* settings, its own port
    and data dir, calling hours and frequency caps off, JSON logs and metrics on a free port, plus `extra`
    (DNCGATE_* names without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")}
    env |= {
        "DNCGATE_LISTEN": f"127.0.0.1:{port}",
        "DNCGATE_DATA_DIR": str(data_dir),
        "DNCGATE_CALLING_HOURS": "00:00-24:00",
        # Tests call one consumer again and again: frequency caps off (`extra` turns them on).
        "DNCGATE_CAP_PER_DAY": "0",
        "DNCGATE_CAP_PER_WEEK": "0",
        "DNCGATE_LOG_FORMAT": "json",
        # Metrics on a port of the kernel's choice: the default 9464 could be another process's.
        "DNCGATE_METRICS_LISTEN": "127.0.0.1:0",
        # The HTTP/JSON face on a free port too: the default 8081 is the quick start's.
        "DNCGATE_HTTP_LISTEN": "127.0.0.1:0",
        # The console off unless asked for (`extra`): its default 8080 is the quick start's.
        "DNCGATE_CONSOLE_LISTEN": "off",
    }
    return env | {f"DNCGATE_{k}": v for k, v in extra.items()}
