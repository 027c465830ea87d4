"""PostgreSQL down under a real server: RPCs answer UNAVAILABLE at DNCGATE_DB_TIMEOUT_MS or their deadline.

Each test runs its server over a PostgreSQL of its own (never the suite-wide one), and stops it or
freezes it with SIGSTOP (postmaster and backends: statements then hang on connections already open).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
import structlog
from structlog.testing import LogCapture

from dncgate.config import Settings
from dncgate.embedded import EmbeddedPostgres
from dncgate.v1 import common_pb2, compensation_pb2, compensation_pb2_grpc, gateway_pb2, registry_pb2
from tests.conftest import Server, start_server
from tests.e2e.conftest import CONSUMER, check_request, gate, registry

pytestmark = pytest.mark.e2e

# Scheduling noise on a loaded two-core machine, on top of the bound itself.
MARGIN_S = 1.2


@dataclass
class OwnPostgres:
    """A PostgreSQL for one test: stopped and started again, or frozen and thawed."""

    directory: Path
    server: EmbeddedPostgres = field(init=False)
    frozen: list[psutil.Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = EmbeddedPostgres(self.directory).start()

    def processes(self) -> list[psutil.Process]:
        postmaster = psutil.Process(int((self.directory / "postmaster.pid").read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        self.frozen = self.processes()
        for p in self.frozen:
            p.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for p in self.frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGCONT)
        self.frozen = []


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    pg = OwnPostgres(tmp_path / "postgres")
    try:
        yield pg
    finally:
        pg.thaw()  # never leave a stopped postmaster behind
        pg.server.stop()


@contextlib.contextmanager
def outage(pg: OwnPostgres, kind: str) -> Iterator[None]:
    if kind == "stopped":
        pg.server.stop()
    else:
        pg.freeze()
    try:
        yield
    finally:
        if kind == "stopped":
            pg.server.start()
        else:
            pg.thaw()


@contextlib.asynccontextmanager
async def serving(settings: Settings, pg: OwnPostgres, db_timeout_ms: int) -> AsyncIterator[Server]:
    async with start_server(replace(settings, database_url=pg.server.url, db_timeout_ms=db_timeout_ms)) as s:
        yield s


def rpcs(server: Server, call_id: str, timeout: float | None) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The four RPCs of the issue, each reading or writing PostgreSQL first."""
    compensation = compensation_pb2_grpc.CompensationStub(server.channel)
    return {
        "GetPreference": lambda: registry(server).GetPreference(
            registry_pb2.GetPreferenceRequest(number=CONSUMER), timeout=timeout
        ),
        "SetOrgPolicy": lambda: registry(server).SetOrgPolicy(
            registry_pb2.SetOrgPolicyRequest(org_id="acme", mode=common_pb2.MODE_MONITOR), timeout=timeout
        ),
        "ListPayouts": lambda: compensation.ListPayouts(compensation_pb2.ListPayoutsRequest(), timeout=timeout),
        "ReportCallOutcome": lambda: gate(server).ReportCallOutcome(
            gateway_pb2.ReportCallOutcomeRequest(call_id=call_id, dialled=True), timeout=timeout
        ),
    }


async def failing(call: Callable[[], Awaitable[Any]]) -> tuple[grpc.StatusCode, str, float]:
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call()
    return err.value.code(), err.value.details() or "", time.monotonic() - started


async def recovered(server: Server, within_s: float = 60.0) -> bool:
    limit = time.monotonic() + within_s
    while True:
        try:
            await registry(server).GetPreference(registry_pb2.GetPreferenceRequest(number=CONSUMER), timeout=5)
            return True
        except grpc.aio.AioRpcError:
            if time.monotonic() > limit:
                return False
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("kind", ["stopped", "frozen"])
async def test_rpcs_answer_unavailable_within_the_db_timeout_while_postgresql_is_down(
    settings: Settings, own_postgres: OwnPostgres, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With PostgreSQL stopped or frozen, each RPC that needs it answers UNAVAILABLE, retryable, within
    DNCGATE_DB_TIMEOUT_MS (800 ms here) instead of 30 s; Checks go on; the RPCs work again once it is back."""
    async with serving(settings, own_postgres, db_timeout_ms=800) as server:
        call = await gate(server).Check(check_request())
        # Idle connections in the pool: frozen, the first RPCs' statements hang on them (not only checkouts).
        await asyncio.gather(*(rpcs(server, call.call_id, timeout=5)["GetPreference"]() for _ in range(4)))
        times: dict[str, float] = {}
        with outage(own_postgres, kind):
            for name, rpc in rpcs(server, call.call_id, timeout=None).items():
                code, details, took = await failing(rpc)
                assert code == grpc.StatusCode.UNAVAILABLE, (name, details)
                assert "try again" in details, (name, details)
                assert took < 0.8 + MARGIN_S, (name, took)
                times[name] = round(took, 3)
            check = await gate(server).Check(check_request(), timeout=5)  # Redis only: not held up
            assert check.call_id
        if kind == "frozen":  # a statement hung, and psycopg closed its connection at the second cancellation
            assert any("closing connection" in r.getMessage() for r in caplog.records if r.name == "psycopg")
        print(f"postgresql {kind}, DNCGATE_DB_TIMEOUT_MS=800: seconds to UNAVAILABLE {times}")
        assert await recovered(server), "the RPCs did not work again once PostgreSQL was back"


async def test_a_client_deadline_nearer_than_the_db_timeout_ends_the_wait_at_that_deadline(
    settings: Settings, own_postgres: OwnPostgres
) -> None:
    """With PostgreSQL frozen and a 5 s DNCGATE_DB_TIMEOUT_MS, a client's 0.5 s deadline gets UNAVAILABLE or
    DEADLINE_EXCEEDED at 0.5 s, and the server stops waiting then too (its `rpc` lines say how long each took)."""
    capture = LogCapture()
    old = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        async with serving(settings, own_postgres, db_timeout_ms=5000) as server:
            call = await gate(server).Check(check_request())
            calls = rpcs(server, call.call_id, timeout=0.5)
            client: dict[str, float] = {}
            with outage(own_postgres, "frozen"):
                for name, rpc in calls.items():
                    code, _, took = await failing(rpc)
                    assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), name
                    assert took < 0.5 + MARGIN_S, (name, took)
                    client[name] = round(took, 3)
                server_ms = await _rpc_lines(capture, set(calls), within_s=0.5 + MARGIN_S)
    finally:
        structlog.configure(**old)
    print(f"client deadline 0.5 s, DNCGATE_DB_TIMEOUT_MS=5000: client s {client}, server ms {server_ms}")
    assert set(server_ms) == set(calls), f"the server was still waiting for PostgreSQL: {server_ms}"
    assert all(ms < (0.5 + MARGIN_S) * 1000 for ms in server_ms.values()), server_ms


async def _rpc_lines(capture: LogCapture, methods: set[str], within_s: float) -> dict[str, float]:
    """The `ms` of each method's `rpc` line, waiting up to `within_s` for the last ones to be logged."""
    limit = time.monotonic() + within_s
    while True:
        lines = {e["method"]: e["ms"] for e in capture.entries if e["event"] == "rpc" and e.get("method") in methods}
        if set(lines) == methods or time.monotonic() > limit:
            return lines
        await asyncio.sleep(0.05)
