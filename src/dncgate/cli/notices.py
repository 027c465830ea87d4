"""`dncgate notices`: the consumer notices in the outbox, with whether (and when) each was delivered."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli import records
from dncgate.cli.args import Subparsers, client, pages
from dncgate.cli.output import Grid, enum_name, fmt_ts, next_page
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = compensation_pb2_grpc.CompensationStub(channel).ListNotifications(
        pb.ListNotificationsRequest(case_id=ns.case, page_size=ns.page_size, page_token=ns.page_token),
        timeout=ns.timeout,
    )
    table = Grid(
        f"notices of {ns.case}, newest first" if ns.case else "notices, newest first",
        ("notice", "case", "kind", "to", "created", "delivered", "attempts", "text"),
        keep=frozenset({"notice", "case", "to", "created", "delivered"}),
    )
    for n in r.notifications:
        delivered = fmt_ts(n.delivered_at) if n.HasField("delivered_at") else "[yellow]pending[/yellow]"
        failed = f"\n[red]last attempt: {n.last_error}[/red]" if n.last_error else ""
        table.add_row(
            n.notification_id,
            n.case_id,
            enum_name(pb.NotificationKind, n.kind, "NOTIFICATION_KIND_"),
            n.destination_masked,
            fmt_ts(n.created_at),
            delivered,
            str(n.attempts),
            n.text + failed,
        )
    records.emit(ns, pb.Notification.DESCRIPTOR, r.notifications, lambda: table.print("no notices"))
    next_page(r.next_page_token)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `notices list` under the `dncgate` parser."""
    group = sub.add_parser("notices", help="the consumer notices (outbox)").add_subparsers(dest="sub", required=True)
    p = group.add_parser("list", help="notices, newest first, with their delivery state")
    p.add_argument("--case", default="", help="only this case's notices (DNC-YYYYMMDD-NNNNNN)")
    pages(p)
    records.add_flag(p, "each notice")
    client(p, cmd_list)
