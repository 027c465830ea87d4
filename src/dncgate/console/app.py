"""The console's ASGI app: pages for the hotline, payments, compliance, and the consumer's status page.

Every page runs through `Console.page`: the session from its cookie (a new anonymous one if none), the
login required unless the page is public, the CSRF token of every POST checked against the session's,
and an API refusal turned into a page with its HTTP status (403 for a role the API refuses, 404, 400 with
the API's words...) rather than a trace. `Headers` puts a strict Content-Security-Policy and the other
security headers on every response, static files and 404s included.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dncgate.console import charts, i18n, views
from dncgate.console.client import ApiError, call
from dncgate.console.sessions import COOKIE, ClientLimit, Session, SessionStore
from dncgate.domain.access import QUEUE_ROLES
from dncgate.domain.errors import Unauthenticated
from dncgate.service.logins import LoginService
from dncgate.v1 import compensation_pb2, compensation_pb2_grpc

log = structlog.get_logger("dncgate.console")

V = compensation_pb2  # the messages and enums, named as the tests name them
_CHANNELS = frozenset(V.Channel.keys())
_DECISIONS = frozenset(V.ComplaintStatus.keys())

# No script at all, styles and images from this origin only, forms posted here only, never framed.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)
STATUS_LOOKUPS_PER_CLIENT = 10  # a minute, per client address: beside GetComplaintStatus's own per case id
LOGINS_PER_CLIENT = 20  # attempts a minute, per client address
_PAGE = 200
Identify = Callable[[str], Awaitable[tuple[str, frozenset[str]]]]  # a token -> its principal's name and roles
Handler = Callable[[Request, Session], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Deps:
    """What the console is built from (api/server.py builds it): no store among them."""

    logins: LoginService
    identify: Identify  # verifies a token login the way the gRPC side does (the same Authenticator)
    stub: compensation_pb2_grpc.CompensationStub
    status_token: str  # the status page's own credential: role `consumer`, GetComplaintStatus only
    clock: views.Clock
    idle_s: float
    secure_cookie: bool  # the console is served over TLS


class Headers:
    """ASGI middleware: the security headers on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class Console:
    def __init__(self, deps: Deps, clock: Callable[[], float] = time.monotonic) -> None:
        self.deps = deps
        self.sessions = SessionStore(deps.idle_s, clock)
        self.status_limit = ClientLimit(STATUS_LOOKUPS_PER_CLIENT, clock)
        self.login_limit = ClientLimit(LOGINS_PER_CLIENT, clock)
        self.env = Environment(
            loader=PackageLoader("dncgate.console", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        )
        self.env.globals.update(
            V=V,
            money=views.money,
            name=views.name,
            short=views.short,
            reason=views.reason,
            show=deps.clock.show,
            field=deps.clock.field,
        )

    # --- plumbing ----------------------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        static = StaticFiles(directory=str(Path(__file__).parent / "static"))
        p = self.page
        routes = [
            Route("/", p(self.home), methods=["GET"]),
            Route("/login", p(self.login_form, public=True), methods=["GET"]),
            Route("/login", p(self.login, public=True), methods=["POST"]),
            Route("/logout", p(self.logout), methods=["POST"]),
            Route("/lang/{lang}", p(self.language, public=True), methods=["GET"]),
            Route("/complaints/new", p(self.file_form), methods=["GET"]),
            Route("/complaints", p(self.file), methods=["POST"]),
            Route("/queue", p(self.queue), methods=["GET"]),
            Route("/availability", p(self.availability), methods=["POST"]),
            Route("/cases/{case_id}", p(self.case), methods=["GET"]),
            Route("/cases/{case_id}/{action}", p(self.case_action), methods=["POST"]),
            Route("/payouts", p(self.payouts), methods=["GET"]),
            Route("/payouts/{payout_id}/paid", p(self.mark_paid), methods=["POST"]),
            Route("/funds", p(self.funds), methods=["GET"]),
            Route("/compliance", p(self.compliance), methods=["GET"]),
            Route("/status", p(self.status_form, public=True), methods=["GET"]),
            Route("/status", p(self.status, public=True), methods=["POST"]),
            Mount("/static", app=static, name="static"),
        ]
        return Headers(Starlette(routes=routes))

    def page(self, handler: Handler, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            sent = request.cookies.get(COOKIE)
            session = self.sessions.get(sent)
            if session is None:
                session = self.sessions.new()
                if sent and not public:  # a login that ended (idle, restart): say so on the login page
                    session.flash = "login.expired"
            request.state.session = session
            try:
                if not public and not session.logged_in:
                    response: Response = RedirectResponse("/login", 303)
                elif request.method == "POST" and not session.csrf_ok(_text(await request.form(), "csrf")):
                    log.info("console_csrf_refused", path=request.url.path)
                    response = self.error(request, 403, "error.csrf")
                else:
                    response = await handler(request, request.state.session)
            except ApiError as exc:
                response = await self.refused(request, exc)
            current: Session = request.state.session
            if current.id != sent:
                response.set_cookie(
                    COOKIE,
                    current.id,
                    httponly=True,
                    secure=self.deps.secure_cookie,
                    samesite="strict",
                    path="/",
                )
            return response

        return endpoint

    async def refused(self, request: Request, exc: ApiError) -> Response:
        if exc.status == 401:  # the credential is gone (revoked, expired): log in again
            await self.end(request.state.session)
            fresh = request.state.session = self.sessions.new(request.state.session.lang)
            fresh.flash = "login.expired"
            return RedirectResponse("/login", 303)
        key = f"error.{exc.status}" if f"error.{exc.status}" in i18n.CATALOGUE[i18n.DEFAULT] else "error.503"
        return self.error(request, exc.status, key, exc.detail)

    def error(self, request: Request, status: int, key: str, detail: str = "") -> Response:
        return self.render(request, "error.html", status, message=key, detail=detail)

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        s: Session = request.state.session
        flash, s.flash = s.flash, ""

        def t(key: str) -> str:
            return i18n.text(s.lang, key)

        html = self.env.get_template(template).render(
            t=t, s=s, lang=s.lang, flash=flash, path=request.url.path, nav=_nav(s.roles), **context
        )
        return HTMLResponse(html, status)

    async def end(self, session: Session) -> None:
        """Forget a session and revoke the session token the console minted for it (not a user's own token)."""
        self.sessions.drop(session)
        await self._revoke(session)

    async def _revoke(self, session: Session) -> None:
        if session.token_id is not None:
            try:
                await self.deps.logins.logout(session.token_id)
            except Exception as exc:  # a store outage: the token still expires with the session's life
                log.warning("console_logout_failed", token_id=session.token_id, error=str(exc))

    async def sweep(self) -> int:
        """Revoke the session tokens of the sessions that idled out; how many there were."""
        gone = self.sessions.sweep()
        for s in gone:
            await self._revoke(s)
        return len(gone)

    # --- login -------------------------------------------------------------------------------------

    async def home(self, request: Request, s: Session) -> Response:
        if s.roles & (QUEUE_ROLES | {"admin"}):
            return RedirectResponse("/queue", 303)
        if "payments" in s.roles:
            return RedirectResponse("/payouts", 303)
        if "compliance" in s.roles:
            return RedirectResponse("/compliance", 303)
        return self.render(request, "home.html")

    async def login_form(self, request: Request, s: Session) -> Response:
        return self.render(request, "login.html")

    async def login(self, request: Request, s: Session) -> Response:
        form = await request.form()
        if not self.login_limit.allow(_client(request)):
            return self.error(request, 429, "error.429")
        token, token_id = _text(form, "token").strip(), None
        name, roles = "", frozenset[str]()
        if token:
            try:
                name, roles = await self.deps.identify(token)
            except Unauthenticated:
                token = ""
        else:
            minted = await self.deps.logins.login(_text(form, "username").strip(), _text(form, "password"))
            if minted is not None:
                token, token_id = minted.token, minted.row.id
                name, roles = minted.row.name, frozenset(minted.row.roles)
        if not token:
            s.flash = "login.failed"
            return self.render(request, "login.html", 401)
        fresh = request.state.session = self.sessions.renew(s)  # a new id and CSRF token once logged in
        fresh.token, fresh.token_id, fresh.name, fresh.roles = token, token_id, name, roles
        log.info("console_login", user=name, kind="password" if token_id else "token")
        return RedirectResponse("/", 303)

    async def logout(self, request: Request, s: Session) -> Response:
        await self.end(s)
        request.state.session = self.sessions.new(s.lang)
        return RedirectResponse("/login", 303)

    async def language(self, request: Request, s: Session) -> Response:
        s.lang = i18n.language(request.path_params["lang"])
        back = request.query_params.get("next", "/")
        return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", 303)

    # --- the hotline -------------------------------------------------------------------------------

    async def file_form(self, request: Request, s: Session) -> Response:
        return self.render(request, "file.html", request_id=uuid.uuid4().hex)

    async def file(self, request: Request, s: Session) -> Response:
        form = await request.form()
        callers = [c.strip() for c in _text(form, "caller_numbers").replace(",", "\n").splitlines() if c.strip()]
        try:
            after, before = (self.deps.clock.parse(_text(form, k)) for k in ("occurred_after", "occurred_before"))
        except ValueError:
            return self.error(request, 400, "error.400", "occurred_after / occurred_before")
        channel = _text(form, "channel")
        req = V.FileComplaintRequest(
            consumer_number=_text(form, "consumer_number").strip(),
            caller_numbers=callers,
            channel=channel if channel in _CHANNELS else "CHANNEL_HOTLINE",
            description=_text(form, "description"),
            request_id=_text(form, "request_id"),
            disputes_consent=_text(form, "disputes_consent") == "1",
            escalate=_text(form, "escalate") == "1",
        )
        if after is not None:
            req.occurred_after.CopyFrom(after)
        if before is not None:
            req.occurred_before.CopyFrom(before)
        case = await call(self.deps.stub.FileComplaint, req, s.token)
        return self.render(request, "filed.html", case=case)

    async def queue(self, request: Request, s: Session) -> Response:
        found = await call(
            self.deps.stub.ListComplaints, V.ListComplaintsRequest(assignee=s.name, page_size=_PAGE), s.token
        )
        rows = views.queue(list(found.complaints), time.time())
        return self.render(request, "queue.html", rows=rows)

    async def availability(self, request: Request, s: Session) -> Response:
        form = await request.form()
        op = await call(
            self.deps.stub.SetOperatorAvailability,
            V.SetOperatorAvailabilityRequest(available=_text(form, "available") == "1"),
            s.token,
        )
        s.flash = "queue.available" if op.available else "queue.away"
        return RedirectResponse("/queue", 303)

    async def case(self, request: Request, s: Session) -> Response:
        case = await call(
            self.deps.stub.GetComplaint, V.GetComplaintRequest(case_id=request.path_params["case_id"]), s.token
        )
        return self.render(
            request,
            "case.html",
            case=case,
            request_id=uuid.uuid4().hex,
            extend_to=self.deps.clock.later(case.resolution_due, 2),
            supervisor=bool(s.roles & {"supervisor", "admin"}),
        )

    async def case_action(self, request: Request, s: Session) -> Response:
        case_id, action = request.path_params["case_id"], request.path_params["action"]
        form = await request.form()
        rid = _text(form, "request_id")
        stub = self.deps.stub
        if action == "update":
            await call(
                stub.AddComplaintUpdate,
                V.AddComplaintUpdateRequest(
                    case_id=case_id,
                    text=_text(form, "text"),
                    visible_to_consumer=_text(form, "visible") == "1",
                    request_id=rid,
                ),
                s.token,
            )
        elif action == "extend":
            try:
                due = self.deps.clock.parse(_text(form, "new_resolution_due"))
            except ValueError:
                return self.error(request, 400, "error.400", "new_resolution_due")
            req = V.ExtendComplaintRequest(case_id=case_id, reason=_text(form, "reason"), request_id=rid)
            if due is not None:
                req.new_resolution_due.CopyFrom(due)
            await call(stub.ExtendComplaint, req, s.token)
        elif action == "confirm":
            confirm = V.ConfirmResolutionRequest(
                case_id=case_id,
                satisfied=_text(form, "satisfied") == "1",
                comment=_text(form, "comment"),
                override_reason=_text(form, "override_reason"),
                remaining_issue=_text(form, "remaining_issue"),
                satisfaction=_int(_text(form, "satisfaction")),
                request_id=rid,
            )
            if _text(form, "resolved") in ("0", "1"):
                confirm.resolved = _text(form, "resolved") == "1"
            await call(stub.ConfirmResolution, confirm, s.token)
        elif action == "revisit":
            await call(
                stub.RecordRevisit,
                V.RecordRevisitRequest(
                    case_id=case_id,
                    recurred=_text(form, "recurred") == "1",
                    rating=_int(_text(form, "rating")),
                    note=_text(form, "note"),
                    request_id=rid,
                ),
                s.token,
            )
        elif action == "assign":
            await call(
                stub.AssignComplaint,
                V.AssignComplaintRequest(
                    case_id=case_id, assignee=_text(form, "assignee").strip(), note=_text(form, "note"), request_id=rid
                ),
                s.token,
            )
        elif action == "review":
            decision = _text(form, "decision")
            await call(
                stub.ReviewComplaint,
                V.ReviewComplaintRequest(
                    case_id=case_id,
                    decision=decision if decision in _DECISIONS else None,
                    note=_text(form, "note"),
                    request_id=rid,
                ),
                s.token,
            )
        else:
            return self.error(request, 404, "error.404")
        s.flash = "case.saved"
        return RedirectResponse(f"/cases/{quote(case_id, safe='')}", 303)

    # --- payments ----------------------------------------------------------------------------------

    async def payouts(self, request: Request, s: Session) -> Response:
        pending = await call(
            self.deps.stub.ListPayouts, V.ListPayoutsRequest(status=V.PAYOUT_STATUS_PENDING, page_size=_PAGE), s.token
        )
        overdue = [p for p in pending.payouts if p.overdue]
        return self.render(request, "payouts.html", pending=list(pending.payouts), overdue=overdue)

    async def mark_paid(self, request: Request, s: Session) -> Response:
        form = await request.form()
        await call(
            self.deps.stub.MarkPayoutPaid,
            V.MarkPayoutPaidRequest(
                payout_id=request.path_params["payout_id"],
                payment_reference=_text(form, "payment_reference").strip(),
                request_id=_text(form, "request_id"),
            ),
            s.token,
        )
        s.flash = "payouts.marked"
        return RedirectResponse("/payouts", 303)

    async def funds(self, request: Request, s: Session) -> Response:
        summary = await call(self.deps.stub.GetFundSummary, V.GetFundSummaryRequest(period="month"), s.token)
        t = i18n.CATALOGUE[s.lang]
        chart = charts.bars(
            [
                charts.Bar(
                    self.deps.clock.show(p.period_start)[:7],
                    (views.decimal_of(p.paid_amount), views.decimal_of(p.pending_amount)),
                )
                for p in summary.periods
            ],
            (t["funds.legend_paid"], t["funds.legend_pending"]),
            t["funds.chart"],
        )
        return self.render(request, "funds.html", summary=summary, chart=chart)

    # --- compliance --------------------------------------------------------------------------------

    async def compliance(self, request: Request, s: Session) -> Response:
        org = request.query_params.get("org", "").strip()
        report = chart = None
        t = i18n.CATALOGUE[s.lang]
        if org:
            report = await call(self.deps.stub.ReportViolations, V.ReportViolationsRequest(org_id=org), s.token)
            chart = charts.bars(
                [
                    charts.Bar(a.agent_id or "—", (Decimal(a.violating_calls), Decimal(a.calls_outside_gateway)))
                    for a in report.agents
                ],
                (t["col.violating_calls"], t["col.outside_gateway"]),
                t["compliance.chart"],
            )
        service = await call(self.deps.stub.ReportService, V.ReportServiceRequest(period="month"), s.token)
        return self.render(request, "compliance.html", org=org, report=report, chart=chart, service=service)

    # --- the consumer's status page -----------------------------------------------------------------

    async def status_form(self, request: Request, s: Session) -> Response:
        return self.render(request, "status.html", progress=None, not_found=False)

    async def status(self, request: Request, s: Session) -> Response:
        form = await request.form()
        if not self.status_limit.allow(_client(request)):
            return self.error(request, 429, "error.429")
        req = V.GetComplaintStatusRequest(
            case_id=_text(form, "case_id").strip(), consumer_number=_text(form, "consumer_number").strip()
        )
        try:
            progress = await call(self.deps.stub.GetComplaintStatus, req, self.deps.status_token)
        except ApiError as exc:
            # A wrong number, an unknown case and a malformed one read the same: nothing to tell them apart.
            if exc.status in (400, 404):
                return self.render(request, "status.html", 404, progress=None, not_found=True)
            raise
        return self.render(request, "status.html", progress=progress, not_found=False)


def _nav(roles: frozenset[str]) -> dict[str, bool]:
    """Which pages the navigation offers: those whose RPCs the roles may call (the API decides anyway)."""
    admin = "admin" in roles
    return {
        "queue": admin or bool(roles & QUEUE_ROLES),
        "payouts": admin or "payments" in roles,
        "funds": admin or bool(roles & {"payments", "compliance"}),
        "compliance": admin or bool(roles & {"compliance", "supervisor"}),
    }


def _text(form: FormData | Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _int(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
