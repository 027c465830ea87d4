"""`dncgate check`: ask whether a call may be placed, as a dialer would."""

from __future__ import annotations

import argparse
import sys

import grpc
from google.protobuf import json_format

from dncgate.cli import records
from dncgate.cli.args import Subparsers, choices, client, enum_arg
from dncgate.cli.output import enum_name, fmt_ts, kv
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc


def cmd_check(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = gateway_pb2_grpc.CallGateStub(channel)
    r = stub.Check(
        gateway_pb2.CheckRequest(
            caller_number=ns.caller,
            callee_number=ns.callee,
            agent_id=ns.agent,
            org_id=ns.org,
            campaign_id=ns.campaign,
            category=ns.category,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    if ns.json:  # the response as the HTTP face writes it: what `dncgate receipt verify --response -` reads
        sys.stdout.write(json_format.MessageToJson(r, indent=None) + "\n")
        return 0
    if ns.output != "table":
        records.write(ns.output, gateway_pb2.CheckResponse.DESCRIPTOR, [r])
        return 0
    decision = enum_name(gateway_pb2.Decision, r.decision, "DECISION_")
    colour = "green" if decision == "ALLOW" else "red"
    rows = [
        ("decision", f"[{colour}]{decision}[/{colour}]"),
        ("reason", enum_name(gateway_pb2.Reason, r.reason, "REASON_")),
        ("callee", r.callee_e164 or "-"),
        ("call_id", r.call_id),
    ]
    if r.violation:
        rows.append(("violation", "yes (monitor mode: would have been blocked)"))
    if r.HasField("next_allowed_time"):
        rows.append(("next allowed", fmt_ts(r.next_allowed_time)))
    if r.receipt:
        rows.append(("receipt", "signed (keep it with --json; check it with `dncgate receipt verify`)"))
    kv(rows)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `check` under the `dncgate` parser."""
    p = sub.add_parser("check", help="ask whether a call may be placed")
    p.add_argument("--caller", required=True, help="the calling line")
    p.add_argument("--callee", required=True, help="the consumer's number")
    p.add_argument("--agent", default="", help="the agent placing the call")
    p.add_argument("--org", required=True, help="the org placing the call")
    p.add_argument("--campaign", default="", help="the campaign the call is part of")
    p.add_argument(
        "--category",
        type=enum_arg(common_pb2.Category, "CATEGORY_"),
        default=0,
        help="what the call is about: " + choices(common_pb2.Category, "CATEGORY_"),
    )
    p.add_argument("--request-id", default="", help="echoed in the response")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the response as proto3 JSON, as the HTTP face writes it (what `receipt verify --response -` reads)",
    )
    records.add_flag(p, "the response")
    client(p, cmd_check)
