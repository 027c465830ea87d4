"""`dncgate registry`: set, read and rebuild do-not-disturb preferences (`import` is in registry_import)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

import grpc

from dncgate.cli import orglist, ranges, records, registry_import
from dncgate.cli.args import Subparsers, choices, client, enum_arg, local_settings, request_id, time_arg
from dncgate.cli.output import Grid, console, count, err_console, fmt_ts, kv, typed
from dncgate.v1 import common_pb2, registry_pb2, registry_pb2_grpc

ALL_CATEGORIES: list[Any] = [v for v in common_pb2.Category.values() if v != common_pb2.CATEGORY_UNSPECIFIED]


def _names(categories: Sequence[int]) -> str:
    return ", ".join(typed(common_pb2.Category, c, "CATEGORY_") for c in categories)


def _categories(p: registry_pb2.Preference) -> str:
    return _names(p.categories) or "all"


def covers(p: registry_pb2.Preference) -> str:
    """What an entry protects her from, in words: "finance only", "real-estate, finance only", "all categories",
    "nothing (do-not-disturb off)"."""
    if not p.found:
        return "nothing (never registered)"
    if not p.do_not_disturb:
        return "nothing (do-not-disturb off)"
    if not p.categories:
        return "all categories"
    return _names(p.categories) + " only"


def _print_preference(p: registry_pb2.Preference) -> None:
    if not p.found:
        kv([("number", p.number_masked), ("do not disturb", "no (never registered)")])
        return
    kv(
        [
            ("number", p.number_masked),
            ("do not disturb", f"yes ({_categories(p)})" if p.do_not_disturb else "no"),
            ("source", typed(common_pb2.Source, p.source, "SOURCE_")),
            ("effective from", fmt_ts(p.effective_from)),
            ("recorded at", fmt_ts(p.recorded_at)),
            ("recorded by", p.recorded_by or "-"),
            ("journal seq", str(p.journal_seq)),
        ]
    )


class Refused(ValueError):
    """The flags ask for a change that can't be made as asked (said to the operator, nothing written)."""


def folded(current: registry_pb2.Preference, add: Sequence[int], remove: Sequence[int]) -> list[int]:
    """The categories after --add-category / --remove-category fold into the entry in effect; [] is all."""
    on = current.found and current.do_not_disturb
    have = (list(current.categories) or list(ALL_CATEGORIES)) if on else []
    if not have and remove:
        raise Refused("do-not-disturb is off for this number: there is no category to remove")
    result = [c for c in ALL_CATEGORIES if (c in have or c in add) and c not in remove]
    if not result:
        raise Refused(f"removing {_names(remove)} leaves no category: to turn do-not-disturb off, say --no-dnd")
    return [] if set(result) == set(ALL_CATEGORIES) else result


def _desired(ns: argparse.Namespace, current: registry_pb2.Preference) -> tuple[bool, list[Any]]:
    """(do_not_disturb, categories) the flags ask for, given the entry in effect."""
    add, remove = ns.add_category or [], ns.remove_category or []
    if not (add or remove):
        if ns.dnd is None:
            raise Refused("say --dnd or --no-dnd (or --add-category / --remove-category)")
        return bool(ns.dnd), list(ns.category or [])
    if ns.category or ns.dnd is False:
        raise Refused("--add-category / --remove-category fold into the entry: not with --category or --no-dnd")
    return True, folded(current, add, remove)


def _raced(stub: Any, ns: argparse.Namespace, read: registry_pb2.Preference, written: registry_pb2.Preference) -> int:
    """Entries for the number recorded between our read and our write: another writer's change we built on
    without seeing (the server has no compare-and-set on preferences)."""
    if not read.found:
        return 0
    history = stub.GetPreferenceHistory(registry_pb2.GetPreferenceHistoryRequest(number=ns.number), timeout=ns.timeout)
    return sum(read.journal_seq < e.journal_seq < written.journal_seq for e in history.entries)


def cmd_set(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    # The entry in effect when the new one takes effect: what the change is told against, and what
    # --add-category / --remove-category fold into.
    before = stub.GetPreference(
        registry_pb2.GetPreferenceRequest(number=ns.number, as_of=ns.effective_from), timeout=ns.timeout
    )
    try:
        dnd, categories = _desired(ns, before)
    except Refused as exc:
        err_console.print(f"[red]error[/red]: {exc} (nothing written)")
        return 2
    p = stub.SetPreference(
        registry_pb2.SetPreferenceRequest(
            number=ns.number,
            do_not_disturb=dnd,
            categories=categories,
            source=ns.source,
            effective_from=ns.effective_from,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    raced = _raced(stub, ns, before, p)
    if ns.output != "table":
        records.write(ns.output, registry_pb2.Preference.DESCRIPTOR, [p])
    else:
        _print_preference(p)
        was = covers(before)
        now = covers(p)
        console.print(f"now covers: [bold]{now}[/bold]" + (f" (was: {was})" if was != now else " (unchanged)"))
    if raced:
        err_console.print(
            f"[yellow]warning[/yellow]: {count(raced, 'other entry', 'other entries')} for this number were "
            "recorded between reading it and this write, and were replaced by it: see `dncgate registry history`"
        )
        return 4
    return 0


def cmd_get(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.GetPreference(registry_pb2.GetPreferenceRequest(number=ns.number, as_of=ns.as_of), timeout=ns.timeout)
    records.emit(ns, registry_pb2.Preference.DESCRIPTOR, [p], lambda: _print_preference(p))
    return 0


def cmd_history(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    h = stub.GetPreferenceHistory(registry_pb2.GetPreferenceHistoryRequest(number=ns.number), timeout=ns.timeout)
    if ns.output != "table":
        records.write(ns.output, registry_pb2.Preference.DESCRIPTOR, h.entries)
        return 0
    table = Grid(
        f"preference history of {h.number_masked}",
        ("seq", "do not disturb", "categories", "source", "effective from", "recorded at", "recorded by"),
        keep=frozenset({"seq", "effective from", "recorded at"}),
    )
    for p in h.entries:
        table.add_row(
            str(p.journal_seq),
            "yes" if p.do_not_disturb else "no",
            _categories(p) if p.do_not_disturb else "-",
            typed(common_pb2.Source, p.source, "SOURCE_"),
            fmt_ts(p.effective_from),
            fmt_ts(p.recorded_at),
            p.recorded_by or "-",
        )
    table.print("no entries (never registered)")
    if h.consents:
        ct = Grid(
            "consents",
            ("seq", "org", "agent", "action", "expires", "evidence", "recorded at", "recorded by"),
            keep=frozenset({"seq", "expires", "recorded at"}),
        )
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
        ct.print("none")
    return 0


def cmd_rebuild(ns: argparse.Namespace) -> int:
    # Imported when run: a client command has no use for the adapters' import time.
    from dncgate.bootstrap import beside_running_serve, open_app
    from dncgate.service import sync

    # A running `dncgate serve` owns the embedded servers (and knows whether Redis is a cluster):
    # connect to its stores, don't start new ones.
    settings = beside_running_serve(local_settings())

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
    p = reg.add_parser(
        "set",
        help="set or clear do-not-disturb for a number: the new entry replaces the one in effect",
        description="The new entry replaces the one in effect: --dnd --category finance on a number that was "
        "protected from all categories narrows it to finance. To widen or narrow what an entry covers, "
        "--add-category / --remove-category fold into the categories in effect (read first, then written: "
        "an entry another writer records in between is replaced, and said so with exit status 4).",
    )
    p.add_argument("number", help="the consumer's number, in any common format")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dnd", dest="dnd", action="store_true", default=None, help="turn do-not-disturb on")
    g.add_argument("--no-dnd", dest="dnd", action="store_false", help="turn it off")
    category = enum_arg(common_pb2.Category, "CATEGORY_")
    names = choices(common_pb2.Category, "CATEGORY_")
    p.add_argument(
        "--category",
        type=category,
        action="append",
        metavar="CATEGORY",
        help=f"with --dnd: the categories the entry covers, replacing the ones in effect; repeatable; none means "
        f"all categories ({names})",
    )
    p.add_argument(
        "--add-category",
        type=category,
        action="append",
        metavar="CATEGORY",
        help="add this category to the ones in effect (turns do-not-disturb on for it); repeatable",
    )
    p.add_argument(
        "--remove-category",
        type=category,
        action="append",
        metavar="CATEGORY",
        help="take this category out of the ones in effect (all categories: every other one stays); repeatable",
    )
    p.add_argument(
        "--source",
        type=enum_arg(common_pb2.Source, "SOURCE_"),
        default=common_pb2.SOURCE_ADMIN,
        help="where the request came from: " + choices(common_pb2.Source, "SOURCE_") + " (default admin)",
    )
    p.add_argument("--effective-from", type=time_arg, help="ISO time (default now)")
    request_id(p)
    records.add_flag(p, "the new entry")
    client(p, cmd_set)
    p = reg.add_parser("get", help="the preference in effect (now or --as-of)")
    p.add_argument("number", help="the consumer's number")
    p.add_argument("--as-of", type=time_arg, help="the preference in effect then, as known then (ISO time)")
    records.add_flag(p, "the entry")
    client(p, cmd_get)
    p = reg.add_parser("history", help="every journal entry of a number")
    p.add_argument("number", help="the consumer's number")
    records.add_flag(p, "each preference entry (consents are left out)")
    client(p, cmd_history)
    p = reg.add_parser("rebuild", help="recreate Redis from the PostgreSQL journal (Checks block meanwhile)")
    p.set_defaults(local=cmd_rebuild)
    registry_import.add_command(reg)
    orglist.add_command(reg)
    ranges.add_command(reg)
