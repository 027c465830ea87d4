"""Child processes of `serve`: the recorder of role `all`, and the N workers of `serve --workers N`.

Role `all` runs its recorder as a child `--role recorder` process (RecorderProcess), so that a
recorder batch never stalls the Checks in the serving process's event loop; it is restarted if it
dies and stopped after the gRPC server.

One Python process serves gRPC on about one core. On a host with more, the kernel spreads incoming
connections over N workers that bind the same address. `serve --workers N` starts the embedded stores
(if no URLs are set), runs the migrations once, then supervises: N `--role api` workers and one
`--role recorder` (and, unless DNCGATE_CONSOLE_LISTEN is off, one `--role console`: the web console
in one process, a client of the workers' port), all pointed at the same stores and pepper. Ctrl-C (or
SIGTERM) is passed on to every child; if one dies, the others are stopped too and the exit status says so. The embedded
stores it started are supervised like those of a single `serve`: restarted if they die.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

import structlog

from dncgate import metrics
from dncgate.bootstrap import endpoints_file, record_endpoints, store_urls
from dncgate.config import Settings
from dncgate.embedded import supervise, with_parent_death_signal

log = structlog.get_logger("dncgate.workers")

_STOP_S = 30.0
# A recorder child that ran this long before dying is restarted after the shortest back-off again.
_HEALTHY_S = 60.0


def _child_env(settings: Settings, redis_url: str, database_url: str, role: str, k: int = 1) -> dict[str, str]:
    """The environment of `serve`'s k-th child: its metrics on DNCGATE_METRICS_LISTEN's port + k.

    The workers share the health port (DNCGATE_HEALTH_LISTEN) and the HTTP/JSON face's
    (DNCGATE_HTTP_LISTEN) as they share the gRPC port: a probe or a request lands on one of them, each
    answering for itself from the same stores.
    """
    env = dict(os.environ)
    env.update(
        DNCGATE_REDIS_URL=redis_url,
        DNCGATE_DATABASE_URL=database_url,
        DNCGATE_REDIS_CLUSTER="true" if settings.redis_cluster else "false",
        DNCGATE_STREAM_SHARDS=str(settings.stream_shards),
        DNCGATE_PEPPER=settings.resolve_pepper().hex(),
        DNCGATE_LISTEN=settings.listen,
        DNCGATE_DATA_DIR=str(settings.data_dir),
        DNCGATE_ROLE=role,
        DNCGATE_REUSE_PORT="1",
        DNCGATE_METRICS_LISTEN=metrics.offset_listen(settings.metrics_listen, k),
        DNCGATE_HEALTH_LISTEN=settings.health_listen,
        # Shared like the gRPC port: every worker serves the HTTP/JSON face on it (SO_REUSEPORT).
        DNCGATE_HTTP_LISTEN=settings.http_listen,
    )
    for name, path in (
        ("DNCGATE_TLS_CERT", settings.tls_cert),
        ("DNCGATE_TLS_KEY", settings.tls_key),
        ("DNCGATE_TLS_CLIENT_CA", settings.tls_client_ca),
    ):
        if path is None:
            env.pop(name, None)
        else:
            env[name] = str(path)
    if role == "recorder":
        # Not on the shared port: it serves only health, and connections landing there would find
        # no CallGate. It gets a port of its own.
        env["DNCGATE_LISTEN"] = settings.listen.rsplit(":", 1)[0] + ":0"
        env["DNCGATE_REUSE_PORT"] = "0"
        env["DNCGATE_RECORDER_CONSUMER"] = settings.recorder_consumer or f"{os.uname().nodename}-recorder"
        env["DNCGATE_RECORDER_BATCH"] = str(settings.recorder_batch)
        # It answers no RPC (health only), and its parent drains before stopping it.
        env["DNCGATE_DRAIN_SECONDS"] = "0"
        # The probes' port is its parent's (or the workers'): a recorder there would answer for no service.
        env["DNCGATE_HEALTH_LISTEN"] = "off"
        env["DNCGATE_HTTP_LISTEN"] = "off"  # not a role of the face (api/server.py HTTP_ROLES) all the same
    if role == "console":
        # The console's one process beside the workers: a client of their shared port. Its own gRPC
        # port (health only) is the kernel's choice, as the recorder's is.
        host, _, port = settings.listen.rpartition(":")
        env["DNCGATE_CONSOLE_TARGET"] = settings.console_target or (
            f"{'127.0.0.1' if host in ('', '0.0.0.0', '[::]') else host}:{port}"
        )
        env["DNCGATE_LISTEN"] = f"{host}:0"
        env["DNCGATE_REUSE_PORT"] = "0"
        env["DNCGATE_DRAIN_SECONDS"] = "0"
        env["DNCGATE_HEALTH_LISTEN"] = "off"
        env["DNCGATE_HTTP_LISTEN"] = "off"
    return env


class RecorderProcess:
    """The recorder of role `all` as a child `serve --role recorder`, restarted whenever it dies.

    The child connects to the parent's stores (embedded ones included: it never starts its own) with
    the parent's pepper, and serves health on a port of its own. It is in a session of its own, so a
    Ctrl-C at the terminal reaches only the parent, which stops it after the gRPC server: the events
    of the last Checks are recorded first. It also gets SIGTERM if the parent dies, however it dies.
    """

    def __init__(
        self,
        settings: Settings,
        redis_url: str,
        database_url: str,
        *,
        stop_s: float = _STOP_S,
        first_backoff_s: float = 1.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._env = _child_env(settings, redis_url, database_url, "recorder")
        self._stop_s = stop_s
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The running child's pid, None between a death and its restart."""
        p = self.process
        return p.pid if p is not None and p.returncode is None else None

    async def start(self) -> None:
        """Start the child, then watch it from a task of this loop until stop()."""
        first = await self._spawn()
        self._task = asyncio.create_task(self._supervise(first), name="recorder-process")

    async def stop(self) -> None:
        """SIGTERM the child, wait up to `stop_s` for it to record what is left, then kill it."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _spawn(self) -> asyncio.subprocess.Process | None:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "dncgate.cli",
                "serve",
                "--role",
                "recorder",
                # Not preexec_fn=die_with_parent: this process runs gRPC threads, and a fork of it must
                # not run Python before exec. The child sets the signal itself (cli: die_with_parent_pid).
                env={**self._env, "DNCGATE_PARENT_PID": str(os.getpid())},
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:  # could not even fork (fd or memory limits): the next attempt may
            log.error("recorder_process_not_started", error=str(exc))
            return None
        self.process = proc
        log.info("recorder_process_started", pid=proc.pid)
        return proc

    async def _supervise(self, proc: asyncio.subprocess.Process | None) -> None:
        loop = asyncio.get_running_loop()
        backoff = self._first_backoff_s
        while True:
            if proc is not None:
                started = loop.time()
                status = await self._watch(proc)
                if status is None:  # stopped by stop()
                    return
                if loop.time() - started > _HEALTHY_S:  # it ran fine for a while: a fresh failure
                    backoff = self._first_backoff_s
                # Checks go on meanwhile; their events wait in the stream for the restarted recorder.
                log.error("recorder_process_died", pid=proc.pid, status=status, restart_in_s=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            if self._stopping.is_set():
                return
            backoff = min(backoff * 2, self._max_backoff_s)
            proc = await self._spawn()

    async def _watch(self, proc: asyncio.subprocess.Process) -> int | None:
        """Wait for the child to exit (its status) or for stop() (None, once the child is gone)."""
        exited = asyncio.ensure_future(proc.wait())
        try:
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if exited.done():
                return exited.result()
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            done, _ = await asyncio.wait({exited}, timeout=self._stop_s)
            if not done:
                log.warning("recorder_process_stop_timed_out", pid=proc.pid)
            return None
        finally:
            # Killed if still there (timed out, or we were cancelled), and always reaped: no zombie.
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await exited


def run_workers(settings: Settings, workers: int) -> int:
    """Supervise `workers` API processes and one recorder until a signal or a child's death."""
    if settings.listen.rsplit(":", 1)[-1] == "0":
        raise ValueError("--workers needs a fixed port: the workers must all bind the same one")
    if settings.health_listen.rsplit(":", 1)[-1] == "0":
        raise ValueError("--workers needs a fixed DNCGATE_HEALTH_LISTEN port (or off): the workers share it")
    stopping = False
    # Passed on to the children as received: SIGTERM makes each worker drain first, Ctrl-C does not.
    passed_on = signal.SIGTERM

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping, passed_on
        stopping = True
        passed_on = signal.Signals(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    with store_urls(settings) as (redis_url, database_url, started):
        if started:
            record_endpoints(settings, redis_url, database_url)
        # Metrics: this supervisor on the port itself, worker k (1..N) on port + k, the recorder port + N + 1.
        exporter = metrics.serve_metrics(settings.metrics_listen)
        # The console, unless off, in one process of its own (never in every worker).
        roles = ["api"] * workers + ["recorder"] + ([] if settings.console_listen == "off" else ["console"])
        children = [
            subprocess.Popen(
                # The parent-death signal set by setpriv before exec, not by a preexec_fn (Python between
                # fork and exec); this thread (main) lives as long as the process.
                with_parent_death_signal([sys.executable, "-m", "dncgate.cli", "serve"]),
                env=_child_env(settings, redis_url, database_url, role, k),
                stdin=subprocess.DEVNULL,
            )
            for k, role in enumerate(roles, 1)
        ]
        log.info("workers_started", workers=workers, pids=[c.pid for c in children], listen=settings.listen)

        async def watch() -> subprocess.Popen[bytes] | None:
            """Until a signal or a child's death (that child); the embedded stores restarted meanwhile."""
            stop = asyncio.Event()
            healing = asyncio.create_task(supervise(started, stop))
            try:
                while not stopping:
                    await asyncio.sleep(0.2)
                    failed = next((c for c in children if c.poll() is not None), None)
                    if failed is not None:
                        return failed
                return None
            finally:
                stop.set()
                await healing

        failed = None
        try:
            failed = asyncio.run(watch())
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(passed_on)
            deadline = time.monotonic() + _STOP_S
            for child in children:
                try:
                    child.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            if started:
                endpoints_file(settings.data_dir).unlink(missing_ok=True)
            if exporter is not None:
                exporter.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            log.error("worker_died", pid=failed.pid, status=failed.returncode)
            return 1
        log.info("workers_stopped")
        return 0
