"""Server assembly: servicers, health, reflection; run until a signal, then stop everything cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dncgate import metrics
from dncgate.api import http, limits, observe
from dncgate.api.access import AccessServicer, Guard
from dncgate.api.compensation import CompensationServicer
from dncgate.api.gateway import CallGateServicer
from dncgate.api.health_port import open_health_port
from dncgate.api.interceptors import Registrar, rpc_lines_logged
from dncgate.api.registry import RegistryServicer
from dncgate.api.tls import http_context, server_credentials
from dncgate.api.workers import RecorderProcess
from dncgate.bootstrap import App, ensure_admin_token, open_app
from dncgate.config import ConfigError, Settings
from dncgate.console import app as console_app
from dncgate.console import client as console_client
from dncgate.console import serve as console_serve
from dncgate.console import views as console_views
from dncgate.embedded import supervise
from dncgate.service import readiness, sync
from dncgate.settings_table import parse_listen
from dncgate.v1 import (
    access_pb2,
    access_pb2_grpc,
    compensation_pb2,
    compensation_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)

log = structlog.get_logger("dncgate.server")

_RECORDER_STOP_S = 15.0
# How often health follows the stores, and how often a Redis restart is looked for.
_HEALTH_INTERVAL_S = 0.5
_CURRENT_INTERVAL_S = 0.5
# How often the tokens table is looked at: a revocation on any replica is refused here within this.
_TOKENS_INTERVAL_S = 1.0

SERVICES = (
    gateway_pb2.DESCRIPTOR.services_by_name["CallGate"].full_name,
    registry_pb2.DESCRIPTOR.services_by_name["Registry"].full_name,
    compensation_pb2.DESCRIPTOR.services_by_name["Compensation"].full_name,
    access_pb2.DESCRIPTOR.services_by_name["Access"].full_name,
)
CALLGATE, REGISTRY, COMPENSATION, ACCESS = SERVICES
# The gRPC services each role serves; health and reflection are always on (a recorder serves only them).
# Token management goes with the registry: both are the administrators' side.
ROLE_SERVICES: dict[str, tuple[str, ...]] = {
    "all": SERVICES,
    "api": SERVICES,
    "gateway": (CALLGATE,),
    "registry": (REGISTRY, ACCESS),
    "compensation": (COMPENSATION,),
    "recorder": (),
    "http": (),  # the HTTP/JSON face alone: no gRPC service of ours (health and reflection only)
    "console": (),  # the web console alone: a client of the gRPC API at DNCGATE_CONSOLE_TARGET
}
# The roles that serve the HTTP/JSON face (api/http.py) on DNCGATE_HTTP_LISTEN: it transcodes CallGate.
HTTP_ROLES = frozenset({"all", "api", "gateway", "http"})
# The roles that serve the web console (console/) on DNCGATE_CONSOLE_LISTEN: one process of a deployment,
# never the `serve --workers` API processes (role `api`).
CONSOLE_ROLES = frozenset({"all", "console"})


def readied(role: str) -> tuple[str, ...]:
    """The services whose readiness this role keeps (health, the registry loaded, tokens): those it serves
    over gRPC, and CallGate for the HTTP face alone, which answers Checks."""
    return ROLE_SERVICES[role] or ((CALLGATE,) if role == "http" else ())


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    app: App
    health: health.HealthServicer
    recorder: RecorderProcess | None = None  # role `all` with recorder_mode `process`
    current: asyncio.Event = field(default_factory=asyncio.Event)  # set while health says CallGate SERVING
    exporter: metrics.Exporter | None = None  # /metrics; None: DNCGATE_METRICS_LISTEN off, or its port busy
    health_port: int | None = None  # the plaintext health-only port; None: DNCGATE_HEALTH_LISTEN off
    http_port: int | None = None  # the HTTP/JSON face; None: DNCGATE_HTTP_LISTEN off, or a role without it
    console_port: int | None = None  # the web console; None: DNCGATE_CONSOLE_LISTEN off, or a role without it
    console: console_serve.Running | None = None

    async def drain(self, seconds: float) -> None:
        """Health NOT_SERVING for every service name ("" included) from now on, while RPCs are still
        answered for `seconds`: a load balancer or the endpoints controller takes the process out of
        rotation before it stops taking RPCs. Health stays NOT_SERVING whatever the stores do meanwhile."""
        await self.health.enter_graceful_shutdown()
        log.info("draining", seconds=seconds)
        await asyncio.sleep(seconds)  # the drain itself: RPCs keep being served meanwhile

    async def wait_current(self, within_s: float = 120.0) -> None:
        """Until the registry is loaded, Checks are answered from it and health says so (the port opens
        before that)."""
        async with asyncio.timeout(within_s):
            await self.current.wait()


def build_server(app: App, listen: str) -> tuple[grpc.aio.Server, int, health.HealthServicer]:
    """Our services, health and reflection on `listen`: plaintext, or TLS only once DNCGATE_TLS_CERT is set
    (api/tls.py), with a client certificate required (and naming the caller) once DNCGATE_TLS_CLIENT_CA is."""
    tls = server_credentials(app.settings)  # files read now: a bad one is a ConfigError at start-up
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 1 if app.settings.reuse_port else 0),
            ("grpc.max_receive_message_length", limits.MAX_MESSAGE_BYTES),
        ],
        # Load shedding: past this many RPCs in progress (a stream counts until it ends), gRPC answers
        # RESOURCE_EXHAUSTED at once instead of queueing them.
        maximum_concurrent_rpcs=app.settings.max_concurrent_rpcs or None,
    )
    served = ROLE_SERVICES[app.settings.role]
    lines = rpc_lines_logged()
    ours = Registrar(server, lines, _guard(app))  # our services: credentials checked, logged, errors mapped
    if CALLGATE in served:
        gateway_pb2_grpc.add_CallGateServicer_to_server(_callgate(app, lines), ours)
    if REGISTRY in served:
        registry_pb2_grpc.add_RegistryServicer_to_server(_registry(app), ours)
    if COMPENSATION in served:
        compensation_pb2_grpc.add_CompensationServicer_to_server(
            CompensationServicer(app.compensation, app.notices), ours
        )
    if ACCESS in served:
        access_pb2_grpc.add_AccessServicer_to_server(AccessServicer(app.access), ours)
    if ours.services != list(served):
        raise RuntimeError(f"services registered {ours.services}, expected {list(served)}")
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*served, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(listen) if tls is None else server.add_secure_port(listen, tls[0])
    if port == 0:
        raise ConfigError(f"DNCGATE_LISTEN: cannot listen on {listen}")
    return server, port, health_servicer


def _guard(app: App) -> Guard:
    return Guard(app.authenticator, certificates=app.settings.tls_client_ca is not None)


def _callgate(app: App, lines: bool) -> CallGateServicer:
    """The one CallGate servicer shape both faces serve (gRPC and HTTP/JSON)."""
    return CallGateServicer(
        app.gateway,
        app.settings.max_batch,
        app.outcomes,
        log_fields=lines,
        quotas=app.quotas,
        receipt_key=app.receipt_key,
    )


def _registry(app: App) -> RegistryServicer:
    """The one Registry servicer shape both faces serve (gRPC, and the org list over HTTP/JSON)."""
    return RegistryServicer(app.registry, lines=app.lines, ranges=app.ranges)


def build_http(app: App, health_servicer: health.HealthServicer) -> http.Face:
    """The HTTP/JSON face: CallGate's annotated methods, and the Registry's where this role serves the
    Registry over gRPC (a gateway or http-only process holds the Check path's stores only), run by the
    handlers `instrument` makes of the same servicers the gRPC server has (credentials, limits, log
    line, metrics, error mapping alike)."""
    lines = rpc_lines_logged()
    collector = http.Collector(lines, _guard(app))
    gateway_pb2_grpc.add_CallGateServicer_to_server(_callgate(app, lines), collector)
    services = [gateway_pb2.DESCRIPTOR.services_by_name["CallGate"]]
    if REGISTRY in ROLE_SERVICES[app.settings.role]:
        registry_pb2_grpc.add_RegistryServicer_to_server(_registry(app), collector)
        services.append(registry_pb2.DESCRIPTOR.services_by_name["Registry"])
    return http.Face(
        http.routes(services),
        collector.handlers,
        health_servicer,
        CALLGATE,
        limits.MAX_MESSAGE_BYTES,
        app.settings.max_concurrent_rpcs,
    )


async def start_console(app: App, grpc_port: int) -> console_serve.Running | None:
    """The web console of roles `all` and `console`, calling the gRPC API with each user's credential:
    this process's own port (role `all`) or DNCGATE_CONSOLE_TARGET."""
    settings = app.settings
    listen = parse_listen(settings.console_listen) if settings.role in CONSOLE_ROLES else None
    if listen is None:
        return None
    target = settings.console_target or f"127.0.0.1:{grpc_port}"
    own = settings.console_target is None  # role all: this process's port, TLS when it is
    if own and settings.tls_client_ca is not None:
        raise ConfigError(
            "DNCGATE_CONSOLE_LISTEN: the console presents no client certificate, and this gRPC port is mTLS "
            "(DNCGATE_TLS_CLIENT_CA): turn the console off here and run role `console` against a TLS port"
        )
    roots_file = settings.console_tls_ca or (settings.tls_cert if own else None)
    roots = roots_file.read_bytes() if roots_file is not None else None
    channel = console_client.channel(target, roots)
    # The status page's own credential: role `consumer`, whose one method is GetComplaintStatus. One per
    # host: a console that died without revoking its own (kill -9) has it revoked by the next.
    name = f"console status page {socket.gethostname()}"[:128]
    for old in await app.access.list():
        if old.created_by == "console" and old.name == name:
            await app.access.revoke("console", old.id)
    status = await app.access.create("console", name=name, roles=["consumer"])

    async def identify(token: str) -> tuple[str, frozenset[str]]:
        p = await app.authenticator.token(token)  # the gRPC side's own verification of a bearer token
        return p.name, p.roles

    deps = console_app.Deps(
        logins=app.logins,
        identify=identify,
        stub=compensation_pb2_grpc.CompensationStub(channel),
        status_token=status.token,
        clock=console_views.Clock(settings.default_timezone),
        idle_s=settings.console_idle_minutes * 60,
        secure_cookie=settings.tls_cert is not None,
    )
    tls = (
        (settings.tls_cert, settings.tls_key)
        if settings.tls_cert is not None and settings.tls_key is not None
        else None
    )
    try:
        running = await console_serve.start(console_app.Console(deps), listen[0], listen[1], tls)
    except BaseException:
        await app.access.revoke("console", status.row.id)
        await channel.close()
        raise
    running.on_stop.append(lambda: app.access.revoke("console", status.row.id))
    running.on_stop.append(channel.close)
    return running


def _status(serving: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    return health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING


def _publisher(h: health.HealthServicer, served: tuple[str, ...], current: asyncio.Event) -> readiness.Publish:
    """Health per service: CallGate follows the registry in Redis, Registry and Compensation PostgreSQL.

    The overall service "" is left SERVING while the process runs: it is what a liveness probe asks,
    and a store outage must not make Kubernetes restart every pod.
    """

    async def publish(registry_ready: bool, database: bool) -> None:
        for name in served:
            await h.set(name, _status(registry_ready if name == CALLGATE else database))
        metrics.REGISTRY_READY.set(1 if registry_ready else 0)
        if registry_ready:
            current.set()
        else:
            current.clear()

    return publish


@contextlib.asynccontextmanager
async def running(settings: Settings, *, write_endpoints: bool = False) -> AsyncIterator[Running]:
    """Start stores, open the port, load the registry, serve and record; on exit stop in reverse order.

    The port opens as soon as the stores answer and the schema is migrated. Until the registry in Redis
    is current with the journal (a rebuild or catch-up, which after a large import takes a while) every
    Check is BLOCK / REGISTRY_UNAVAILABLE and health says NOT_SERVING for CallGate; `Running.wait_current`
    waits for the end of that. Embedded stores this process started are supervised: restarted if they die.

    `settings.role` picks the parts: the registry is loaded and watched by every role that serves an
    RPC (gateway, registry, compensation, all); the recorder runs in the `recorder` and `all` roles.
    Role `all` runs it in a child process unless `settings.recorder_mode` is `inline`: in this event
    loop, each batch (decoding events, building rows) would stall the Checks served meanwhile.
    """
    role = settings.role
    served = readied(role)
    if role == "console" and settings.console_target is None:
        raise ConfigError("DNCGATE_CONSOLE_TARGET: role `console` calls the gRPC API there: set it (host:port)")
    http_listen = parse_listen(settings.http_listen) if role in HTTP_ROLES else None
    tls_http = http_context(settings) if http_listen is not None else None  # a bad file: ConfigError now
    async with open_app(settings, write_endpoints=write_endpoints) as app:
        app.gateway.hold()
        if CALLGATE in served:
            await app.gateway.receipts.refresh(app.journal.receipt_orgs)  # before the first Check
            await app.gateway.rules.refresh(app.rules_source)
            await app.gateway.org_caps.refresh(app.journal.check_policies)
        if served:
            await ensure_admin_token(app)  # the embedded default stays two commands
            await app.authenticator.refresh()
        server, port, h = build_server(app, settings.listen)
        # The probes' plaintext port, bound before either server starts: a busy port fails here.
        probes = open_health_port(settings.health_listen, h, settings.reuse_port)
        await h.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in served:
            await h.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.start()
        if probes is not None:
            await probes[0].start()
        face = None
        try:
            if http_listen is not None:
                try:
                    face = await http.start(
                        build_http(app, h), http_listen[0], http_listen[1], tls_http, settings.reuse_port
                    )
                except OSError as exc:
                    where = f"{http_listen[0]}:{http_listen[1]}"
                    raise ConfigError(f"DNCGATE_HTTP_LISTEN: cannot listen on {where}: {exc.strerror}") from None
            console = await start_console(app, port)
        except BaseException:  # a face that cannot start (its port taken): stop what did, then say why
            if face is not None:
                face[0].close()
            await server.stop(None)
            if probes is not None:
                await probes[0].stop(None)
            raise
        exporter = metrics.serve_metrics(settings.metrics_listen)  # a busy port is logged, not fatal
        stop, current, changed = asyncio.Event(), asyncio.Event(), asyncio.Event()
        if not served:
            current.set()  # a recorder holds no registry
        tasks: list[asyncio.Task[None]] = []
        if app.embedded:
            tasks.append(asyncio.create_task(supervise(app.embedded, stop), name="embedded-stores"))
        if exporter is not None:  # the gauges that need a store query, for this process's role
            parts = observe.parts_of(role, settings.recorder_mode == "inline")
            tasks.append(asyncio.create_task(observe.run(app, parts, stop), name="metrics"))
        if served:
            probe = app.probe
            tasks += [
                asyncio.create_task(app.authenticator.run(stop, _TOKENS_INTERVAL_S), name="tokens"),
                asyncio.create_task(
                    readiness.keep_current(
                        app.gateway,
                        probe,
                        lambda: sync.ensure_loaded(app.registry, app.journal, app.hot),
                        lambda: sync.catch_up(app.registry, app.journal, app.hot),
                        stop,
                        _CURRENT_INTERVAL_S,
                        changed,
                    ),
                    name="registry-current",
                ),
                asyncio.create_task(
                    readiness.watch_health(
                        app.gateway, probe, _publisher(h, served, current), stop, _HEALTH_INTERVAL_S, changed
                    ),
                    name="health",
                ),
            ]
        if CALLGATE in served:  # which orgs' Checks are signed: from the org policy journal, every second
            tasks.append(
                asyncio.create_task(app.gateway.receipts.watch(app.journal.receipt_orgs, stop), name="receipt-orgs")
            )
            # ranges, quiet days, caller lines: the same, read again only when a journal moved
            tasks.append(asyncio.create_task(app.gateway.rules.watch(app.rules_source, stop), name="check-rules"))
            tasks.append(
                asyncio.create_task(app.gateway.org_caps.watch(app.journal.check_policies, stop), name="org-caps")
            )
        watcher = (
            asyncio.create_task(sync.run(app.registry, app.journal, app.hot, settings.sync_interval_s, stop))
            if served
            else None
        )
        recorder = recording = None
        if role == "all" and settings.recorder_mode == "process":  # the child delivers the notices too
            # app's URLs: with embedded stores, those of the servers this process started.
            recorder = RecorderProcess(settings, app.redis_url, app.database_url, stop_s=_RECORDER_STOP_S)
            await recorder.start()
        elif role in ("all", "recorder"):
            recording = asyncio.create_task(app.recorder.run())
            # The consumer notices' sender loop: one per deployment, beside the recorder (never in the
            # `--workers` API processes, whose role is `api`).
            tasks.append(asyncio.create_task(app.notice_loop.run(stop), name="notices"))
            # Partitions ahead and retention: beside the recorder too (replicas running it take turns).
            tasks.append(asyncio.create_task(app.maintenance.run(stop), name="partition-maintenance"))
        transport = "plaintext" if settings.tls_cert is None else "mtls" if settings.tls_client_ca else "tls"
        health_port = probes[1] if probes is not None else None
        log.info(
            "serving",
            listen=settings.listen,
            port=port,
            role=role,
            embedded=settings.embedded,
            transport=transport,
            health_port=health_port,
            http_port=face[1] if face is not None else None,
            console_port=console.port if console is not None else None,
        )
        try:
            yield Running(
                server,
                port,
                app,
                h,
                recorder,
                current,
                exporter,
                health_port,
                face[1] if face is not None else None,
                console.port if console is not None else None,
                console,
            )
        finally:
            for name in ("", *served):
                await h.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
            # Stopped by the event rather than by cancellation: redis-py can swallow a cancellation that
            # lands in the middle of a command. The supervisor goes first: from here on a store that
            # exits is not brought back, but it is still up for the recorder's last flush below.
            stop.set()
            if watcher is not None:
                done, _ = await asyncio.wait({watcher}, timeout=_RECORDER_STOP_S)
                if not done:  # mid-rebuild of a large registry: give up on it, Redis stays "not loaded"
                    watcher.cancel()
                    log.warning("registry_watcher_stop_timed_out")
            if tasks:
                done, pending = await asyncio.wait(tasks, timeout=_RECORDER_STOP_S)
                for task in pending:  # a load still running: Redis stays "not loaded" or is caught up next time
                    task.cancel()
            if console is not None:  # before the gRPC server it calls
                await console.stop()
            if face is not None:  # no new connection; those open end as their requests are answered
                face[0].close()
            await server.stop(grace=5)
            if face is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(face[0].wait_closed(), 5)
            if probes is not None:
                await probes[0].stop(grace=1)
            if recorder is not None:  # after the server, as below: SIGTERM, then kill past the limit
                await recorder.stop()
            if recording is not None:
                # After the server: the events of its last Checks are recorded too, before Redis goes.
                # Asked, not cancelled: redis-py can swallow a cancellation that lands mid-command.
                app.recorder.stop()
                done, _ = await asyncio.wait({recording}, timeout=_RECORDER_STOP_S)
                if not done:
                    recording.cancel()
                    log.warning("recorder_stop_timed_out")
            if exporter is not None:
                exporter.close()
            log.info("stopped")


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM.

    SIGTERM (what Kubernetes sends) drains first: health goes NOT_SERVING at once, RPCs are answered for
    `DNCGATE_DRAIN_SECONDS` more, then the server stops taking new ones, lets those in flight finish,
    and stops the recorder last. Ctrl-C (SIGINT) at a terminal skips the drain.
    """
    stop = asyncio.Event()
    signals: list[int] = []

    def on_signal(sig: int) -> None:
        signals.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    async with running(settings, write_endpoints=True) as r:
        # Everything built at start-up (protobuf descriptors, phone metadata, the app) lives as long as
        # the process: out of the collector's way, a full collection no longer walks it mid-Check.
        gc.collect()
        gc.freeze()
        await stop.wait()
        if signals[0] == signal.SIGTERM and settings.drain_s > 0:
            await r.drain(settings.drain_s)
