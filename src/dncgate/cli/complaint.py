"""`dncgate complaint`: the hotline operator's commands, from filing a complaint to closing its case."""

from __future__ import annotations

import argparse
from typing import Any

import grpc
from rich.table import Table

from dncgate.cli.args import Subparsers, client, enum_arg, pages, request_id, time_arg
from dncgate.cli.output import console, enum_name, fmt_ts, kv, money, next_page
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc

_STATUS_COLOURS = {
    "VERIFIED": "green",
    "PARTIALLY_VERIFIED": "green",
    "REJECTED": "red",
    "MANUAL_REVIEW": "yellow",
    "ALREADY_COMPENSATED": "yellow",
}
_VERDICT_COLOURS = {"VERIFIED": "green", "ALREADY_COMPENSATED": "yellow"}


def _status(value: int) -> str:
    name = enum_name(pb.ComplaintStatus, value, "COMPLAINT_STATUS_")
    colour = _STATUS_COLOURS.get(name)
    return f"[{colour}]{name}[/{colour}]" if colour else name


def _verdict(value: int) -> str:
    name = enum_name(pb.Verdict, value, "VERDICT_")
    colour = _VERDICT_COLOURS.get(name)
    return f"[{colour}]{name}[/{colour}]" if colour else name


def _basis(f: Any) -> str:
    """What a zero verdict rests on: the case that paid the number, or the consent's evidence."""
    if f.compensated_by_case_id:
        return f"paid by case {f.compensated_by_case_id}"
    if f.verdict == pb.VERDICT_CONSENT_ON_FILE:
        return f"consent: {f.consent_evidence or '(no evidence recorded)'}"
    return "-"


def _update_due(c: Any) -> str:
    if not c.HasField("next_update_due"):
        return "- (closed)"
    due = fmt_ts(c.next_update_due)
    return f"[red]{due} OVERDUE: no update to the consumer since[/red]" if c.update_overdue else due


def _update_what(u: Any) -> str:
    if u.kind == pb.UPDATE_KIND_EXTENSION:
        return f"extension: resolution due {fmt_ts(u.previous_resolution_due)} -> {fmt_ts(u.new_resolution_due)}"
    return "update to the consumer" if u.visible_to_consumer else "internal note"


def _print_complaint(c: Any) -> None:
    kv(
        [
            ("case", f"[bold]{c.case_id}[/bold]"),
            ("status", _status(c.status)),
            ("consumer", c.consumer_number_masked),
            ("channel", enum_name(pb.Channel, c.channel, "CHANNEL_").lower()),
            ("calls between", f"{fmt_ts(c.occurred_after)} and {fmt_ts(c.occurred_before)}"),
            ("filed", fmt_ts(c.created_at)),
            ("first response due", fmt_ts(c.first_response_due)),
            ("resolution due", fmt_ts(c.resolution_due)),
            ("next update due", _update_due(c)),
            ("owed", f"[bold]{money(c.total_compensation)}[/bold]"),
            *([("description", c.description)] if c.description else []),
        ]
    )
    findings = Table(title="findings")
    for col in ("caller", "verdict", "calls", "payout", "amount", "basis"):
        findings.add_column(col)
    for f in c.findings:
        findings.add_row(
            f.caller_number,
            _verdict(f.verdict),
            "\n".join(f.call_ids) or "-",
            f.payout_id or "-",
            money(f.amount),
            _basis(f),
        )
    console.print(findings)
    history = Table(title="history")
    for col in ("at", "who", "what", "note"):
        history.add_column(col)
    for h in c.history:
        history.add_row(fmt_ts(h.at), h.actor, h.action, h.note)
    console.print(history)
    if c.updates:
        updates = Table(title="updates")
        for col in ("at", "who", "what", "text"):
            updates.add_column(col)
        for u in c.updates:
            updates.add_row(fmt_ts(u.at), u.author, _update_what(u), u.text)
        console.print(updates)


def cmd_file(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    c = compensation_pb2_grpc.CompensationStub(channel).FileComplaint(
        pb.FileComplaintRequest(
            consumer_number=ns.consumer,
            caller_numbers=ns.caller,
            occurred_after=ns.after,
            occurred_before=ns.before,
            channel=ns.channel,
            description=ns.description,
            request_id=ns.request_id,
            disputes_consent=ns.disputes_consent,
        ),
        timeout=ns.timeout,
    )
    _print_complaint(c)
    return 0


def cmd_show(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = compensation_pb2_grpc.CompensationStub(channel)
    _print_complaint(stub.GetComplaint(pb.GetComplaintRequest(case_id=ns.case_id), timeout=ns.timeout))
    return 0


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = compensation_pb2_grpc.CompensationStub(channel).ListComplaints(
        pb.ListComplaintsRequest(
            consumer_number=ns.consumer,
            status=ns.status,
            overdue_only=ns.overdue,
            update_overdue_only=ns.update_overdue,
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
            fmt_ts(c.created_at),
            fmt_ts(c.resolution_due),
            f"{verified} of {len(c.findings)}",
            money(c.total_compensation),
        )
    console.print(table)
    next_page(r.next_page_token)
    return 0


def cmd_confirm(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ConfirmResolutionRequest(
        case_id=ns.case_id,
        satisfied=ns.satisfied,
        comment=ns.comment,
        request_id=ns.request_id,
        override_reason=ns.override_reason,
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).ConfirmResolution(req, timeout=ns.timeout))
    return 0


def cmd_review(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ReviewComplaintRequest(case_id=ns.case_id, decision=ns.decision, note=ns.note, request_id=ns.request_id)
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).ReviewComplaint(req, timeout=ns.timeout))
    return 0


def cmd_update(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.AddComplaintUpdateRequest(
        case_id=ns.case_id, text=ns.text, visible_to_consumer=ns.visible, request_id=ns.request_id
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).AddComplaintUpdate(req, timeout=ns.timeout))
    return 0


def cmd_extend(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ExtendComplaintRequest(
        case_id=ns.case_id, reason=ns.reason, new_resolution_due=ns.until, request_id=ns.request_id
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).ExtendComplaint(req, timeout=ns.timeout))
    return 0


def cmd_status(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    """What the consumer sees of her case (GetComplaintStatus): the case number and her number in."""
    req = pb.GetComplaintStatusRequest(case_id=ns.case_id, consumer_number=ns.consumer)
    p = compensation_pb2_grpc.CompensationStub(channel).GetComplaintStatus(req, timeout=ns.timeout)
    kv(
        [
            ("case", f"[bold]{p.case_id}[/bold]"),
            ("status", _status(p.status)),
            ("consumer", p.consumer_number_masked),
            ("filed", fmt_ts(p.created_at)),
            ("first response due", fmt_ts(p.first_response_due)),
            ("resolution due", fmt_ts(p.resolution_due)),
            ("next update due", fmt_ts(p.next_update_due) if p.HasField("next_update_due") else "- (closed)"),
            ("owed", f"[bold]{money(p.total_compensation)}[/bold]"),
        ]
    )
    callers = Table(title="numbers she named")
    for col in ("caller", "verdict", "amount"):
        callers.add_column(col)
    for c in p.callers:
        callers.add_row(c.caller_number, _verdict(c.verdict), money(c.amount))
    console.print(callers)
    if p.payouts:
        paid = Table(title="payouts")
        for col in ("caller", "amount", "status", "due", "paid"):
            paid.add_column(col)
        for o in p.payouts:
            status = enum_name(pb.PayoutStatus, o.status, "PAYOUT_STATUS_")
            paid.add_row(o.caller_number, money(o.amount), status, fmt_ts(o.due_at), fmt_ts(o.paid_at))
        console.print(paid)
    if p.updates:
        updates = Table(title="updates")
        for col in ("at", "update"):
            updates.add_column(col)
        for u in p.updates:
            moved = u.kind == pb.UPDATE_KIND_EXTENSION
            updates.add_row(fmt_ts(u.at), u.text + (f" (now due {fmt_ts(u.new_resolution_due)})" if moved else ""))
        console.print(updates)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `complaint file|show|list|confirm|review|update|extend|status` under the `dncgate` parser."""
    status = enum_arg(pb.ComplaintStatus, "COMPLAINT_STATUS_")
    com = sub.add_parser("complaint", help="the complaint hotline").add_subparsers(dest="sub", required=True)
    p = com.add_parser("file", help="file a complaint and get the verdict per caller number at once")
    p.add_argument("consumer", help="the consumer's number (stored only keyed, masked and sealed)")
    p.add_argument("--caller", action="append", required=True, help="a number that called; repeatable")
    p.add_argument("--after", type=time_arg, help="calls from this ISO time (default: 30 days before --before)")
    p.add_argument("--before", type=time_arg, help="calls until this ISO time (default: now)")
    p.add_argument("--channel", type=enum_arg(pb.Channel, "CHANNEL_"), default=pb.CHANNEL_HOTLINE)
    p.add_argument("--description", default="", help="what the consumer says (numbers in it are masked)")
    p.add_argument(
        "--disputes-consent",
        action="store_true",
        help="she says a consent on file is not valid: a consented caller sends the case to manual review",
    )
    request_id(p)
    client(p, cmd_file)
    p = com.add_parser("show", help="a case with its findings and history")
    p.add_argument("case_id")
    client(p, cmd_show)
    p = com.add_parser("list", help="cases, newest first")
    p.add_argument("--consumer", default="", help="only this consumer's cases")
    p.add_argument("--status", type=status, default=0, help="verified, manual-review, reopened, ...")
    p.add_argument("--overdue", action="store_true", help="only open cases past their due time")
    p.add_argument("--update-overdue", action="store_true", help="only cases past their next update's due time")
    pages(p)
    client(p, cmd_list)
    p = com.add_parser(
        "confirm", help="the consumer's answer: satisfied (closes once every payout is paid) or not (reopens)"
    )
    p.add_argument("case_id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--satisfied", dest="satisfied", action="store_true")
    g.add_argument("--not-satisfied", dest="satisfied", action="store_false")
    p.add_argument("--comment", default="")
    p.add_argument(
        "--override-reason",
        default="",
        help="supervisor: close although a payout is still pending, and why (recorded in the history)",
    )
    request_id(p)
    client(p, cmd_confirm)
    p = com.add_parser("review", help="decide a MANUAL_REVIEW or REOPENED case (recorded as your token's principal)")
    p.add_argument("case_id")
    p.add_argument("--decision", type=status, required=True, help="verified or rejected")
    p.add_argument("--note", required=True, help="why")
    request_id(p)
    client(p, cmd_review)
    p = com.add_parser("update", help="record progress on a case (any status but CLOSED), as your token's principal")
    p.add_argument("case_id")
    p.add_argument("--text", required=True, help="what was done (numbers in it are masked)")
    p.add_argument(
        "--visible",
        action="store_true",
        help="the consumer sees it; only a visible update restarts the DNCGATE_UPDATE_HOURS clock",
    )
    request_id(p)
    client(p, cmd_update)
    p = com.add_parser("extend", help="give an open case a later resolution due time, and say why (she sees it)")
    p.add_argument("case_id")
    p.add_argument("--reason", required=True, help="why it needs longer (numbers in it are masked)")
    p.add_argument("--until", type=time_arg, required=True, help="the new resolution due time, ISO")
    request_id(p)
    client(p, cmd_extend)
    p = com.add_parser("status", help="what the consumer sees of her case: the case number and her number in")
    p.add_argument("case_id")
    p.add_argument("consumer", help="her number; a wrong one is answered exactly as an unknown case")
    client(p, cmd_status)
