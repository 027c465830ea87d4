"""`dncgate registry org-list`: put a consumer on an org's own do-not-call list, take her off it, its history."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli import records
from dncgate.cli.args import Subparsers, client, request_id, time_arg
from dncgate.cli.output import Grid, fmt_ts, kv
from dncgate.v1 import registry_pb2, registry_pb2_grpc


def _print_entry(e: registry_pb2.OrgListEntry) -> None:
    kv(
        [
            ("number", e.number_masked),
            ("org", e.org_id),
            ("entry", "added" if e.listed else "removed"),
            ("on the list", "yes" if e.on_list else "no"),
            ("reason", e.reason or "-"),
            ("recorded at", fmt_ts(e.recorded_at)),
            ("recorded by", e.recorded_by or "-"),
            ("journal seq", str(e.journal_seq)),
        ]
    )


def cmd_add(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    request = registry_pb2.AddToOrgListRequest(
        org_id=ns.org, number=ns.number, reason=ns.reason, request_id=ns.request_id
    )
    _print_entry(stub.AddToOrgList(request, timeout=ns.timeout))
    return 0


def cmd_remove(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    request = registry_pb2.RemoveFromOrgListRequest(org_id=ns.org, number=ns.number, request_id=ns.request_id)
    _print_entry(stub.RemoveFromOrgList(request, timeout=ns.timeout))
    return 0


def cmd_history(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    h = stub.GetOrgListHistory(
        registry_pb2.GetOrgListHistoryRequest(number=ns.number, org_id=ns.org, as_of=ns.as_of), timeout=ns.timeout
    )
    if ns.output != "table":
        records.write(ns.output, registry_pb2.OrgListEntry.DESCRIPTOR, h.entries)
        return 0
    when = "then" if ns.as_of else "now"
    on = f"yes (since journal seq {h.listed_by.journal_seq})" if h.listed else "no"
    kv([("number", h.number_masked), ("org", h.org_id), (f"on the list {when}", on)])
    table = Grid("entries", ("recorded at", "entry", "seq", "by", "reason"), keep=frozenset({"recorded at", "seq"}))
    for e in h.entries:
        what = "added" if e.listed else "removed"
        table.add_row(fmt_ts(e.recorded_at), what, str(e.journal_seq), e.recorded_by or "-", e.reason or "-")
    table.print("none")
    return 0


def add_command(reg: Subparsers) -> None:
    """Register `registry org-list add|remove|history`."""
    ol = reg.add_parser("org-list", help="an org's own do-not-call list").add_subparsers(dest="org_list", required=True)
    p = ol.add_parser("add", help="put a number on the org's list (its calls are then BLOCK / ORG_LIST)")
    p.add_argument("org", help="the org whose list it is")
    p.add_argument("number", help="the consumer's number")
    p.add_argument("--reason", default="", help="free text (phone numbers in it are masked)")
    request_id(p)
    client(p, cmd_add)
    p = ol.add_parser("remove", help="take a number off the org's list")
    p.add_argument("org", help="the org whose list it is")
    p.add_argument("number", help="the consumer's number")
    request_id(p)
    client(p, cmd_remove)
    p = ol.add_parser("history", help="a number's entries on the org's list, and whether it is on it (now or --as-of)")
    p.add_argument("org", help="the org whose list it is")
    p.add_argument("number", help="the consumer's number")
    p.add_argument("--as-of", type=time_arg, help="whether she was on the list then (ISO time)")
    records.add_flag(p, "each entry")
    client(p, cmd_history)
