"""The HTTP/JSON face: the annotated routes answered as gRPC answers them, errors as google.rpc.Status JSON
with the transcoding conventions' HTTP status, the same credentials and limits."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format

from dncgate import receipt_keys
from dncgate.api import http, limits
from dncgate.api.server import running
from dncgate.config import Settings
from dncgate.domain import receipts
from dncgate.embedded import EmbeddedRedis
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.auth import admin_token, aio_channel
from tests.e2e.conftest import CALLER, CONSUMER, check_request
from tests.e2e.http_client import Http, Reply
from tests.e2e.test_tls import make_pki
from tests.wait import until

pytestmark = pytest.mark.e2e

ORG = "wuhan-01"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


@dataclass
class Face:
    running: Any
    token: str  # the admin token: it may call every method
    port: int
    gate: Any  # a gRPC CallGate stub on the same server, for the same questions

    async def token_of(self, *roles: str, orgs: tuple[str, ...] = ()) -> str:
        new = await self.running.app.access.create("test", name="-".join(roles), roles=list(roles), orgs=list(orgs))
        return str(new.token)


@pytest.fixture
async def face(settings: Settings) -> AsyncIterator[Face]:
    # A small scrub quota: one batch of 10 fits, the next is RESOURCE_EXHAUSTED.
    async with running(replace(settings, http_listen="127.0.0.1:0", scrub_quota_per_hour=10)) as r:
        await r.wait_current()
        token = admin_token(settings.data_dir)
        async with aio_channel(f"127.0.0.1:{r.port}", token) as channel:
            assert r.http_port is not None
            yield Face(r, token, r.http_port, gateway_pb2_grpc.CallGateStub(channel))


def _check(callee: str = CONSUMER, **kw: Any) -> dict[str, Any]:
    return json_format.MessageToDict(check_request(callee, **kw))


async def _register(face: Face, number: str = CONSUMER) -> None:
    async with aio_channel(f"127.0.0.1:{face.running.port}", face.token) as channel:
        await registry_pb2_grpc.RegistryStub(channel).SetPreference(
            registry_pb2.SetPreferenceRequest(number=number, do_not_disturb=True, source=common_pb2.SOURCE_APP)
        )


def _status(reply: Reply, http_status: int, code: int) -> dict[str, Any]:
    assert reply.status == http_status, (reply.status, reply.body)
    assert reply.headers["content-type"] == "application/json"
    body: dict[str, Any] = reply.json
    assert body["code"] == code, body
    assert body["message"]
    return body


def _violations(body: dict[str, Any]) -> list[str]:
    return [v["field"] for d in body.get("details", []) if d["@type"] == BAD_REQUEST for v in d["fieldViolations"]]


def _reason(body: dict[str, Any]) -> str:
    return next(d["reason"] for d in body["details"] if d["@type"] == ERROR_INFO)


def test_the_routes_are_the_annotations_of_the_proto() -> None:
    """The route table is read from the google.api.http options: the four CallGate rules."""
    found = http.routes([gateway_pb2.DESCRIPTOR.services_by_name["CallGate"]])
    assert {(r.verb, r.path, r.method) for r in found} == {
        ("GET", "/v1/receipt-key", "/dncgate.v1.CallGate/GetReceiptKey"),
        ("POST", "/v1/check", "/dncgate.v1.CallGate/Check"),
        ("POST", "/v1/check:batch", "/dncgate.v1.CallGate/CheckBatch"),
        ("POST", "/v1/calls/{call_id}:outcome", "/dncgate.v1.CallGate/ReportCallOutcome"),
    }


async def test_check_answers_what_grpc_answers_for_the_same_input(face: Face) -> None:
    """ALLOW for an unregistered callee, BLOCK / REGISTERED once registered: the same as gRPC's Check."""
    async with Http(face.port) as c:
        for registered in (False, True):
            if registered:
                await _register(face)
            over_grpc = await face.gate.Check(check_request(request_id="r1"))
            reply = await c.post("/v1/check", _check(request_id="r1"), face.token)
            assert reply.status == 200, reply.body
            got = json_format.Parse(reply.body, gateway_pb2.CheckResponse())
            assert (got.decision, got.reason, got.callee_e164, got.request_id) == (
                over_grpc.decision,
                over_grpc.reason,
                over_grpc.callee_e164,
                "r1",
            )
            assert got.call_id and got.call_id != over_grpc.call_id  # a call event of its own
        assert got.decision == gateway_pb2.DECISION_BLOCK and got.reason == gateway_pb2.REASON_REGISTERED
        assert reply.json["decision"] == "DECISION_BLOCK" and reply.json["reason"] == "REASON_REGISTERED"


async def test_a_signed_orgs_json_answer_carries_its_receipt_in_base64(face: Face) -> None:
    """proto3 JSON writes bytes as base64: `receipt` and `receiptPayload` decode to a payload the key
    from `GET /v1/receipt-key` (no credential) verifies."""
    async with aio_channel(f"127.0.0.1:{face.running.port}", face.token) as channel:
        await registry_pb2_grpc.RegistryStub(channel).SetOrgPolicy(
            registry_pb2.SetOrgPolicyRequest(
                org_id=ORG, signed_receipts=True, update_mask=field_mask_pb2.FieldMask(paths=["signed_receipts"])
            )
        )
    async with Http(face.port) as c:
        reply = await c.post("/v1/check", _check(request_id="r1"), face.token)
        key = await c.request("GET", "/v1/receipt-key")  # no credential
    assert reply.status == 200 and key.status == 200, (reply.body, key.body)
    payload, signature = base64.b64decode(reply.json["receiptPayload"]), base64.b64decode(reply.json["receipt"])
    public = receipt_keys.load_public(base64.b64decode(key.json["publicKey"]))
    assert receipt_keys.verify(public, payload, signature)
    assert receipts.decode(payload).call_id == reply.json["callId"]


async def test_two_requests_share_one_kept_alive_connection(face: Face) -> None:
    """HTTP/1.1 keep-alive: the second request goes on the first's connection."""
    async with Http(face.port) as c:
        first = await c.post("/v1/check", _check(), face.token)
        second = await c.post("/v1/check", _check("13900139000"), face.token)
        assert (first.status, second.status) == (200, 200)
        assert first.headers["connection"] == "keep-alive"
        assert c.connections == 1


async def test_check_batch_answers_in_order(face: Face) -> None:
    """CheckBatch over HTTP: one response per request, in order, with the counts."""
    await _register(face)
    body = {"requests": [_check(request_id="a"), _check("13900139000", request_id="b")]}
    async with Http(face.port) as c:
        reply = await c.post("/v1/check:batch", body, face.token)
    assert reply.status == 200, reply.body
    got = reply.json
    assert [r["requestId"] for r in got["responses"]] == ["a", "b"]
    assert [r["decision"] for r in got["responses"]] == ["DECISION_BLOCK", "DECISION_ALLOW"]
    assert (got["allowed"], got["blocked"]) == (1, 1)


async def test_report_call_outcome_takes_the_call_id_from_the_path(face: Face) -> None:
    """POST /v1/calls/{call_id}:outcome: the path's call_id is the request's."""
    async with Http(face.port) as c:
        call_id = (await c.post("/v1/check", _check(), face.token)).json["callId"]

        async def reported() -> Reply | None:  # once the recorder has logged the call
            r = await c.post(f"/v1/calls/{call_id}:outcome", {"dialled": True, "connected": True}, face.token)
            return None if r.status == 404 else r

        reply = await until(reported, 20, what="the call to be logged")
    assert reply.status == 200, reply.body
    assert reply.json == {"callId": call_id}


# (what, verb, path, body, token: "admin" | None | a literal, HTTP status, google.rpc code, BadRequest field)
CASES: list[tuple[str, str, str, Any, str | None, int, int, str | None]] = [
    ("unknown field", "POST", "/v1/check", {**_check(), "colour": "red"}, "admin", 400, 3, "colour"),
    ("malformed JSON", "POST", "/v1/check", '{"callerNumber": ', "admin", 400, 3, "body"),
    ("a JSON array", "POST", "/v1/check", "[]", "admin", 400, 3, "body"),
    ("JSON nested past the parser's depth", "POST", "/v1/check", '{"a": ' + "[" * 100_000, "admin", 400, 3, "body"),
    ("not UTF-8", "POST", "/v1/check", b'{"callerNumber": "\xff"}', "admin", 400, 3, "body"),
    ("a wrong type", "POST", "/v1/check", {**_check(), "category": []}, "admin", 400, 3, "category"),
    ("a control character", "POST", "/v1/check", _check("138\x1b00138000"), "admin", 400, 3, "callee_number"),
    (
        "a batch's second request",
        "POST",
        "/v1/check:batch",
        {"requests": [_check(), _check(org_id="o\x00")]},
        "admin",
        400,
        3,
        "requests[1].org_id",
    ),
    ("no credential", "POST", "/v1/check", _check(), None, 401, 16, None),
    ("an unknown token", "POST", "/v1/check", _check(), "dnc_nope_nope", 401, 16, None),
    ("an unknown call", "POST", f"/v1/calls/{'0' * 32}:outcome", {"dialled": True}, "admin", 404, 5, None),
    ("a malformed call id in the path", "POST", "/v1/calls/nosuchcall:outcome", {}, "admin", 400, 3, "call_id"),
    ("an unknown path", "POST", "/v1/nothing", {}, "admin", 404, 5, None),
    ("a wrong method", "GET", "/v1/check", None, "admin", 405, 12, None),
    ("a wrong method on a template", "GET", "/v1/calls/x:outcome", None, "admin", 405, 12, None),
]


@pytest.mark.parametrize(
    ("what", "verb", "path", "body", "token", "status", "code", "field"), CASES, ids=[c[0] for c in CASES]
)
async def test_each_refusal_is_a_status_with_its_http_code(
    face: Face, what: str, verb: str, path: str, body: Any, token: str | None, status: int, code: int, field: str | None
) -> None:
    """A refusal is a google.rpc.Status in JSON, its HTTP status the transcoding table's, a field named."""
    async with Http(face.port) as c:
        reply = await c.request(verb, path, body, face.token if token == "admin" else token)
    got = _status(reply, status, code)
    if field is not None:
        assert _violations(got) == [field], got


async def test_roles_and_orgs_are_held_as_on_grpc(face: Face) -> None:
    """A role without Check: 403 MISSING_ROLE; a dialer of another org: 403 ORG_NOT_ALLOWED; its own: 200."""
    hotline = await face.token_of("hotline")
    dialer = await face.token_of("dialer", orgs=("other-org",))
    async with Http(face.port) as c:
        assert _reason(_status(await c.post("/v1/check", _check(), hotline), 403, 7)) == "MISSING_ROLE"
        assert _reason(_status(await c.post("/v1/check", _check(), dialer), 403, 7)) == "ORG_NOT_ALLOWED"
        batch = {"requests": [_check(org_id="other-org"), _check()]}
        assert _reason(_status(await c.post("/v1/check:batch", batch, dialer), 403, 7)) == "ORG_NOT_ALLOWED"
        assert (await c.post("/v1/check", _check(org_id="other-org"), dialer)).status == 200


async def test_an_invalid_callee_cannot_opt_out_failed_precondition_is_400(face: Face) -> None:
    """FAILED_PRECONDITION (an opt-out reported for an invalid number) is HTTP 400."""
    async with Http(face.port) as c:
        call_id = (await c.post("/v1/check", _check("12"), face.token)).json["callId"]

        async def reported() -> Reply | None:
            r = await c.post(f"/v1/calls/{call_id}:outcome", {"consumerOptedOut": True}, face.token)
            return None if r.status == 404 else r

        reply = await until(reported, 20, what="the call to be logged")
    _status(reply, 400, 9)


async def test_scrub_quota_spent_is_429(face: Face) -> None:
    """RESOURCE_EXHAUSTED (the caller's scrub quota) is HTTP 429, RetryInfo kept."""
    batch = {"requests": [_check(f"1390013{i:04d}") for i in range(10)]}
    dialer = await face.token_of("dialer")
    async with Http(face.port) as c:
        assert (await c.post("/v1/check:batch", batch, dialer)).status == 200
        got = _status(await c.post("/v1/check:batch", batch, dialer), 429, 8)
    assert any(d["@type"] == "type.googleapis.com/google.rpc.RetryInfo" for d in got["details"])


async def test_a_body_past_the_message_limit_is_413(face: Face) -> None:
    """A body larger than the gRPC port's message limit is refused with 413 and a Status naming it."""
    async with Http(face.port) as c:
        reply = await c.post("/v1/check", b"{" + b" " * limits.MAX_MESSAGE_BYTES + b"}", face.token)
    assert _violations(_status(reply, 413, 3)) == ["body"]


async def test_healthz_follows_grpc_health(face: Face) -> None:
    """GET /healthz: 200 SERVING while CallGate is SERVING, needing no credential; 503 once draining."""
    async with Http(face.port) as c:
        reply = await c.request("GET", "/healthz")
        assert (reply.status, reply.json) == (200, {"status": "SERVING"})
        await face.running.health.enter_graceful_shutdown()
        reply = await c.request("GET", "/healthz")
        assert (reply.status, reply.json) == (503, {"status": "NOT_SERVING"})


async def test_the_face_is_off_with_off(settings: Settings) -> None:
    """DNCGATE_HTTP_LISTEN=off serves no HTTP face."""
    async with running(replace(settings, http_listen="off")) as r:
        assert r.http_port is None


async def test_redis_down_is_never_allow(settings: Settings, private_redis: EmbeddedRedis) -> None:
    """With Redis stopped a Check is BLOCK / REGISTRY_UNAVAILABLE as on gRPC, /healthz 503, and a batch
    UNAVAILABLE (503) or BLOCK: never an ALLOW."""
    async with running(replace(settings, http_listen="127.0.0.1:0")) as r:
        await r.wait_current()
        token = admin_token(settings.data_dir)
        assert r.http_port is not None
        async with Http(r.http_port) as c:
            assert (await c.post("/v1/check", _check(), token)).json["decision"] == "DECISION_ALLOW"
            private_redis.stop()
            try:
                reply = await c.post("/v1/check", _check(), token)
                assert reply.status == 200, reply.body
                assert (reply.json["decision"], reply.json["reason"]) == (
                    "DECISION_BLOCK",
                    "REASON_REGISTRY_UNAVAILABLE",
                )

                async def unhealthy() -> bool:
                    return (await c.request("GET", "/healthz")).status == 503

                await until(unhealthy, 20, what="/healthz to say NOT_SERVING")
                reply = await c.post("/v1/check:batch", {"requests": [_check(), _check(CALLER)]}, token)
                if reply.status == 200:
                    assert {x["decision"] for x in reply.json["responses"]} == {"DECISION_BLOCK"}
                else:
                    _status(reply, 503, 14)
            finally:
                private_redis.start()


async def test_with_tls_the_face_is_https_with_the_grpc_certificate(settings: Settings, tmp_path: Any) -> None:
    """DNCGATE_TLS_CERT set: HTTPS with that certificate (a token as ever); with a client CA, a client
    certificate names its caller when no token is sent, and a client without one is refused."""
    pki = make_pki(tmp_path)
    tls = replace(settings, http_listen="127.0.0.1:0", tls_cert=pki.cert, tls_key=pki.key, tls_client_ca=pki.client_ca)
    client = pki.ca.client("dialer-7")
    client_cert, client_key = client.write(tmp_path / "client", "dialer")
    with_cert = ssl.create_default_context(cadata=pki.ca.pem.decode())
    with_cert.load_cert_chain(client_cert, client_key)
    async with running(tls) as r:
        await r.wait_current()
        assert r.http_port is not None
        await r.app.access.create("test", name="d7", roles=["dialer"], certificate_subject=client.subject)
        async with Http(r.http_port, tls=with_cert) as c:
            assert (await c.post("/v1/check", _check(), admin_token(settings.data_dir))).status == 200
            reply = await c.post("/v1/check", _check())  # no token: the certificate's subject
            assert reply.status == 200 and reply.json["decision"] == "DECISION_ALLOW", reply.body
        without = ssl.create_default_context(cadata=pki.ca.pem.decode())
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            async with Http(r.http_port, tls=without) as c:
                await c.request("GET", "/healthz")


async def test_role_http_serves_the_face_and_no_grpc_service_of_ours(settings: Settings) -> None:
    """Role `http`: Checks over HTTP, its registry loaded (health: CallGate SERVING), no CallGate over gRPC."""
    async with running(replace(settings, role="http", http_listen="127.0.0.1:0")) as r:
        await r.wait_current()
        assert r.http_port is not None
        token = admin_token(settings.data_dir)
        async with Http(r.http_port) as c:
            assert (await c.post("/v1/check", _check(), token)).json["decision"] == "DECISION_ALLOW"
            assert (await c.request("GET", "/healthz")).status == 200
        async with aio_channel(f"127.0.0.1:{r.port}", token) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await gateway_pb2_grpc.CallGateStub(channel).Check(check_request(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
