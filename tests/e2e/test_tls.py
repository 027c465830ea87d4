"""TLS and mTLS on the gRPC port, certificate rotation without a restart, the plaintext health port,
and the CLI's TLS flags, against real servers with certificates made here (tests/certs.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from structlog.testing import capture_logs

from dncgate.api.server import Running, running
from dncgate.config import Settings
from dncgate.v1 import gateway_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.auth import admin_token, aio_channel
from tests.certs import Authority, Issued
from tests.e2e.conftest import check_request, free_port, serve_env
from tests.wait import until, until_sync

pytestmark = pytest.mark.e2e

ORG_A, ORG_B = "wuhan-01", "wuhan-02"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Pki:
    """A CA, the server certificate it signed, and where the server's files are."""

    ca: Authority
    dir: Path
    cert: Path
    key: Path
    client_ca: Path

    def credentials(self, client: Issued | None = None, ca: Authority | None = None) -> grpc.ChannelCredentials:
        """A client's TLS credentials: trusting `ca` (default this one), presenting `client` if given."""
        return grpc.ssl_channel_credentials(
            (ca or self.ca).pem, client.key if client else None, client.cert if client else None
        )


def make_pki(tmp_path: Path) -> Pki:
    ca = Authority("dncgate test CA")
    directory = tmp_path / "tls"
    cert, key = ca.server().write(directory, "server")
    return Pki(ca, directory, cert, key, ca.write(directory / "client-ca.crt"))


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Running]:
    async with running(settings) as r:
        await r.wait_current()
        yield r


def tls(settings: Settings, pki: Pki, *, mtls: bool = False, health: bool = False) -> Settings:
    return replace(
        settings,
        tls_cert=pki.cert,
        tls_key=pki.key,
        tls_client_ca=pki.client_ca if mtls else None,
        health_listen="127.0.0.1:0" if health else "off",
    )


def target(r: Running) -> str:
    return f"127.0.0.1:{r.port}"


async def check(r: Running, credentials: Any, token: str | None = None, org: str = ORG_A) -> Any:
    async with aio_channel(target(r), token, credentials) as channel:
        return await gateway_pb2_grpc.CallGateStub(channel).Check(check_request(org_id=org), timeout=5)


async def refused(r: Running, credentials: Any, token: str | None = None, org: str = ORG_A) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await check(r, credentials, token, org)
    return err.value


def reason(err: grpc.aio.AioRpcError) -> str:
    """The google.rpc.ErrorInfo reason of a failed call."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return str(info.reason)
    return ""


async def health_of(address: str, service: str, credentials: Any = None) -> int:
    async with aio_channel(address, None, credentials) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return int(reply.status)


async def test_a_tls_port_refuses_plaintext_and_serves_a_tls_client_with_its_bearer_token(
    settings: Settings, tmp_path: Path
) -> None:
    """Plaintext and a client trusting another CA fail the handshake (UNAVAILABLE); over TLS, the bearer
    token names the caller and a call without one is UNAUTHENTICATED."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki)) as r:
        token = admin_token(settings.data_dir)
        assert (await refused(r, None, token)).code() == grpc.StatusCode.UNAVAILABLE
        assert (
            await refused(r, pki.credentials(ca=Authority("other CA")), token)
        ).code() == grpc.StatusCode.UNAVAILABLE
        reply = await check(r, pki.credentials(), token)
        assert reply.call_id
        assert (await refused(r, pki.credentials())).code() == grpc.StatusCode.UNAUTHENTICATED


async def test_mtls_refuses_a_client_without_a_certificate_or_with_one_from_another_ca(
    settings: Settings, tmp_path: Path
) -> None:
    """With DNCGATE_TLS_CLIENT_CA, a client certificate signed by that CA is required to connect at all."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki, mtls=True)) as r:
        token = admin_token(settings.data_dir)
        assert (await refused(r, pki.credentials(), token)).code() == grpc.StatusCode.UNAVAILABLE
        stranger = Authority("someone else's CA").client("dialer-7")
        assert (await refused(r, pki.credentials(stranger), token)).code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_certificate_acts_with_the_roles_and_orgs_of_its_subject_s_row(
    settings: Settings, tmp_path: Path
) -> None:
    """A certificate whose subject has a row (dialer for org A): Check for A answered, for B
    ORG_NOT_ALLOWED, a Registry method MISSING_ROLE; a subject with no row is UNAUTHENTICATED."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki, mtls=True)) as r:
        dialer = pki.ca.client("dialer-7", "Example")
        await r.app.access.create(
            "test", name="d7", roles=["dialer"], orgs=[ORG_A], certificate_subject="CN=dialer-7,O=Example"
        )
        assert (await check(r, pki.credentials(dialer))).call_id
        denied = await refused(r, pki.credentials(dialer), org=ORG_B)
        assert (denied.code(), reason(denied)) == (grpc.StatusCode.PERMISSION_DENIED, "ORG_NOT_ALLOWED")
        async with aio_channel(target(r), None, pki.credentials(dialer)) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await registry_pb2_grpc.RegistryStub(channel).GetPreference(
                    registry_pb2.GetPreferenceRequest(number="13800138000"), timeout=5
                )
        assert (err.value.code(), reason(err.value)) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_ROLE")
        unknown = await refused(r, pki.credentials(pki.ca.client("dialer-8")))
        assert unknown.code() == grpc.StatusCode.UNAUTHENTICATED and "CN=dialer-8" in (unknown.details() or "")


async def test_a_bearer_token_sent_over_mtls_is_the_principal_rather_than_the_certificate(
    settings: Settings, tmp_path: Path
) -> None:
    """The certificate is dialer for org A, the token dialer for org B: with the token, B is answered and A refused."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki, mtls=True)) as r:
        dialer = pki.ca.client("dialer-7")
        await r.app.access.create("test", name="d7", roles=["dialer"], orgs=[ORG_A], certificate_subject="CN=dialer-7")
        token = (await r.app.access.create("test", name="b", roles=["dialer"], orgs=[ORG_B])).token
        assert (await check(r, pki.credentials(dialer), token, org=ORG_B)).call_id
        denied = await refused(r, pki.credentials(dialer), token, org=ORG_A)
        assert reason(denied) == "ORG_NOT_ALLOWED"


async def test_renewed_server_certificate_and_client_ca_are_served_to_new_connections_without_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    """The files are replaced by ones of a new CA while the server runs: a new connection trusting only the
    new CA, with a client certificate of the new CA, gets in; one of the old CA no longer does."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki, mtls=True)) as r:
        await r.app.access.create("test", name="d7", roles=["dialer"], certificate_subject="CN=dialer-7")
        old_client = pki.ca.client("dialer-7")
        assert (await check(r, pki.credentials(old_client))).call_id
        new_ca = Authority("renewed CA")
        new_client = new_ca.client("dialer-7")
        with capture_logs() as logs:
            new_ca.server().write(pki.dir, "server")
            new_ca.write(pki.client_ca)

            async def answered_on_the_new_ca() -> bool:
                try:
                    return bool((await check(r, pki.credentials(new_client, new_ca))).call_id)
                except grpc.aio.AioRpcError:
                    return False

            await until(answered_on_the_new_ca, 10, what="a connection trusting only the renewed CA")
        assert (await refused(r, pki.credentials(old_client))).code() == grpc.StatusCode.UNAVAILABLE
        reloaded = [e for e in logs if e["event"] == "tls_reloaded"]
        assert reloaded and reloaded[-1]["changed"] == ["DNCGATE_TLS_CERT", "DNCGATE_TLS_KEY", "DNCGATE_TLS_CLIENT_CA"]


async def test_a_half_written_certificate_keeps_the_one_in_force_and_is_logged_once(
    settings: Settings, tmp_path: Path
) -> None:
    """A certificate file cut short (a copy in progress) is refused with a warning; new connections are
    still served with the previous certificate, and the finished file is then taken up."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki)) as r:
        token = admin_token(settings.data_dir)
        new_ca = Authority("renewed CA")
        renewed = new_ca.server()
        with capture_logs() as logs:
            pki.key.write_bytes(renewed.key)
            pki.cert.write_bytes(renewed.cert[: len(renewed.cert) // 2])
            for _ in range(3):  # each new connection asks for the files again: the same cut file, one warning
                assert (await check(r, pki.credentials(), token)).call_id
            pki.cert.write_bytes(renewed.cert)

            async def answered_on_the_new_ca() -> bool:
                try:
                    return bool((await check(r, pki.credentials(ca=new_ca), token)).call_id)
                except grpc.aio.AioRpcError:
                    return False

            await until(answered_on_the_new_ca, 10, what="the finished certificate served")
        failed = [e for e in logs if e["event"] == "tls_reload_failed"]
        assert len(failed) == 1 and failed[0]["log_level"] == "warning", failed
        assert "DNCGATE_TLS_CERT" in failed[0]["error"]


async def test_the_health_port_answers_plaintext_with_the_grpc_port_s_own_statuses(
    settings: Settings, tmp_path: Path
) -> None:
    """DNCGATE_HEALTH_LISTEN serves grpc.health.v1 in plaintext beside the TLS-only gRPC port, from the same
    HealthServicer (a drain shows on both), and nothing else."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki, health=True)) as r:
        assert r.health_port is not None and r.health_port != r.port
        probes = f"127.0.0.1:{r.health_port}"
        for service in ("", "dncgate.v1.CallGate", "dncgate.v1.Registry"):
            assert await health_of(probes, service) == SERVING
            assert await health_of(target(r), service, pki.credentials()) == SERVING
        async with aio_channel(probes, admin_token(settings.data_dir)) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await gateway_pb2_grpc.CallGateStub(channel).Check(check_request(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        await r.health.enter_graceful_shutdown()  # what a drain does first
        assert await health_of(probes, "") == NOT_SERVING
        assert await health_of(target(r), "", pki.credentials()) == NOT_SERVING


def _cli(r: Running, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dncgate check` against `r`, with no DNCGATE_* of this shell's but `env` (names without the prefix)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")}
    base |= {"DNCGATE_TARGET": target(r), "DNCGATE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    base |= {f"DNCGATE_{k}": v for k, v in env.items()}
    check_args = ["check", "--caller", "+862759001234", "--callee", "13800138000", "--org", ORG_A]
    return subprocess.run(
        [sys.executable, "-m", "dncgate.cli", *check_args, *args], capture_output=True, text=True, env=base, timeout=30
    )


async def test_the_cli_verifies_the_server_with_tls_ca_and_presents_a_client_certificate(
    settings: Settings, tmp_path: Path
) -> None:
    """Against an mTLS server: --tls-ca with --tls-cert/--tls-key and no token is answered as the certificate's
    row; $DNCGATE_TLS_CA stands for --tls-ca; without a client certificate or without TLS it fails."""
    pki = make_pki(tmp_path)
    async with serving(tls(settings, pki, mtls=True)) as r:
        await r.app.access.create("test", name="d7", roles=["dialer"], orgs=[ORG_A], certificate_subject="CN=dialer-7")
        cert, key = pki.ca.client("dialer-7").write(tmp_path / "client", "dialer-7")
        ca = str(pki.client_ca)
        empty = tmp_path / "no-token-here"  # no admin.token to fall back on: the certificate names the caller
        out = await _run(_cli, r, empty, "--tls-ca", ca, "--tls-cert", str(cert), "--tls-key", str(key))
        assert out.returncode == 0 and "ALLOW" in out.stdout, out
        out = await _run(_cli, r, empty, "--tls-cert", str(cert), "--tls-key", str(key), TLS_CA=ca)
        assert out.returncode == 0 and "ALLOW" in out.stdout, out
        out = await _run(_cli, r, settings.data_dir, "--tls-ca", ca)  # the admin token, but no certificate
        assert out.returncode != 0 and "UNAVAILABLE" in out.stdout + out.stderr, out
        out = await _run(_cli, r, settings.data_dir, "--timeout", "3")  # plaintext
        assert out.returncode != 0 and "UNAVAILABLE" in out.stdout + out.stderr, out
        out = await _run(_cli, r, empty, "--tls-ca", ca, "--tls-cert", str(cert))
        assert out.returncode == 2 and "--tls-key" in out.stderr, out


async def _run(func: Any, *args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
    """A blocking CLI run in a thread: the server under test answers from this event loop meanwhile."""
    return await asyncio.to_thread(functools.partial(func, *args, **kw))


def _listening(pid: int, port: int) -> bool:
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in psutil.Process(pid).net_connections())


def test_serve_workers_share_the_tls_port_and_the_health_port(settings: Settings, tmp_path: Path) -> None:
    """`serve --workers 2` with TLS and DNCGATE_HEALTH_LISTEN: both workers bind both ports (none dies of a
    busy port), probes are answered in plaintext and the CLI over TLS, on every new connection."""
    pki = make_pki(tmp_path)
    port, health_port = free_port(), free_port()
    env = serve_env(
        port,
        tmp_path / "data",
        REDIS_URL=settings.redis_url or "",
        DATABASE_URL=settings.database_url or "",
        PEPPER=(settings.pepper or b"").hex(),
        TLS_CERT=str(pki.cert),
        TLS_KEY=str(pki.key),
        HEALTH_LISTEN=f"127.0.0.1:{health_port}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "dncgate.cli", "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def probe() -> int | None:
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service="dncgate.v1.CallGate"), timeout=2
                )
            except grpc.RpcError:
                return None
        return int(reply.status)

    def workers_listening() -> bool:
        """Both `api` workers listen on both ports (or `serve` has exited: a worker died)."""
        if proc.poll() is not None:
            return True
        try:
            workers = [c for c in psutil.Process(proc.pid).children() if c.environ().get("DNCGATE_ROLE") == "api"]
            return len(workers) == 2 and all(
                _listening(c.pid, port) and _listening(c.pid, health_port) for c in workers
            )
        except (psutil.Error, OSError):  # a child gone meanwhile
            return False

    try:
        until_sync(workers_listening, 60, what="both workers listening on the gRPC and the health port")
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        token_file = tmp_path / "data" / "admin.token"
        until_sync(token_file.exists, 30, what="a worker to write admin.token")
        token = admin_token(tmp_path / "data")
        for _ in range(4):  # new connections land on either worker: each serves both ports
            until_sync(lambda: probe() == SERVING, 30, what="CallGate SERVING on the health port")
            with grpc.secure_channel(f"127.0.0.1:{port}", pki.credentials()) as channel:
                reply = gateway_pb2_grpc.CallGateStub(channel).Check(
                    check_request(), metadata=(("authorization", f"Bearer {token}"),), timeout=5
                )
            assert reply.call_id
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output[-3000:]
