"""What the pages show of the API's messages: money, times in the hotline's zone, enum names, due flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp
from google.type import money_pb2

from dncgate.v1 import compensation_pb2, gateway_pb2

V = compensation_pb2  # the messages and enums, named as the tests name them

_OPEN = frozenset(
    {
        V.COMPLAINT_STATUS_RECEIVED,
        V.COMPLAINT_STATUS_VERIFIED,
        V.COMPLAINT_STATUS_PARTIALLY_VERIFIED,
        V.COMPLAINT_STATUS_MANUAL_REVIEW,
        V.COMPLAINT_STATUS_REOPENED,
    }
)


def money(m: money_pb2.Money | None) -> str:
    """`CNY 100.00`: exact (units and nanos as a Decimal, never a float)."""
    if m is None or not m.currency_code:
        return "—"
    return f"{m.currency_code} {decimal_of(m):,.2f}"


def decimal_of(m: money_pb2.Money) -> Decimal:
    return Decimal(m.units) + Decimal(m.nanos) / Decimal(1_000_000_000)


class Clock:
    """Times as the hotline reads them: in its zone (DNCGATE_DEFAULT_TIMEZONE), with the offset."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def show(self, t: Timestamp | None) -> str:
        if t is None or (t.seconds == 0 and t.nanos == 0):
            return "—"
        local = t.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(self.zone)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"

    def field(self, t: Timestamp | None) -> str:
        """The value of a datetime-local input: local time, minutes."""
        if t is None or t.seconds == 0:
            return ""
        return f"{t.ToDatetime().replace(tzinfo=ZoneInfo('UTC')).astimezone(self.zone):%Y-%m-%dT%H:%M}"

    def later(self, t: Timestamp, days: int) -> str:
        moved = Timestamp()
        moved.FromDatetime(t.ToDatetime() + timedelta(days=days))
        return self.field(moved)

    def parse(self, text: str) -> Timestamp | None:
        """A datetime-local input's text in the hotline's zone; None if blank. ValueError if malformed."""
        text = text.strip()
        if not text:
            return None
        local = datetime.fromisoformat(text).replace(tzinfo=self.zone)
        t = Timestamp()
        t.FromDatetime(local)
        return t


def name(enum: Any, value: int) -> str:
    """An enum value's name (`VERDICT_VERIFIED`), or the number for one this build does not know."""
    try:
        return str(enum.Name(value))
    except ValueError:
        return str(value)


def reason(value: int) -> str:
    """A `Reason` (a rule a call broke, Finding.rules_broken) as the code the Check answers: `FREQUENCY_CAP`."""
    return short(name(gateway_pb2.Reason, value))


def short(enum_name: str) -> str:
    """`VERDICT_NO_MATCHING_CALL` -> `NO_MATCHING_CALL`: the code the hotline reads beside the words."""
    for prefix in ("VERDICT_", "COMPLAINT_STATUS_", "STAGE_", "PAYOUT_STATUS_", "CHANNEL_", "REASON_"):
        if enum_name.startswith(prefix):
            return enum_name[len(prefix) :]
    return enum_name


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A case in an operator's queue: when its nearest due time is, and which of its dues have passed."""

    case: V.Complaint
    due: float  # seconds since the epoch; the queue's order
    due_at: Timestamp | None  # the same, as shown
    flags: tuple[str, ...]  # catalogue keys: overdue.first_response, overdue.update, overdue.resolution


def queue_row(c: V.Complaint, now: float) -> QueueRow:
    dues: list[Timestamp] = []
    flags: list[str] = []
    open_ = c.status in _OPEN
    if c.status == V.COMPLAINT_STATUS_RECEIVED and c.first_response_due.seconds:
        dues.append(c.first_response_due)
        if c.first_response_due.seconds < now:
            flags.append("overdue.first_response")
    if c.status != V.COMPLAINT_STATUS_CLOSED and c.next_update_due.seconds:
        dues.append(c.next_update_due)
        if c.update_overdue:
            flags.append("overdue.update")
    if open_ and c.resolution_due.seconds:
        dues.append(c.resolution_due)
        if c.resolution_due.seconds < now:
            flags.append("overdue.resolution")
    nearest = min(dues, key=lambda t: t.seconds) if dues else None
    return QueueRow(c, nearest.seconds if nearest is not None else float("inf"), nearest, tuple(flags))


def queue(cases: list[V.Complaint], now: float) -> list[QueueRow]:
    """The operator's cases, the nearest due time first (overdue ones are the nearest)."""
    return sorted((queue_row(c, now) for c in cases), key=lambda r: (r.due, r.case.case_id))
