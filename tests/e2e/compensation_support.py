"""Helpers for the compensation end-to-end tests: the story's numbers, stubs and a settable clock."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.v1 import common_pb2, compensation_pb2, compensation_pb2_grpc, registry_pb2
from tests.e2e.conftest import CONSUMER, check_request, gate, registry

A, B, C = "+862759001111", "+862759002222", "+862759003333"
ORG = "wuhan-01"
V = compensation_pb2


def hotline(server: Any) -> Any:
    return compensation_pb2_grpc.CompensationStub(server.channel)


async def register_dnd(server: Any, number: str = CONSUMER) -> None:
    await registry(server).SetPreference(
        registry_pb2.SetPreferenceRequest(number=number, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )


async def monitor(server: Any, org: str = ORG) -> None:
    await registry(server).SetOrgPolicy(registry_pb2.SetOrgPolicyRequest(org_id=org, mode=common_pb2.MODE_MONITOR))


async def call(server: Any, caller: str, callee: str = CONSUMER, **kw: Any) -> str:
    """One Check from `caller`; returns its call id."""
    r = await gate(server).Check(check_request(callee, caller_number=caller, org_id=ORG, **kw))
    return str(r.call_id)


async def story_calls(server: Any) -> dict[str, list[str]]:
    """The issue's story: DND in the app, an org in monitor mode, two calls from A and one from B."""
    await register_dnd(server)
    await monitor(server)
    return {A: [await call(server, A), await call(server, A)], B: [await call(server, B)]}


async def file(server: Any, *callers: str, consumer: str = CONSUMER, **kw: Any) -> Any:
    return await hotline(server).FileComplaint(
        V.FileComplaintRequest(consumer_number=consumer, caller_numbers=list(callers), channel=V.CHANNEL_HOTLINE, **kw)
    )


def verdicts(complaint: Any) -> list[tuple[str, str]]:
    return [(f.caller_number, V.Verdict.Name(f.verdict)) for f in complaint.findings]


def yuan(money: Any) -> tuple[str, int, int]:
    return (money.currency_code, money.units, money.nanos)


class Clock:
    """Sets the compensation service's clock (and the payout desk's) to now + an offset."""

    def __init__(self, server: Any) -> None:
        self.offset = 0.0
        self.service = server.app.compensation
        self.service.clock = self
        self.service.payouts.clock = self

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def db_rows(server: Any, sql: str, *params: Any) -> list[Any]:
    async with server.app.pool.connection() as conn:
        return list(await (await conn.execute(sql.encode(), params)).fetchall())


async def refused(rpc: Any, request: Any) -> grpc.aio.AioRpcError:
    """The error `rpc(request)` must end in."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await rpc(request)
    return info.value


def bad_field(err: grpc.aio.AioRpcError) -> str:
    """The field an INVALID_ARGUMENT names first in its BadRequest."""
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    status = rpc_status.from_call(err)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    return str(bad.field_violations[0].field)
