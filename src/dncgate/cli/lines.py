"""`dncgate lines`: which org and agent a company's outbound line belongs to, over time."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli import records
from dncgate.cli.args import Subparsers, client, pages, request_id, time_arg
from dncgate.cli.output import Grid, fmt_ts, kv, next_page
from dncgate.v1 import registry_pb2, registry_pb2_grpc


def cmd_register(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    line = stub.RegisterCallerLine(
        registry_pb2.RegisterCallerLineRequest(
            caller_number=ns.number,
            org_id=ns.org,
            agent_id=ns.agent,
            valid_from=ns.from_time,
            valid_to=ns.to_time,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    kv(
        [
            ("line", line.caller_number),
            ("org", line.org_id),
            ("agent", line.agent_id or "- (the org's line)"),
            ("from", fmt_ts(line.valid_from)),
            ("to", fmt_ts(line.valid_to) if line.HasField("valid_to") else "open-ended"),
            ("entry", str(line.journal_seq)),
            ("recorded by", line.recorded_by),
        ]
    )
    return 0


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    r = stub.ListCallerLines(
        registry_pb2.ListCallerLinesRequest(
            org_id=ns.org,
            caller_number=ns.number,
            at=ns.at,
            page_size=ns.page_size,
            page_token=ns.page_token,
        ),
        timeout=ns.timeout,
    )
    table = Grid(
        "caller lines, oldest entry first" + (" (in force at --at)" if ns.at else ""),
        ("entry", "line", "org", "agent", "from", "to", "live", "recorded by"),
        keep=frozenset({"entry", "line", "from", "to"}),
    )
    for line in r.lines:
        table.add_row(
            str(line.journal_seq),
            line.caller_number,
            line.org_id,
            line.agent_id or "-",
            fmt_ts(line.valid_from),
            fmt_ts(line.valid_to) if line.HasField("valid_to") else "open-ended",
            "yes" if line.live else "superseded",
            line.recorded_by,
        )
    records.emit(ns, registry_pb2.CallerLine.DESCRIPTOR, r.lines, lambda: table.print("no caller lines"))
    next_page(r.next_page_token)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `lines register|list` under the `dncgate` parser."""
    lines = sub.add_parser("lines", help="company caller lines: whose line a number is, over time").add_subparsers(
        dest="sub", required=True
    )
    p = lines.add_parser(
        "register",
        help="the number is this org's (and agent's) line from --from until --to; the same owner again"
        " supersedes its overlapping entries, another owner's overlap is refused",
    )
    p.add_argument("number", help="the company's line, in any common format")
    p.add_argument("--org", required=True, help="the org whose line it is")
    p.add_argument("--agent", default="", help="the agent whose line it is (default: the org's line, no one agent's)")
    p.add_argument("--from", dest="from_time", type=time_arg, help="ISO time (default: now)")
    p.add_argument("--to", dest="to_time", type=time_arg, help="ISO time, excluded (default: open-ended)")
    request_id(p)
    client(p, cmd_register)
    p = lines.add_parser("list", help="the caller-line journal, oldest first")
    p.add_argument("--org", default="", help="one org's lines")
    p.add_argument("--number", default="", help="one line's entries")
    p.add_argument("--at", type=time_arg, help="only the assignments in force at this ISO time")
    pages(p)
    records.add_flag(p, "each entry")
    client(p, cmd_list)
