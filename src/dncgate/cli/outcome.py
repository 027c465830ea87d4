"""`dncgate report-outcome CALL_ID`: what became of an ALLOWed call (ReportCallOutcome), as a dialer reports it."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli import records
from dncgate.cli.args import Subparsers, client, request_id
from dncgate.cli.output import err_console, kv
from dncgate.v1 import gateway_pb2, gateway_pb2_grpc

_SCOPES = {"all": gateway_pb2.OPT_OUT_SCOPE_ALL, "org": gateway_pb2.OPT_OUT_SCOPE_ORG}


def cmd_report_outcome(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    if ns.not_dialled and (ns.dialled or ns.connected or ns.duration or ns.opted_out):
        err_console.print("[red]error[/red]: --not-dialled says the call was not placed: not with other outcomes")
        return 2
    if ns.scope is not None and not ns.opted_out:
        err_console.print("[red]error[/red]: --scope says what --opted-out covers: give --opted-out too")
        return 2
    r = gateway_pb2_grpc.CallGateStub(channel).ReportCallOutcome(
        gateway_pb2.ReportCallOutcomeRequest(
            call_id=ns.call_id,
            dialled=ns.dialled or ns.connected,
            connected=ns.connected,
            duration_seconds=ns.duration,
            consumer_opted_out=ns.opted_out,
            opt_out_scope=_SCOPES[ns.scope or "all"] if ns.opted_out else gateway_pb2.OPT_OUT_SCOPE_UNSPECIFIED,
            not_dialled=ns.not_dialled,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    if ns.opted_out:
        where = "her do-not-disturb (every org)" if (ns.scope or "all") == "all" else "the call's org's own list"
        opt_out = f"registered on {where}" if r.opt_out_registered else "not written (already registered)"
    else:
        opt_out = "-"
    records.emit(
        ns,
        gateway_pb2.ReportCallOutcomeResponse.DESCRIPTOR,
        [r],
        lambda: kv(
            [
                ("call", r.call_id),
                ("outcome", _said(ns)),
                ("opt-out", opt_out),
            ]
        ),
    )
    return 0


def _said(ns: argparse.Namespace) -> str:
    if ns.not_dialled:
        return "not dialled (its slot under the frequency caps is given back)"
    parts = ["dialled" if ns.dialled or ns.connected else "reported"]
    if ns.connected:
        parts.append(f"connected for {ns.duration} s")
    return ", ".join(parts)


def add_commands(sub: Subparsers) -> None:
    """Register `report-outcome` under the `dncgate` parser."""
    p = sub.add_parser("report-outcome", help="report what became of an allowed call (dialled, connected, opt-out)")
    p.add_argument("call_id", help="the call id the Check answered")
    p.add_argument("--dialled", action="store_true", help="the call was placed")
    p.add_argument("--connected", action="store_true", help="she answered (implies --dialled)")
    p.add_argument("--duration", type=int, default=0, help="seconds connected")
    p.add_argument(
        "--opted-out",
        action="store_true",
        help='she said "don\'t call me again": registered at once (see --scope)',
    )
    p.add_argument(
        "--scope",
        choices=sorted(_SCOPES),
        help="what --opted-out covers: all (her do-not-disturb, every org; default) or org (the call's org only)",
    )
    p.add_argument(
        "--not-dialled",
        action="store_true",
        help="the allowed call was not placed after all: its slot under the frequency caps is given back",
    )
    request_id(p)
    records.add_flag(p, "the response")
    client(p, cmd_report_outcome)
