"""Calling hours end to end: the callee's local time decides, and the reply says when to try again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dncgate.domain.hours import CallingHours
from dncgate.v1 import gateway_pb2
from tests.conftest import start_server
from tests.e2e.conftest import check_request, gate

pytestmark = pytest.mark.e2e


async def test_late_evening_call_to_china_is_blocked_until_nine_local(settings) -> None:
    """At 22:30 Beijing time the call is blocked and next_allowed_time is 09:00 Beijing the next day."""
    s = replace(settings, calling_hours=CallingHours.parse("09:00-21:00"))
    async with start_server(s) as server:
        server.app.gateway.clock = lambda: datetime(2026, 11, 23, 14, 30, tzinfo=UTC).timestamp()  # 22:30 +08
        r = await gate(server).Check(check_request("13800138000"))
        assert (r.decision, r.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_OUTSIDE_CALLING_HOURS)
        assert r.next_allowed_time.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
        server.app.gateway.clock = lambda: datetime(2026, 11, 24, 1, 0, tzinfo=UTC).timestamp()  # 09:00 +08
        r = await gate(server).Check(check_request("13800138000"))
        assert r.decision == gateway_pb2.DECISION_ALLOW
        assert not r.HasField("next_allowed_time")
