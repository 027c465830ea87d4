"""CallGate servicer: Check, CheckStream, CheckBatch, ReportCallOutcome after the call, and the receipt key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any, TypeAlias

import structlog

from dncgate import metrics
from dncgate.api import access, convert
from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from dncgate.receipt_keys import ALGORITHM, PublicKey
from dncgate.service.gateway import CheckResult, Gateway
from dncgate.service.outcome import OutcomeReport, OutcomeService
from dncgate.service.quotas import Quotas
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
    if r.verdict.violation:
        structlog.contextvars.bind_contextvars(violation=True)


def _count(checks: dict[tuple[str, str], int], r: CheckResult) -> None:
    # `_value_`, not `.value` or the members: an Enum's property and hash are Python calls, and this
    # runs for every Check (about 0.15 us this way, 0.4 us with the members as the key).
    key = (r.verdict.decision._value_, r.verdict.reason._value_)
    checks[key] = checks.get(key, 0) + 1


class CallGateServicer(gateway_pb2_grpc.CallGateServicer):
    """`log_fields`: bind what the RPC's log line shows (callee mask, verdict, call id); off when the log
    level leaves out that line (see `api.interceptors.rpc_lines_logged`), saving a few us a Check.

    `quotas`: the caller's scrub quota (CheckBatch) and cap on open streams (CheckStream), see
    `service.quotas`; None applies neither. The single Check has none: it pays nothing for them."""

    def __init__(
        self,
        gateway: Gateway,
        max_batch: int,
        outcomes: OutcomeService,
        log_fields: bool = True,
        tally: metrics.Tally | None = None,
        quotas: Quotas | None = None,
        receipt_key: PublicKey | None = None,
    ) -> None:
        self.receipt_key = receipt_key  # GetReceiptKey's answer
        self.checks = (tally or metrics.TALLY).checks  # dncgate_checks_total, in plain ints
        self.gateway = gateway
        self.max_batch = max_batch
        self.outcomes = outcomes
        self.log_fields = log_fields
        self.fields_of = convert.VerdictFields()
        self.quotas = quotas

    async def Check(self, request: gateway_pb2.CheckRequest, context: Ctx) -> gateway_pb2.CheckResponse:
        result = await self.gateway.check(convert.check_input(request))
        verdict, checks = result.verdict, self.checks  # `_count` inlined: every Check pays for this
        key = (verdict.decision._value_, verdict.reason._value_)
        checks[key] = checks.get(key, 0) + 1
        if self.log_fields:
            _bind(result)
        return convert.check_response(result, self.fields_of)

    async def CheckStream(
        self, request_iterator: AsyncIterator[gateway_pb2.CheckRequest], context: Ctx
    ) -> AsyncIterator[gateway_pb2.CheckResponse]:
        # The cap is taken before the first request is read; the lease is given back when the stream ends,
        # however: the loop finishing or raising, or gRPC ending the RPC (a client that went away).
        lease = await self.quotas.open_stream(access.current()) if self.quotas is not None else None
        if lease is not None:
            context.add_done_callback(lambda _: lease.close())
        n = 0
        try:
            async for request in request_iterator:
                result = await self.gateway.check(convert.check_input(request))
                _count(self.checks, result)
                n += 1
                yield convert.check_response(result, self.fields_of)
        finally:
            if lease is not None:
                lease.close()
        structlog.contextvars.bind_contextvars(checks=n)

    async def CheckBatch(self, request: gateway_pb2.CheckBatchRequest, context: Ctx) -> gateway_pb2.CheckBatchResponse:
        if len(request.requests) > self.max_batch:
            raise InvalidArgument(
                "requests", f"at most {self.max_batch} requests per batch, got {len(request.requests)}"
            )
        inputs = convert.check_inputs(request.requests)
        # Counted against the caller's scrub quota once the batch's fields are valid, before any is checked.
        admit = partial(self.quotas.take_scrub, access.current()) if self.quotas is not None else None
        results = await self.gateway.check_many(inputs, admit=admit) if inputs else []
        for result in results:
            _count(self.checks, result)
        response = convert.check_batch_response(results, self.fields_of)
        structlog.contextvars.bind_contextvars(checks=len(results), allowed=response.allowed)
        return response

    async def ReportCallOutcome(
        self, request: gateway_pb2.ReportCallOutcomeRequest, context: Ctx
    ) -> gateway_pb2.ReportCallOutcomeResponse:
        structlog.contextvars.bind_contextvars(call_id=request.call_id, request_id=request.request_id)
        reporter = access.current()
        result = await self.outcomes.report(
            OutcomeReport(
                call_id=request.call_id,
                dialled=request.dialled,
                connected=request.connected,
                duration_seconds=request.duration_seconds,
                consumer_opted_out=request.consumer_opted_out,
                request_id=request.request_id,
                scope=convert.opt_out_scope(request.opt_out_scope),
                not_dialled=request.not_dialled,
                orgs=reporter.orgs,  # the call's org is known once it is found (service.outcome)
            ),
            actor=reporter.label,  # an in-call opt-out is journaled as the reporting dialer's
        )
        structlog.contextvars.bind_contextvars(callee=result.callee_masked, opt_out=result.opt_out_registered)
        return gateway_pb2.ReportCallOutcomeResponse(
            call_id=result.call_id, opt_out_registered=result.opt_out_registered
        )

    async def GetReceiptKey(self, request: gateway_pb2.GetReceiptKeyRequest, context: Ctx) -> gateway_pb2.ReceiptKey:
        key = self.receipt_key
        if key is None:
            raise FailedPrecondition("this server signs no receipts: it was started without a receipt key")
        return gateway_pb2.ReceiptKey(
            algorithm=ALGORITHM, public_key=key.raw, public_key_pem=key.pem, key_id=key.key_id
        )
