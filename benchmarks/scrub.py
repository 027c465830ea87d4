"""List scrub: numbers/s through CallGate.CheckBatch in batches of 1,000, against the same Redis work done
as raw redis-py pipelines (no gRPC, no parsing, no decision) on the same server's Redis.

    python -m benchmarks.scrub --registry 1000000 --batch 1000 --batches 10 --rounds 3 --in-flight 2

The baseline sends, per number, what the gateway reads (HGET registry bucket, HMGET consent bucket for org
and agent, HGET org mode, GET ready: see HotRegistry.lookup_commands) in one pipeline per batch, then one
XADD per number (the call event) in a second pipeline: the gateway's two round trips per batch. Its keys
and event fields are computed before the clock starts. Every phase uses numbers not seen before (half of
them registered), waits first for the recorder to drain the previous phase's events, and alternates with
the others. Medians over rounds. For reference, a third phase does the same Redis work as one Lua script
per batch whose request is packed before the clock starts: what Redis itself costs, without redis-py's
per-command and per-argument cost.

`--profile PATH` then runs CheckBatch alone for 10 s while py-spy samples the server (stacks to PATH, a
summary printed): where the server's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
import redis.asyncio as aioredis

from benchmarks.common import Output, add_common_args, command_line, machine, median, record, table
from benchmarks.loadgen import CALLER
from benchmarks.registry_load import consumer_number, digest, server_bucket_bits
from benchmarks.server import Metadata, preload_registry, serve
from benchmarks.spy import maybe_profile
from dncgate.domain.calls import CallEvent
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.calls import encode_event
from dncgate.store.hot import LEGACY_CALLS, LEGACY_MODES, LEGACY_READY, HotRegistry, Layout
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

# The baselines' own keys (a plain pipeline, a plain Lua script): any one stream, mode hash and marker.
CALLS, MODES, READY = LEGACY_CALLS, LEGACY_MODES, LEGACY_READY

GOAL_PER_S = 50_000
GOAL_RATIO = 0.5
ORG, AGENT = "bench", "a1"


def indices(registry: int, start: int, count: int) -> list[tuple[int, bool]]:
    """(consumer index, registered) for `count` numbers never used before `start`; every other one registered."""
    return [((i * 7919) % registry, True) if i % 2 == 0 else (registry + i, False) for i in range(start, start + count)]


async def run_batches(jobs: Sequence[Callable[[], Awaitable[int]]], in_flight: int) -> tuple[float, int]:
    """Run the batch jobs with `in_flight` at a time; (seconds, mismatches)."""
    queue = list(reversed(jobs))
    bad = 0

    async def worker() -> None:
        nonlocal bad
        while queue:
            bad += await queue.pop()()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - started, bad


def gateway_jobs(
    stub: Any, batches: list[list[tuple[int, bool]]], metadata: Metadata = None
) -> list[Callable[[], Awaitable[int]]]:
    def job(batch: list[tuple[int, bool]]) -> Callable[[], Awaitable[int]]:
        req = gateway_pb2.CheckBatchRequest(
            requests=[
                gateway_pb2.CheckRequest(
                    caller_number=CALLER,
                    callee_number=consumer_number(i),
                    agent_id=AGENT,
                    org_id=ORG,
                    category=common_pb2.CATEGORY_REAL_ESTATE,
                )
                for i, _ in batch
            ]
        )
        expected = sum(r for _, r in batch)

        async def call() -> int:
            resp = await stub.CheckBatch(req, timeout=60, metadata=metadata)
            return abs(int(resp.blocked) - expected)

        return call

    return [job(b) for b in batches]


def redis_jobs(client: aioredis.Redis, hot: HotRegistry, batches: list[list[tuple[int, bool]]]) -> list[Any]:
    now = datetime.now(UTC)

    def job(batch: list[tuple[int, bool]]) -> Callable[[], Awaitable[int]]:
        reads, events = [], []
        for n, (i, registered) in enumerate(batch):
            key = digest(b"+86" + consumer_number(i).encode())
            pkey, pfield = hot.pref_location(key)
            ckey, org_field = hot.consent_location(key, ORG, "")
            _, agent_field = hot.consent_location(key, ORG, AGENT)
            reads.append((pkey, pfield, ckey, [org_field, agent_field]))
            events.append(encode_event(_event(n, key, now, registered)))
        expected = sum(r for _, r in batch)

        async def call() -> int:
            pipe = client.pipeline(transaction=False)
            for pkey, pfield, ckey, cfields in reads:
                pipe.hget(pkey, pfield)
                pipe.hmget(ckey, cfields)
                pipe.hget(MODES, ORG)
                pipe.get(READY)
            replies = await pipe.execute()
            pipe = client.pipeline(transaction=False)
            for fields in events:
                pipe.xadd(CALLS, fields)  # type: ignore[arg-type]
            await pipe.execute()
            return abs(sum(1 for r in replies[::4] if r is not None) - expected)

        return call

    return [job(b) for b in batches]


_FLOOR = """
local n = (#KEYS - 2) / 2
local found, a = 0, 1
for i = 1, n do
  if redis.call('HGET', KEYS[2 * i - 1], ARGV[a]) then found = found + 1 end
  redis.call('HMGET', KEYS[2 * i], ARGV[a + 1], ARGV[a + 2])
  redis.call('HGET', KEYS[#KEYS - 1], ARGV[a + 3])
  redis.call('GET', KEYS[#KEYS])
  redis.call('XADD', ARGV[a + 4], '*', unpack(ARGV, a + 5, a + 30))
  a = a + 31
end
return found
"""


def floor_jobs(client: aioredis.Redis, sha: str, hot: HotRegistry, batches: list[list[tuple[int, bool]]]) -> list[Any]:
    """Informational: the same reads and XADDs as one Lua script per batch, its request packed beforehand,
    i.e. what Redis itself spends, without redis-py's per-command and per-argument cost."""
    now = datetime.now(UTC)
    pool = client.connection_pool
    packer = pool.make_connection()  # type: ignore[no-untyped-call]

    def job(batch: list[tuple[int, bool]]) -> Callable[[], Awaitable[int]]:
        keys: list[bytes] = []
        args: list[bytes | str] = []
        for n, (i, registered) in enumerate(batch):
            key = digest(b"+86" + consumer_number(i).encode())
            pkey, pfield = hot.pref_location(key)
            ckey, org_field = hot.consent_location(key, ORG, "")
            _, agent_field = hot.consent_location(key, ORG, AGENT)
            keys += [pkey, ckey]
            args += [pfield, org_field, agent_field, ORG, CALLS]
            args += [x for kv in encode_event(_event(n, key, now, registered)).items() for x in kv]
        packed = packer.pack_command("EVALSHA", sha, len(keys) + 2, *keys, MODES, READY, *args)
        expected = sum(r for _, r in batch)

        async def call() -> int:
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                await conn.send_packed_command(packed)
                found = await conn.read_response()
            finally:
                await pool.release(conn)
            return abs(int(found) - expected)

        return call

    return [job(b) for b in batches]


def _event(n: int, key: bytes, now: datetime, registered: bool) -> CallEvent:
    return CallEvent(
        call_id=f"{n:032x}",
        at=now,
        caller_e164=CALLER,
        callee_key=key.hex(),
        callee_masked="+86139****0000",
        agent_id=AGENT,
        org_id=ORG,
        campaign_id="",
        category=Category.REAL_ESTATE,
        decision=Decision.BLOCK if registered else Decision.ALLOW,
        reason=Reason.REGISTERED if registered else Reason.NOT_REGISTERED,
        violation=False,
        request_id="",
    )


async def drained(client: aioredis.Redis, limit_s: float) -> float:
    """Wait until the recorder has drained the call stream (or `limit_s`); the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if sum([await client.xlen(s) for s in (*Layout().streams, CALLS)]) <= 1000:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def scrub(ns: argparse.Namespace, target: str, redis_url: str, metadata: Metadata) -> dict[str, Any]:
    client = aioredis.Redis.from_url(redis_url)
    hot = HotRegistry(client, server_bucket_bits(redis_url))
    per_phase = ns.batch * ns.batches
    sha = str(await client.script_load(_FLOOR))
    rounds: dict[str, list[dict[str, float]]] = {"gateway": [], "redis": [], "lua": []}
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 1 << 26)]) as ch:
        stub = gateway_pb2_grpc.CallGateStub(ch)
        start = 0
        for r in range(ns.rounds + 1):  # round 0 warms up connections and code paths
            for phase in ("gateway", "redis", "lua") if r % 2 == 0 else ("lua", "redis", "gateway"):
                count = per_phase if r else ns.batch * 2
                numbers = indices(ns.registry, start, count)
                start += count
                batches = [numbers[i : i + ns.batch] for i in range(0, count, ns.batch)]
                if phase == "gateway":
                    jobs = gateway_jobs(stub, batches, metadata)
                else:
                    jobs = (
                        redis_jobs(client, hot, batches) if phase == "redis" else floor_jobs(client, sha, hot, batches)
                    )
                wait = await drained(client, 5 if ns.quick else 60)
                seconds, bad = await run_batches(jobs, ns.in_flight)
                if r:
                    rounds[phase].append(
                        {"per_s": count / seconds, "seconds": seconds, "drain_wait_s": wait, "wrong": float(bad)}
                    )
    await client.aclose()
    summary = {p: median([x["per_s"] for x in rs]) for p, rs in rounds.items()}
    wrong = {p: int(sum(x["wrong"] for x in rs)) for p, rs in rounds.items()}
    return {"rounds": rounds, "summary": summary, "wrong_answers": wrong}


async def gateway_load(ns: argparse.Namespace, target: str, metadata: Metadata, start: int, seconds: float) -> None:
    """CheckBatch alone, fresh numbers, for `seconds` (while py-spy samples the server)."""
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 1 << 26)]) as ch:
        stub = gateway_pb2_grpc.CallGateStub(ch)
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            numbers = indices(ns.registry, start, ns.batch * ns.in_flight * 4)
            start += len(numbers)
            batches = [numbers[i : i + ns.batch] for i in range(0, len(numbers), ns.batch)]
            await run_batches(gateway_jobs(stub, batches, metadata), ns.in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="numbers per CheckBatch / pipeline")
    parser.add_argument("--batches", type=int, default=10, help="batches per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=2, help="batches in flight, for both")
    parser.add_argument("--profile", help="then sample the server with py-spy under CheckBatch load; stacks here")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.batch, ns.batches, ns.rounds = 1000, 100, 3, 1
    import uvloop

    with serve() as server:
        preload_registry(server.redis_url, ns.registry)
        info = machine(server.redis_url)
        result = uvloop.run(scrub(ns, server.target, server.redis_url, server.dialer))
        fresh = ns.registry * 4  # past the measured phases' indices

        def load() -> None:
            uvloop.run(gateway_load(ns, server.target, server.dialer, fresh, 10.0))

        maybe_profile(ns.profile, server.pid, load)
    ours, base, floor = (result["summary"][p] for p in ("gateway", "redis", "lua"))
    wrong = result["wrong_answers"]
    assert not wrong["redis"] and not wrong["lua"], f"the baselines read other data than expected: {wrong}"
    ratio = ours / base
    result |= {"ratio": ratio, "goal_per_s": GOAL_PER_S, "goal_ratio": GOAL_RATIO, "in_flight": ns.in_flight}
    drain = median([x["drain_wait_s"] for rs in result["rounds"].values() for x in rs])
    lines = [
        "## List scrub",
        "",
        f"Registry of {ns.registry:,} numbers; batches of {ns.batch:,} numbers (half registered, all distinct), "
        f"{ns.batches} batches per phase, {ns.in_flight} in flight, medians of {ns.rounds} rounds. Baseline: the "
        "gateway's Redis reads and call-event XADDs for the same numbers as two raw redis-py (hiredis) pipelines "
        "per batch, keys precomputed. Goals: ≥ 50,000 numbers/s and ratio ≥ 0.5.",
        "",
        *table(
            ["path", "numbers/s", "goal"],
            [
                ["`CallGate.CheckBatch` over gRPC", f"**{ours:,.0f}**", "yes" if ours >= GOAL_PER_S else "**no**"],
                ["raw redis-py pipelines (baseline)", f"{base:,.0f}", ""],
                ["(reference) the same Redis work as one pre-packed Lua call per batch", f"{floor:,.0f}", ""],
            ],
        ),
        "",
        f"Ratio CheckBatch / raw pipeline: **{ratio:.2f}** (goal ≥ {GOAL_RATIO}). "
        f"Wrong answers from CheckBatch (e.g. a batch answered fail-closed REGISTRY_UNAVAILABLE because its "
        f"Redis round trip overran DNCGATE_REDIS_TIMEOUT_MS): **{wrong['gateway']:,}** of "
        f"{ns.rounds * ns.batches * ns.batch:,}. Before each phase the recorder was given time to drain "
        f"the previous one's events (median wait {drain:.1f} s).",
    ]
    record("list_scrub", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
