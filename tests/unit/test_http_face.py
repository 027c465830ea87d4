"""The HTTP/JSON face's own parts: each domain error's HTTP status through the one error mapping, and
load shedding past the in-flight limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health

from dncgate.api import errors, http
from dncgate.domain import errors as domain
from dncgate.v1 import gateway_pb2
from tests.wait import until

# (error, google.rpc code, HTTP status): every DncgateError the use cases raise.
CASES: list[tuple[domain.DncgateError, int, int]] = [
    (domain.InvalidArgument("callee_number", "is required"), 3, 400),
    (domain.FailedPrecondition("nobody to register"), 9, 400),
    (domain.Unauthenticated("no credential"), 16, 401),
    (domain.PermissionDenied("not yours", "ORG_NOT_ALLOWED", {"org_id": "x"}), 7, 403),
    (domain.NotFound("no call with this call_id"), 5, 404),
    (domain.Conflict("request_id reused"), 6, 409),
    (domain.ResourceExhausted("scrub quota spent", 12.5), 8, 429),
    (domain.Unavailable("registry unavailable"), 14, 503),
    (domain.StoreUnavailable("redis down"), 14, 503),
    (domain.DncgateError("a bug"), 13, 500),
]


@pytest.mark.parametrize(("error", "code", "status"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_error_is_its_status_in_json_with_the_transcoding_http_code(
    error: domain.DncgateError, code: int, status: int
) -> None:
    """`api.errors.to_status`, sent as JSON: the code, the message, the details with their @type."""
    got_status, body = http.status_json(errors.to_status(error))
    got = json.loads(body)
    assert (got_status, got["code"], got["message"]) == (status, code, error.message)
    types = [d["@type"].rsplit(".", 1)[-1] for d in got.get("details", [])]
    expected = {3: ["BadRequest"], 7: ["ErrorInfo"], 8: ["RetryInfo"]}.get(code, [])
    assert types == expected


def test_an_internal_error_says_nothing_of_itself() -> None:
    """INTERNAL is 500 with the generic message, no detail."""
    status, body = http.status_json(errors.internal())
    assert (status, json.loads(body)) == (500, {"code": 13, "message": "internal error; it has been logged"})


def test_deadline_exceeded_is_504() -> None:
    assert http.HTTP_STATUS[grpc.StatusCode.DEADLINE_EXCEEDED.value[0]] == 504


async def test_past_the_in_flight_limit_a_request_is_429_at_once() -> None:
    """One request in progress and a limit of one: the next is RESOURCE_EXHAUSTED, 429, not queued."""
    release = asyncio.Event()

    async def check(request: Any, context: Any) -> gateway_pb2.CheckResponse:
        await release.wait()
        return gateway_pb2.CheckResponse(decision=gateway_pb2.DECISION_ALLOW)

    handler = grpc.unary_unary_rpc_method_handler(check, request_deserializer=gateway_pb2.CheckRequest.FromString)
    found = http.routes([gateway_pb2.DESCRIPTOR.services_by_name["CallGate"]])
    handlers = {r.method: handler for r in found}
    face = http.Face(found, handlers, health.aio.HealthServicer(), "dncgate.v1.CallGate", 1024, max_in_flight=1)
    first = asyncio.create_task(face.answer("POST", "/v1/check", b"{}", None, None))
    await until(lambda: face.in_flight == 1, what="the first request in progress")
    status, body = await face.answer("POST", "/v1/check", b"{}", None, None)
    assert (status, json.loads(body)["code"]) == (429, 8)
    release.set()
    assert (await first)[0] == 200
