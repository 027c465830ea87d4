"""CallGate servicer: Check, CheckStream, CheckBatch (ReportCallOutcome arrives with compensation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import structlog

from dncgate.api import convert
from dncgate.domain.errors import InvalidArgument
from dncgate.service.gateway import CheckResult, Gateway
from dncgate.v1 import gateway_pb2, gateway_pb2_grpc

Ctx: TypeAlias = Any  # grpc.aio.ServicerContext; grpcio ships no type information


def _bind(r: CheckResult) -> None:
    structlog.contextvars.bind_contextvars(
        callee=r.callee_masked,
        decision=r.verdict.decision.value,
        reason=r.verdict.reason.value,
        call_id=r.call_id,
        request_id=r.request_id,
    )


class CallGateServicer(gateway_pb2_grpc.CallGateServicer):
    def __init__(self, gateway: Gateway, max_batch: int) -> None:
        self.gateway = gateway
        self.max_batch = max_batch

    async def Check(self, request: gateway_pb2.CheckRequest, context: Ctx) -> gateway_pb2.CheckResponse:
        result = await self.gateway.check(convert.check_input(request))
        _bind(result)
        return convert.check_response(result)

    async def CheckStream(
        self, request_iterator: AsyncIterator[gateway_pb2.CheckRequest], context: Ctx
    ) -> AsyncIterator[gateway_pb2.CheckResponse]:
        n = 0
        async for request in request_iterator:
            result = await self.gateway.check(convert.check_input(request))
            n += 1
            yield convert.check_response(result)
        structlog.contextvars.bind_contextvars(checks=n)

    async def CheckBatch(self, request: gateway_pb2.CheckBatchRequest, context: Ctx) -> gateway_pb2.CheckBatchResponse:
        if len(request.requests) > self.max_batch:
            raise InvalidArgument(
                "requests", f"at most {self.max_batch} requests per batch, got {len(request.requests)}"
            )
        inputs = [convert.check_input(r, f"requests[{i}].") for i, r in enumerate(request.requests)]
        results = await self.gateway.check_many(inputs) if inputs else []
        allowed = sum(1 for r in results if r.verdict.allowed)
        structlog.contextvars.bind_contextvars(checks=len(results), allowed=allowed)
        return gateway_pb2.CheckBatchResponse(
            responses=[convert.check_response(r) for r in results],
            allowed=allowed,
            blocked=len(results) - allowed,
        )
