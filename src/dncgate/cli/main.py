"""`dncgate`'s parser, assembled from the command groups, and `main`, which runs the command it parses."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import grpc

from dncgate.cli import (
    check,
    complaint,
    consent,
    lines,
    migrate,
    notices,
    operator,
    org,
    payouts,
    receipt,
    registry,
    report,
    serve,
    token,
    user,
)
from dncgate.cli.channel import run_client
from dncgate.cli.output import console, rpc_error
from dncgate.config import ConfigError
from dncgate.domain.errors import PepperMismatch

# In the order `dncgate --help` lists them.
GROUPS = (
    serve,
    migrate,
    check,
    registry,
    consent,
    org,
    lines,
    receipt,
    complaint,
    operator,
    payouts,
    notices,
    report,
    token,
    user,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dncgate", description="Do-not-call gateway and compensation service.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: a local one (`serve`, `registry rebuild`) here, any other against a server."""
    ns = build_parser().parse_args(argv)
    try:
        if hasattr(ns, "local"):
            return int(ns.local(ns))
        return run_client(ns, ns.client)
    except grpc.RpcError as exc:
        return rpc_error(exc)
    except (ConfigError, PepperMismatch) as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
