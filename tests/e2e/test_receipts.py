"""Signed receipts over gRPC: on for an org (and only for it), on Check, CheckStream and CheckBatch,
verified offline with the key GetReceiptKey hands anyone, and by `dncgate receipt verify`; the org
policy's update_mask keeps `org set-mode` from turning them off."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate import receipt_keys
from dncgate.domain import receipts
from dncgate.domain.registry import OrgPolicyEntry
from dncgate.domain.types import Decision, Mode, Reason
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2
from tests.auth import aio_channel
from tests.e2e.conftest import CALLER, CONSUMER, check_request, gate, registry
from tests.e2e.test_import_e2e import cli
from tests.wait import until

pytestmark = pytest.mark.e2e

SIGNED, PLAIN = "wuhan-01", "wuhan-02"


async def _receipts_on(server: Any, org: str = SIGNED, on: bool = True) -> registry_pb2.OrgPolicy:
    policy: registry_pb2.OrgPolicy = await registry(server).SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(
            org_id=org, signed_receipts=on, update_mask=FieldMask(paths=["signed_receipts"])
        )
    )
    return policy


async def _public(server: Any) -> Any:
    key = await gate(server).GetReceiptKey(gateway_pb2.GetReceiptKeyRequest())
    return receipt_keys.load_public(key.public_key)


def _verified(public: Any, response: gateway_pb2.CheckResponse) -> receipts.Receipt:
    assert response.receipt and response.receipt_payload, response
    assert receipt_keys.verify(public, response.receipt_payload, response.receipt)
    return receipts.decode(response.receipt_payload)


def _key_hex(server: Any, number: str = CONSUMER) -> str:
    return str(server.app.gateway.keyer.digest("+86" + number).hex())


async def test_an_org_with_receipts_on_gets_a_signed_receipt_and_one_without_gets_none(server: Any) -> None:
    """The receipt's payload says what the response says, with the callee's keyed hash and the event's
    time; the other org's responses carry no receipt."""
    policy = await _receipts_on(server)
    assert policy.signed_receipts and policy.mode == common_pb2.MODE_ENFORCE
    public = await _public(server)
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )
    response = await gate(server).Check(check_request(request_id="r1"))
    r = _verified(public, response)
    assert (r.call_id, r.caller, r.org, r.agent, r.callee_key, r.decision, r.reason, r.violation) == (
        response.call_id,
        CALLER,
        SIGNED,
        "a17",
        _key_hex(server),
        Decision.BLOCK,
        Reason.REGISTERED,
        False,
    )
    # The event's own time: the call log row the recorder writes has the same instant.
    await until(lambda: _logged(server, response.call_id), 20, "the call event in the call log")
    assert await _logged_at_us(server, response.call_id) == r.at_us
    plain = await gate(server).Check(check_request(org_id=PLAIN))
    assert (plain.receipt, plain.receipt_payload) == (b"", b"") and plain.call_id


async def _logged(server: Any, call_id: str) -> bool:
    return await _logged_at_us(server, call_id) is not None


async def _logged_at_us(server: Any, call_id: str) -> int | None:
    async with server.app.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT (extract(epoch FROM at) * 1000000)::bigint FROM call_log WHERE call_id = %s", (call_id,)
            )
        ).fetchone()
    return int(row[0]) if row else None


async def test_batch_and_stream_answers_carry_receipts_of_their_own_requests(server: Any) -> None:
    """CheckBatch: a receipt on each response of the signed org, none on the other's; CheckStream likewise;
    an invalid callee's receipt has no callee hash."""
    await _receipts_on(server)
    public = await _public(server)
    batch = await gate(server).CheckBatch(
        gateway_pb2.CheckBatchRequest(
            requests=[
                check_request(request_id="a"),
                check_request(org_id=PLAIN, request_id="b"),
                check_request("13900139000", request_id="c", agent_id=""),
                check_request("12", request_id="d"),
            ]
        )
    )
    a, b, c, d = batch.responses
    assert _verified(public, a).call_id == a.call_id and not b.receipt
    rc = _verified(public, c)
    assert (rc.agent, rc.callee_key, rc.call_id) == ("", _key_hex(server, "13900139000"), c.call_id)
    rd = _verified(public, d)
    assert (rd.reason, rd.callee_key) == (Reason.INVALID_NUMBER, "")

    async def requests() -> Any:
        yield check_request(request_id="s1")
        yield check_request(org_id=PLAIN, request_id="s2")

    streamed = [r async for r in gate(server).CheckStream(requests())]
    assert [r.request_id for r in streamed] == ["s1", "s2"]
    assert _verified(public, streamed[0]).call_id == streamed[0].call_id and not streamed[1].receipt


async def test_get_receipt_key_needs_no_credential_and_matches_the_receipts(server: Any) -> None:
    """Anonymous GetReceiptKey answers raw and PEM forms of one key, whose id every payload names."""
    async with aio_channel(server.target, None) as anonymous:
        key = await gateway_pb2_grpc.CallGateStub(anonymous).GetReceiptKey(gateway_pb2.GetReceiptKeyRequest())
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await gateway_pb2_grpc.CallGateStub(anonymous).Check(check_request())
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert key.algorithm == "Ed25519" and len(key.public_key) == 32
    assert receipt_keys.raw_of(receipt_keys.load_public(key.public_key_pem.encode())) == key.public_key
    assert key.key_id == receipt_keys.key_id(key.public_key)
    await _receipts_on(server)
    r = _verified(receipt_keys.load_public(key.public_key), await gate(server).Check(check_request()))
    assert r.key_id == key.key_id


async def test_set_mode_keeps_receipts_on_and_a_mask_changes_only_what_it_names(server: Any) -> None:
    """`org set-mode` (no mask) changes the mode alone; a mask of signed_receipts leaves the mode; the
    policy journal keeps each entry whole."""
    await _receipts_on(server)
    done = await cli(server, "org", "set-mode", SIGNED, "monitor")
    assert done.returncode == 0, done.stderr
    policy = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=SIGNED))
    assert (policy.mode, policy.signed_receipts, policy.explicit) == (common_pb2.MODE_MONITOR, True, True)
    assert (await gate(server).Check(check_request())).receipt  # still signed
    off = await _receipts_on(server, on=False)
    assert (off.mode, off.signed_receipts) == (common_pb2.MODE_MONITOR, False)
    assert not (await gate(server).Check(check_request())).receipt
    done = await cli(server, "org", "set", SIGNED, "--signed-receipts", "--mode", "enforce")
    assert done.returncode == 0 and "signed receipts" in done.stdout, done.stdout + done.stderr
    shown = await cli(server, "org", "get", SIGNED)
    assert "on" in shown.stdout and "enforce" in shown.stdout, shown.stdout
    async with server.app.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT mode, signed_receipts FROM org_policy_journal WHERE org_id = %s ORDER BY seq", (SIGNED,)
            )
        ).fetchall()
    assert rows == [("ENFORCE", True), ("MONITOR", True), ("MONITOR", False), ("ENFORCE", True)]


async def test_an_unknown_mask_path_is_invalid_argument_naming_update_mask(server: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await registry(server).SetOrgPolicy(
            registry_pb2.SetOrgPolicyRequest(
                org_id=SIGNED, signed_receipts=True, update_mask=FieldMask(paths=["signed_receipts", "colour"])
            )
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(exc.value)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["update_mask"]
    policy = await registry(server).GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=SIGNED))
    assert not policy.explicit  # nothing was journaled


async def test_a_change_journaled_elsewhere_reaches_the_checks_within_two_seconds(server: Any) -> None:
    """Another replica's SetOrgPolicy (written to the journal, not through this process): the receipt
    orgs are re-read from the journal every second."""
    assert not (await gate(server).Check(check_request())).receipt
    await server.app.journal.set_org_policy(
        SIGNED, OrgPolicyEntry(Mode.ENFORCE, "other replica", signed_receipts=True), None
    )

    async def signed() -> bool:
        return bool((await gate(server).Check(check_request())).receipt)

    await until(signed, 2.0, "the receipt orgs re-read from the journal")


async def test_the_cli_verifies_a_receipt_from_the_json_response_and_refuses_a_tampered_one(
    server: Any, tmp_path: Path
) -> None:
    """`receipt verify --response` with the key from the server or a PEM file: 0 valid, 1 tampered or
    not what the flags say."""
    await _receipts_on(server)
    response = await gate(server).Check(check_request())
    body = json.loads(json_format.MessageToJson(response))
    good = tmp_path / "response.json"
    good.write_text(json.dumps(body))
    done = await cli(server, "receipt", "verify", "--response", str(good), "--caller", "027 5900 1234")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID" in done.stdout and response.call_id in done.stdout
    key = await gate(server).GetReceiptKey(gateway_pb2.GetReceiptKeyRequest())
    pem = tmp_path / "key.pem"
    pem.write_text(key.public_key_pem)
    offline = ["receipt", "verify", "--response", str(good), "--public-key", str(pem)]
    assert (await cli(server, *offline, "--callee-key", _key_hex(server))).returncode == 0
    wrong_org = await cli(server, *offline, "--org", PLAIN)
    assert wrong_org.returncode == 1 and "INVALID" in wrong_org.stdout
    payload = receipts.decode(response.receipt_payload)
    forged = response.receipt_payload.replace(b"decision=" + payload.decision.value.encode(), b"decision=BLOCK")
    forged = forged.replace(b"reason=" + payload.reason.value.encode(), b"reason=REGISTERED")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(
        json.dumps(
            body
            | {
                "receiptPayload": base64.b64encode(forged).decode(),
                "decision": "DECISION_BLOCK",
                "reason": "REASON_REGISTERED",
            }
        )
    )
    bad = await cli(server, "receipt", "verify", "--response", str(tampered), "--public-key", str(pem))
    assert bad.returncode == 1 and "signature" in bad.stdout, bad.stdout
    claimed = tmp_path / "claimed.json"
    claimed.write_text(json.dumps(body | {"callId": "f" * 32}))  # the response's call id is not the receipt's
    assert (await cli(server, "receipt", "verify", "--response", str(claimed))).returncode == 1
    flags = [
        "receipt",
        "verify",
        "--payload",
        base64.b64encode(response.receipt_payload).decode(),
        "--signature",
        base64.b64encode(response.receipt).decode(),
    ]
    assert (await cli(server, *flags, "--decision", "allow")).returncode == 0


async def test_check_json_piped_into_receipt_verify(server: Any) -> None:
    """`dncgate check --json` prints the response as the HTTP face does; `receipt verify --response -`
    reads it from stdin."""
    await _receipts_on(server)
    checked = await cli(server, "check", "--caller", CALLER, "--callee", CONSUMER, "--org", SIGNED, "--json")
    assert checked.returncode == 0, checked.stderr
    body = json.loads(checked.stdout)
    assert body["receipt"] and body["receiptPayload"]
    done = await _cli_stdin(server, checked.stdout, "receipt", "verify", "--response", "-", "--org", SIGNED)
    assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr
    plain = await cli(server, "check", "--caller", CALLER, "--callee", CONSUMER, "--org", SIGNED)
    assert plain.returncode == 0 and "receipt" in plain.stdout, plain.stdout


async def _cli_stdin(server: Any, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`dncgate …` in a child process, `stdin` on its standard input."""
    env = {**os.environ, "DNCGATE_TARGET": server.target, "DNCGATE_TOKEN": server.token, "COLUMNS": "200"}
    run = [sys.executable, "-m", "dncgate.cli", *args]
    return await asyncio.to_thread(
        subprocess.run, run, input=stdin, capture_output=True, text=True, env=env, timeout=60
    )
