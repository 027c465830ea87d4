"""The channel a client command talks over: plaintext or TLS (mTLS with a client certificate), and a bearer
token sent as `authorization` metadata on every call."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NamedTuple

import grpc

from dncgate.cli.args import ClientCommand, target, tls_ca, token
from dncgate.cli.output import err_console, rpc_error


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds `authorization: Bearer <token>` to every call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> _Details:
        metadata = [*(details.metadata or ()), self._header]
        return _Details(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression
        )

    def _call(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    intercept_unary_unary = intercept_unary_stream = _call
    intercept_stream_unary = intercept_stream_stream = _call


def _read(path: Any) -> bytes | None:
    return path.read_bytes() if path is not None else None


def open_channel(ns: argparse.Namespace) -> grpc.Channel:
    """The channel for a client command's flags: --tls-ca (or $DNCGATE_TLS_CA)/--tls-cert/--tls-key, --token,
    --target. Without a CA, a TLS server is verified against gRPC's default root CAs."""
    address = target(ns)
    ca = tls_ca(ns)
    if bool(ns.tls_cert) != bool(ns.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if ca or ns.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(ca), private_key=_read(ns.tls_key), certificate_chain=_read(ns.tls_cert)
        )
        channel = grpc.secure_channel(address, credentials)
    else:
        channel = grpc.insecure_channel(address)
    bearer = token(ns)
    return grpc.intercept_channel(channel, _Bearer(bearer)) if bearer else channel


def run_client(ns: argparse.Namespace, command: ClientCommand) -> int:
    """Run a client command over the channel its flags describe."""
    try:
        channel = open_channel(ns)
    except (ValueError, OSError) as exc:  # the target, the TLS flags: a missing file, a cert without its key
        err_console.print(f"[red]error[/red]: {exc}")
        return 2
    with channel:
        try:
            return int(command(ns, channel))
        except grpc.RpcError as exc:
            return rpc_error(exc, target(ns))
