"""The console served by uvicorn on the serving process's own event loop, on a socket bound here.

The socket is bound before uvicorn starts, so a busy port fails `serve` at start-up (with port 0, the
kernel's choice is known at once). Signals stay the serving process's: uvicorn's `serve` would install
its own handlers over `serve`'s SIGTERM drain, so its steps (startup, main loop, shutdown) are run here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import uvicorn

from dncgate.config import ConfigError
from dncgate.console.app import Console

log = structlog.get_logger("dncgate.console")

_SWEEP_S = 30.0  # how often idled-out sessions have their session tokens revoked


@dataclass
class Running:
    """The console being served: its port, and the tasks `stop` ends."""

    port: int
    server: uvicorn.Server
    console: Console
    sock: socket.socket
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[object]]] = field(default_factory=list)  # after the server stops

    async def stop(self) -> None:
        self.server.should_exit = True  # the main loop ends within a tick
        self.tasks[1].cancel()
        _, pending = await asyncio.wait(self.tasks, timeout=5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):  # the requests in flight are answered, 5 s at most
            await asyncio.wait_for(self.server.shutdown(sockets=[self.sock]), 5)
        self.sock.close()
        for undo in self.on_stop:
            try:
                await undo()
            except Exception as exc:  # a store outage at shutdown: the status token stays (revoke it by hand)
                log.warning("console_stop_step_failed", error=str(exc))


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"DNCGATE_CONSOLE_LISTEN: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


async def start(console: Console, host: str, port: int, tls: tuple[Path, Path] | None = None) -> Running:
    """Serve `console` on host:port (HTTPS with the certificate and key files `tls` names)."""
    sock = bind(host, port)
    config = uvicorn.Config(
        console.asgi(),
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,  # the per-client limits key on the peer address, not on a header anyone can send
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    # What uvicorn's `serve` does, without its signal handlers (the serving process's SIGTERM drains
    # first) and on a socket bound above: startup answers once the socket is listening.
    config.load()
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
    except BaseException:
        sock.close()
        raise
    running = Running(sock.getsockname()[1], server, console, sock)
    running.tasks.append(asyncio.create_task(server.main_loop(), name="console"))
    running.tasks.append(asyncio.create_task(_sweep(console), name="console-sessions"))
    return running


async def _sweep(console: Console) -> None:
    while True:
        await asyncio.sleep(_SWEEP_S)
        try:
            if gone := await console.sweep():
                log.info("console_sessions_expired", count=gone)
        except Exception as exc:  # never let a store outage end the sweeping
            log.warning("console_sweep_failed", error=str(exc))
