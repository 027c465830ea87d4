"""`dncgate registry`: set, read and rebuild do-not-disturb preferences (`import` is in registry_import)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json

import grpc
from rich.table import Table

from dncgate.cli import orglist, ranges, registry_import
from dncgate.cli.args import Subparsers, client, enum_arg, local_settings, request_id, time_arg
from dncgate.cli.output import console, enum_name, fmt_ts, kv
from dncgate.v1 import common_pb2, registry_pb2, registry_pb2_grpc


def _categories(p: registry_pb2.Preference) -> str:
    return ", ".join(enum_name(common_pb2.Category, c, "CATEGORY_").lower() for c in p.categories) or "all"


def _print_preference(p: registry_pb2.Preference) -> None:
    if not p.found:
        kv([("number", p.number_masked), ("do not disturb", "no (never registered)")])
        return
    kv(
        [
            ("number", p.number_masked),
            ("do not disturb", f"yes ({_categories(p)})" if p.do_not_disturb else "no"),
            ("source", enum_name(common_pb2.Source, p.source, "SOURCE_").lower()),
            ("effective from", fmt_ts(p.effective_from)),
            ("recorded at", fmt_ts(p.recorded_at)),
            ("recorded by", p.recorded_by or "-"),
            ("journal seq", str(p.journal_seq)),
        ]
    )


def cmd_set(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.SetPreference(
        registry_pb2.SetPreferenceRequest(
            number=ns.number,
            do_not_disturb=ns.dnd,
            categories=ns.category or [],
            source=ns.source,
            effective_from=ns.effective_from,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    _print_preference(p)
    return 0


def cmd_get(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    _print_preference(
        stub.GetPreference(registry_pb2.GetPreferenceRequest(number=ns.number, as_of=ns.as_of), timeout=ns.timeout)
    )
    return 0


def cmd_history(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    h = stub.GetPreferenceHistory(registry_pb2.GetPreferenceHistoryRequest(number=ns.number), timeout=ns.timeout)
    table = Table(title=f"preference history of {h.number_masked}")
    for col in ("seq", "do not disturb", "categories", "source", "effective from", "recorded at", "recorded by"):
        table.add_column(col)
    for p in h.entries:
        table.add_row(
            str(p.journal_seq),
            "yes" if p.do_not_disturb else "no",
            _categories(p) if p.do_not_disturb else "-",
            enum_name(common_pb2.Source, p.source, "SOURCE_").lower(),
            fmt_ts(p.effective_from),
            fmt_ts(p.recorded_at),
            p.recorded_by or "-",
        )
    console.print(table)
    if h.consents:
        ct = Table(title="consents")
        for col in ("seq", "org", "agent", "action", "expires", "evidence", "recorded at", "recorded by"):
            ct.add_column(col)
        for c in h.consents:
            ct.add_row(
                str(c.journal_seq),
                c.org_id,
                c.agent_id or "(any)",
                "revoke" if c.revoked else "grant",
                fmt_ts(c.expires_at, c.HasField("expires_at")),
                c.evidence,
                fmt_ts(c.recorded_at),
                c.recorded_by or "-",
            )
        console.print(ct)
    return 0


def cmd_rebuild(ns: argparse.Namespace) -> int:
    # Imported when run: a client command has no use for the adapters' import time.
    from dncgate.bootstrap import endpoints_file, open_app
    from dncgate.service import sync

    settings = local_settings()
    ep = endpoints_file(settings.data_dir)
    if settings.embedded and ep.exists():
        # A running `dncgate serve` owns the embedded servers: connect to them, don't start new ones.
        urls = json.loads(ep.read_text())
        settings = dataclasses.replace(settings, redis_url=urls["redis_url"], database_url=urls["database_url"])

    async def run() -> None:
        async with open_app(settings) as app:
            report = await sync.rebuild(app.journal, app.hot)
            console.print(
                f"rebuilt Redis from the journal: {report.numbers} numbers, {report.consents} consents, "
                f"journal seq {report.seq}, {report.seconds:.2f} s"
            )

    asyncio.run(run())
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `registry set|get|history|rebuild|import|org-list|range` under the `dncgate` parser."""
    reg = sub.add_parser("registry", help="do-not-disturb preferences").add_subparsers(dest="sub", required=True)
    p = reg.add_parser("set", help="set or clear do-not-disturb for a number")
    p.add_argument("number")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--dnd", dest="dnd", action="store_true", help="turn do-not-disturb on")
    g.add_argument("--no-dnd", dest="dnd", action="store_false", help="turn it off")
    p.add_argument(
        "--category",
        type=enum_arg(common_pb2.Category, "CATEGORY_"),
        action="append",
        help="repeatable; none means all categories",
    )
    p.add_argument(
        "--source",
        type=enum_arg(common_pb2.Source, "SOURCE_"),
        default=common_pb2.SOURCE_ADMIN,
        help="app, hotline, admin, ... (default admin)",
    )
    p.add_argument("--effective-from", type=time_arg, help="ISO time (default now)")
    request_id(p)
    client(p, cmd_set)
    p = reg.add_parser("get", help="the preference in effect (now or --as-of)")
    p.add_argument("number")
    p.add_argument("--as-of", type=time_arg)
    client(p, cmd_get)
    p = reg.add_parser("history", help="every journal entry of a number")
    p.add_argument("number")
    client(p, cmd_history)
    p = reg.add_parser("rebuild", help="recreate Redis from the PostgreSQL journal (Checks block meanwhile)")
    p.set_defaults(local=cmd_rebuild)
    registry_import.add_command(reg)
    orglist.add_command(reg)
    ranges.add_command(reg)
