"""Bulk writes grouped by shard: on a Redis Cluster, one pipeline per primary, every primary written at once.

Every key of a shard carries its hash tag (store/hot.py), so all of a shard's commands go to one slot,
so one primary. redis-py's cluster pipeline would find that out again for every command (its command
policy, then the slot of its key), which costs a rebuild more CPU than the write itself; here the slot
of each shard is computed once, each shard's commands go whole to the primary that holds it (from
redis-py's slot map, `ClusterNode.execute_pipeline`: one packed write, one read per reply), and the
primaries' pipelines run concurrently.

Redirections and failures are left to redis-py's routed pipeline: the commands a primary answered with
MOVED, ASK or TRYAGAIN (a slot resharded or migrating), or all of a primary's when it could not be
reached, are sent again through `client.pipeline()`, which follows MOVED / ASK per command and reads the
slot map again; after a MOVED the map is read first, so the next batches go to the new owner at once.
The writes are idempotent (set a field to a value, delete a field), so one sent twice (a connection that
broke mid-pipeline) does no harm. On a single Redis the commands simply go in one pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import ClusterNode, PipelineCommand, RedisCluster
from redis.crc import key_slot

Command = tuple[Any, ...]

# Replies that mean "not here, not now": the command did not run, and redis-py's routed path will place it.
_REDIRECTS = (
    redis.exceptions.MovedError,
    redis.exceptions.AskError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class ShardFanout:
    """Sends commands grouped by shard (`groups[s]`: shard s's, every key of them tagged `{s}`)."""

    def __init__(self, client: aioredis.Redis, routes: Sequence[bytes]) -> None:
        """`routes[s]`: a key of shard s (its ready marker): its slot is the shard's."""
        self.client = client
        self.cluster: RedisCluster | None = client if isinstance(client, RedisCluster) else None
        self._slots = [key_slot(k) for k in routes]

    async def execute(self, groups: Sequence[Sequence[Command]]) -> list[Exception]:
        """Run every group's commands, replies dropped; the error replies, in no particular order."""
        if self.cluster is None:
            pipe = self.client.pipeline(transaction=False)
            for commands in groups:
                for command in commands:
                    pipe.execute_command(*command)
            return [r for r in await pipe.execute(raise_on_error=False) if isinstance(r, Exception)]
        return await self._per_primary(self.cluster, groups)

    async def _per_primary(self, client: RedisCluster, groups: Sequence[Sequence[Command]]) -> list[Exception]:
        manager = client.nodes_manager
        if not manager.slots_cache:
            await client.initialize()
        by_node: dict[str, tuple[ClusterNode, list[PipelineCommand]]] = {}
        for shard, commands in enumerate(groups):
            if not commands:
                continue
            node = manager.get_node_from_slot(self._slots[shard])
            entry = by_node.get(node.name)
            if entry is None:
                entry = by_node[node.name] = (node, [])
            entry[1].extend([PipelineCommand(0, *c) for c in commands])
        outcomes = await asyncio.gather(
            *(node.execute_pipeline(cmds) for node, cmds in by_node.values()), return_exceptions=True
        )
        errors: list[Exception] = []
        again: list[PipelineCommand] = []
        moved = False
        for (_, cmds), outcome in zip(by_node.values(), outcomes, strict=True):
            if isinstance(outcome, _UNREACHABLE):
                again += cmds  # some may have run: they are idempotent
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            if not outcome:  # no error reply on this primary
                continue
            for cmd in cmds:
                result = cmd.result
                if isinstance(result, _REDIRECTS):
                    moved = moved or isinstance(result, redis.exceptions.MovedError)
                    again.append(cmd)
                elif isinstance(result, Exception):
                    errors.append(result)
        if again:
            errors += await self._routed(client, again, moved)
        return errors

    async def _routed(self, client: RedisCluster, commands: list[PipelineCommand], moved: bool) -> list[Exception]:
        """The commands through redis-py's routed pipeline (which follows MOVED and ASK itself)."""
        if moved:  # a slot has a new owner: read the map, so these and the next batches go there directly
            await client.nodes_manager.initialize()
        pipe = client.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd.args)
        return [r for r in await pipe.execute(raise_on_error=False) if isinstance(r, Exception)]
