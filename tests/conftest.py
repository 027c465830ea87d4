"""Real Redis and PostgreSQL for the whole test session: embedded ones, or DNCGATE_TEST_*_URL.

With DNCGATE_TEST_REDIS_URL set, that Redis database is FLUSHed before every test: point it at a
database of its own. With DNCGATE_TEST_DATABASE_URL set, a fresh database is created on that server
for the session and dropped afterwards.

These suite-wide stores are never stopped, stalled or disconnected by a test (one such stop/start broke
nine other tests in one run). A test that does that to a store asks for `private_redis` or
`private_postgres`: a server of its own, embedded whatever DNCGATE_TEST_* say, which `settings` (and so
`app` and `server`) then point at.

With DNCGATE_TEST_REDIS_CLUSTER=1 the suite-wide Redis is a local Redis Cluster instead (3 primaries and
3 replicas, `tests.redis_cluster.started_cluster`, started once for the session): `settings` says
`redis_cluster=True` with the cluster's URL, and every primary is flushed before every test. `make test`
runs the gateway, registry, recorder and complaint suites a second time this way (the Makefile's
CLUSTER_SUITES). A test that is single-node by nature (a `private_redis`, RESP framing of the
single-node multiplexer, a MULTI across slots, the legacy un-sharded layout...) is marked
`single_node_redis` and skipped there; a test asking for `private_redis` is skipped there too. Test code
that talks to Redis itself opens its client with `redis_client` / `sync_redis_client`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import redis.asyncio as aioredis

from dncgate.config import Settings
from dncgate.domain.hours import CallingHours
from dncgate.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.redis_cluster import Cluster, started_cluster

TEST_PEPPER = bytes.fromhex("5eed" * 16)

# `make test`'s second pass: the suite-wide Redis is a local Redis Cluster (see the docstring).
CLUSTER_MODE = os.environ.get("DNCGATE_TEST_REDIS_CLUSTER", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the cluster, skip the tests that are single-node by nature (marker, or a `private_redis`)."""
    if not CLUSTER_MODE:
        return
    for item in items:
        marker = item.get_closest_marker("single_node_redis")
        if marker is not None:
            why = marker.args[0] if marker.args else marker.kwargs.get("reason", "single-node Redis only")
            item.add_marker(pytest.mark.skip(reason=f"DNCGATE_TEST_REDIS_CLUSTER: {why}"))
        elif "private_redis" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason="DNCGATE_TEST_REDIS_CLUSTER: uses a private single-node Redis"))


@dataclass
class Stores:
    redis_url: str
    database_url: str
    redis_server: EmbeddedRedis | None  # None when an external Redis (or the cluster) is used
    cluster: Cluster | None = None  # DNCGATE_TEST_REDIS_CLUSTER: the session's Redis Cluster


def redis_client(url: str, cluster: bool, **options: Any) -> aioredis.Redis:
    """An asyncio client of the Redis at `url`: a cluster client when `cluster` (url: `redis://h:p,h:p`)."""
    if not cluster:
        return aioredis.Redis.from_url(url, **options)
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    from dncgate.bootstrap import cluster_seeds

    seeds, _ = cluster_seeds(url)
    client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in seeds], **options)
    return client  # type: ignore[return-value]  # routed by key: the commands tests send


def sync_redis_client(url: str, cluster: bool) -> redis.Redis:
    """A blocking client of the Redis at `url`: a cluster client when `cluster` (the caller closes it)."""
    if not cluster:
        return redis.Redis.from_url(url)
    from dncgate.bootstrap import cluster_seeds

    seeds, _ = cluster_seeds(url)
    client = redis.RedisCluster(startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in seeds])
    return client  # type: ignore[return-value]  # routed by key: the commands tests send


def _database_url(base: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(base)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    base = tmp_path_factory.mktemp("stores")
    embedded_redis = None
    cleanup = contextlib.ExitStack()
    cluster: Cluster | None = None
    redis_url = os.environ.get("DNCGATE_TEST_REDIS_URL")
    if CLUSTER_MODE:
        if redis_url:
            raise pytest.UsageError("DNCGATE_TEST_REDIS_CLUSTER starts a local cluster: unset DNCGATE_TEST_REDIS_URL")
        (base / "cluster").mkdir()
        cluster = cleanup.enter_context(started_cluster(base / "cluster"))
        redis_url = cluster.url
    elif not redis_url:
        embedded_redis = EmbeddedRedis(base / "redis").start()
        redis_url = embedded_redis.url
    pg = None
    admin_url = os.environ.get("DNCGATE_TEST_DATABASE_URL")
    if not admin_url:
        pg = EmbeddedPostgres(base / "postgres").start()
        admin_url = pg.url
    name = f"dncgate_test_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield Stores(redis_url, _database_url(admin_url, name), embedded_redis, cluster)
    finally:
        cleanup.close()
        with contextlib.suppress(psycopg.Error), psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        if embedded_redis is not None:
            embedded_redis.stop()
        if pg is not None:
            pg.stop()


def reset_stores(stores: Stores) -> None:
    """Empty Redis (every primary of the cluster) and every table (TRUNCATE skips the journal's
    append-only row triggers)."""
    if stores.cluster is not None:
        stores.cluster.flush()
    else:
        client = redis.Redis.from_url(stores.redis_url)
        client.flushdb()
        client.close()
    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        ).fetchall()
        if rows:
            tables = ", ".join(f'"{r[0]}"' for r in rows)
            conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE".encode())
        seqs = conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'").fetchall()
        for (seq,) in seqs:
            conn.execute(f'ALTER SEQUENCE "{seq}" RESTART'.encode())


# Unix socket paths are limited to ~107 bytes; past this EmbeddedRedis moves its socket to a new
# temporary directory on every start, so a restarted server would have another URL.
_MAX_SOCKET_PATH = 100


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own, for a test that stops, stalls or disconnects its Redis.

    Asking for it points `settings` (so `app` and `server`) at it. Its data and log are in the test's
    tmp_path (unless that path is too long for a stable socket path), so a stop and start keeps its URL
    and, through the append-only file, its data.
    """
    directory = tmp_path / "private-redis"
    with contextlib.ExitStack() as cleanup:
        if len(str(directory / "redis.sock")) > _MAX_SOCKET_PATH:
            directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="dnc-redis-")))
        server = EmbeddedRedis(directory)
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture
def private_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own (database `dncgate`), for a test that stops or stalls it.

    Asking for it points `settings` (so `app` and `server`) at it; the schema is migrated by `open_app`.
    Its data is not under tmp_path: run as root, pgserver's postgres runs as another user, and every
    pytest session that starts meanwhile makes /tmp/pytest-of-root private again, failing its initdb.
    """
    with tempfile.TemporaryDirectory(prefix="dnc-pg-") as directory:
        server = EmbeddedPostgres(Path(directory) / "postgres")
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture
def settings(stores: Stores, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings pointing at the test stores, with calling hours off (tests of hours set their own).

    The stores are the suite-wide ones, emptied, or the test's `private_redis` / `private_postgres`.
    """
    reset_stores(stores)
    redis_url, database_url = stores.redis_url, stores.database_url
    on_cluster = stores.cluster is not None
    if "private_redis" in request.fixturenames:
        redis_url = request.getfixturevalue("private_redis").url
        on_cluster = False
    if "private_postgres" in request.fixturenames:
        database_url = request.getfixturevalue("private_postgres").url
    return Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        redis_cluster=on_cluster,
        database_url=database_url,
        pepper=TEST_PEPPER,
        calling_hours=CallingHours.parse("00:00-24:00"),
        # Many tests call one consumer again and again: the frequency caps are off here, and on in the
        # tests of the caps (tests/integration/test_caps.py), which set their own.
        cap_per_day=0,
        cap_per_week=0,
        redis_timeout_ms=500,
        sync_interval_s=0.2,
        # In-process servers keep the recorder in their own loop; `serve`'s child is tested end to end.
        recorder_mode="inline",
        # Tests that look at /metrics give it a free port of their own; the default would be shared.
        metrics_listen="off",
        # The HTTP/JSON face's default 8081 is the quick start's; its tests ask for a free port.
        http_listen="off",
        # The console's default 8080 is the quick start's; its tests ask for a free port.
        console_listen="off",
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The composed application (services over real stores), registry loaded, no gRPC server."""
    from dncgate.bootstrap import open_app
    from dncgate.service import sync

    async with open_app(settings) as application:
        await sync.ensure_loaded(application.registry, application.journal, application.hot)
        yield application


@dataclass
class Server:
    """`channel` carries the admin token `serve` wrote (`token`); tests of access make their own."""

    port: int
    app: Any
    channel: Any
    settings: Settings
    token: str

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def start_server(settings: Settings, token: str | None = None) -> AsyncIterator[Server]:
    """`running(settings)` and a channel carrying `token`, by default the admin token in the data dir."""
    from dncgate.api.server import running
    from tests.auth import admin_token, aio_channel

    async with running(settings) as r:
        token = token or admin_token(settings.data_dir)
        async with aio_channel(f"127.0.0.1:{r.port}", token) as channel:
            await r.wait_current()
            yield Server(r.port, r.app, channel, settings, token)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    """A real gRPC server on port 0 over the test stores, and an aio channel to it."""
    async with start_server(settings) as s:
        yield s


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)
