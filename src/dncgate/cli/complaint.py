"""`dncgate complaint`: the hotline operator's commands, from filing a complaint to closing its case."""

from __future__ import annotations

import argparse
from typing import Any

import grpc
from rich.table import Table

from dncgate.cli.args import Subparsers, client, enum_arg, pages, request_id, time_arg
from dncgate.cli.output import console, enum_name, fmt_ts, kv, money, next_page, reason_names
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc

_STATUS_COLOURS = {
    "VERIFIED": "green",
    "PARTIALLY_VERIFIED": "green",
    "REJECTED": "red",
    "MANUAL_REVIEW": "yellow",
    "ALREADY_COMPENSATED": "yellow",
}
_VERDICT_COLOURS = {
    "VERIFIED": "green",
    "CALLED_OUTSIDE_GATEWAY": "green",
    "ALREADY_COMPENSATED": "yellow",
    "RULE_VIOLATED": "yellow",
}


def _status(value: int) -> str:
    name = enum_name(pb.ComplaintStatus, value, "COMPLAINT_STATUS_")
    colour = _STATUS_COLOURS.get(name)
    return f"[{colour}]{name}[/{colour}]" if colour else name


def _verdict(value: int) -> str:
    name = enum_name(pb.Verdict, value, "VERDICT_")
    colour = _VERDICT_COLOURS.get(name)
    return f"[{colour}]{name}[/{colour}]" if colour else name


def _basis(f: Any) -> str:
    """What a verdict without calls rests on: the case that paid the number, the consent's evidence, the
    rules the calls broke (RULE_VIOLATED), or (no Check on record) whose registered line the number was."""
    parts = []
    if f.rules_broken:
        parts.append("broke " + ", ".join(reason_names(f.rules_broken)) + " (pays nothing)")
    if f.compensated_by_case_id:
        parts.append(f"paid by case {f.compensated_by_case_id}")
    if f.verdict == pb.VERDICT_CONSENT_ON_FILE:
        parts.append(f"consent: {f.consent_evidence or '(no evidence recorded)'}")
    if f.org_id:
        parts.append(f"line of {f.org_id}" + (f" / {f.agent_id}" if f.agent_id else "") + ", no Check on record")
    return "; ".join(parts) or "-"


def _stage(value: int) -> str:
    return enum_name(pb.Stage, value, "STAGE_")


def _sign_off(c: Any) -> list[tuple[str, str]]:
    """Her answer at confirmation, once she gave one."""
    if not c.HasField("resolved"):
        return []
    rows = [("resolved", "yes" if c.resolved else "no")]
    rows.append(("satisfaction", f"{c.satisfaction} of 5" if c.satisfaction else "- (not given)"))
    if c.remaining_issue:
        rows.append(("remaining issue", c.remaining_issue))
    return rows


def _revisit(c: Any) -> list[tuple[str, str]]:
    """When the revisit after closing is due (OVERDUE once it passed without one), the revisit, and the
    case this one recurs from."""
    rows: list[tuple[str, str]] = []
    if c.recurrence_of:
        rows.append(("recurrence of", c.recurrence_of))
    if c.HasField("closed_at"):
        rows.append(("closed", fmt_ts(c.closed_at)))
    if c.HasField("revisit_due"):
        rows.append(("revisit due", _deadline(c.revisit_due, c.revisit_overdue, "revisit")))
    if c.HasField("revisit"):
        r = c.revisit
        said = "[red]the problem recurred[/red]" if r.recurred else "the problem did not recur"
        rows.append(("revisited", f"{fmt_ts(r.at)} by {r.actor}: {said}"))
        rows.append(("rating", f"{r.rating} of 5" if r.rating else "- (not given)"))
        if r.note:
            rows.append(("revisit note", r.note))
        if r.recurrence_case_id:
            rows.append(("recurrence case", f"[bold]{r.recurrence_case_id}[/bold]"))
    return rows


def _update_due(c: Any) -> str:
    if not c.HasField("next_update_due"):
        return "- (closed)"
    due = fmt_ts(c.next_update_due)
    return f"[red]{due} OVERDUE: no update to the consumer since[/red]" if c.update_overdue else due


def _deadline(due: Any, overdue: bool, what: str) -> str:
    """A working-day due time, marked OVERDUE when it passed without `what`."""
    return f"[red]{fmt_ts(due)} OVERDUE: no {what} yet[/red]" if overdue else fmt_ts(due)


def _workday_deadlines(c: Any) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if c.HasField("regulator_reply_due"):
        replied = f" (replied {fmt_ts(c.regulator_replied_at)})" if c.HasField("regulator_replied_at") else ""
        rows.append(
            ("regulator reply due", _deadline(c.regulator_reply_due, c.regulator_reply_overdue, "reply") + replied)
        )
    if c.major:
        stated = [u for u in c.updates if u.kind == pb.UPDATE_KIND_PROGRESS_STATEMENT]
        done = f" (stated {fmt_ts(stated[0].at)})" if stated else ""
        due = _deadline(c.progress_statement_due, c.progress_statement_overdue, "progress statement")
        rows.append(("major", "yes"))
        rows.append(("progress statement due", due + done))
    return rows


_KINDS = {
    "progress": pb.UPDATE_KIND_PROGRESS,
    "regulator-reply": pb.UPDATE_KIND_REGULATOR_REPLY,
    "progress-statement": pb.UPDATE_KIND_PROGRESS_STATEMENT,
}


def _update_what(u: Any) -> str:
    if u.kind == pb.UPDATE_KIND_REGULATOR_REPLY:
        return "reply to the regulator" + (" (the consumer sees it)" if u.visible_to_consumer else "")
    if u.kind == pb.UPDATE_KIND_PROGRESS_STATEMENT:
        return "progress statement to the consumer"
    if u.kind == pb.UPDATE_KIND_EXTENSION:
        return f"extension: resolution due {fmt_ts(u.previous_resolution_due)} -> {fmt_ts(u.new_resolution_due)}"
    return "update to the consumer" if u.visible_to_consumer else "internal note"


def _print_complaint(c: Any) -> None:
    kv(
        [
            ("case", f"[bold]{c.case_id}[/bold]"),
            ("status", _status(c.status)),
            ("stage", _stage(c.stage)),
            ("assignee", c.assignee or "- (none recorded)"),
            ("consumer", c.consumer_number_masked),
            ("channel", enum_name(pb.Channel, c.channel, "CHANNEL_").lower()),
            ("calls between", f"{fmt_ts(c.occurred_after)} and {fmt_ts(c.occurred_before)}"),
            ("filed", fmt_ts(c.created_at)),
            ("first response due", fmt_ts(c.first_response_due)),
            ("resolution due", fmt_ts(c.resolution_due)),
            ("next update due", _update_due(c)),
            *_workday_deadlines(c),
            ("owed", f"[bold]{money(c.total_compensation)}[/bold]"),
            *([("description", c.description)] if c.description else []),
            *_sign_off(c),
            *_revisit(c),
        ]
    )
    timeline = Table(title="timeline")
    for col in ("at", "stage", "who"):
        timeline.add_column(col)
    for e in c.timeline:
        timeline.add_row(fmt_ts(e.at), _stage(e.stage), e.actor)
    console.print(timeline)
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
            escalate=ns.escalate,
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
            assignee=ns.assignee,
            stage=ns.stage,
            due_state=ns.due,
            regulator_reply_overdue_only=ns.regulator_overdue,
            page_size=ns.page_size,
            page_token=ns.page_token,
        ),
        timeout=ns.timeout,
    )
    table = Table(title="complaints, newest first")
    for col in ("case", "status", "stage", "assignee", "consumer", "filed", "resolution due", "verified", "owed"):
        table.add_column(col)
    for c in r.complaints:
        verified = sum(f.verdict in (pb.VERDICT_VERIFIED, pb.VERDICT_CALLED_OUTSIDE_GATEWAY) for f in c.findings)
        table.add_row(
            c.case_id,
            _status(c.status),
            _stage(c.stage),
            c.assignee or "-",
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
    if ns.satisfied is None and ns.resolved is None:
        console.print("[red]say --satisfied or --not-satisfied, or --resolved or --not-resolved[/red]")
        return 2
    req = pb.ConfirmResolutionRequest(
        case_id=ns.case_id,
        satisfied=ns.resolved if ns.satisfied is None else ns.satisfied,
        comment=ns.comment,
        request_id=ns.request_id,
        override_reason=ns.override_reason,
        resolved=ns.resolved,
        satisfaction=ns.satisfaction,
        remaining_issue=ns.remaining_issue,
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).ConfirmResolution(req, timeout=ns.timeout))
    return 0


def cmd_revisit(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.RecordRevisitRequest(
        case_id=ns.case_id, recurred=ns.recurred, rating=ns.rating, note=ns.note, request_id=ns.request_id
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).RecordRevisit(req, timeout=ns.timeout))
    return 0


def cmd_review(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ReviewComplaintRequest(case_id=ns.case_id, decision=ns.decision, note=ns.note, request_id=ns.request_id)
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).ReviewComplaint(req, timeout=ns.timeout))
    return 0


def cmd_update(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.AddComplaintUpdateRequest(
        case_id=ns.case_id,
        text=ns.text,
        visible_to_consumer=ns.visible,
        request_id=ns.request_id,
        kind=_KINDS[ns.kind],
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).AddComplaintUpdate(req, timeout=ns.timeout))
    return 0


def cmd_escalate(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.EscalateComplaintRequest(case_id=ns.case_id, reason=ns.reason, request_id=ns.request_id)
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).EscalateComplaint(req, timeout=ns.timeout))
    return 0


def cmd_forget(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ForgetConsumerRequest(consumer_number=ns.consumer, request_id=ns.request_id)
    r = compensation_pb2_grpc.CompensationStub(channel).ForgetConsumer(req, timeout=ns.timeout)
    kv(
        [
            ("erasure", f"[bold]{r.erasure_id}[/bold]"),
            ("erased at", fmt_ts(r.erased_at)),
            ("cases shredded", str(r.complaints_erased)),
            ("payouts shredded", str(r.payouts_erased)),
            ("texts rewritten", str(r.texts_rewritten)),
            ("calls masked", str(r.calls_masked)),
            ("kept", "the keyed do-not-disturb entry: she stays protected from calls"),
        ]
    )
    return 0


def cmd_extend(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.ExtendComplaintRequest(
        case_id=ns.case_id, reason=ns.reason, new_resolution_due=ns.until, request_id=ns.request_id
    )
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).ExtendComplaint(req, timeout=ns.timeout))
    return 0


def cmd_assign(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    req = pb.AssignComplaintRequest(case_id=ns.case_id, assignee=ns.name, note=ns.note, request_id=ns.request_id)
    _print_complaint(compensation_pb2_grpc.CompensationStub(channel).AssignComplaint(req, timeout=ns.timeout))
    return 0


def cmd_status(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    """What the consumer sees of her case (GetComplaintStatus): the case number and her number in."""
    req = pb.GetComplaintStatusRequest(case_id=ns.case_id, consumer_number=ns.consumer)
    p = compensation_pb2_grpc.CompensationStub(channel).GetComplaintStatus(req, timeout=ns.timeout)
    kv(
        [
            ("case", f"[bold]{p.case_id}[/bold]"),
            ("status", _status(p.status)),
            ("stage", _stage(p.stage)),
            ("in charge", p.assignee or "-"),
            ("consumer", p.consumer_number_masked),
            ("filed", fmt_ts(p.created_at)),
            ("first response due", fmt_ts(p.first_response_due)),
            ("resolution due", fmt_ts(p.resolution_due)),
            ("next update due", fmt_ts(p.next_update_due) if p.HasField("next_update_due") else "- (closed)"),
            ("owed", f"[bold]{money(p.total_compensation)}[/bold]"),
        ]
    )
    stages = Table(title="stages")
    for col in ("at", "stage"):
        stages.add_column(col)
    for e in p.timeline:
        stages.add_row(fmt_ts(e.at), _stage(e.stage))
    console.print(stages)
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
    """Register `complaint file|show|list|confirm|revisit|review|update|extend|assign|escalate|forget|status`."""
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
    p.add_argument(
        "--escalate",
        action="store_true",
        help="a major dispute: a progress statement is due in DNCGATE_MAJOR_PROGRESS_WORKDAYS working days",
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
    p.add_argument("--assignee", default="", help="only this operator's cases (her token's name)")
    p.add_argument(
        "--stage", type=enum_arg(pb.Stage, "STAGE_"), default=0, help="received, verifying, resolution-drafted, ..."
    )
    p.add_argument(
        "--due",
        type=enum_arg(pb.DueState, "DUE_STATE_"),
        default=0,
        help="only cases past this due time: first-response-overdue, resolution-overdue, update-overdue, "
        "revisit-overdue",
    )
    p.add_argument(
        "--regulator-overdue", action="store_true", help="only regulator cases past their reply's due time, unreplied"
    )
    pages(p)
    client(p, cmd_list)
    p = com.add_parser(
        "confirm",
        help="the consumer's answer: resolved with nothing remaining closes (once every payout is paid), else reopens",
    )
    p.add_argument("case_id")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--satisfied", dest="satisfied", action="store_true", default=None)
    g.add_argument("--not-satisfied", dest="satisfied", action="store_false")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--resolved",
        dest="resolved",
        action="store_true",
        default=None,
        help="she says it is resolved (default: as --satisfied)",
    )
    g.add_argument("--not-resolved", dest="resolved", action="store_false", help="she says it is not: the case reopens")
    p.add_argument("--satisfaction", type=int, default=0, help="how satisfied she is, 1-5 (default: not given)")
    p.add_argument("--remaining-issue", default="", help="what she says remains (masked); any text reopens the case")
    p.add_argument("--comment", default="")
    p.add_argument(
        "--override-reason",
        default="",
        help="supervisor: close although a payout is still pending, and why (recorded in the history)",
    )
    request_id(p)
    client(p, cmd_confirm)
    p = com.add_parser(
        "revisit", help="the revisit of a closed case: did the calls come back? (recurred opens a linked case)"
    )
    p.add_argument("case_id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--recurred", dest="recurred", action="store_true", help="they did: a linked case is opened")
    g.add_argument("--not-recurred", dest="recurred", action="store_false", help="they did not")
    p.add_argument("--rating", type=int, default=0, help="her rating of the handling, 1-5 (default: not given)")
    p.add_argument("--note", default="", help="what she said (numbers in it are masked)")
    request_id(p)
    client(p, cmd_revisit)
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
    p.add_argument(
        "--kind",
        choices=sorted(_KINDS),
        default="progress",
        help="regulator-reply: the reply to a regulator case (internal unless --visible); progress-statement: "
        "a major case's statement (always visible)",
    )
    request_id(p)
    client(p, cmd_update)
    p = com.add_parser("extend", help="give an open case a later resolution due time, and say why (she sees it)")
    p.add_argument("case_id")
    p.add_argument("--reason", required=True, help="why it needs longer (numbers in it are masked)")
    p.add_argument("--until", type=time_arg, required=True, help="the new resolution due time, ISO")
    request_id(p)
    client(p, cmd_extend)
    p = com.add_parser("assign", help="hand a case (any status but CLOSED) to another operator")
    p.add_argument("case_id")
    p.add_argument("name", help="the operator's token name; she needs a live hotline or supervisor token")
    p.add_argument("--note", default="", help="why (recorded in the history, numbers masked)")
    request_id(p)
    client(p, cmd_assign)
    p = com.add_parser("escalate", help="mark an open case major: a progress statement is due in working days")
    p.add_argument("case_id")
    p.add_argument("--reason", required=True, help="why the dispute is major (numbers in it are masked)")
    request_id(p)
    client(p, cmd_escalate)
    p = com.add_parser(
        "forget", help="admin: erase a consumer's number (her deletion request); her do-not-disturb entry stays"
    )
    p.add_argument("consumer", help="the consumer's number")
    request_id(p)
    client(p, cmd_forget)
    p = com.add_parser("status", help="what the consumer sees of her case: the case number and her number in")
    p.add_argument("case_id")
    p.add_argument("consumer", help="her number; a wrong one is answered exactly as an unknown case")
    client(p, cmd_status)
