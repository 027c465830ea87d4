"""Server assembly: servicers, health, reflection; run until a signal, then stop everything cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dncgate.api.gateway import CallGateServicer
from dncgate.api.interceptors import ServerInterceptor
from dncgate.api.registry import RegistryServicer
from dncgate.bootstrap import App, open_app
from dncgate.config import Settings
from dncgate.service import sync
from dncgate.v1 import (
    compensation_pb2,
    compensation_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)

log = structlog.get_logger("dncgate.server")

SERVICES = (
    gateway_pb2.DESCRIPTOR.services_by_name["CallGate"].full_name,
    registry_pb2.DESCRIPTOR.services_by_name["Registry"].full_name,
    compensation_pb2.DESCRIPTOR.services_by_name["Compensation"].full_name,
)


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    app: App
    health: health.HealthServicer


def build_server(app: App, listen: str) -> tuple[grpc.aio.Server, int, health.HealthServicer]:
    server = grpc.aio.server(
        interceptors=[ServerInterceptor()],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 64 * 1024 * 1024)],
    )
    gateway_pb2_grpc.add_CallGateServicer_to_server(CallGateServicer(app.gateway, app.settings.max_batch), server)
    registry_pb2_grpc.add_RegistryServicer_to_server(RegistryServicer(app.registry), server)
    # Compensation is part of the contract; until it is implemented its RPCs answer UNIMPLEMENTED.
    compensation_pb2_grpc.add_CompensationServicer_to_server(compensation_pb2_grpc.CompensationServicer(), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    return server, port, health_servicer


async def _set_serving(h: health.HealthServicer, serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *SERVICES):
        await h.set(name, status)


@contextlib.asynccontextmanager
async def running(settings: Settings, *, write_endpoints: bool = False) -> AsyncIterator[Running]:
    """Start stores, load the registry, start serving; on exit stop in reverse order."""
    async with open_app(settings, write_endpoints=write_endpoints) as app:
        await sync.ensure_loaded(app.registry, app.journal, app.hot)
        server, port, h = build_server(app, settings.listen)
        await server.start()
        await _set_serving(h, True)
        watcher = asyncio.create_task(sync.run(app.registry, app.journal, app.hot, settings.sync_interval_s))
        log.info("serving", listen=settings.listen, port=port, embedded=settings.embedded)
        try:
            yield Running(server, port, app, h)
        finally:
            await _set_serving(h, False)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await server.stop(grace=5)
            log.info("stopped")


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings, write_endpoints=True):
        await stop.wait()
