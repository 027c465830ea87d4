"""The Check path's side of Redis: one script call per Check (or per chunk of a scrub), built and decoded here.

The gateway speaks in domain terms: a callee's key, the call's route, the domain's sixteen verdicts as an
opaque code (`encode`), the call id, mask and request id. `CheckLane` turns those into the EVALSHA of
`store/checkscript.py`, sends it on its connection, and hands back what the script found: the registry
state each callee was sorted into (a case index of `domain.decision.CASES`), or None when nothing is
known to be logged (Redis failed, timed out, or holds no loaded registry). Events of Checks no script
logged are stored by `store_events`.

On a Redis Cluster (`per_shard=True`), every script call's keys are one shard's, so one slot: a
scrub's callees are grouped by shard first, and each call goes to the primary holding its slot, on
that primary's own multiplexed connection (`store/slots.py`: MOVED and ASK followed); without a
multiplexer, through redis-py's cluster client. On one node a chunk mixes shards freely.

Single Checks share one multiplexed connection (`store/resp.py`: the commands of one event-loop turn in
one write, replies in order); scrubs get a second one, so a live Check never queues behind a scrub's
scripts on the same socket. Without a multiplexer (TLS, or `multiplex=False`) redis-py's pool is used.
Driver errors stop here: every failure is a None, and the Check fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from dncgate import metrics
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import Verdict
from dncgate.domain.types import Category
from dncgate.store.calls import CallStream, route_parts, single_context
from dncgate.store.checkscript import (
    CHUNK,
    NOT_LOADED,
    CheckChunk,
    CheckScript,
    category_bit,
    encode_outcomes,
    is_noscript,
)
from dncgate.store.errors import DRIVER_ERRORS
from dncgate.store.hot import HotRegistry, NotLoaded, consent_scope, org_list_scope
from dncgate.store.resp import Multiplexer
from dncgate.store.slots import ClusterMultiplexer

# A multiplexed connection (one server), or one per primary of a Redis Cluster.
Lane = Multiplexer | ClusterMultiplexer

# What a Redis call of the Check path can fail with (the drivers' outages of `store/errors.py`): all of
# them mean "nothing known to be logged", and the Check fails closed rather than raising.
STORE_ERRORS: tuple[type[Exception], ...] = (*DRIVER_ERRORS, NotLoaded)
# redis-py's cluster client can also raise AttributeError when a connection it is tearing down (a node
# gone in a failover) is written by another caller ("'NoneType' object has no attribute 'writelines'"):
# on a cluster that is one more way of Redis not answering.
CLUSTER_STORE_ERRORS: tuple[type[Exception], ...] = (*STORE_ERRORS, AttributeError)
_NO_CAPS: Mapping[str, int] = {}
_NO_MODES: Mapping[str, bool] = {}


class Route(NamedTuple):
    """The wire form of what a dialer's Checks repeat (caller, agent, org, campaign, category)."""

    org_id: str
    caller_part: bytes  # the event's caller pair (`route_parts`)
    tail: bytes  # its agent, org, campaign and category pairs
    org_scope: bytes  # consent_scope(org, "")
    agent_scope: bytes  # consent_scope(org, agent)
    list_scope: bytes  # org_list_scope(org)
    category_bit: int


# One callee of a scrub (the gateway's `checks.ScrubItem`): caller E.164, org, agent, campaign, category,
# verdict code (`encode`), key (None: an invalid number, logged but not looked up), call id, mask and
# request id. Spelled out here too: the store does not import the service layer.
ScrubItem = tuple[str, str, str, str, Category, bytes, bytes | None, str, str, str]


class CheckLane:
    """Classify-and-log calls for the gateway, on its own connections to the registry's Redis."""

    def __init__(
        self,
        hot: HotRegistry,
        calls: CallStream,
        timeout_s: float,
        *,
        multiplex: bool = True,
        caps: tuple[int, int] = (0, 0),
        per_shard: bool = False,
    ) -> None:
        self.script = CheckScript(hot)
        self.layout = hot.layout
        # A Redis Cluster: one shard per script call (whatever the caller said: a cluster client refuses a
        # script call whose keys span slots).
        self.per_shard = per_shard or isinstance(hot.client, RedisCluster)
        self.errors = CLUSTER_STORE_ERRORS if self.per_shard else STORE_ERRORS
        self.caps = caps  # the frequency caps per day and per week (0: off)
        self.client: aioredis.Redis = hot.client
        self.calls = calls
        # A reply later than this drops the connection (the next Check reconnects).
        stale_after_s = max(timeout_s * 10, 5.0)
        self.mux: Lane | None = None
        self.bulk_mux: Lane | None = None
        if multiplex and isinstance(hot.client, RedisCluster):
            self.mux, self.bulk_mux = ClusterMultiplexer.for_client(hot.client, stale_after_s)
        elif multiplex:
            self.mux = Multiplexer.for_client(hot.client, "dncgate-check", stale_after_s)
            self.bulk_mux = Multiplexer.for_client(hot.client, "dncgate-batch", stale_after_s)
        self.redis_seconds = metrics.TALLY.check_redis  # dncgate_check_redis_seconds, in plain ints

    # --- what the gateway prepares once and reuses ---------------------------------------------------

    @staticmethod
    def route(caller_e164: str, agent_id: str, org_id: str, campaign_id: str, category: Category) -> Route:
        caller_part, tail = route_parts(caller_e164, agent_id, org_id, campaign_id, category)
        return Route(
            org_id,
            caller_part,
            tail,
            consent_scope(org_id, ""),
            consent_scope(org_id, agent_id),
            org_list_scope(org_id),
            category_bit(category),
        )

    @staticmethod
    def encode(verdicts: Sequence[Verdict]) -> bytes:
        """The sixteen verdicts as the scripts take them (one letter per case)."""
        return encode_outcomes(verdicts)

    # --- holding Checks closed -------------------------------------------------------------------------

    def hold(self) -> None:
        self.script.hold()

    def release(self) -> None:
        self.script.release()

    @property
    def held(self) -> bool:
        return self.script.held

    # --- the round trips -------------------------------------------------------------------------------

    async def classify_and_log(
        self,
        route: Route,
        key: bytes,
        key_hex: str,
        now_us: int,
        monitor: bool,
        code: bytes,
        call_id: str,
        mask: str,
        request_id: str,
        deadline: float,
        org_cap: int = 0,
    ) -> int | None:
        """One callee: the case its stored state is in (a pick: `checkscript.split_pick`), its event
        appended (and an ALLOW counted under the caps, `org_cap` the org's own: 0 none) by the script,
        `monitor` the org's mode; None if not logged."""
        context = single_context(
            call_id.encode(),
            now_us,
            route.caller_part,
            key_hex.encode(),
            mask.encode(),
            route.tail,
            request_id.encode(),
        )
        command = self.script.command(
            key,
            route.org_id,
            route.org_scope,
            route.agent_scope,
            route.list_scope,
            route.category_bit,
            now_us,
            monitor,
            code,
            context,
            self.caps,
            org_cap,
        )
        started = time.perf_counter()
        [reply] = await self._execute([command], deadline, self.mux)
        self.redis_seconds.observe(time.perf_counter() - started)
        return reply if reply.__class__ is int and reply >= 0 else None

    async def classify_and_log_many(
        self,
        items: Sequence[ScrubItem],
        now_us: int,
        default_monitor: bool,
        deadline: float,
        org_caps: Mapping[str, int] = _NO_CAPS,
        monitors: Mapping[str, bool] = _NO_MODES,
    ) -> list[int | None]:
        """A scrub: one script call per CHUNK callees (what callees share sent once per group), all in one
        round trip on the scrub connection; per callee its pick (`checkscript.split_pick`: the caps read,
        `org_caps` the orgs' own daily caps among them, no slot taken), or None where its chunk failed.
        `monitors`: the orgs' modes (True: monitor), `default_monitor` for an org without one."""
        shard_of = self.layout.shard
        if self.per_shard:  # one shard per call: the callees grouped by shard, answers put back in order
            by_shard: dict[int, list[int]] = {}
            for i, item in enumerate(items):
                key = item[6]
                by_shard.setdefault(0 if key is None else shard_of(key), []).append(i)
            runs = [(shard, [items[i] for i in idx]) for shard, idx in by_shard.items()]
            order = [i for idx in by_shard.values() for i in idx]
        else:
            runs, order = [(-1, list(items))], []
        chunks: list[CheckChunk] = []
        caps = self.caps
        for run_shard, run in runs:
            chunk = self.script.chunk(now_us, caps)
            groups: dict[tuple[str, str, str, str, Category, bytes], bytes] = {}
            shard = max(run_shard, 0)
            for item in run:
                if chunk.size == CHUNK:
                    chunks.append(chunk)
                    chunk, groups = self.script.chunk(now_us, caps), {}
                shared = item[:6]
                group = groups.get(shared)
                if group is None:
                    org = item[1]
                    monitor = monitors.get(org, default_monitor)
                    group = groups[shared] = chunk.group(*shared, org_caps.get(org, 0), monitor)
                key = item[6]
                if key is not None and run_shard < 0:
                    shard = shard_of(key)  # an invalid number's event goes to the stream of the callee before it
                chunk.add(group, key, item[7], item[8], item[9], shard)
            chunks.append(chunk)
        replies = await self._execute([c.command() for c in chunks], deadline, self.bulk_mux)
        cases: list[int | None] = []
        for chunk, reply in zip(chunks, replies, strict=True):
            picks = chunk.decode(reply)
            if picks is None:
                cases += [None] * chunk.size
            else:
                cases += picks
        if not order:
            return cases
        answers: list[int | None] = [None] * len(items)
        for i, case in zip(order, cases, strict=True):
            answers[i] = case
        return answers

    async def store_events(self, events: Sequence[CallEvent], deadline: float) -> list[bool]:
        """Append the events of Checks no script logged, within what is left of the deadline; for each,
        whether it is known stored."""
        with contextlib.suppress(*self.errors):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining > 0:
                return await asyncio.wait_for(self.calls.store(events), remaining)
        return [False] * len(events)

    async def aclose(self) -> None:
        for mux in (self.mux, self.bulk_mux):
            if mux is not None:
                await mux.aclose()

    async def _execute(self, commands: Sequence[tuple[Any, ...]], deadline: float, mux: Lane | None) -> list[Any]:
        """Run the commands in one round trip within the deadline.

        A reply is the command's result, or NOT_LOADED when that command failed (so its Check fails
        closed): one bad command does not sink the rest of a batch. If Redis lost our scripts (restart,
        SCRIPT FLUSH), they are loaded and the commands run once more.
        """
        for attempt in range(2):
            try:
                replies = await self._send(commands, deadline, mux)
            except self.errors:
                break
            if attempt == 0 and any(is_noscript(r) for r in replies):
                with contextlib.suppress(*self.errors):
                    async with asyncio.timeout_at(deadline):
                        await self.script.load()
                continue
            return [NOT_LOADED if isinstance(r, Exception) else r for r in replies]
        # Nothing is known to be logged, so nothing may be allowed: fail closed.
        return [NOT_LOADED] * len(commands)

    async def _send(self, commands: Sequence[tuple[Any, ...]], deadline: float, mux: Lane | None) -> list[Any]:
        if mux is not None:
            return await mux.execute(commands, deadline)  # enforces the deadline itself, without a timer per call
        async with asyncio.timeout_at(deadline):
            if len(commands) == 1:  # a plain command skips the pipeline's bookkeeping (~20 us a Check)
                try:
                    return [await self.client.execute_command(*commands[0])]  # type: ignore[no-untyped-call]
                except redis.exceptions.ResponseError as exc:
                    return [exc]
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))
