"""How the commands print: one console, tables whose ids and times are never cut, times in the operator's
zone, enum names as they are typed, money, counts in words, and gRPC errors said once."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dncgate.domain.money import Money, exponent
from dncgate.v1 import gateway_pb2

console = Console()
# Errors and warnings: one line each, never wrapped (a script greps them).
err_console = Console(stderr=True, soft_wrap=True)

# Rich's box, one space of padding each side: what a column costs beyond its text.
_COLUMN_COST = 3
# A column that may wrap still needs room for a word or so.
_MIN_WRAPPED = 8


class DisplayZoneError(ValueError):
    """DNCGATE_DISPLAY_TZ names no zone this machine knows."""


@lru_cache(maxsize=1)
def display_zone() -> tzinfo:
    """The zone times are shown in: $DNCGATE_DISPLAY_TZ (an IANA name such as Asia/Shanghai, or UTC),
    else the machine's local zone."""
    name = os.environ.get("DNCGATE_DISPLAY_TZ", "").strip()
    if not name or name.lower() == "local":
        local = datetime.now(UTC).astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DisplayZoneError(f"DNCGATE_DISPLAY_TZ={name!r}: not a time zone (try Asia/Shanghai or UTC)") from None


def local_time(t: Timestamp) -> datetime:
    """A wire time in the display zone."""
    return t.ToDatetime(tzinfo=UTC).astimezone(display_zone())


def fmt_ts(t: Timestamp, present: bool = True) -> str:
    """A time in the display zone, to the second, with its offset (2026-12-01 15:04:05+08:00); "-" for an
    unset one."""
    if not present or (t.seconds == 0 and t.nanos == 0):
        return "-"
    return local_time(t).isoformat(sep=" ", timespec="seconds")


# An ISO time with its zone, as the server writes one into a history note.
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)")


def local_text(text: str) -> str:
    """A server's note with each ISO time in it shown as `fmt_ts` shows times (the server writes UTC)."""

    def local(m: re.Match[str]) -> str:
        at = datetime.fromisoformat(m.group(0).replace("Z", "+00:00"))
        return at.astimezone(display_zone()).isoformat(sep=" ", timespec="seconds")

    return _ISO_TIME.sub(local, text)


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """A wire enum value's name without its prefix: `enum_name(Decision, 1, "DECISION_")` is "ALLOW"."""
    return str(enum.Name(value))[len(prefix) :]


def typed(enum: Any, value: int, prefix: str) -> str:
    """A wire enum value as the flags take it: CATEGORY_REAL_ESTATE is "real-estate"."""
    return enum_name(enum, value, prefix).lower().replace("_", "-")


def reason_names(values: Iterable[int]) -> list[str]:
    """Wire Reason values by name without the prefix (a finding's rules broken)."""
    return [enum_name(gateway_pb2.Reason, v, "REASON_") for v in values]


def money(m: Any) -> str:
    """A google.type.Money as an amount with its currency; "-" for an unset one."""
    if not m.currency_code:
        return "-"
    digits = exponent(m.currency_code)
    return str(Money(m.units * 10**digits + m.nanos // 10 ** (9 - digits), m.currency_code))


def count(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 caller number", "2 caller numbers", "12,408 rows": a count with its noun agreeing."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def kv(rows: Sequence[tuple[str, str]]) -> None:
    """Print rows of (key, value) as a borderless table, keys in bold; values wrap, never get cut."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def _width(cell: str) -> int:
    """The widest line of a cell, markup not counted."""
    return max((Text.from_markup(line).cell_len for line in cell.split("\n")), default=0)


@dataclass
class Grid:
    """A table whose `keep` columns (ids, times, numbers) are never cut or wrapped: the other columns wrap,
    and when even that can't fit the terminal, each row is printed as a block of `column: value` lines."""

    title: str
    columns: Sequence[str]
    keep: frozenset[str] = frozenset()
    right: frozenset[str] = frozenset()
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)

    def _needed(self) -> int:
        total = 1
        for i, name in enumerate(self.columns):
            widest = max((_width(r[i]) for r in self.rows), default=0)
            if name in self.keep:
                total += max(widest, len(name)) + _COLUMN_COST
            else:
                total += min(max(widest, len(name)), max(_MIN_WRAPPED, len(name))) + _COLUMN_COST
        return total

    def print(self, empty: str) -> None:
        """The table, or `empty` ("no complaints") when it has no row."""
        if not self.rows:
            console.print(f"{self.title}: {empty}" if self.title else empty)
            return
        if self._needed() > console.width:
            self._print_blocks()
            return
        table = Table(title=self.title or None)
        for i, name in enumerate(self.columns):
            justify: Literal["right", "left"] = "right" if name in self.right else "left"
            if name in self.keep:
                widest = max([len(name), *(_width(r[i]) for r in self.rows)])
                table.add_column(name, no_wrap=True, min_width=widest, justify=justify)
            else:
                table.add_column(name, overflow="fold", justify=justify)
        for r in self.rows:
            table.add_row(*r)
        console.print(table)

    def _print_blocks(self) -> None:
        if self.title:
            console.print(f"[bold]{self.title}[/bold]")
        for r in self.rows:
            console.print()
            kv([(name, cell) for name, cell in zip(self.columns, r, strict=True)])


def next_page(token: str) -> None:
    """After a page of a list: how to ask for the next one, if there is one (on stderr, out of a pipe's data
    when the output is JSON or CSV)."""
    if token:
        err_console.print(f"more: --page-token {token}")


def _field_violations(status: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for d in status.details if status is not None else ():
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            d.Unpack(br)
            out.extend((v.field, v.description) for v in br.field_violations)
    return out


def _unreachable(exc: grpc.RpcError, target: str) -> str | None:
    """What to say when the server couldn't be reached at all, else None."""
    details = exc.details() if hasattr(exc, "details") else ""
    if exc.code() != grpc.StatusCode.UNAVAILABLE or not details:
        return None
    lowered = details.lower()
    if "errors resolving" in lowered or "dns resolution failed" in lowered:
        host = target.rsplit(":", 1)[0] if ":" in target else target
        return f"cannot resolve {host!r} (target {target}): check --target or $DNCGATE_TARGET"
    if "connection refused" in lowered or "failed to connect" in lowered or "connect failed" in lowered:
        return (
            f"no server answers at {target}: start one with `make serve` (or `dncgate serve`), "
            "or point --target / $DNCGATE_TARGET at yours"
        )
    return None


def rpc_error(exc: grpc.RpcError, target: str = "") -> int:
    """Print a failed call's status once (a field error as the field and what is wrong with it), and what
    may help; the exit code is 1."""
    code = exc.code().name if hasattr(exc, "code") else "ERROR"
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if target and (said := _unreachable(exc, target)) is not None:
        err_console.print(f"[red]error[/red]: UNAVAILABLE: {said}")
        return 1
    status = rpc_status.from_call(exc) if hasattr(exc, "trailing_metadata") else None
    fields = _field_violations(status)
    if fields:
        err_console.print(f"[red]error[/red]: {code}:")
        for name, description in fields:
            err_console.print(f"  field [bold]{name}[/bold]: {description}")
    else:
        err_console.print(f"[red]error[/red]: {code}: {details}")
    for d in status.details if status is not None else ():
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            needed = ", ".join(f"{k}={v}" for k, v in sorted(info.metadata.items()))
            err_console.print(f"  {info.reason}: {needed}")
    if code == "UNAUTHENTICATED":
        err_console.print("  pass --token, set DNCGATE_TOKEN, or run where the server's <data dir>/admin.token is")
    return 1
