"""The web console in a real browser: Debian's Chromium, driven by Playwright, on a real `dncgate serve`.

The hotline story's complaint is filed through the form by an operator who logged in with her password,
the case is updated and extended on its page, the payments desk marks the payouts paid, a supervisor
hands it over and reads the compliance page, the operator records the consumer's sign-off and the
revisit, and the consumer looks her case up on the status page with her number and with a wrong one.
Around it: a hotline login is refused the payments page by the gRPC layer (403), and a POST without the
form's CSRF token is refused.
Screenshots of the main pages land in the test's directory (and, with DNCGATE_CONSOLE_SHOTS set, in that
directory too, in 64 colours: `DNCGATE_CONSOLE_SHOTS=docs/console pytest tests/browser` makes docs/console/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest

from dncgate.console.app import STATUS_LOOKUPS_PER_CLIENT
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.auth import admin_token, bearer
from tests.e2e.conftest import CONSUMER, check_request, free_port, serve_env
from tests.wait import callgate_serving, until_sync

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
A, B, C = "+862759001111", "+862759002222", "+862759003333"
PASSWORD = "correct horse battery"
UPDATE = "两个号码已核实，正在安排赔付"
REASON = "等待银行确认转账"

playwright_sync = pytest.importorskip("playwright.sync_api")


class Served:
    def __init__(self, proc: subprocess.Popen[str], grpc_port: int, url: str, data: Path) -> None:
        self.proc, self.grpc_port, self.url, self.data = proc, grpc_port, url, data

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DNCGATE_")}
        env |= {"DNCGATE_TARGET": f"127.0.0.1:{self.grpc_port}", "DNCGATE_DATA_DIR": str(self.data)}
        return subprocess.run(
            [sys.executable, "-m", "dncgate.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`dncgate serve` (role all, embedded stores) with its console on a free port."""
    tmp = tmp_path_factory.mktemp("console")
    grpc_port, console_port = free_port(), free_port()
    env = serve_env(grpc_port, tmp / "data", CONSOLE_LISTEN=f"127.0.0.1:{console_port}")
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dncgate.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    s = Served(proc, grpc_port, f"http://127.0.0.1:{console_port}", tmp / "data")
    try:
        # The console answers at once; Checks are BLOCK / REGISTRY_UNAVAILABLE until CallGate is SERVING.
        until_sync(
            lambda: proc.poll() is not None or (_answers(s.url + "/login") and callgate_serving(grpc_port)),
            90,
            what="the console, and CallGate SERVING",
        )
        assert proc.poll() is None, (tmp / "serve.log").read_text()[-3000:]
        yield s
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _logged(data: Path, call_id: str) -> bool:
    url = json.loads((data / "endpoints.json").read_text())["database_url"]
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT 1 FROM call_log WHERE call_id = %s", (call_id,)).fetchone() is not None


def _story_calls(s: Served) -> None:
    """The story's calls: her DND set in the app, the org in monitor mode, A called twice and B once."""
    meta = bearer(admin_token(s.data))
    with grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}") as ch:
        reg = registry_pb2_grpc.RegistryStub(ch)
        reg.SetPreference(
            registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP),
            metadata=meta,
        )
        reg.SetOrgPolicy(
            registry_pb2.SetOrgPolicyRequest(org_id="wuhan-01", mode=common_pb2.MODE_MONITOR), metadata=meta
        )
        gate = gateway_pb2_grpc.CallGateStub(ch)
        checked = [gate.Check(check_request(CONSUMER, caller_number=n), metadata=meta) for n in (A, A, B)]
    # Monitor mode: placed (ALLOW) although she is registered, which is what the complaint is about.
    assert [c.decision for c in checked] == [gateway_pb2.DECISION_ALLOW] * 3, checked
    ids = [c.call_id for c in checked]
    for call_id in ids:  # the recorder's child writes call_log: the verdicts are read from it
        until_sync(lambda c=call_id: _logged(s.data, c), 30, what=f"call {call_id} in call_log")


def _shot(page: object, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if target := os.environ.get("DNCGATE_CONSOLE_SHOTS"):  # docs/console/: 64 colours keep them small
        from PIL import Image

        Path(target).mkdir(parents=True, exist_ok=True)
        with Image.open(path) as shot:
            shot.convert("RGB").quantize(64).save(Path(target) / path.name, optimize=True)


def _login(page: object, url: str, user: str) -> None:
    page.goto(url + "/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", user)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("form.card button[type=submit]")  # type: ignore[attr-defined]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_hotline_story_in_the_console(served: Served, tmp_path: Path) -> None:
    """An operator files, updates and extends the story's case; payments pays it; the consumer sees it."""
    s = served
    _story_calls(s)
    for user, *roles in (
        ("hotline zhao", "hotline"),
        ("payments li", "payments"),
        ("supervisor sun", "supervisor", "compliance"),
    ):
        grants = [a for r in roles for a in ("--role", r)]
        made = s.cli("user", "create", user, *grants, "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stdout + made.stderr

    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            case_id = _operator(browser, s, tmp_path)
            _payments(browser, s, tmp_path)
            _supervisor(browser, s, tmp_path, case_id)
            _sign_off(browser, s, case_id)
            _consumer(browser, s, tmp_path)
        finally:
            browser.close()


def _operator(browser: object, s: Served, out: Path) -> str:
    ctx = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, s.url, "hotline zhao")
    assert page.url.endswith("/queue")
    page.click("text=开始接单")  # available: the round robin gives her the case she files
    assert "接单中" in page.inner_text("main")

    page.goto(s.url + "/complaints/new")
    page.fill("input[name=consumer_number]", CONSUMER)
    page.fill("textarea[name=caller_numbers]", "\n".join((A, B, C)))
    page.fill("textarea[name=description]", "她在应用里设置了免打扰，仍接到三次电话")
    _shot(page, out, "file")
    page.click("form.card button[type=submit]")
    table = page.inner_text("table.findings")
    assert table.count("VERIFIED") == 2 and "NO_MATCHING_CALL" in table, table
    assert "CNY 200.00" in table and "CNY 100.00" in table
    case_id = re.search(r"DNC-\d{8}-\d{6}", page.inner_text("h1")).group(0)  # type: ignore[union-attr]
    _shot(page, out, "verdict")

    page.click("a.button")  # open the case
    assert page.url.endswith(f"/cases/{case_id}")
    assert "*" in page.inner_text("dl.facts")  # masked
    assert CONSUMER not in page.content()  # her number is masked everywhere
    page.fill("#add-update textarea[name=text]", UPDATE)
    page.check("#add-update input[name=visible]")
    page.click("#add-update button")
    assert "已保存" in page.inner_text("p.flash")
    page.fill("#extend textarea[name=reason]", REASON)
    page.click("#extend button")
    updates = page.inner_text("section:has(h2:text('进展')) table")
    assert UPDATE in updates and REASON in updates and updates.count("是") == 2, updates
    _shot(page, out, "case")

    page.goto(s.url + "/queue")
    assert case_id in page.inner_text("table")
    _shot(page, out, "queue")

    # The payments page is the payments role's: the gRPC layer refuses a hotline credential.
    refused = page.goto(s.url + "/payouts")
    assert refused is not None and refused.status == 403
    assert "无权" in page.inner_text("main") and "ListPayouts" in page.inner_text("main")
    _shot(page, out, "refused")

    # A POST without the form's CSRF token (the session cookie alone) is refused, and changes nothing.
    bare = ctx.request.post(s.url + f"/cases/{case_id}/update", form={"text": "forged", "visible": "1"})
    assert bare.status == 403
    page.goto(s.url + f"/cases/{case_id}")
    assert "forged" not in page.content()
    page.click("header form button")  # log out: her session token is revoked
    assert page.url.endswith("/login")
    ctx.close()
    return case_id


def _supervisor(browser: object, s: Served, out: Path, case_id: str) -> None:
    """A supervisor hands the case to zhao, logged out (a user is a principal, logged in or not), and
    reads the violations per agent and the service report."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, s.url, "supervisor sun")
    page.goto(s.url + f"/cases/{case_id}")
    page.fill("#assign input[name=assignee]", "hotline zhao")
    page.fill("#assign input[name=note]", "请跟进")
    page.click("#assign button")
    assert "已保存" in page.inner_text("main"), page.inner_text("main")
    page.goto(s.url + "/compliance?org=wuhan-01")
    main = page.inner_text("main")
    assert "a17" in main and page.locator("svg.chart rect.s0").count() >= 2
    assert re.search(r"登记工单\s+1", main), main
    _shot(page, out, "compliance")
    ctx.close()


def _sign_off(browser: object, s: Served, case_id: str) -> None:
    """Zhao again: the consumer's confirmation (satisfied, 5 of 5), then the revisit."""
    ctx = browser.new_context(locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, s.url, "hotline zhao")
    page.goto(s.url + f"/cases/{case_id}")
    page.check("#confirm input[name=satisfied]")
    page.fill("#confirm input[name=satisfaction]", "5")
    page.click("#confirm button")
    assert "CLOSED" in page.inner_text("dl.facts"), page.inner_text("main")
    page.fill("#revisit input[name=rating]", "5")
    page.fill("#revisit input[name=note]", "没有再接到电话")
    page.click("#revisit button")
    assert "已回访" in page.inner_text("dl.facts")
    ctx.close()


def _payments(browser: object, s: Served, out: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, s.url, "payments li")
    assert page.url.endswith("/payouts")
    assert page.locator("table tbody tr").count() == 2
    _shot(page, out, "payouts")
    for n in range(2):
        page.fill("table tbody tr >> nth=0 >> input[name=payment_reference]", f"BANK-{n}")
        page.click("table tbody tr >> nth=0 >> button")
        assert "已标记为已支付" in page.inner_text("p.flash")
    assert "没有待支付的赔付" in page.inner_text("main")
    page.goto(s.url + "/funds")
    assert page.locator("svg.chart rect.s0").count() >= 1
    assert "CNY 200.00" in page.inner_text("main")
    _shot(page, out, "funds")
    ctx.close()


def _consumer(browser: object, s: Served, out: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1000, "height": 800}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(s.url + "/queue")  # not logged in: to the login page
    assert page.url.endswith("/login")
    case_id = _case_id_of(s)

    def look_up(case: str, number: str) -> tuple[int, str]:
        page.goto(s.url + "/status")
        page.fill("input[name=case_id]", case)
        page.fill("input[name=consumer_number]", number)
        with page.expect_navigation() as nav:
            page.click("form.card button")
        response = nav.value
        return (response.status if response else 0), page.inner_text("main")

    status, text = look_up(case_id, CONSUMER)
    assert status == 200, text
    assert UPDATE in text and REASON in text and "CNY 200.00" in text and "已支付" in text
    assert "已处理" in text and "消费者已确认" in text and "已回访" in text  # the whole timeline
    _shot(page, out, "status")
    wrong = look_up(case_id, "13900139000")
    unknown = look_up("DNC-20000101-000009", CONSUMER)
    assert wrong == unknown and wrong[0] == 404 and "没有找到" in wrong[1]
    _shot(page, out, "status-not-found")
    # Past the page's own limit per client (beside GetComplaintStatus's per case id): 429.
    page.goto(s.url + "/status")
    csrf = page.get_attribute("input[name=csrf]", "value") or ""
    codes = [
        ctx.request.post(
            s.url + "/status", form={"csrf": csrf, "case_id": "DNC-20000101-000001", "consumer_number": CONSUMER}
        ).status
        for _ in range(STATUS_LOOKUPS_PER_CLIENT)
    ]
    assert codes[-1] == 429 and set(codes) <= {404, 429}, codes
    page.goto(s.url + "/lang/en?next=/status")
    assert "Your case" in page.inner_text("h1")
    ctx.close()


def _case_id_of(s: Served) -> str:
    url = json.loads((s.data / "endpoints.json").read_text())["database_url"]
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT case_id FROM complaints ORDER BY created_at DESC LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])
