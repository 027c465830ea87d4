"""How the commands print: one console, tables of key and value, times, enum names, money and gRPC errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table

from dncgate.domain.money import Money, exponent
from dncgate.v1 import gateway_pb2

console = Console()


def fmt_ts(t: Timestamp, present: bool = True) -> str:
    """A time in the operator's local zone, to the second; "-" for an unset one."""
    if not present or (t.seconds == 0 and t.nanos == 0):
        return "-"
    return t.ToDatetime(tzinfo=UTC).astimezone().isoformat(timespec="seconds")


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """A wire enum value's name without its prefix: `enum_name(Decision, 1, "DECISION_")` is "ALLOW"."""
    return str(enum.Name(value))[len(prefix) :]


def reason_names(values: Iterable[int]) -> list[str]:
    """Wire Reason values by name without the prefix (a finding's rules broken)."""
    return [enum_name(gateway_pb2.Reason, v, "REASON_") for v in values]


def money(m: Any) -> str:
    """A google.type.Money as an amount with its currency; "-" for an unset one."""
    if not m.currency_code:
        return "-"
    digits = exponent(m.currency_code)
    return str(Money(m.units * 10**digits + m.nanos // 10 ** (9 - digits), m.currency_code))


def kv(rows: Sequence[tuple[str, str]]) -> None:
    """Print rows of (key, value) as a borderless table, keys in bold."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def next_page(token: str) -> None:
    """After a page of a list: how to ask for the next one, if there is one."""
    if token:
        console.print(f"more: --page-token {token}")


def rpc_error(exc: grpc.RpcError) -> int:
    """Print a failed call's status, and each field a BadRequest blames; the exit code is 1."""
    status = rpc_status.from_call(exc)
    code = exc.code().name if hasattr(exc, "code") else "ERROR"
    details = exc.details() if hasattr(exc, "details") else str(exc)
    console.print(f"[red]error[/red]: {code}: {details}")
    if status is not None:
        for d in status.details:
            if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                d.Unpack(br)
                for v in br.field_violations:
                    console.print(f"  field [bold]{v.field}[/bold]: {v.description}")
            elif d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                d.Unpack(info)
                needed = ", ".join(f"{k}={v}" for k, v in sorted(info.metadata.items()))
                console.print(f"  {info.reason}: {needed}")
    if code == "UNAUTHENTICATED":
        console.print("  pass --token, set DNCGATE_TOKEN, or run where the server's <data dir>/admin.token is")
    return 1
