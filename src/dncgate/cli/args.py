"""What a command is given: argument types, the flags every client command shares, its server, its settings."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.config import Settings

# What `add_subparsers()` returns, to which each command group adds its commands (a string: the class
# is not subscriptable at run time).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

ClientCommand: TypeAlias = Callable[[argparse.Namespace, grpc.Channel], int]
"""A command that talks to a server: it gets the parsed arguments and an open channel, returns the exit code."""


def typed_names(enum: Any, prefix: str) -> list[str]:
    """A wire enum's values as the flags take them (`real-estate`), UNSPECIFIED left out."""
    names = (v.name for v in enum.DESCRIPTOR.values if not v.name.endswith("_UNSPECIFIED"))
    return [n[len(prefix) :].lower().replace("_", "-") for n in names]


def choices(enum: Any, prefix: str) -> str:
    """Every value a flag of this enum takes, for its help: "app, hotline, in-call, national-registry, admin"."""
    return ", ".join(typed_names(enum, prefix))


def enum_arg(enum: Any, prefix: str, only: Sequence[str] | None = None) -> Callable[[str], int]:
    """An argument type for a wire enum: `real-estate` -> CATEGORY_REAL_ESTATE's value, the choices listed if
    not; `only` narrows what is accepted (and listed) to the values the command can use."""
    accepted = list(only) if only is not None else typed_names(enum, prefix)

    def parse(text: str) -> int:
        typed = text.strip().lower().replace("_", "-")
        if typed not in accepted:
            raise argparse.ArgumentTypeError(f"{text!r}: expected one of {', '.join(accepted)}")
        return int(enum.Value(prefix + typed.upper().replace("-", "_")))

    return parse


def time_arg(text: str) -> Timestamp:
    """An argument type for an ISO time; one without a zone is in the local time of the operator's machine."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an ISO time like 2026-11-23T14:03:00+08:00") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # the local time of the operator's machine
    t = Timestamp()
    t.FromDatetime(dt.astimezone(UTC))
    return t


def client(p: argparse.ArgumentParser, func: ClientCommand) -> None:
    """Make `p` a client command run by `func`, with the server, credential and TLS flags every one takes."""
    p.add_argument("--target", help="server address (default $DNCGATE_TARGET or 127.0.0.1:50051)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument(
        "--token",
        help="bearer token dnc_<id>_<secret> (default $DNCGATE_TOKEN, else <data dir>/admin.token when readable)",
    )
    p.add_argument(
        "--tls-ca",
        type=Path,
        help="CA certificate (PEM) to verify a TLS server with (default $DNCGATE_TLS_CA); turns TLS on",
    )
    p.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for mTLS; needs --tls-key")
    p.add_argument("--tls-key", type=Path, help="the client certificate's private key (PEM)")
    p.set_defaults(client=func)


def request_id(p: argparse.ArgumentParser) -> None:
    """The --request-id of a command that changes something."""
    p.add_argument("--request-id", default="", help="idempotency key: the same id again changes nothing")


def pages(p: argparse.ArgumentParser) -> None:
    """The --page-size and --page-token of a command that lists."""
    p.add_argument("--page-size", type=int, default=0, help="default 50, at most 500")
    p.add_argument("--page-token", default="", help="from the previous page's 'more:' line")


DEFAULT_PORT = 50051


class TargetError(ValueError):
    """--target (or $DNCGATE_TARGET) is no address a channel can be opened to."""


def target(ns: argparse.Namespace) -> str:
    """The server a client command talks to: --target, else $DNCGATE_TARGET, else $DNCGATE_LISTEN; a bare host
    gets dncgate's port (gRPC's own default would be 443)."""
    given = getattr(ns, "target", None) or os.environ.get("DNCGATE_TARGET") or os.environ.get("DNCGATE_LISTEN")
    text = str(given or f"127.0.0.1:{DEFAULT_PORT}").strip()
    if "/" in text:  # a gRPC URI (dns:///host:port, unix:/path): as given
        return text
    host, colon, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not colon:
        host, port = text, str(DEFAULT_PORT)
    if not host or (host.endswith(":") and not host.startswith("[")):
        raise TargetError(f"target {text!r}: no host (expected HOST:PORT, such as 127.0.0.1:{DEFAULT_PORT})")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise TargetError(f"target {text!r}: no port (expected HOST:PORT, such as {host}:{DEFAULT_PORT})")
    return f"{host}:{port}"


def tls_ca(ns: argparse.Namespace) -> Path | None:
    """The CA a client command verifies a TLS server with: --tls-ca, else $DNCGATE_TLS_CA; None: plaintext."""
    if ns.tls_ca:
        return Path(ns.tls_ca)
    env = os.environ.get("DNCGATE_TLS_CA", "").strip()
    return Path(env) if env else None


def data_dir() -> Path:
    """The data dir a client command looks in for admin.token: $DNCGATE_DATA_DIR, else ./.dncgate."""
    return Path(os.environ.get("DNCGATE_DATA_DIR") or ".dncgate")


def token(ns: argparse.Namespace) -> str | None:
    """The bearer token a client command sends: --token, else $DNCGATE_TOKEN, else <data dir>/admin.token."""
    if ns.token:
        return str(ns.token).strip()
    if env := os.environ.get("DNCGATE_TOKEN", "").strip():
        return env
    try:
        return (data_dir() / "admin.token").read_text().strip() or None
    except OSError:  # none written here (external stores, another machine): the server will say so
        return None


def local_settings() -> Settings:
    """The settings of a command that runs here rather than asking a server, with logging set up from them."""
    from dncgate import logs  # here: a client command has no use for structlog's import time

    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)
    return settings
