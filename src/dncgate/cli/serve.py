"""`dncgate serve`: run the server here, one process or several sharing the port, or one role of it."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from dncgate.cli.args import Subparsers, local_settings
from dncgate.cli.output import err_console
from dncgate.config import ROLES


def cmd_serve(ns: argparse.Namespace) -> int:
    # The server's modules are imported when it runs: the client commands have no use for their import time.
    from dncgate.embedded import die_with_parent_pid

    die_with_parent_pid(os.environ.get("DNCGATE_PARENT_PID"))  # set for the recorder child of `serve`
    settings = local_settings()
    changes: dict[str, Any] = {}
    if ns.listen:
        changes["listen"] = ns.listen
    if ns.data_dir:
        changes["data_dir"] = ns.data_dir
    if ns.role:
        changes["role"] = ns.role
    settings = dataclasses.replace(settings, **changes)
    if ns.workers > 1:
        from dncgate.api.workers import run_workers

        try:
            return run_workers(settings, ns.workers)
        except ValueError as exc:
            err_console.print(f"[red]error[/red]: {exc}")
            return 2
    from dncgate.api.server import serve

    try:
        import uvloop

        uvloop.run(serve(settings))
    except ImportError:
        asyncio.run(serve(settings))
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `serve` under the `dncgate` parser."""
    p = sub.add_parser("serve", help="run the server (embedded Redis and PostgreSQL unless URLs are set)")
    p.add_argument("--listen", help="host:port (default $DNCGATE_LISTEN or 127.0.0.1:50051)")
    p.add_argument("--data-dir", type=Path, help="default $DNCGATE_DATA_DIR or .dncgate")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gRPC server processes sharing the port (SO_REUSEPORT), plus one recorder; default 1",
    )
    p.add_argument(
        "--role",
        choices=ROLES,
        help="what this process runs (default $DNCGATE_ROLE or all): all, one gRPC service, or the recorder",
    )
    p.set_defaults(local=cmd_serve)
