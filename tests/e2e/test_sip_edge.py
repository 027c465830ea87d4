"""The SIP edge end to end: real Kamailio with integrations/kamailio/kamailio.cfg in front of a real dncgate's
HTTP face, a SIPp agent calling through it and a SIPp carrier behind it, all on loopback free ports.

Kamailio gets the cfg as it ships and a dncgate-local.cfg of #!define lines, as its README tells an
operator; its token is a `dialer` token of its own. SIPp runs in a thread so the in-process dncgate keeps
answering. Every wait polls (the proxy's OPTIONS, the carrier's port, PostgreSQL's rows) with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from benchmarks import sip
from dncgate.domain.hours import CallingHours
from dncgate.v1 import compensation_pb2
from tests.conftest import Server, with_settings
from tests.e2e.compensation_support import db_rows, file, monitor, register_dnd
from tests.e2e.conftest import check_request, gate
from tests.wait import until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.sip,
    pytest.mark.skipif(
        bool(sip.missing_tools()), reason=f"not installed: {sip.missing_tools()} (.ci/run installs them)"
    ),
]

CALLER = "+862759001234"
REGISTERED = "13800138000"
UNREGISTERED = "13900139000"
ORG = "wuhan-01"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the callee's calling hours are kept in China's time
KEYS = {"caller": CALLER, "org": ORG, "agent": "a17", "campaign": "c1", "category": "finance"}


@dataclass
class Edge:
    server: Server
    proxy: sip.Proxy
    carrier: sip.Carrier
    directory: Path

    async def call(self, callee: str, hold_ms: int = 500, **keys: str) -> sip.AgentRun:
        """One call from the SIPp agent through the proxy (in a thread: the server shares this loop)."""
        run = await asyncio.to_thread(
            sip.agent, self.directory, self.proxy.port, KEYS | {"callee": callee} | keys, hold_ms=hold_ms
        )
        assert run.returncode == 0, run.output[-2000:]
        return run


def final(run: sip.AgentRun) -> sip.SipMessage:
    """The INVITE's final answer."""
    return next(m for m in run.finals() if (m.header("CSeq") or "").endswith("INVITE"))


@contextlib.asynccontextmanager
async def sip_edge(
    settings: Any, tmp_path: Path, *, token: str | None = None, url: str | None = None, sources: str = ""
) -> AsyncIterator[Edge]:
    """dncgate with its HTTP face on a free port, a carrier, and Kamailio between the agent and it (asking
    with a dialer token of its own unless given `token`, at the HTTP face unless given `url`)."""
    from dncgate.api.server import running
    from tests.auth import admin_token, aio_channel

    async with running(with_settings(settings, http_listen="127.0.0.1:0")) as r:
        admin = admin_token(settings.data_dir)
        async with aio_channel(f"127.0.0.1:{r.port}", admin) as channel:
            await r.wait_current()
            server = Server(r.port, r.app, channel, settings, admin)
            assert r.http_port, "the HTTP face is not listening"
            proxy_token = token or (await r.app.access.create("test", name="sip-edge", roles=["dialer"])).token
            with sip.carrier(tmp_path / "carrier") as carrier:
                defines = sip.local_defines(
                    url or f"http://127.0.0.1:{r.http_port}",
                    proxy_token,
                    sip.free_udp_port(),
                    carrier.port,
                    DNC_CHILDREN="2",
                )
                proxy_cm = sip.proxy(tmp_path / "kamailio", defines, sources=sources)
                proxy = await asyncio.to_thread(proxy_cm.__enter__)
                try:
                    yield Edge(server, proxy, carrier, tmp_path / "agent")
                finally:
                    await asyncio.to_thread(proxy_cm.__exit__, None, None, None)


async def outcome(server: Server, call_id: str) -> tuple[Any, ...] | None:
    rows = await db_rows(
        server,
        "SELECT o.dialled, o.connected, o.duration_seconds, l.decision, l.violation FROM call_outcome o"
        " JOIN call_log l USING (call_id) WHERE call_id = %s",
        call_id,
    )
    return tuple(rows[0]) if rows else None


async def test_a_registered_number_gets_603_with_its_reason_and_never_reaches_the_carrier(settings, tmp_path) -> None:
    """A DND number: 603 Decline with Reason text="REASON_REGISTERED", and the carrier sees no INVITE."""
    async with sip_edge(settings, tmp_path) as edge:
        await register_dnd(edge.server, REGISTERED)
        answer = final(await edge.call(REGISTERED))
        assert (answer.status, answer.header("Reason")) == (603, 'SIP;cause=603;text="REASON_REGISTERED"')
        assert answer.header("Retry-After") is None
        assert edge.carrier.invites() == []


async def test_an_unregistered_number_is_answered_and_logged_connected_with_its_duration(settings, tmp_path) -> None:
    """The carrier answers, gets X-DNC-Call-Id and none of the dialer's X-DNC-* headers; after BYE the
    call's outcome in PostgreSQL is dialled, connected, 2 seconds."""
    async with sip_edge(settings, tmp_path) as edge:
        run = await edge.call(UNREGISTERED, hold_ms=2000)
        assert [m.status for m in run.finals()] == [200, 200]  # the INVITE's and the BYE's
        (invite,) = edge.carrier.invites()
        call_id = invite.header("X-DNC-Call-Id")
        assert call_id and len(call_id) == 32
        assert [h for h in invite.headers if h.startswith("x-dnc-")] == ["x-dnc-call-id"]
        got = await until(
            lambda: _connected_with_duration(edge.server, call_id), 20, what="the call's outcome after BYE"
        )
        assert got == (True, True, 2, "ALLOW", False)


async def _connected_with_duration(server: Server, call_id: str) -> tuple[Any, ...] | None:
    row = await outcome(server, call_id)
    return row if row is not None and row[2] > 0 else None


async def test_a_call_in_monitor_mode_is_relayed_logged_as_a_violation_and_verifies_a_complaint(
    settings, tmp_path
) -> None:
    """Monitor mode lets a DND call through; call_log says violation; a complaint finds and verifies it."""
    async with sip_edge(settings, tmp_path) as edge:
        await register_dnd(edge.server, REGISTERED)
        await monitor(edge.server, ORG)
        run = await edge.call(REGISTERED)
        assert final(run).status == 200
        (invite,) = edge.carrier.invites()
        call_id = invite.header("X-DNC-Call-Id")
        logged = await until(lambda: outcome(edge.server, call_id), 20, what="the call in call_log and call_outcome")
        assert (logged[3], logged[4]) == ("ALLOW", True)
        complaint = await file(edge.server, CALLER, consumer=REGISTERED)
        (finding,) = complaint.findings
        assert (finding.verdict, list(finding.call_ids)) == (compensation_pb2.VERDICT_VERIFIED, [call_id])


async def test_a_dialer_without_headers_gets_its_source_address_settings(settings, tmp_path) -> None:
    """Empty X-DNC-Org and X-DNC-Campaign: the org and campaign that dncgate-sources.cfg (as the README
    writes it) sets for 127.0.0.1 are what the Check logged; the agent header the dialer set still wins."""
    sources = (
        "#!define DNC_HAS_SOURCES\n"
        "route[DNC_SOURCES] {\n"
        '\t$sht(dncsrc=>127.0.0.1::org) = "wuhan-01";\n'
        '\t$sht(dncsrc=>127.0.0.1::campaign) = "spring";\n'
        '\t$sht(dncsrc=>127.0.0.1::agent) = "not-this-one";\n'
        "}\n"
    )
    async with sip_edge(settings, tmp_path, sources=sources) as edge:
        assert final(await edge.call(UNREGISTERED, org="", campaign="")).status == 200
        (invite,) = edge.carrier.invites()
        call_id = invite.header("X-DNC-Call-Id")
        rows = await until(
            lambda: db_rows(
                edge.server, "SELECT org_id, campaign_id, agent_id FROM call_log WHERE call_id = %s", call_id
            ),
            20,
            what="the call in call_log",
        )
        assert tuple(rows[0]) == ("wuhan-01", "spring", "a17")


async def test_the_caller_is_the_asserted_identity_when_there_is_one(settings, tmp_path) -> None:
    """From says one line, P-Asserted-Identity another: the Check's caller is the asserted one."""
    async with sip_edge(settings, tmp_path) as edge:
        assert final(await edge.call(UNREGISTERED, caller="+862759009999", asserted=CALLER)).status == 200
        (invite,) = edge.carrier.invites()
        call_id = invite.header("X-DNC-Call-Id")
        rows = await until(
            lambda: db_rows(edge.server, "SELECT caller_e164 FROM call_log WHERE call_id = %s", call_id),
            20,
            what="the call in call_log",
        )
        assert rows[0][0] == CALLER


async def test_outside_calling_hours_the_603_says_when_to_retry(settings, tmp_path) -> None:
    """A one-minute window six hours away: 603 with REASON_OUTSIDE_CALLING_HOURS and a Retry-After of the
    seconds until the nextAllowedTime dncgate gives (the same as a gRPC Check's, to the second)."""
    opens = datetime.now(SHANGHAI) + timedelta(hours=6)
    start = f"{opens:%H:%M}"
    end = f"{(opens + timedelta(minutes=1)):%H:%M}" if opens.hour * 60 + opens.minute < 1439 else "24:00"
    hours = with_settings(settings, calling_hours=CallingHours.parse(f"{start}-{end}"))
    async with sip_edge(hours, tmp_path) as edge:
        answer = final(await edge.call(UNREGISTERED))
        told = await gate(edge.server).Check(check_request(UNREGISTERED, caller_number=CALLER, org_id=ORG))
        expected = told.next_allowed_time.seconds - int(time.time())
        assert answer.header("Reason") == 'SIP;cause=603;text="REASON_OUTSIDE_CALLING_HOURS"'
        assert answer.status == 603 and abs(int(answer.header("Retry-After") or -1) - expected) <= 2
        assert edge.carrier.invites() == []


async def test_a_token_dncgate_refuses_gets_503_and_relays_nothing(settings, tmp_path) -> None:
    """An unknown token: the HTTP face answers 401, the proxy refuses the call 503 and relays nothing."""
    async with sip_edge(settings, tmp_path, token="dnc_unknown0000_" + "x" * 32) as edge:
        assert final(await edge.call(UNREGISTERED)).status == 503
        assert edge.carrier.invites() == []


async def test_a_check_unanswered_within_the_deadline_gets_503_and_relays_nothing(settings, tmp_path) -> None:
    """A dncgate that takes the connection and never answers: 503 after DNC_TIMEOUT_S (1 s), no relay."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accepted: the kernel completes the handshake, nobody answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        async with sip_edge(settings, tmp_path, url=url) as edge:
            started = time.monotonic()
            answer = final(await edge.call(UNREGISTERED))
            took = time.monotonic() - started
            assert (answer.status, edge.carrier.invites()) == (503, [])
            assert 0.9 < took < 5, took


async def test_with_redis_killed_every_new_invite_gets_503_and_none_reaches_the_carrier(
    private_redis, settings, tmp_path
) -> None:
    """Fail closed at the edge: once dncgate's Redis is gone, each INVITE is refused 503, none relayed."""
    async with sip_edge(settings, tmp_path) as edge:
        assert final(await edge.call(UNREGISTERED, hold_ms=100)).status == 200
        private_redis.stop()
        for callee in (UNREGISTERED, REGISTERED, "13700137000"):
            assert final(await edge.call(callee)).status == 503
        assert len(edge.carrier.invites()) == 1
