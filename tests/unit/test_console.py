"""The console's own parts, without a server: sessions and their idle expiry, CSRF, the per-client
limit, the message catalogue, the queue's order and flags, the SVG chart, and the security headers,
cookie flags and CSRF refusal of the ASGI app itself (driven over ASGI, no network)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.console import charts, i18n, views
from dncgate.console.app import CSP, Console, Deps
from dncgate.console.sessions import COOKIE, ClientLimit, SessionStore
from dncgate.v1 import compensation_pb2 as pb

TEMPLATES = Path(__file__).parents[2] / "src/dncgate/console/templates"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_idle_longer_than_the_limit_is_gone_and_swept_once() -> None:
    """Each use restarts the idle clock; past `idle_s` unused the session is unknown, and `sweep`
    hands it back once (for its session token to be revoked)."""
    clock = Clock()
    store = SessionStore(idle_s=60, clock=clock)
    s = store.new()
    clock.now += 50
    assert store.get(s.id) is s
    clock.now += 50  # 50 s since the last use: still live
    assert store.get(s.id) is s
    clock.now += 61
    assert store.get(s.id) is None
    assert store.sweep() == [s] and store.sweep() == [] and len(store) == 0


def test_a_login_renews_the_session_id_and_csrf_token_keeping_the_language() -> None:
    """An id planted before the login is worth nothing after it."""
    store = SessionStore(idle_s=60)
    old = store.new("en")
    new = store.renew(old)
    assert (new.id, new.csrf) != (old.id, old.csrf) and new.lang == "en"
    assert store.get(old.id) is None and store.get(new.id) is new


def test_the_csrf_check_takes_the_sessions_token_only() -> None:
    """Missing, empty, another session's or a prefix of it: refused."""
    store = SessionStore(idle_s=60)
    s, other = store.new(), store.new()
    assert s.csrf_ok(s.csrf)
    for sent in (None, "", other.csrf, s.csrf[:-1]):
        assert not s.csrf_ok(sent)


def test_the_client_limit_counts_in_a_sliding_minute_per_client() -> None:
    clock = Clock()
    limit = ClientLimit(3, clock)
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b")
    clock.now += 61
    assert limit.allow("a")


def test_every_language_has_every_key_and_no_empty_text() -> None:
    """The catalogue's languages hold the same keys, each with a text."""
    keys = set(i18n.CATALOGUE[i18n.DEFAULT])
    for lang in i18n.LANGUAGES:
        assert set(i18n.CATALOGUE[lang]) == keys
        assert all(text.strip() for text in i18n.CATALOGUE[lang].values())
    assert i18n.DEFAULT == "zh" and i18n.language("fr") == "zh"


def test_every_literal_key_a_template_asks_for_is_in_the_catalogue() -> None:
    """`t('...')` in the templates: each key exists (keys built from enum names are checked below)."""
    used = {m for f in TEMPLATES.glob("*.html") for m in re.findall(r"t\('([a-z_0-9.]+)'\)", f.read_text())}
    assert used and used - set(i18n.CATALOGUE[i18n.DEFAULT]) == set()


@pytest.mark.parametrize(
    ("prefix", "enum"),
    [
        ("status.", pb.ComplaintStatus),
        ("stage.", pb.Stage),
        ("verdict.", pb.Verdict),
        ("payout.", pb.PayoutStatus),
        ("channel.", pb.Channel),
    ],
)
def test_every_enum_value_the_pages_show_has_words(prefix: str, enum: Any) -> None:
    """A new status, stage or verdict in the proto without words here fails this test, not a page."""
    assert {prefix + n for n in list(enum.keys())} <= set(i18n.CATALOGUE[i18n.DEFAULT])


def _ts(seconds: float) -> Timestamp:
    return Timestamp(seconds=int(seconds))


def test_the_queue_puts_the_nearest_due_first_and_flags_each_lapse_in_words() -> None:
    """Overdue first response, update and resolution each get a flag; the order is the nearest due."""
    now = 10_000
    late = pb.Complaint(
        case_id="DNC-1",
        status=pb.COMPLAINT_STATUS_RECEIVED,
        first_response_due=_ts(now - 100),
        next_update_due=_ts(now - 50),
        update_overdue=True,
        resolution_due=_ts(now - 10),
    )
    fine = pb.Complaint(
        case_id="DNC-2",
        status=pb.COMPLAINT_STATUS_VERIFIED,
        next_update_due=_ts(now + 500),
        resolution_due=_ts(now + 900),
    )
    rows = views.queue([fine, late], now)
    assert [r.case.case_id for r in rows] == ["DNC-1", "DNC-2"]
    assert rows[0].flags == ("overdue.first_response", "overdue.update", "overdue.resolution")
    assert rows[1].flags == () and rows[1].due_at == _ts(now + 500)


def test_money_is_shown_exactly() -> None:
    from google.type import money_pb2

    assert views.money(money_pb2.Money(currency_code="CNY", units=100, nanos=500_000_000)) == "CNY 100.50"
    assert views.money(None) == "—"


def test_times_are_shown_in_the_hotlines_zone_and_read_back_from_a_form() -> None:
    clock = views.Clock("Asia/Shanghai")
    t = _ts(1_764_547_200)  # 2025-12-01T00:00:00Z
    assert clock.show(t) == "2025-12-01 08:00 +08:00"
    assert clock.parse(clock.field(t)) == t and clock.parse("  ") is None


def test_the_chart_is_an_svg_with_a_bar_per_item_and_escaped_labels() -> None:
    svg = charts.bars(
        [charts.Bar("<m1>", (Decimal(3), Decimal(1))), charts.Bar("m2", (Decimal(0), Decimal(2)))], ("a", "b"), "t"
    )
    assert svg.startswith("<svg") and svg.count('<rect class="s0" x=') == 3  # two bars and the legend
    assert "<m1>" not in svg and "&lt;m1&gt;" in svg


# --- the ASGI app ----------------------------------------------------------------------------------


class _Unused:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no API call expected here ({name})")


async def _never(token: str) -> tuple[str, frozenset[str]]:
    raise AssertionError("no token login expected here")


def _console(clock: Clock | None = None) -> Console:
    deps = Deps(
        logins=_Unused(),  # type: ignore[arg-type]
        identify=_never,
        stub=_Unused(),  # type: ignore[arg-type]
        status_token="",
        clock=views.Clock("Asia/Shanghai"),
        idle_s=60,
        secure_cookie=True,
    )
    return Console(deps, clock or Clock())


async def _request(
    app: Any, method: str, path: str, cookie: str = "", form: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    body = urlencode(form or {}).encode()
    headers = [(b"host", b"console.test")]
    if cookie:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    if form is not None:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("console.test", 80),
    }
    sent: list[dict[str, Any]] = []
    fed = False

    async def receive() -> dict[str, Any]:
        nonlocal fed
        if fed:
            await asyncio.sleep(3600)
        fed = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    got: dict[str, str] = {}
    for k, v in start["headers"]:
        got[k.decode()] = (got[k.decode()] + "\n" if k.decode() in got else "") + v.decode()
    return start["status"], got, b"".join(m.get("body", b"") for m in sent[1:]).decode()


async def test_every_page_carries_a_strict_csp_and_the_session_cookie_is_httponly_secure_strict() -> None:
    app = _console().asgi()
    status, headers, html = await _request(app, "GET", "/login")
    assert status == 200 and headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert 'name="token"' in html and "登录" in html  # Chinese by default
    status, headers, _ = await _request(app, "GET", "/static/console.css")
    assert status == 200 and headers["content-security-policy"] == CSP


async def test_a_post_without_the_sessions_csrf_token_is_refused_before_anything_runs() -> None:
    """A forged POST to /status or /login: 403, and no API call (the deps would fail the test)."""
    app = _console().asgi()
    _, headers, html = await _request(app, "GET", "/status")
    sid = headers["set-cookie"].split(";")[0].split("=", 1)[1]
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    for form in ({"case_id": "DNC-1", "consumer_number": "1"}, {"csrf": csrf + "x", "case_id": "DNC-1"}):
        status, _, html = await _request(app, "POST", "/status", sid, form)
        assert status == 403 and "表单已失效" in html
    status, _, _ = await _request(app, "POST", "/login", sid, {"username": "a", "password": "b"})
    assert status == 403


async def test_an_idle_session_sends_the_browser_back_to_the_login_page() -> None:
    """Past the idle limit the old cookie opens nothing: a redirect to /login, with a new session."""
    clock = Clock()
    console = _console(clock)
    app = console.asgi()
    s = console.sessions.new()
    s.token, s.name = "dnc_x_y", "hotline zhao"
    status, headers, html = await _request(app, "GET", "/", s.id)  # a role-less login: the home page
    assert status == 200 and "hotline zhao" in html and "set-cookie" not in headers
    clock.now += 61
    status, headers, _ = await _request(app, "GET", "/", s.id)
    assert status == 303 and headers["location"] == "/login" and s.id not in headers["set-cookie"]


class _Logins:
    def __init__(self) -> None:
        self.revoked: list[str] = []

    async def logout(self, token_id: str) -> None:
        self.revoked.append(token_id)


async def test_the_sweep_revokes_the_session_tokens_of_idle_password_logins_only() -> None:
    """A password login's minted token is revoked when its session idles out; a user's own token is not."""
    clock = Clock()
    logins = _Logins()
    console = _console(clock)
    console.deps = replace(console.deps, logins=logins)  # type: ignore[arg-type]
    minted, own, anonymous = console.sessions.new(), console.sessions.new(), console.sessions.new()
    minted.token, minted.token_id = "dnc_a_b", "a"
    own.token = "dnc_c_d"  # logged in with a token of her own: not the console's to revoke
    clock.now += 61
    assert console.sessions.get(anonymous.id) is None  # idle too
    assert await console.sweep() == 3 and logins.revoked == ["a"]


def test_a_full_store_evicts_the_oldest_anonymous_session_before_any_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of cookie-less requests cannot log anyone out."""
    from dncgate.console import sessions

    monkeypatch.setattr(sessions, "_MAX_SESSIONS", 3)
    clock = Clock()
    store = SessionStore(idle_s=600, clock=clock)
    login = store.new()
    login.token = "dnc_a_b"
    for _ in range(10):
        clock.now += 1
        store.new()
    assert store.get(login.id) is login and len(store) == 3


def test_a_broken_rule_is_shown_as_the_code_the_check_answers() -> None:
    from dncgate.v1 import gateway_pb2

    assert views.reason(gateway_pb2.REASON_OUTSIDE_CALLING_HOURS) == "OUTSIDE_CALLING_HOURS"
    assert views.reason(999) == "999"
