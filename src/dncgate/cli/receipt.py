"""`dncgate receipt`: check a signed receipt of a Check offline, and show the key that signs them.

`receipt verify` takes the receipt as the HTTP face returns a CheckResponse (a JSON file, `-` for
stdin: `receipt` and `receiptPayload` in base64, as proto3 JSON writes bytes) or as two base64 flags,
and the public key from a PEM file or, without one, from the server (CallGate.GetReceiptKey, which
needs no credential). Each field the caller names (`--call-id`, `--caller`, `--callee-key`...) must be
what the receipt says. Exit code 0: the signature is the key's over the payload and every field named
matches; 1: it is not, or one does not; 2: the input can't be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from pathlib import Path
from typing import Any

import grpc

from dncgate import receipt_keys
from dncgate.cli.args import Subparsers, client
from dncgate.cli.output import console, err_console, kv
from dncgate.domain import receipts
from dncgate.phone import try_parse
from dncgate.v1 import gateway_pb2, gateway_pb2_grpc

# flag -> the receipt's field it must equal (`--caller` compared in E.164)
_EXPECT = {
    "call_id": "call_id",
    "caller": "caller",
    "org": "org",
    "agent": "agent",
    "callee_key": "callee_key",
    "decision": "decision",
    "reason": "reason",
}


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: not base64") from None


def _inputs(ns: argparse.Namespace) -> tuple[bytes, bytes, dict[str, Any]]:
    """(payload, signature, the response's other fields) from --response or the two flags."""
    if ns.response is not None:
        text = sys.stdin.read() if ns.response == "-" else Path(ns.response).read_text()
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("--response: expected a JSON object (a CheckResponse)")
        payload, signature = body.get("receiptPayload", body.get("receipt_payload")), body.get("receipt")
        if not payload or not signature:
            raise ValueError("--response: the response carries no receipt (is the org's signed_receipts on?)")
        return _b64(payload, "receiptPayload"), _b64(signature, "receipt"), body
    if not ns.payload or not ns.signature:
        raise ValueError("give --response FILE, or both --payload and --signature (base64)")
    return _b64(ns.payload, "--payload"), _b64(ns.signature, "--signature"), {}


def _public_key(ns: argparse.Namespace, channel: grpc.Channel) -> tuple[Any, str]:
    if ns.public_key is not None:
        public = receipt_keys.load_public(Path(ns.public_key).read_bytes())
        return public, f"{ns.public_key}"
    key = gateway_pb2_grpc.CallGateStub(channel).GetReceiptKey(gateway_pb2.GetReceiptKeyRequest(), timeout=ns.timeout)
    return receipt_keys.load_public(key.public_key), "the server (GetReceiptKey)"


def _expected(ns: argparse.Namespace, body: dict[str, Any]) -> dict[str, str]:
    """What the receipt must say: the flags given, and the response's own call id and verdict."""
    want: dict[str, str] = {}
    if body:
        if body.get("callId"):
            want["call_id"] = body["callId"]
        if body.get("decision"):
            want["decision"] = str(body["decision"]).removeprefix("DECISION_")
        if body.get("reason"):
            want["reason"] = str(body["reason"]).removeprefix("REASON_")
    for flag in _EXPECT:
        value = getattr(ns, flag)
        if value is not None:
            want[flag] = value.upper() if flag in ("decision", "reason") else value
    if "caller" in want:
        parsed = try_parse(want["caller"], ns.region)
        want["caller"] = parsed.e164 if parsed is not None else want["caller"]
    if "callee_key" in want:
        want["callee_key"] = want["callee_key"].lower()
    return want


def cmd_verify(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    try:
        payload, signature, body = _inputs(ns)
        public, source = _public_key(ns, channel)
    except (ValueError, OSError, receipt_keys.ReceiptKeyError) as exc:
        err_console.print(f"[red]error[/red]: {exc}")
        return 2
    try:
        r = receipts.decode(payload)
    except receipts.ReceiptError as exc:
        console.print(f"[red]INVALID[/red]: {exc}")
        return 1
    if not receipt_keys.verify(public, payload, signature):
        console.print(f"[red]INVALID[/red]: the signature is not the key's ({source}) over this payload")
        return 1
    key_id = receipt_keys.key_id(receipt_keys.raw_of(public))
    if r.key_id != key_id:
        console.print(f"[red]INVALID[/red]: the payload names key {r.key_id}, the key is {key_id}")
        return 1
    fields = {
        "call_id": r.call_id,
        "caller": r.caller,
        "org": r.org,
        "agent": r.agent,
        "callee_key": r.callee_key,
        "decision": r.decision.value,
        "reason": r.reason.value,
    }
    wrong = [(k, v, fields[k]) for k, v in _expected(ns, body).items() if fields[k] != v]
    if wrong:
        for name, want, got in wrong:
            console.print(f"[red]INVALID[/red]: {name} is {got!r} in the receipt, not {want!r}")
        return 1
    console.print(f"VALID: signed by key {key_id} ({source})")
    kv(
        [
            ("call id", r.call_id or "-"),
            ("time", receipts.format_time(r.at_us)),
            ("caller", r.caller),
            ("callee key", r.callee_key or "-"),
            ("org", r.org),
            ("agent", r.agent or "-"),
            ("decision", r.decision.value),
            ("reason", r.reason.value),
            ("violation", "yes" if r.violation else "no"),
        ]
    )
    what = "was allowed to place" if r.decision.value == "ALLOW" else "was told not to place"
    console.print(f"proves: the gate answered {r.decision.value} ({r.reason.value}): org {r.org} {what} this call")
    return 0


def cmd_key(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    key = gateway_pb2_grpc.CallGateStub(channel).GetReceiptKey(gateway_pb2.GetReceiptKeyRequest(), timeout=ns.timeout)
    if ns.pem:
        sys.stdout.write(key.public_key_pem)
        return 0
    kv([("algorithm", key.algorithm), ("key id", key.key_id), ("public key", key.public_key.hex())])
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `receipt verify|key` under the `dncgate` parser."""
    group = sub.add_parser("receipt", help="signed receipts of Checks").add_subparsers(dest="sub", required=True)
    p = group.add_parser("verify", help="check a receipt's signature and what it says (exit 0 valid, 1 invalid)")
    p.add_argument("--response", help="a CheckResponse as JSON (the HTTP face's body), `-` for stdin")
    p.add_argument("--payload", help="receipt_payload, base64")
    p.add_argument("--signature", help="receipt, base64")
    p.add_argument("--public-key", help="PEM file of the public key (default: fetched from the server)")
    p.add_argument("--call-id", dest="call_id", help="the call id the receipt must name")
    p.add_argument("--caller", help="the caller number (any format; compared in E.164)")
    p.add_argument("--org", help="the org the receipt must name")
    p.add_argument("--agent", help="the agent the receipt must name")
    p.add_argument("--callee-key", dest="callee_key", help="the callee's keyed hash, hex")
    p.add_argument("--decision", help="ALLOW or BLOCK")
    p.add_argument("--reason", help="e.g. NOT_REGISTERED")
    p.add_argument("--region", default="CN", help="for a caller number written without a country code")
    client(p, cmd_verify)
    p = group.add_parser("key", help="the public key that signs receipts")
    p.add_argument("--pem", action="store_true", help="print it as PEM only")
    client(p, cmd_key)
