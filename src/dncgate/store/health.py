"""Probes of the stores for readiness: can the registry be read, does PostgreSQL answer, which Redis is it."""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg_pool import AsyncConnectionPool
from redis.asyncio.cluster import RedisCluster

from dncgate.store.hot import HotRegistry


class StoreProbe:
    """Each probe answers within `timeout_s` and never raises: an outage is a False (or None)."""

    def __init__(self, hot: HotRegistry, pool: AsyncConnectionPool[Any], timeout_s: float) -> None:
        self.hot = hot
        self.pool = pool
        self.timeout_s = timeout_s

    async def registry_readable(self) -> bool:
        """Redis answers and holds a loaded registry of our layout."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.hot.is_ready()
        except Exception:  # any failure to answer is "not readable"; the probe is retried
            return False

    async def database_answers(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.pool.connection(timeout=self.timeout_s) as conn:
                    await conn.execute("SELECT 1")
            return True
        except Exception:
            return False

    async def redis_instance(self) -> str | None:
        """The Redis server's run id, new at every start of redis-server (None when it can't be read).

        On a Redis Cluster, the run ids of its primaries: a failover (a replica promoted) or a primary's
        restart changes it, and the Checks are held until the journal's recent writes are re-applied
        (`readiness.keep_current`), which a failover may have lost although the old primary
        acknowledged them."""
        try:
            async with asyncio.timeout(self.timeout_s):
                if isinstance(self.hot.client, RedisCluster):
                    infos: dict[str, Any] = await self.hot.client.info("server", target_nodes=RedisCluster.PRIMARIES)
                    ids = sorted(str(i.get("run_id")) for i in infos.values())
                    return ",".join(ids) if ids and "None" not in ids else None
                info: dict[str, Any] = await self.hot.client.info("server")
            run_id = info.get("run_id")
            return str(run_id) if run_id else None
        except Exception:
            return None
