"""`serve --workers N`: N server processes sharing one port (SO_REUSEPORT), plus one recorder.

One Python process serves gRPC on about one core. On a host with more, the kernel spreads incoming
connections over N workers that bind the same address. This parent starts the embedded stores (if
no URLs are set), runs the migrations once, then supervises: N `--role api` workers and one `--role
recorder`, all pointed at the same stores and pepper. Ctrl-C (or SIGTERM) is passed on to every
child; if one dies, the others are stopped too and the exit status says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from types import FrameType

import structlog

from dncgate.bootstrap import endpoints_file, store_urls
from dncgate.config import Settings
from dncgate.embedded import die_with_parent

log = structlog.get_logger("dncgate.workers")

_STOP_S = 30.0


def _child_env(settings: Settings, redis_url: str, database_url: str, role: str, index: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DNCGATE_REDIS_URL=redis_url,
        DNCGATE_DATABASE_URL=database_url,
        DNCGATE_PEPPER=settings.resolve_pepper().hex(),
        DNCGATE_LISTEN=settings.listen,
        DNCGATE_DATA_DIR=str(settings.data_dir),
        DNCGATE_ROLE=role,
        DNCGATE_REUSE_PORT="1",
    )
    if role == "recorder":
        # Not on the shared port: it serves only health, and connections landing there would find
        # no CallGate. It gets a port of its own.
        env["DNCGATE_LISTEN"] = settings.listen.rsplit(":", 1)[0] + ":0"
        env["DNCGATE_REUSE_PORT"] = "0"
        if not settings.recorder_consumer:
            env["DNCGATE_RECORDER_CONSUMER"] = f"{os.uname().nodename}-recorder"
    env.setdefault("DNCGATE_WORKER_INDEX", str(index))
    return env


def run_workers(settings: Settings, workers: int) -> int:
    """Supervise `workers` API processes and one recorder until a signal or a child's death."""
    if settings.listen.rsplit(":", 1)[-1] == "0":
        raise ValueError("--workers needs a fixed port: the workers must all bind the same one")
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    with store_urls(settings) as (redis_url, database_url, started):
        if started:
            endpoints_file(settings.data_dir).write_text(
                json.dumps({"redis_url": redis_url, "database_url": database_url, "pid": os.getpid()})
            )
        roles = ["recorder"] + ["api"] * workers
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "dncgate.cli", "serve"],
                env=_child_env(settings, redis_url, database_url, role, i),
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
            for i, role in enumerate(roles)
        ]
        log.info("workers_started", workers=workers, pids=[c.pid for c in children], listen=settings.listen)
        failed = None
        try:
            while not stopping and failed is None:
                time.sleep(0.2)
                failed = next((c for c in children if c.poll() is not None), None)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + _STOP_S
            for child in children:
                try:
                    child.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            if started:
                endpoints_file(settings.data_dir).unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            log.error("worker_died", pid=failed.pid, status=failed.returncode)
            return 1
        log.info("workers_stopped")
        return 0
