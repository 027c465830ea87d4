"""Bulk writes grouped by shard: on a Redis Cluster, one pipeline per primary, every primary written at once.

Every key of a shard carries its hash tag (store/hot.py), so all of a shard's commands go to one slot,
so one primary. redis-py's cluster pipeline would find that out again for every command (its command
policy, then the slot of its key), and packs and reads each command in Python, which costs a rebuild
more CPU than Redis spends on the write. Here the slot of each shard is computed once, each shard's
commands go whole to the primary that holds it (from redis-py's slot map), and the primaries' batches
run concurrently: over plain TCP on a connection per primary of this writer's own (`resp.Multiplexer`:
commands packed by hiredis, replies read in bulk), over TLS through redis-py's node connections
(`ClusterNode.execute_pipeline`).

Redirections and failures are left to redis-py's routed pipeline: the commands a primary answered with
MOVED, ASK or TRYAGAIN (a slot resharded or migrating), or all of a primary's when it could not be
reached in time, are sent again through `client.pipeline()`, which follows MOVED / ASK per command and
reads the slot map again; after a MOVED the map is read first, so the next batches go to the new owner
at once. The writes are idempotent (set a field to a value, delete a field), so one sent twice (a
connection that broke mid-batch) does no harm. On a single Redis the commands go in one pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import PipelineCommand, RedisCluster
from redis.crc import key_slot

from dncgate.store.slots import Primaries

Command = tuple[Any, ...]

# Replies that mean "not here, not now": the command did not run, and redis-py's routed path will place it.
_REDIRECTS = (
    redis.exceptions.MovedError,
    redis.exceptions.AskError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
_REDIRECT_WORDS = frozenset({"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"})  # the same, as hiredis reports them
_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)  # TimeoutError included
# How long one primary may take to answer a batch before it counts as unreachable (then the routed path).
_BATCH_TIMEOUT_S = 10.0


def _redirected(reply: Exception) -> bool:
    return isinstance(reply, _REDIRECTS) or str(reply).split(" ", 1)[0] in _REDIRECT_WORDS


def _moved(reply: Exception) -> bool:
    return isinstance(reply, redis.exceptions.MovedError) or str(reply).startswith("MOVED ")


class ShardFanout:
    """Sends commands grouped by shard (`groups[s]`: shard s's, every key of them tagged `{s}`)."""

    def __init__(self, client: aioredis.Redis, routes: Sequence[bytes]) -> None:
        """`routes[s]`: a key of shard s (its ready marker): its slot is the shard's."""
        self.client = client
        self.cluster: RedisCluster | None = client if isinstance(client, RedisCluster) else None
        self._slots = [key_slot(k) for k in routes]
        kw: dict[str, Any] = self.cluster.connection_kwargs if self.cluster is not None else {}
        self._plain = kw.get("connection_class") is aioredis.Connection  # not TLS: a multiplexer can speak it
        self._primaries = Primaries(self.cluster, "dncgate-bulk", _BATCH_TIMEOUT_S) if self.cluster else None

    async def execute(self, groups: Sequence[Sequence[Command]]) -> list[Exception]:
        """Run every group's commands, replies dropped; the error replies, in no particular order."""
        if self.cluster is None:
            pipe = self.client.pipeline(transaction=False)
            for commands in groups:
                for command in commands:
                    pipe.execute_command(*command)
            return [r for r in await pipe.execute(raise_on_error=False) if isinstance(r, Exception)]
        return await self._per_primary(self.cluster, groups)

    async def aclose(self) -> None:
        if self._primaries is not None:
            await self._primaries.aclose()

    async def _per_primary(self, client: RedisCluster, groups: Sequence[Sequence[Command]]) -> list[Exception]:
        manager = client.nodes_manager
        if not manager.slots_cache:
            await client.initialize()
        by_node: dict[tuple[str, int], list[Command]] = {}
        for shard, commands in enumerate(groups):
            if commands:
                node = manager.get_node_from_slot(self._slots[shard])
                by_node.setdefault((node.host, int(node.port)), []).extend(commands)
        outcomes = await asyncio.gather(
            *(self._send(client, where, cmds) for where, cmds in by_node.items()), return_exceptions=True
        )
        errors: list[Exception] = []
        again: list[Command] = []
        moved = False
        for cmds, outcome in zip(by_node.values(), outcomes, strict=True):
            if isinstance(outcome, _UNREACHABLE):
                again += cmds  # some may have run: they are idempotent
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            for cmd, reply in zip(cmds, outcome, strict=True):
                if isinstance(reply, Exception):
                    if _redirected(reply):
                        moved = (
                            moved or isinstance(reply, redis.exceptions.MovedError) or str(reply).startswith("MOVED")
                        )
                        again.append(cmd)
                    else:
                        errors.append(reply)
        if again:
            errors += await self._routed(client, again, moved)
        return errors

    async def _send(self, client: RedisCluster, where: tuple[str, int], commands: list[Command]) -> list[Any]:
        """One primary's commands in one batch; their replies (error replies as exceptions), in order."""
        if self._plain and self._primaries is not None:
            mux = self._primaries.get(where)
            return await mux.execute(commands, asyncio.get_running_loop().time() + _BATCH_TIMEOUT_S)
        node = client.get_node(*where)
        if node is None:
            raise redis.exceptions.ConnectionError(f"no node {where[0]}:{where[1]} in the slot map")
        pipeline = [PipelineCommand(0, *c) for c in commands]
        await node.execute_pipeline(pipeline)
        return [c.result for c in pipeline]

    async def _routed(self, client: RedisCluster, commands: list[Command], moved: bool) -> list[Exception]:
        """The commands through redis-py's routed pipeline (which follows MOVED and ASK itself)."""
        if moved:  # a slot has a new owner: read the map, so these and the next batches go there directly
            await client.nodes_manager.initialize()
        pipe = client.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        return [r for r in await pipe.execute(raise_on_error=False) if isinstance(r, Exception)]
