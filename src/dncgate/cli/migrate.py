"""`dncgate migrate`: apply the schema migrations and exit (a Kubernetes Job runs it before the roles).

`dncgate maintenance`: one pass of the partition maintenance loop the recorder's process runs daily
(months ahead created, months past DNCGATE_CALL_LOG_RETENTION_DAYS dropped), then exit."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import date
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


def cmd_maintenance(ns: argparse.Namespace) -> int:
    import psycopg

    from dncgate.bootstrap import maintain_once

    settings = local_settings()
    if ns.data_dir:
        settings = dataclasses.replace(settings, data_dir=ns.data_dir)
    try:
        where, report = asyncio.run(maintain_once(settings))
    except psycopg.Error as exc:
        err_console.print(f"[red]error[/red]: PostgreSQL: {str(exc).strip()}")
        return 1

    def months(pairs: Sequence[tuple[str, date]]) -> str:
        return ", ".join(f"{table} {month}" for table, month in pairs) or "none"

    console.print(f"maintained {where}: created {months(report.created)}; dropped {months(report.dropped)}")
    if report.held:
        console.print(f"kept past retention, a complaint needs them: {months(report.held)}")
    if report.rehomed:
        console.print(f"moved {report.rehomed} rows out of default partitions")
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `migrate` and `maintenance` under the `dncgate` parser."""
    p = sub.add_parser(
        "migrate", help="apply the schema migrations to $DNCGATE_DATABASE_URL (or the embedded PostgreSQL), then exit"
    )
    p.add_argument("--data-dir", type=Path, help="default $DNCGATE_DATA_DIR or .dncgate (embedded PostgreSQL only)")
    p.set_defaults(local=cmd_migrate)
    p = sub.add_parser(
        "maintenance",
        help="create the coming months' partitions and drop those past DNCGATE_CALL_LOG_RETENTION_DAYS, then exit",
    )
    p.add_argument("--data-dir", type=Path, help="default $DNCGATE_DATA_DIR or .dncgate (embedded PostgreSQL only)")
    p.set_defaults(local=cmd_maintenance)
