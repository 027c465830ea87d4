"""What a signed receipt says about one Check, and its canonical encoding (pure; the signing is `dncgate.receipt_keys`).

Encoding "dncgate-receipt/1": UTF-8 text, the version line, then one `name=value` line per field, in
exactly this order, each line ended by a single LF, nothing else (no spaces, no trailing blank line):

    dncgate-receipt/1
    key_id=<16 hex digits: the signing key, see CallGate.GetReceiptKey>
    call_id=<the call event's id; empty when the event could not be stored>
    time=<the event's time: UTC, RFC 3339 with exactly six fraction digits and Z>
    callee_key=<the callee's keyed hash, 64 lowercase hex digits; empty for an invalid number>
    caller=<the caller's E.164>
    org=<org_id>
    agent=<agent_id, may be empty>
    decision=<ALLOW|BLOCK>
    reason=<NOT_REGISTERED|REGISTERED|CONSENT_ON_FILE|OUTSIDE_CALLING_HOURS|INVALID_NUMBER|REGISTRY_UNAVAILABLE>
    violation=<1 in monitor mode when the call would have been blocked, else 0>

Values never hold a line break: ids are printable (`checks.validate` refuses control characters),
numbers are E.164 and the rest are hex or enum names, so the split is unambiguous. A receipt is
self-describing: the payload travels beside its signature, and a verifier checks the signature over
the payload's bytes, then reads the fields and compares those it knows (the request it sent, the
callee's hash) with them. A later version changes the first line; a reader refuses versions it does
not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dncgate.domain.types import Decision, Reason

VERSION = "dncgate-receipt/1"
FIELDS = ("key_id", "call_id", "time", "callee_key", "caller", "org", "agent", "decision", "reason", "violation")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReceiptError(ValueError):
    """A payload that is not a receipt of a version this code reads."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """One Check as the gate answered it: what the signature vouches for."""

    key_id: str
    call_id: str
    at_us: int  # the call event's time, microseconds since the Unix epoch
    callee_key: str  # hex; "" for an invalid number
    caller: str
    org: str
    agent: str
    decision: Decision
    reason: Reason
    violation: bool

    @property
    def at(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.at_us)


def format_time(at_us: int) -> str:
    """`at_us` as the payload writes it: 2026-12-01T15:34:33.123456Z."""
    seconds, micros = divmod(at_us, 1_000_000)
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}Z"


def parse_time(text: str) -> int:
    try:
        at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise ReceiptError(f"time {text!r} is not RFC 3339 UTC with six fraction digits") from None
    at_us = (at - _EPOCH) // timedelta(microseconds=1)
    if format_time(at_us) != text:
        raise ReceiptError(f"time {text!r} is not in its canonical form")
    return at_us


def encode(r: Receipt) -> bytes:
    """The canonical bytes of `r` (the module docstring), which the signature covers."""
    return (
        f"{VERSION}\nkey_id={r.key_id}\ncall_id={r.call_id}\ntime={format_time(r.at_us)}\n"
        f"callee_key={r.callee_key}\ncaller={r.caller}\norg={r.org}\nagent={r.agent}\n"
        f"decision={r.decision._value_}\nreason={r.reason._value_}\nviolation={1 if r.violation else 0}\n"
    ).encode()


def decode(payload: bytes) -> Receipt:
    """The receipt `payload` encodes; ReceiptError unless it is exactly `encode` of one."""
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        raise ReceiptError("the payload is not UTF-8") from None
    lines = text.split("\n")
    if not lines or lines[0] != VERSION:
        raise ReceiptError(f"not a {VERSION} payload (first line {lines[0][:40]!r})")
    if lines[-1] != "" or len(lines) != len(FIELDS) + 2:
        raise ReceiptError(f"expected {len(FIELDS)} fields, each on a line ended by LF")
    values: dict[str, str] = {}
    for name, line in zip(FIELDS, lines[1:-1], strict=True):
        key, sep, value = line.partition("=")
        if key != name or not sep:
            raise ReceiptError(f"expected field {name!r}, found {line[:40]!r}")
        values[name] = value
    try:
        decision, reason = Decision(values["decision"]), Reason(values["reason"])
    except ValueError as exc:
        raise ReceiptError(str(exc)) from None
    if values["violation"] not in ("0", "1"):
        raise ReceiptError("violation must be 0 or 1")
    r = Receipt(
        key_id=values["key_id"],
        call_id=values["call_id"],
        at_us=parse_time(values["time"]),
        callee_key=values["callee_key"],
        caller=values["caller"],
        org=values["org"],
        agent=values["agent"],
        decision=decision,
        reason=reason,
        violation=values["violation"] == "1",
    )
    if encode(r) != payload:
        raise ReceiptError("the payload is not in its canonical form")
    return r
