"""`dncgate`'s parser, assembled from the command groups, and `main`, which runs the command it parses."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import grpc

from dncgate.cli import (
    check,
    complaint,
    consent,
    health,
    lines,
    migrate,
    notices,
    operator,
    org,
    outcome,
    payouts,
    receipt,
    registry,
    report,
    scrub,
    serve,
    token,
    user,
)
from dncgate.cli.channel import run_client
from dncgate.cli.output import DisplayZoneError, err_console, rpc_error
from dncgate.config import ConfigError
from dncgate.domain.errors import PepperMismatch

EXIT_STATUSES = """\
exit statuses:
  0    done
  1    the server refused the call, or could not be reached (the error on stderr says which)
  2    a usage error, an unreadable input file, a bad --target or configuration (nothing sent)
  3    registry import went through, but some rows were invalid (listed)
  4    registry set --add-category/--remove-category replaced an entry it had not read
  130  interrupted
  (receipt verify: 0 valid, 1 invalid, 2 unreadable)

Times are shown in $DNCGATE_DISPLAY_TZ (default: this machine's zone); --output json|csv for scripts."""

# In the order `dncgate --help` lists them.
GROUPS = (
    serve,
    migrate,
    check,
    scrub,
    outcome,
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
    health,
    user,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dncgate",
        description="Do-not-call gateway and compensation service.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    except (ConfigError, PepperMismatch, DisplayZoneError) as exc:
        err_console.print(f"[red]configuration error[/red]: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
