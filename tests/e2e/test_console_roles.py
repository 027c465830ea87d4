"""The console in-process: role `all` serves it on its own port, role `console` alone calls another
process's gRPC API, a token login and a password login both work, and logging out revokes the session
token a password login minted (the gRPC side refuses it at once)."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest

from dncgate.api.server import Running, running
from dncgate.config import ConfigError, Settings
from dncgate.v1 import compensation_pb2, compensation_pb2_grpc
from tests.auth import aio_channel

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


class Browser:
    """A cookie-keeping HTTP client for the console (urllib, run off the event loop the server shares)."""

    def __init__(self, base: str, context: ssl.SSLContext | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar)]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)

    def _fetch(self, path: str, form: dict[str, str] | None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data, timeout=15) as r:
                return r.status, r.geturl(), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode()

    async def get(self, path: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(self._fetch, path, None)

    async def post(self, path: str, form: dict[str, str], page: str = "") -> tuple[int, str, str]:
        """POST `form` with the CSRF token of the page at `page` (default: `path`)."""
        _, _, html = await self.get(page or path)
        csrf = re.search(r'name="csrf" value="([^"]+)"', html)
        assert csrf is not None, html[:500]
        return await asyncio.to_thread(self._fetch, path, {"csrf": csrf.group(1), **form})


def _console(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, console_listen="127.0.0.1:0", **changes)


@contextlib.asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[Running]:
    async with running(settings) as r:
        await r.wait_current()
        yield r


async def test_role_all_serves_the_console_and_a_token_login_reaches_the_api(settings: Settings) -> None:
    """A token in the `token` input: logged in, the queue page is the API's answer; a bad one is refused."""
    async with _serving(_console(settings)) as r:
        new = await r.app.access.create("t", name="hotline zhao", roles=["hotline"])
        browser = Browser(f"http://127.0.0.1:{r.console_port}")
        status, url, html = await browser.post("/login", {"token": new.token})
        assert (status, url.rsplit("/", 1)[-1]) == (200, "queue"), html[:500]
        assert "hotline zhao" in html and "当前没有分配给您的工单" in html
        status, _, html = await Browser(browser.base).post("/login", {"token": "dnc_nope_" + "x" * 32})
        assert status == 401 and "不正确" in html


async def test_a_password_login_logs_out_by_revoking_its_session_token(settings: Settings) -> None:
    """The session token works over gRPC until logout; after it, UNAUTHENTICATED (revoked)."""
    async with _serving(_console(settings)) as r:
        assert r.console is not None
        await r.app.logins.create_user("t", "payments li", PASSWORD, ["payments"])
        browser = Browser(f"http://127.0.0.1:{r.console_port}")
        _, url, html = await browser.post("/login", {"username": "payments li", "password": PASSWORD})
        assert url.endswith("/payouts") and "没有待支付的赔付" in html, html[:500]
        [session] = [s for s in r.console.console.sessions if s.token_id is not None]
        assert session.name == "payments li" and session.roles == {"payments"}
        async with aio_channel(f"127.0.0.1:{r.port}", session.token) as ch:
            stub = compensation_pb2_grpc.CompensationStub(ch)
            await stub.ListPayouts(compensation_pb2.ListPayoutsRequest())
            _, url, _ = await browser.post("/logout", {}, page="/payouts")
            assert url.endswith("/login")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListPayouts(compensation_pb2.ListPayoutsRequest())
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (await browser.get("/payouts"))[1].endswith("/login")


async def test_role_console_alone_calls_the_api_of_another_process(settings: Settings) -> None:
    """`serve --role console` with DNCGATE_CONSOLE_TARGET: the pages come from the other process's API."""
    async with _serving(settings) as api:
        new = await api.app.access.create("t", name="sun", roles=["supervisor"])
        alone = _console(settings, role="console", console_target=f"127.0.0.1:{api.port}")
        async with running(alone) as r:
            assert r.console_port is not None
            browser = Browser(f"http://127.0.0.1:{r.console_port}")
            status, url, html = await browser.post("/login", {"token": new.token})
            assert (status, url.rsplit("/", 1)[-1]) == (200, "queue"), html[:500]
            status, _, html = await browser.get("/compliance")
            assert status == 200 and "服务报告" in html


async def test_role_console_without_a_target_is_a_config_error(settings: Settings) -> None:
    """Role `console` serves no API of its own: where to call must be said."""
    with pytest.raises(ConfigError, match="DNCGATE_CONSOLE_TARGET"):
        async with running(_console(settings, role="console")):
            pass


async def test_a_console_user_takes_cases_and_hand_overs_while_logged_out(settings: Settings) -> None:
    """A user is a principal whether logged in or not: available, she gets the round robin's case, and
    AssignComplaint hands her one, with no live token of hers."""
    from tests.auth import admin_token
    from tests.e2e.compensation_support import A, story_calls

    async with _serving(settings) as r:
        await r.app.logins.create_user("t", "hotline zhao", PASSWORD, ["hotline"])
        async with aio_channel(f"127.0.0.1:{r.port}", admin_token(settings.data_dir)) as ch:
            stub = compensation_pb2_grpc.CompensationStub(ch)
            await story_calls(_Channel(ch, r))
            await stub.SetOperatorAvailability(
                compensation_pb2.SetOperatorAvailabilityRequest(available=True, operator="hotline zhao")
            )
            case = await stub.FileComplaint(
                compensation_pb2.FileComplaintRequest(
                    consumer_number="13800138000", caller_numbers=[A], channel=compensation_pb2.CHANNEL_HOTLINE
                )
            )
            assert case.assignee == "hotline zhao"
            case = await stub.AssignComplaint(
                compensation_pb2.AssignComplaintRequest(case_id=case.case_id, assignee="hotline zhao", note="again")
            )
            assert case.assignee == "hotline zhao"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.AssignComplaint(
                    compensation_pb2.AssignComplaintRequest(case_id=case.case_id, assignee="nobody at all")
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class _Channel:
    """What the story's helpers take of a test server: its channel."""

    def __init__(self, channel: Any, r: Running) -> None:
        self.channel = channel
        self.app = r.app


async def test_with_tls_the_console_is_https_with_a_secure_cookie_and_calls_the_tls_port(
    settings: Settings, tmp_path: Path
) -> None:
    """DNCGATE_TLS_CERT set: the console serves HTTPS with the same certificate, its cookie is Secure, and
    it verifies the gRPC port with DNCGATE_CONSOLE_TLS_CA; an mTLS port is refused at start-up."""
    from tests.e2e.test_tls import make_pki, tls

    pki = make_pki(tmp_path)
    ca = pki.ca.write(tmp_path / "ca.crt")
    async with _serving(_console(tls(settings, pki), console_tls_ca=ca)) as r:
        new = await r.app.access.create("t", name="hotline zhao", roles=["hotline"])
        context = ssl.create_default_context(cafile=str(ca))
        browser = Browser(f"https://127.0.0.1:{r.console_port}", context)
        status, url, html = await browser.post("/login", {"token": new.token})
        assert (status, url.rsplit("/", 1)[-1]) == (200, "queue"), html[:500]
        assert any(c.secure for c in browser.jar)
    with pytest.raises(ConfigError, match="mTLS"):
        async with running(_console(tls(settings, pki, mtls=True))):
            pass
