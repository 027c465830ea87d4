"""The benchmark harness holds its own tokens: a dialer token for the Check load, made with serve's admin
token; against a server from before access control (no admin.token) it holds none and sends none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from benchmarks.server import attach, bearer, serve
from dncgate.v1 import access_pb2, access_pb2_grpc, common_pb2, gateway_pb2, gateway_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


def _check() -> gateway_pb2.CheckRequest:
    return gateway_pb2.CheckRequest(
        caller_number="+862759001234",
        callee_number="+8613800138000",
        agent_id="a1",
        org_id="bench",
        category=common_pb2.CATEGORY_REAL_ESTATE,
    )


def test_the_harness_checks_with_a_dialer_token_of_its_own_and_nothing_else_gets_in() -> None:
    with serve() as server:
        assert server.admin_token == (server.data_dir / "admin.token").read_text().strip()
        assert server.dialer_token is not None and server.dialer_token != server.admin_token
        assert server.dialer == (("authorization", f"Bearer {server.dialer_token}"),)
        with grpc.insecure_channel(server.target) as ch:
            gate, access = gateway_pb2_grpc.CallGateStub(ch), access_pb2_grpc.AccessStub(ch)
            answer = gate.Check(_check(), metadata=server.dialer, timeout=10)
            assert answer.decision == gateway_pb2.DECISION_ALLOW
            with pytest.raises(grpc.RpcError) as anonymous:
                gate.Check(_check(), timeout=10)
            assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # The load's token may Check and nothing more: it cannot make tokens.
            with pytest.raises(grpc.RpcError) as denied:
                access.CreateToken(
                    access_pb2.CreateTokenRequest(name="x", roles=["admin"]), metadata=server.dialer, timeout=10
                )
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            hotline = server.token("hotline")
            assert hotline is not None and server.token("hotline") == hotline  # made once, then kept
            listed = access.ListTokens(access_pb2.ListTokensRequest(), metadata=server.admin, timeout=10)
        roles = {t.name: list(t.roles) for t in listed.tokens}
        assert roles["bench-dialer"] == ["dialer"] and roles["bench-hotline"] == ["hotline"]


def test_a_server_that_wrote_no_admin_token_is_benchmarked_without_any(tmp_path: Path) -> None:
    """An old commit's serve (before access control) writes its endpoints but no admin.token: no token is
    made (no RPC is even tried: nothing listens on the target) and calls carry no metadata."""
    (tmp_path / "endpoints.json").write_text(json.dumps({"redis_url": "redis://x", "database_url": "postgresql://x"}))
    server = attach("127.0.0.1:9", tmp_path, 1)
    assert server.admin_token is None and server.dialer_token is None
    assert server.dialer is None and server.admin is None and bearer(None) is None
    assert server.token("importer") is None
    assert "before access control" in server.credentials


def test_the_token_cost_benchmark_times_the_guard_on_a_real_grpc_context(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DNCGATE_BENCH_OUT"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.auth_cost", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())["auth_cost"]
    assert set(result["ns"]) == {"metadata", "fast", "cached", "plain", "guarded", "dispatched"}
    # Timings, not asserted against each other (a shared machine's noise): each one was measured.
    assert all(v > 0 for v in result["ns"].values()) and result["token_us"] > 0
