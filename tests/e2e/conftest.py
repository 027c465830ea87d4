"""Helpers for end-to-end tests: stubs over the real server's channel."""

from __future__ import annotations

from typing import Any

import pytest

from dncgate.v1 import gateway_pb2, gateway_pb2_grpc, registry_pb2_grpc

pytestmark = pytest.mark.e2e

CALLER = "+862759001234"
CONSUMER = "13800138000"


def check_request(callee: str = CONSUMER, **kw: Any) -> gateway_pb2.CheckRequest:
    fields: dict[str, Any] = {
        "caller_number": CALLER,
        "callee_number": callee,
        "agent_id": "a17",
        "org_id": "wuhan-01",
        "campaign_id": "c1",
        "category": gateway_pb2.CATEGORY_REAL_ESTATE if hasattr(gateway_pb2, "CATEGORY_REAL_ESTATE") else 1,
    }
    fields.update(kw)
    return gateway_pb2.CheckRequest(**fields)


def gate(server: Any) -> Any:
    return gateway_pb2_grpc.CallGateStub(server.channel)


def registry(server: Any) -> Any:
    return registry_pb2_grpc.RegistryStub(server.channel)
