"""`dncgate payouts`: the payment desk's view of the payout ledger, and its record of what was paid."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli import records
from dncgate.cli.args import Subparsers, choices, client, enum_arg, pages, request_id, time_arg
from dncgate.cli.output import Grid, enum_name, fmt_ts, kv, money, next_page
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc

_COLOURS = {"PAID": "green", "PENDING": "yellow"}


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = compensation_pb2_grpc.CompensationStub(channel).ListPayouts(
        pb.ListPayoutsRequest(
            status=ns.status,
            created_after=ns.after,
            created_before=ns.before,
            page_size=ns.page_size,
            page_token=ns.page_token,
            overdue_only=ns.overdue,
        ),
        timeout=ns.timeout,
    )
    columns = ("payout", "case", "consumer", "caller", "amount", "status", "booked", "due", "paid", "reference")
    table = Grid(
        "overdue payouts, newest first" if ns.overdue else "payouts, newest first",
        (*columns, "paid by"),
        keep=frozenset({"payout", "case", "consumer", "caller", "amount", "booked", "due", "paid", "reference"}),
    )
    for p in r.payouts:
        status = enum_name(pb.PayoutStatus, p.status, "PAYOUT_STATUS_")
        due = fmt_ts(p.due_at, p.HasField("due_at"))
        table.add_row(
            p.payout_id,
            p.case_id,
            p.consumer_number_masked,
            p.caller_number,
            money(p.amount),
            f"[{_COLOURS[status]}]{status}[/{_COLOURS[status]}]",
            fmt_ts(p.created_at),
            f"[red]{due} OVERDUE[/red]" if p.overdue else due,
            fmt_ts(p.paid_at, p.HasField("paid_at")),
            p.payment_reference or "-",
            p.paid_by or "-",
        )
    records.emit(ns, pb.Payout.DESCRIPTOR, r.payouts, lambda: table.print("no payouts"))
    next_page(r.next_page_token)
    return 0


def cmd_summary(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    s = compensation_pb2_grpc.CompensationStub(channel).GetFundSummary(
        pb.GetFundSummaryRequest(**{"from": ns.from_time, "to": ns.to_time, "period": ns.period}), timeout=ns.timeout
    )
    if ns.output != "table":  # the periods, one record each (the totals per currency are their sums)
        records.write(ns.output, pb.FundPeriod.DESCRIPTOR, s.periods)
        return 0
    amounts = frozenset({"period from", "pending amount", "overdue amount", "paid amount"})
    table = Grid(
        f"compensation fund per {ns.period} (pending by booking, paid by payment)",
        ("period from", "pending", "pending amount", "paid", "paid amount"),
        keep=amounts,
    )
    for p in s.periods:
        row = (fmt_ts(p.period_start), str(p.pending_count), money(p.pending_amount), str(p.paid_count))
        table.add_row(*row, money(p.paid_amount))
    table.print("no payouts")
    totals = Grid(
        "totals per currency (overdue: pending past the due date, now)",
        ("currency", "pending", "pending amount", "overdue", "overdue amount", "paid", "paid amount"),
        keep=amounts,
    )
    for t in s.totals:
        late = f"[red]{t.overdue_count}[/red]" if t.overdue_count else "0"
        pending = (str(t.pending_count), money(t.pending_amount))
        totals.add_row(t.currency, *pending, late, money(t.overdue_amount), str(t.paid_count), money(t.paid_amount))
    if s.totals:
        totals.print("none")
    return 0


def cmd_mark_paid(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    p = compensation_pb2_grpc.CompensationStub(channel).MarkPayoutPaid(
        pb.MarkPayoutPaidRequest(payout_id=ns.payout_id, payment_reference=ns.reference, request_id=ns.request_id),
        timeout=ns.timeout,
    )
    if ns.output != "table":
        records.write(ns.output, pb.Payout.DESCRIPTOR, [p])
        return 0
    kv(
        [
            ("payout", p.payout_id),
            ("case", p.case_id),
            ("consumer", p.consumer_number_masked),
            ("caller", p.caller_number),
            ("amount", money(p.amount)),
            ("status", enum_name(pb.PayoutStatus, p.status, "PAYOUT_STATUS_")),
            ("paid", fmt_ts(p.paid_at)),
            ("reference", p.payment_reference),
            ("paid by", p.paid_by or "-"),
        ]
    )
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `payouts list|summary|mark-paid` under the `dncgate` parser."""
    pay = sub.add_parser("payouts", help="the payout ledger").add_subparsers(dest="sub", required=True)
    p = pay.add_parser("list", help="payouts, newest first")
    p.add_argument(
        "--status",
        type=enum_arg(pb.PayoutStatus, "PAYOUT_STATUS_"),
        default=0,
        help="only payouts in this status: " + choices(pb.PayoutStatus, "PAYOUT_STATUS_"),
    )
    p.add_argument("--after", type=time_arg, help="booked at or after this ISO time")
    p.add_argument("--before", type=time_arg, help="booked before this ISO time")
    p.add_argument("--overdue", action="store_true", help="only the pending payouts past their due date")
    pages(p)
    records.add_flag(p, "each payout")
    client(p, cmd_list)
    p = pay.add_parser(
        "summary", help="count and sum of pending, overdue and paid payouts per period, totals per currency"
    )
    p.add_argument(
        "--from", dest="from_time", type=time_arg, help="booked or paid from this ISO time (default: no start)"
    )
    p.add_argument("--to", dest="to_time", type=time_arg, help="before this ISO time (default: no end)")
    p.add_argument("--period", choices=("day", "week", "month"), default="month", help="default month")
    records.add_flag(p, "each period")
    client(p, cmd_summary)
    p = pay.add_parser("mark-paid", help="record the payment system's confirmation (idempotent)")
    p.add_argument("payout_id", help="PO-... as `payouts list` shows it")
    p.add_argument("--reference", required=True, help="the payment system's reference")
    request_id(p)
    records.add_flag(p, "the payout")
    client(p, cmd_mark_paid)
