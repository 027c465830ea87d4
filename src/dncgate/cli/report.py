"""`dncgate report`: what an org's agents did (violating calls, verified complaints), and how the hotline
served its cases (answered, resolved and updated in time, regulator replies, satisfaction, revisits, payouts)."""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rich.table import Table

from dncgate.cli import records
from dncgate.cli.args import Subparsers, client, time_arg
from dncgate.cli.output import Grid, console, reason_names
from dncgate.v1 import compensation_pb2 as pb
from dncgate.v1 import compensation_pb2_grpc


def cmd_violations(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    r = compensation_pb2_grpc.CompensationStub(channel).ReportViolations(
        pb.ReportViolationsRequest(**{"org_id": ns.org, "from": ns.from_time, "to": ns.to_time}), timeout=ns.timeout
    )
    if ns.output != "table":
        records.write(ns.output, pb.AgentViolations.DESCRIPTOR, r.agents)
        return 0
    table = Grid(
        f"violations of {r.org_id}, worst first",
        (
            "agent",
            "violating calls",
            "by reason",
            "verified complaints",
            "of them outside the gateway",
            "rule violations (unpaid)",
        ),
        keep=frozenset({"agent"}),
    )
    for a in r.agents:
        table.add_row(a.agent_id or "(no agent)", *_counts(a))
    if r.agents:
        table.add_row("[bold]org total[/bold]", *_counts(r))
    table.print("no violations")
    return 0


def _counts(v: Any) -> tuple[str, ...]:
    """An agent's (or the org's) figures, in the table's column order."""
    names = reason_names(c.reason for c in v.violating_calls_by_reason)
    by_reason = ", ".join(f"{n} {c.calls}" for n, c in zip(names, v.violating_calls_by_reason, strict=True))
    return (
        str(v.violating_calls),
        by_reason or "-",
        str(v.verified_complaints),
        str(v.calls_outside_gateway),
        str(v.rule_violation_complaints),
    )


def _share(s: Any) -> str:
    """`71% (5/7)`; `-` when nothing was counted."""
    return f"{round(100 * s.met / s.of)}% ({s.met}/{s.of})" if s.of else "-"


def _period(start: Timestamp, period: str, zone: str) -> str:
    """The period's name in the hotline's zone: `2026-03`, `2026-03-05`, `week of 2026-03-02`."""
    local = start.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo(zone or "UTC"))
    if period == "month":
        return local.strftime("%Y-%m")
    return local.strftime("%Y-%m-%d") if period == "day" else f"week of {local:%Y-%m-%d}"


def _figures(f: Any) -> tuple[str, ...]:
    pending = f" +{f.answer_pending} pending" if f.answer_pending else ""
    resolving = f" +{f.resolution_pending} pending" if f.resolution_pending else ""
    mean = f"{f.mean_satisfaction:.1f} ({f.rated})" if f.HasField("mean_satisfaction") else "-"
    return (
        str(f.cases_filed),
        _share(f.answered_in_time) + pending,
        _share(f.resolved_in_time) + resolving,
        str(f.updates_overdue),
        _share(f.regulator_replies_on_time),
        mean,
        str(f.revisits_done),
        str(f.revisits_on_time),
        str(f.revisits_overdue),
        str(f.recurrences),
        _share(f.payouts_paid_on_time),
    )


def cmd_service(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    request = {"from": ns.from_time, "to": ns.to_time, "period": ns.period, "assignee": ns.assignee or ""}
    r = compensation_pb2_grpc.CompensationStub(channel).ReportService(
        pb.ReportServiceRequest(**request), timeout=ns.timeout
    )
    if ns.output != "table":
        records.write(ns.output, pb.ServicePeriod.DESCRIPTOR, r.periods)
        return 0
    whose = f" of {ns.assignee}" if ns.assignee else ""
    table = Table(title=f"service per {r.period} of filing ({r.time_zone}) and assignee{whose}")
    columns = (
        "period",
        "assignee",
        "filed",
        f"answered <= {r.first_response_hours} h",
        f"resolved <= {r.resolution_hours} h",
        f"update gap > {r.update_hours} h",
        "regulator on time",
        "satisfaction (rated)",
        "revisits",
        "on time",
        "overdue",
        "recurred",
        "payouts on time",
    )
    names = [_period(p.period_start, r.period, r.time_zone) for p in r.periods]
    # the period (a time) is never cut or wrapped, at any width: the figures' columns wrap instead
    table.add_column(columns[0], no_wrap=True, min_width=max([len(columns[0]), *map(len, names)]))
    for col in columns[1:]:
        table.add_column(col)
    for p, name in zip(r.periods, names, strict=True):
        for a in p.assignees:
            table.add_row(name, a.assignee or "(unassigned)", *_figures(a.figures))
        if len(p.assignees) > 1:
            table.add_row(name, "[bold]all[/bold]", *_figures(p.total))
        table.add_section()
    table.add_row("[bold]total[/bold]", "", *_figures(r.total))
    console.print(table)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `report violations` and `report service` under the `dncgate` parser."""
    rep = sub.add_parser("report", help="reports").add_subparsers(dest="sub", required=True)
    p = rep.add_parser("violations", help="violating calls and verified complaints per agent of an org")
    p.add_argument("--org", required=True, help="the org whose agents are reported")
    p.add_argument(
        "--from", dest="from_time", type=time_arg, help="calls from this ISO time (default: 30 days before --to)"
    )
    p.add_argument("--to", dest="to_time", type=time_arg, help="calls until this ISO time (default: now)")
    records.add_flag(p, "each agent")
    client(p, cmd_violations)
    p = rep.add_parser("service", help="how the hotline served its cases, per period of filing and assignee")
    p.add_argument("--from", dest="from_time", type=time_arg, help="cases filed from (default: the first)")
    p.add_argument("--to", dest="to_time", type=time_arg, help="cases filed before (default: no end)")
    p.add_argument("--period", choices=("day", "week", "month"), default="month", help="default month")
    p.add_argument("--assignee", help="only this operator's cases")
    records.add_flag(p, "each period (its assignees nested)")
    client(p, cmd_service)
