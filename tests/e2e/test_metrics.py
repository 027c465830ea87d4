"""/metrics of a real server: gRPC and Check counts as Prometheus scrapes them, and a busy port."""

from __future__ import annotations

import asyncio
import signal
import socket
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from dncgate.config import Settings
from dncgate.v1 import common_pb2, registry_pb2
from tests.conftest import start_server, with_settings
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.e2e.test_serve_process import _cli, _serve

pytestmark = pytest.mark.e2e

CHECK = {"grpc_type": "unary", "grpc_service": "dncgate.v1.CallGate", "grpc_method": "Check"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_checks_and_a_refused_call_are_counted_as_prometheus_scrapes_them(settings: Settings) -> None:
    """One ALLOW, one BLOCK and an INVALID_ARGUMENT Check show in grpc_server_* and dncgate_checks_total."""
    port = free_port()
    async with start_server(with_settings(settings, metrics_listen=f"127.0.0.1:{port}")) as server:
        await registry(server).SetPreference(
            registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
        )
        before = await asyncio.to_thread(scrape, port)
        await gate(server).Check(check_request("13900139000"))  # not registered: ALLOW
        await gate(server).Check(check_request(CONSUMER))  # registered: BLOCK
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await gate(server).Check(check_request(caller_number="not a number"))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        after = await asyncio.to_thread(scrape, port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("grpc_server_started_total", **CHECK) == 3
    assert delta("grpc_server_handled_total", **CHECK, grpc_code="OK") == 2
    assert delta("grpc_server_handled_total", **CHECK, grpc_code="InvalidArgument") == 1
    assert delta("grpc_server_handling_seconds_count", **CHECK) == 3
    assert delta("grpc_server_handling_seconds_bucket", **CHECK, le="+Inf") == 3
    assert delta("dncgate_checks_total", decision="ALLOW", reason="NOT_REGISTERED") == 1
    assert delta("dncgate_checks_total", decision="BLOCK", reason="REGISTERED") == 1
    assert delta("dncgate_check_redis_seconds_count") == 2
    assert value(after, "dncgate_registry_ready") == 1


async def test_a_busy_metrics_port_is_a_warning_and_checks_are_still_answered(settings: Settings) -> None:
    """With the metrics port taken, the server logs metrics_port_busy and answers Checks all the same."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with capture_logs() as logs:
            async with start_server(with_settings(settings, metrics_listen=f"127.0.0.1:{port}")) as server:
                reply: Any = await gate(server).Check(check_request())
    assert reply.call_id
    busy = [e for e in logs if e["event"] == "metrics_port_busy"]
    assert busy and busy[0]["log_level"] == "warning" and busy[0]["listen"] == f"127.0.0.1:{port}"


async def test_metrics_off_serves_no_endpoint(settings: Settings) -> None:
    """DNCGATE_METRICS_LISTEN=off starts no HTTP server; port 0 starts one on a port of the kernel's choice."""
    from dncgate.api.server import running

    async with running(with_settings(settings, metrics_listen="off")) as r:
        assert r.exporter is None
    async with running(with_settings(settings, metrics_listen="127.0.0.1:0")) as r:
        assert r.exporter is not None
        samples = await asyncio.to_thread(scrape, r.exporter.port)
        assert ("dncgate_registry_ready", frozenset()) in samples


def free_ports(n: int) -> int:
    """A port p such that p..p+n-1 are all free now."""
    while True:
        base = free_port()
        if base + n > 65535:
            continue
        try:
            for k in range(n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue


def test_serve_with_workers_serves_metrics_per_process_on_the_documented_ports(tmp_path: Path) -> None:
    """`serve --workers 2`: the supervisor on P, the workers on P+1 and P+2 (their Checks add up to
    those made), the recorder on P+3; neither the supervisor nor the recorder serves an RPC of ours."""
    base = free_ports(4)
    proc, port, _ = _serve(tmp_path, "--workers", "2", metrics_listen=f"127.0.0.1:{base}")
    try:
        args = ["--caller", "+862759001234", "--callee", "13800138000", "--org", "wuhan-01"]
        for _ in range(4):
            assert _cli(port, "check", *args).returncode == 0
        workers = [scrape(base + k) for k in (1, 2)]
        handled = sum(value(w, "grpc_server_handled_total", **CHECK, grpc_code="OK") for w in workers)
        checks = sum(value(w, "dncgate_checks_total", decision="ALLOW", reason="NOT_REGISTERED") for w in workers)
        assert handled == checks == 4
        for worker in workers:  # each serves every service: its methods are listed, called or not
            assert ("grpc_server_started_total", frozenset({**CHECK, "grpc_method": "CheckBatch"}.items())) in worker
        for supervisor_or_recorder in (scrape(base), scrape(base + 3)):  # they serve no RPC of ours
            assert ("process_cpu_seconds_total", frozenset()) in supervisor_or_recorder
            assert not any(name.startswith("grpc_server_") for name, _ in supervisor_or_recorder)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
