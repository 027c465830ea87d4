"""`dncgate complaint|payouts|report`: the hotline operator's and the payment desk's commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import grpc
from rich.table import Table

from dncgate.cli import _enum_arg, _fmt_ts, _kv, _name, _time_arg, console
from dncgate.domain.money import Money, exponent
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc

Client = Callable[[argparse.ArgumentParser, Callable[[argparse.Namespace, grpc.Channel], int]], None]
_COLOURS = {"VERIFIED": "green", "ALREADY_COMPENSATED": "yellow", "PAID": "green", "PENDING": "yellow"}


def _stub(channel: grpc.Channel) -> Any:
    return compensation_pb2_grpc.CompensationStub(channel)


def _money(m: Any) -> str:
    if not m.currency_code:
        return "-"
    digits = exponent(m.currency_code)
    return str(Money(m.units * 10**digits + m.nanos // 10 ** (9 - digits), m.currency_code))


def _status(value: int) -> str:
    name = _name(pb.ComplaintStatus, value, "COMPLAINT_STATUS_")
    colour = {"VERIFIED": "green", "PARTIALLY_VERIFIED": "green", "REJECTED": "red", "MANUAL_REVIEW": "yellow"}
    return f"[{colour[name]}]{name}[/{colour[name]}]" if name in colour else name


def _verdict(value: int) -> str:
    name = _name(pb.Verdict, value, "VERDICT_")
    return f"[{_COLOURS[name]}]{name}[/{_COLOURS[name]}]" if name in _COLOURS else name


def _print_complaint(c: Any) -> None:
    _kv(
        [
            ("case", f"[bold]{c.case_id}[/bold]"),
            ("status", _status(c.status)),
            ("consumer", c.consumer_number_masked),
            ("channel", _name(pb.Channel, c.channel, "CHANNEL_").lower()),
            ("calls between", f"{_fmt_ts(c.occurred_after)} and {_fmt_ts(c.occurred_before)}"),
            ("filed", _fmt_ts(c.created_at)),
            ("first response due", _fmt_ts(c.first_response_due)),
            ("resolution due", _fmt_ts(c.resolution_due)),
            ("owed", f"[bold]{_money(c.total_compensation)}[/bold]"),
            *([("description", c.description)] if c.description else []),
        ]
    )
    findings = Table(title="findings")
    for col in ("caller", "verdict", "calls", "payout", "amount"):
        findings.add_column(col)
    for f in c.findings:
        findings.add_row(
            f.caller_number, _verdict(f.verdict), "\n".join(f.call_ids) or "-", f.payout_id or "-", _money(f.amount)
        )
    console.print(findings)
    history = Table(title="history")
    for col in ("at", "who", "what", "note"):
        history.add_column(col)
    for h in c.history:
        history.add_row(_fmt_ts(h.at), h.actor, h.action, h.note)
    console.print(history)


def _next(token: str) -> None:
    if token:
        console.print(f"more: --page-token {token}")


def cmd_file(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    c = _stub(channel).FileComplaint(
        pb.FileComplaintRequest(
            consumer_number=ns.consumer,
            caller_numbers=ns.caller,
            occurred_after=ns.after,
            occurred_before=ns.before,
            channel=ns.channel,
            description=ns.description,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    _print_complaint(c)
    return 0


def cmd_show(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    _print_complaint(_stub(channel).GetComplaint(pb.GetComplaintRequest(case_id=ns.case_id), timeout=ns.timeout))
    return 0


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = _stub(channel).ListComplaints(
        pb.ListComplaintsRequest(
            consumer_number=ns.consumer,
            status=ns.status,
            overdue_only=ns.overdue,
            page_size=ns.page_size,
            page_token=ns.page_token,
        ),
        timeout=ns.timeout,
    )
    table = Table(title="complaints, newest first")
    for col in ("case", "status", "consumer", "filed", "resolution due", "verified", "owed"):
        table.add_column(col)
    for c in r.complaints:
        verified = sum(f.verdict == pb.VERDICT_VERIFIED for f in c.findings)
        table.add_row(
            c.case_id,
            _status(c.status),
            c.consumer_number_masked,
            _fmt_ts(c.created_at),
            _fmt_ts(c.resolution_due),
            f"{verified} of {len(c.findings)}",
            _money(c.total_compensation),
        )
    console.print(table)
    _next(r.next_page_token)
    return 0


def cmd_confirm(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ConfirmResolutionRequest(
        case_id=ns.case_id, satisfied=ns.satisfied, comment=ns.comment, request_id=ns.request_id
    )
    _print_complaint(_stub(channel).ConfirmResolution(req, timeout=ns.timeout))
    return 0


def cmd_review(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ReviewComplaintRequest(
        case_id=ns.case_id, decision=ns.decision, note=ns.note, operator_id=ns.operator, request_id=ns.request_id
    )
    _print_complaint(_stub(channel).ReviewComplaint(req, timeout=ns.timeout))
    return 0


def cmd_payouts_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = _stub(channel).ListPayouts(
        pb.ListPayoutsRequest(
            status=ns.status,
            created_after=ns.after,
            created_before=ns.before,
            page_size=ns.page_size,
            page_token=ns.page_token,
        ),
        timeout=ns.timeout,
    )
    table = Table(title="payouts, newest first")
    for col in ("payout", "case", "consumer", "caller", "amount", "status", "booked", "paid", "reference"):
        table.add_column(col)
    for p in r.payouts:
        status = _name(pb.PayoutStatus, p.status, "PAYOUT_STATUS_")
        table.add_row(
            p.payout_id,
            p.case_id,
            p.consumer_number_masked,
            p.caller_number,
            _money(p.amount),
            f"[{_COLOURS[status]}]{status}[/{_COLOURS[status]}]",
            _fmt_ts(p.created_at),
            _fmt_ts(p.paid_at, p.HasField("paid_at")),
            p.payment_reference or "-",
        )
    console.print(table)
    _next(r.next_page_token)
    return 0


def cmd_payouts_summary(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    s = _stub(channel).GetFundSummary(
        pb.GetFundSummaryRequest(**{"from": ns.from_time, "to": ns.to_time, "period": ns.period}), timeout=ns.timeout
    )
    table = Table(title=f"compensation fund per {ns.period} (pending by booking, paid by payment)")
    for col in ("period from", "pending", "pending amount", "paid", "paid amount"):
        table.add_column(col)
    for p in s.periods:
        row = (_fmt_ts(p.period_start), str(p.pending_count), _money(p.pending_amount), str(p.paid_count))
        table.add_row(*row, _money(p.paid_amount))
    table.add_section()
    table.add_row(
        "[bold]total[/bold]", str(s.pending_count), _money(s.pending_amount), str(s.paid_count), _money(s.paid_amount)
    )
    console.print(table)
    return 0


def cmd_mark_paid(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    p = _stub(channel).MarkPayoutPaid(
        pb.MarkPayoutPaidRequest(payout_id=ns.payout_id, payment_reference=ns.reference, request_id=ns.request_id),
        timeout=ns.timeout,
    )
    _kv(
        [
            ("payout", p.payout_id),
            ("case", p.case_id),
            ("consumer", p.consumer_number_masked),
            ("caller", p.caller_number),
            ("amount", _money(p.amount)),
            ("status", _name(pb.PayoutStatus, p.status, "PAYOUT_STATUS_")),
            ("paid", _fmt_ts(p.paid_at)),
            ("reference", p.payment_reference),
        ]
    )
    return 0


def cmd_report_violations(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = _stub(channel).ReportViolations(
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


def add_hotline_commands(sub: Any, client: Client, request_id: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `complaint`, `payouts` and `report` under the `dncgate` parser."""
    status = _enum_arg(pb.ComplaintStatus, "COMPLAINT_STATUS_")
    payout_status = _enum_arg(pb.PayoutStatus, "PAYOUT_STATUS_")

    def pages(p: argparse.ArgumentParser) -> None:
        p.add_argument("--page-size", type=int, default=0, help="default 50, at most 500")
        p.add_argument("--page-token", default="", help="from the previous page's 'more:' line")

    com = sub.add_parser("complaint", help="the complaint hotline").add_subparsers(dest="sub", required=True)
    p = com.add_parser("file", help="file a complaint and get the verdict per caller number at once")
    p.add_argument("consumer", help="the consumer's number (stored only keyed, masked and sealed)")
    p.add_argument("--caller", action="append", required=True, help="a number that called; repeatable")
    p.add_argument("--after", type=_time_arg, help="calls from this ISO time (default: 30 days before --before)")
    p.add_argument("--before", type=_time_arg, help="calls until this ISO time (default: now)")
    p.add_argument("--channel", type=_enum_arg(pb.Channel, "CHANNEL_"), default=pb.CHANNEL_HOTLINE)
    p.add_argument("--description", default="", help="what the consumer says (numbers in it are masked)")
    request_id(p)
    client(p, cmd_file)
    p = com.add_parser("show", help="a case with its findings and history")
    p.add_argument("case_id")
    client(p, cmd_show)
    p = com.add_parser("list", help="cases, newest first")
    p.add_argument("--consumer", default="", help="only this consumer's cases")
    p.add_argument("--status", type=status, default=0, help="verified, manual-review, reopened, ...")
    p.add_argument("--overdue", action="store_true", help="only open cases past their due time")
    pages(p)
    client(p, cmd_list)
    p = com.add_parser("confirm", help="the consumer's answer: satisfied (closes) or not (reopens)")
    p.add_argument("case_id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--satisfied", dest="satisfied", action="store_true")
    g.add_argument("--not-satisfied", dest="satisfied", action="store_false")
    p.add_argument("--comment", default="")
    request_id(p)
    client(p, cmd_confirm)
    p = com.add_parser("review", help="decide a MANUAL_REVIEW or REOPENED case (audited)")
    p.add_argument("case_id")
    p.add_argument("--decision", type=status, required=True, help="verified or rejected")
    p.add_argument("--note", required=True, help="why")
    p.add_argument("--operator", required=True, help="your operator id")
    request_id(p)
    client(p, cmd_review)

    pay = sub.add_parser("payouts", help="the payout ledger").add_subparsers(dest="sub", required=True)
    p = pay.add_parser("list", help="payouts, newest first")
    p.add_argument("--status", type=payout_status, default=0, help="pending or paid")
    p.add_argument("--after", type=_time_arg, help="booked at or after this ISO time")
    p.add_argument("--before", type=_time_arg, help="booked before this ISO time")
    pages(p)
    client(p, cmd_payouts_list)
    p = pay.add_parser("summary", help="count and sum of pending and paid payouts per period")
    p.add_argument("--from", dest="from_time", type=_time_arg)
    p.add_argument("--to", dest="to_time", type=_time_arg)
    p.add_argument("--period", choices=("day", "week", "month"), default="month")
    client(p, cmd_payouts_summary)
    p = pay.add_parser("mark-paid", help="record the payment system's confirmation (idempotent)")
    p.add_argument("payout_id")
    p.add_argument("--reference", required=True, help="the payment system's reference")
    request_id(p)
    client(p, cmd_mark_paid)

    rep = sub.add_parser("report", help="reports").add_subparsers(dest="sub", required=True)
    p = rep.add_parser("violations", help="violating calls and verified complaints per agent of an org")
    p.add_argument("--org", required=True)
    p.add_argument("--from", dest="from_time", type=_time_arg, help="default: 30 days before --to")
    p.add_argument("--to", dest="to_time", type=_time_arg, help="default: now")
    client(p, cmd_report_violations)
