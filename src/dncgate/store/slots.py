"""The Check path's multiplexed connections on a Redis Cluster: one per primary, commands routed by slot.

Every script call of the Check path names keys of one shard, so of one slot (store/hot.py): its first
key's slot (CRC16 of the hash tag) says which primary runs it. The slot map is the one redis-py's
cluster client keeps (read from CLUSTER SLOTS at start and on every topology change it sees); each
primary gets a `resp.Multiplexer` of its own, so a Check costs what it costs on one node: one packed
write shared with the other callers of the event-loop turn, one read.

Redirections are followed: MOVED (the slot has a new owner: the map is read again, and the command
sent there), ASK (the slot is migrating: the command is sent to the importing node after ASKING, the
map kept). A node that cannot be reached fails its own commands only (a ConnectionError in their
places, which the lane turns into fail-closed answers), and makes the map be read again, so the Checks
find a promoted replica once the cluster has failed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from dncgate.store.resp import Multiplexer

_MAX_REDIRECTS = 3


class Primaries:
    """A multiplexed connection per primary, made on first use: `get((host, port))`. The credentials
    are the cluster client's."""

    def __init__(self, client: RedisCluster, name: str, stale_after_s: float) -> None:
        kw = client.connection_kwargs
        self.name = name
        self.stale_after_s = stale_after_s
        self._username: str | None = kw.get("username")
        self._password: str | None = kw.get("password")
        self._muxes: dict[tuple[str, int], Multiplexer] = {}

    def get(self, where: tuple[str, int]) -> Multiplexer:
        mux = self._muxes.get(where)
        if mux is None:  # a new primary (or one seen again)
            host, port = where
            mux = self._muxes[where] = Multiplexer(
                host=host,
                port=port,
                name=self.name,
                stale_after_s=self.stale_after_s,
                username=self._username,
                password=self._password,
            )
        return mux

    async def aclose(self) -> None:
        muxes, self._muxes = list(self._muxes.values()), {}
        for mux in muxes:
            await mux.aclose()


class ClusterMultiplexer:
    """`execute` as `resp.Multiplexer.execute`, each command sent to the primary of its first key's slot
    (commands are EVALSHA: the first key follows the number of keys)."""

    def __init__(self, client: RedisCluster, name: str, stale_after_s: float) -> None:
        self.client = client
        self.name = name
        self.stale_after_s = stale_after_s
        self._primaries = Primaries(client, name, stale_after_s)
        self._mux = self._primaries.get
        self._refreshing: asyncio.Task[None] | None = None
        self._where: dict[int, tuple[str, int]] = {}  # slot -> its primary, as last read from the map

    @classmethod
    def for_client(
        cls, client: RedisCluster, stale_after_s: float
    ) -> tuple[ClusterMultiplexer, ClusterMultiplexer] | tuple[None, None]:
        """The Checks' and the scrubs' lanes (one connection per primary each), or none over TLS (the
        multiplexer speaks plain TCP only: redis-py's cluster client is used)."""
        if client.connection_kwargs.get("connection_class") is not aioredis.Connection:
            return None, None
        return cls(client, "dncgate-check", stale_after_s), cls(client, "dncgate-batch", stale_after_s)

    async def _lookup(self, slot: int) -> tuple[str, int]:
        """The slot's primary from redis-py's map (read first if it has none yet), remembered."""
        manager = self.client.nodes_manager
        if not manager.slots_cache:
            await self.client.initialize()
        node = manager.get_node_from_slot(slot)
        where = self._where[slot] = (node.host, int(node.port))
        return where

    async def execute(self, commands: Sequence[Sequence[Any]], deadline: float | None = None) -> list[Any]:
        """Replies in order; an error reply (or a node not reachable) is an exception in the list."""
        if len(commands) == 1:  # a Check: no grouping, no task
            slot = key_slot(commands[0][3])  # EVALSHA sha numkeys key...
            where = self._where.get(slot) or await self._lookup(slot)
            replies: list[Any] = [None]
            await self._run(where, [0], commands, replies, deadline)
            return replies
        replies = [None] * len(commands)
        by_node: dict[tuple[str, int], list[int]] = {}
        for i, command in enumerate(commands):
            slot = key_slot(command[3])
            where = self._where.get(slot) or await self._lookup(slot)
            by_node.setdefault(where, []).append(i)
        await asyncio.gather(*(self._run(where, idx, commands, replies, deadline) for where, idx in by_node.items()))
        return replies

    async def _run(
        self,
        where: tuple[str, int],
        idx: list[int],
        commands: Sequence[Sequence[Any]],
        replies: list[Any],
        deadline: float | None,
    ) -> None:
        try:
            got = await self._mux(where).execute([commands[i] for i in idx], deadline)
        except (redis.exceptions.ConnectionError, OSError) as exc:
            self._refresh()  # the node may be gone (a failover): read the map again for the next Checks
            for i in idx:
                replies[i] = exc
            return
        for i, reply in zip(idx, got, strict=True):
            replies[i] = reply
            if reply.__class__ is redis.exceptions.ResponseError:
                replies[i] = await self._redirected(commands[i], reply, deadline)

    async def _redirected(self, command: Sequence[Any], reply: Exception, deadline: float | None) -> Any:
        """Follow MOVED / ASK (at most a few hops); any other error reply is the command's answer."""
        for _ in range(_MAX_REDIRECTS):
            text = str(reply)
            kind, _, rest = text.partition(" ")
            if kind not in ("MOVED", "ASK"):
                return reply
            target = rest.split(" ")[1]
            host, _, port = target.rpartition(":")
            where = (host or "127.0.0.1", int(port))
            try:
                if kind == "MOVED":
                    await self.client.nodes_manager.initialize()
                    self._where.clear()
                    [reply] = await self._mux(where).execute([command], deadline)
                else:
                    _, reply = await self._mux(where).execute([("ASKING",), command], deadline)
            except (redis.exceptions.ConnectionError, OSError) as exc:
                self._refresh()
                return exc
            if not isinstance(reply, redis.exceptions.ResponseError):
                return reply
        return reply

    def _refresh(self) -> None:
        """Read the slot map again in the background (one refresh at a time)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._read_map())

    async def _read_map(self) -> None:
        try:
            await self.client.nodes_manager.initialize()
            self._where.clear()
        except Exception:  # no node answers yet: the next failure asks again
            return

    async def aclose(self) -> None:
        await self._primaries.aclose()
