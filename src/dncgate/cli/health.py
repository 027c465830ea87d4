"""`dncgate health`: whether the server answers, and each of its services is SERVING (the gRPC health
service, as a load balancer asks it). Exit 0 when every service the server serves is SERVING, 1 otherwise."""

from __future__ import annotations

import argparse

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dncgate.cli.args import Subparsers, client, target
from dncgate.cli.output import Grid, console

# The services a role may serve; one the server doesn't serve (its role) answers NOT_FOUND, left out.
SERVICES = ("dncgate.v1.CallGate", "dncgate.v1.Registry", "dncgate.v1.Compensation", "dncgate.v1.Access")


def _status(stub: health_pb2_grpc.HealthStub, service: str, timeout: float) -> str | None:
    try:
        r = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(r.status))


def cmd_health(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    server = _status(stub, "", ns.timeout) or "SERVICE_UNKNOWN"
    states = {name: _status(stub, name, ns.timeout) for name in (ns.service or SERVICES)}
    served = {name: s for name, s in states.items() if s is not None}
    table = Grid("", ("service", "status"), keep=frozenset({"service", "status"}))
    table.add_row("(server)", server)
    for name, s in served.items():
        table.add_row(name, s if s == "SERVING" else f"[red]{s}[/red]")
    for name in ns.service or ():
        if states[name] is None:
            table.add_row(name, "[red]not served here[/red]")
    table.print("")
    ok = server == "SERVING" and all(s == "SERVING" for s in served.values()) and len(served) == len(states)
    if not ns.service:
        ok = server == "SERVING" and all(s == "SERVING" for s in served.values())
    console.print(f"{target(ns)}: " + ("[green]SERVING[/green]" if ok else "[red]NOT SERVING[/red]"))
    return 0 if ok else 1


def add_commands(sub: Subparsers) -> None:
    """Register `health` under the `dncgate` parser."""
    p = sub.add_parser("health", help="is the server up and every service it serves SERVING? (exit 0 if so)")
    p.add_argument(
        "--service",
        action="append",
        help="only this service (dncgate.v1.CallGate, ...); repeatable; default: every one the server serves",
    )
    client(p, cmd_health)
