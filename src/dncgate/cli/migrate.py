"""`dncgate migrate`: apply the schema migrations and exit (a Kubernetes Job runs it before the roles)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path

from dncgate.cli.args import Subparsers, local_settings
from dncgate.cli.output import console, err_console


def cmd_migrate(ns: argparse.Namespace) -> int:
    # Imported when run: a client command has no use for the adapters' import time.
    import psycopg

    from dncgate.bootstrap import migrate_only

    settings = local_settings()
    if ns.data_dir:
        settings = dataclasses.replace(settings, data_dir=ns.data_dir)
    try:
        where, applied = asyncio.run(migrate_only(settings))
    except psycopg.OperationalError as exc:
        # Unreachable or refused: worth a retry (the Job's backoffLimit), unlike a configuration error.
        err_console.print(f"[red]error[/red]: PostgreSQL: {str(exc).strip()}")
        return 1
    if applied:
        console.print(f"migrated {where}: applied {', '.join(applied)}")
    else:
        console.print(f"migrated {where}: schema up to date, nothing to apply")
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `migrate` under the `dncgate` parser."""
    p = sub.add_parser(
        "migrate", help="apply the schema migrations to $DNCGATE_DATABASE_URL (or the embedded PostgreSQL), then exit"
    )
    p.add_argument("--data-dir", type=Path, help="default $DNCGATE_DATA_DIR or .dncgate (embedded PostgreSQL only)")
    p.set_defaults(local=cmd_migrate)
