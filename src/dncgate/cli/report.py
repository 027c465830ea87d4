"""`dncgate report`: what an org's agents did, in violating calls and verified complaints."""

from __future__ import annotations

import argparse

import grpc
from rich.table import Table

from dncgate.cli.args import Subparsers, client, time_arg
from dncgate.cli.output import console
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc


def cmd_violations(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = compensation_pb2_grpc.CompensationStub(channel).ReportViolations(
        pb.ReportViolationsRequest(**{"org_id": ns.org, "from": ns.from_time, "to": ns.to_time}), timeout=ns.timeout
    )
    table = Table(title=f"violations of {r.org_id}, worst first")
    for col in ("agent", "violating calls", "verified complaints"):
        table.add_column(col)
    for a in r.agents:
        table.add_row(a.agent_id or "(no agent)", str(a.violating_calls), str(a.verified_complaints))
    table.add_section()
    table.add_row("[bold]org total[/bold]", str(r.violating_calls), str(r.verified_complaints))
    console.print(table)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `report violations` under the `dncgate` parser."""
    rep = sub.add_parser("report", help="reports").add_subparsers(dest="sub", required=True)
    p = rep.add_parser("violations", help="violating calls and verified complaints per agent of an org")
    p.add_argument("--org", required=True)
    p.add_argument("--from", dest="from_time", type=time_arg, help="default: 30 days before --to")
    p.add_argument("--to", dest="to_time", type=time_arg, help="default: now")
    client(p, cmd_violations)
