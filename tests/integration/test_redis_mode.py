"""The suite's Redis is the one DNCGATE_TEST_REDIS_CLUSTER asks for: a broken plumbing of the env would
otherwise run `make test`'s cluster pass on a single node, twice the same."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from dncgate.config import Settings
from dncgate.store.resp import Multiplexer
from dncgate.store.slots import ClusterMultiplexer
from tests.conftest import CLUSTER_MODE, Stores

pytestmark = pytest.mark.integration


async def test_the_suite_runs_on_the_redis_the_environment_names(stores: Stores, settings: Settings, app: Any) -> None:
    assert settings.redis_cluster is CLUSTER_MODE
    assert (stores.cluster is not None) is CLUSTER_MODE
    assert isinstance(app.redis, RedisCluster) is CLUSTER_MODE
    lane = app.gateway.lane
    assert isinstance(lane.mux, ClusterMultiplexer if CLUSTER_MODE else Multiplexer)
    assert lane.per_shard is CLUSTER_MODE
    if CLUSTER_MODE:
        assert stores.cluster is not None and len(stores.cluster.primaries()) == 3
        assert settings.redis_url == stores.cluster.url
