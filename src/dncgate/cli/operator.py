"""`dncgate operator`: an operator takes new cases from the hotline's queue (available) or not (away)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import grpc

from dncgate.cli.args import Subparsers, client
from dncgate.cli.output import fmt_ts, kv
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc


def _set(available: bool) -> Callable[[argparse.Namespace, grpc.Channel], int]:
    def run(ns: argparse.Namespace, channel: grpc.Channel) -> int:
        req = pb.SetOperatorAvailabilityRequest(available=available, operator=ns.operator)
        o = compensation_pb2_grpc.CompensationStub(channel).SetOperatorAvailability(req, timeout=ns.timeout)
        kv(
            [
                ("operator", f"[bold]{o.name}[/bold]"),
                ("takes new cases", "[green]yes (available)[/green]" if o.available else "no (away)"),
                ("set by", f"{o.updated_by} at {fmt_ts(o.updated_at)}"),
                ("cases from the queue", str(o.assigned_count)),
            ]
        )
        return 0

    return run


def add_commands(sub: Subparsers) -> None:
    """Register `operator available|away` under the `dncgate` parser."""
    op = sub.add_parser("operator", help="the hotline's queue of operators").add_subparsers(dest="sub", required=True)
    for name, available, help in (
        ("available", True, "take new cases: round-robin assigns them to the available operators"),
        ("away", False, "take no new cases (cases already yours stay yours)"),
    ):
        p = op.add_parser(name, help=help)
        p.add_argument(
            "--operator", default="", help="someone else's name (supervisor or admin); default: your token's name"
        )
        client(p, _set(available))
