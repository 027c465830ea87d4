"""`dncgate registry range`: block or allow callees by number prefix, for one org or every org, with history."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli import records
from dncgate.cli.args import Subparsers, choices, client, enum_arg, request_id, time_arg
from dncgate.cli.output import Grid, fmt_ts, kv, typed
from dncgate.v1 import common_pb2, registry_pb2, registry_pb2_grpc

_ACTIONS = {
    "block": registry_pb2.RANGE_ACTION_BLOCK,
    "allow": registry_pb2.RANGE_ACTION_ALLOW,
    "clear": registry_pb2.RANGE_ACTION_UNSPECIFIED,
}


def _action(r: registry_pb2.RangeRule) -> str:
    return {v: k for k, v in _ACTIONS.items()}.get(r.action, str(r.action))


def _categories(r: registry_pb2.RangeRule) -> str:
    return ", ".join(typed(common_pb2.Category, c, "CATEGORY_") for c in r.categories) or "all"


def cmd_set(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    r = stub.SetRangeRule(
        registry_pb2.SetRangeRuleRequest(
            prefix=ns.prefix,
            action=_ACTIONS[ns.action],
            categories=ns.category or [],
            org_id=ns.org,
            effective_from=ns.effective_from,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    kv(
        [
            ("prefix", r.prefix),
            ("action", _action(r)),
            ("org", r.org_id or "every org"),
            ("categories", _categories(r)),
            ("effective from", fmt_ts(r.effective_from)),
            ("entry", str(r.journal_seq)),
            ("recorded by", r.recorded_by),
        ]
    )
    return 0


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    r = stub.ListRangeRules(registry_pb2.ListRangeRulesRequest(org_id=ns.org, at=ns.at), timeout=ns.timeout)
    table = Grid(
        "range rules, oldest entry first" + (" (in force at --at)" if ns.at else ""),
        ("entry", "prefix", "action", "org", "categories", "effective from", "recorded by"),
        keep=frozenset({"entry", "prefix", "effective from"}),
    )
    for rule in r.rules:
        table.add_row(
            str(rule.journal_seq),
            rule.prefix,
            _action(rule),
            rule.org_id or "*",
            _categories(rule),
            fmt_ts(rule.effective_from),
            rule.recorded_by,
        )
    records.emit(ns, registry_pb2.RangeRule.DESCRIPTOR, r.rules, lambda: table.print("no range rules"))
    return 0


def add_command(reg: Subparsers) -> None:
    """Register `registry range set|list`."""
    rg = reg.add_parser("range", help="number ranges: block or allow by prefix").add_subparsers(
        dest="range", required=True
    )
    p = rg.add_parser(
        "set",
        help="journal a rule for a prefix (the longest prefix in force wins; `clear` ends the prefix's rule)",
    )
    p.add_argument("prefix", help="E.164 digits form: +86400, +86106, +1201")
    p.add_argument("action", choices=sorted(_ACTIONS), help="block, allow, or clear the prefix's rule")
    p.add_argument("--org", default="", help="one org's rule (default: every org)")
    p.add_argument(
        "--category",
        type=enum_arg(common_pb2.Category, "CATEGORY_"),
        action="append",
        help="repeatable; none means all categories (" + choices(common_pb2.Category, "CATEGORY_") + ")",
    )
    p.add_argument("--effective-from", type=time_arg, help="ISO time (default now)")
    request_id(p)
    client(p, cmd_set)
    p = rg.add_parser("list", help="the range-rule journal, or the rules in force at --at")
    p.add_argument("--org", default="", help="that org's rules and the every-org ones")
    p.add_argument("--at", type=time_arg, help="only the rules in force at this ISO time")
    records.add_flag(p, "each rule")
    client(p, cmd_list)
