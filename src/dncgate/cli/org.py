"""`dncgate org`: an org's policy, enforce (block) or monitor (allow, and flag the violation)."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli.args import Subparsers, client, enum_arg, request_id
from dncgate.cli.output import enum_name, kv
from dncgate.v1 import common_pb2, registry_pb2, registry_pb2_grpc


def cmd_set_mode(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(org_id=ns.org, mode=ns.mode, request_id=ns.request_id), timeout=ns.timeout
    )
    mode = enum_name(common_pb2.Mode, p.mode, "MODE_").lower()
    kv([("org", p.org_id), ("mode", mode), ("recorded by", p.recorded_by or "-")])
    return 0


def cmd_get(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ns.org), timeout=ns.timeout)
    mode = enum_name(common_pb2.Mode, p.mode, "MODE_").lower()
    if not p.explicit:
        kv([("org", p.org_id), ("mode", f"{mode} (default)")])
        return 0
    kv([("org", p.org_id), ("mode", mode), ("recorded by", p.recorded_by or "-")])
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `org set-mode|get` under the `dncgate` parser."""
    org = sub.add_parser("org", help="per-org enforce/monitor policy").add_subparsers(dest="sub", required=True)
    p = org.add_parser("set-mode")
    p.add_argument("org")
    p.add_argument("mode", type=enum_arg(common_pb2.Mode, "MODE_"), help="enforce or monitor")
    request_id(p)
    client(p, cmd_set_mode)
    p = org.add_parser("get")
    p.add_argument("org")
    client(p, cmd_get)
