"""Where a Check's own time goes, in one process: the gateway against a bare Redis round trip.

    python -m benchmarks.check_path --registry 100000 --calls 5000 --rounds 3

No gRPC here: the servicer's `Check` (request parse, gateway, response build) is called directly on
uvloop against an embedded Redis holding the registry, so what is measured is our code plus its one
Redis round trip, and the baseline is that round trip alone (PING). Both Redis paths are measured:
the multiplexed connection the gateway uses (`store/resp.py`) and redis-py's pool (what it falls back
to over TLS). Sequential calls show latency; 16 concurrent callers show the CPU a Check costs under
load, when the multiplexer sends and reads many callers' commands together. Wall and CPU time per
call; medians of the rounds.

`--caps` turns the frequency caps on (3 a day, 7 a week; every callee is distinct, so none is reached:
what is measured is reading the counts and counting each ALLOWed Check); without it they are off.

`--org-listed` puts every unregistered callee (the odd calls) on the calling org's own list first, so
those Checks answer BLOCK / ORG_LIST (a tree without org lists refuses it); without it the org list is
empty, and those callees are NOT_REGISTERED.

`--every-rule` configures ranges (43, two of them on the callees' own prefixes), quiet days,
registered lines and opt-in (for insurance calls; these are real-estate) for the calling org, none of
which blocks its calls (a tree without them refuses it), so what it adds is the rules' evaluation alone.

`--instrumented` calls the Check as the gRPC server does: through `api.interceptors.instrument` (its
request decoding and limits, deadline binding, the per-RPC counting of /metrics and, on a tree with
access control, the bearer token's check by `api.access.Guard`) at log level warning, with a stand-in
for the server's context that carries a `dialer` token made in an embedded PostgreSQL (`--scoped`: the
token is held to the request's org, so the org check runs too). Run at two commits (an old tree's
`src/` first on PYTHONPATH: it is then measured without a token), it gives what a change to that
wrapper costs a Check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import redis.asyncio as aioredis
import structlog
import uvloop

from benchmarks.common import (
    Output,
    add_common_args,
    cap_settings,
    caps_line,
    command_line,
    machine,
    median,
    record,
)
from benchmarks.registry_load import PEPPER, consumer_number, digests, load_fast
from dncgate import phone
from dncgate.api.gateway import CallGateServicer
from dncgate.api.interceptors import instrument
from dncgate.bootstrap import build_gateway
from dncgate.config import Settings
from dncgate.domain.hours import CallingHours
from dncgate.embedded import EmbeddedPostgres, EmbeddedRedis
from dncgate.service.gateway import Gateway
from dncgate.store.hot import CALLS, HotRegistry
from dncgate.v1 import common_pb2, gateway_pb2

BITS = 16
CONCURRENCY = 16
Op = Callable[[int], Awaitable[Any]]


def request(i: int, registry: int) -> bytes:
    """A Check as a dialer sends it; even calls hit a registered number, every number distinct."""
    number = consumer_number((i * 7919) % registry) if i % 2 == 0 else consumer_number(registry + i)
    return gateway_pb2.CheckRequest(
        caller_number="+862759001234",
        callee_number=number,
        agent_id="a1",
        org_id="bench",
        category=common_pb2.CATEGORY_REAL_ESTATE,
    ).SerializeToString()


async def timed(op: Op, start: int, calls: int, concurrency: int) -> dict[str, float]:
    """Wall and CPU microseconds per call of `calls` calls, `concurrency` at a time."""
    next_i = start

    async def worker() -> None:
        nonlocal next_i
        while next_i < start + calls:
            i = next_i
            next_i += 1
            await op(i)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "wall_us": (time.perf_counter() - wall) / calls * 1e6,
        "cpu_us": (time.process_time() - cpu) / calls * 1e6,
    }


class _Context:
    """What `instrument` asks of grpc.aio's servicer context on a Check that succeeds."""

    def __init__(self, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.metadata = metadata

    def time_remaining(self) -> float | None:
        return None

    def code(self) -> None:
        return None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata


def has_access_control() -> bool:
    """Whether the `dncgate` imported here checks credentials (an old commit's tree does not)."""
    try:
        import dncgate.api.access  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.asynccontextmanager
async def dialer_guard(database_url: str, orgs: list[str]) -> AsyncIterator[tuple[Any, str]]:
    """`api.access.Guard` as `serve` builds it, over `api_tokens` in the PostgreSQL at `database_url`, and
    a new `dialer` token (for `orgs`; none: every org) that it will verify on its first Check."""
    from psycopg_pool import AsyncConnectionPool

    from dncgate.api.access import Guard
    from dncgate.service.access import AccessService, Authenticator
    from dncgate.store.migrate import migrate
    from dncgate.store.pg import Database
    from dncgate.store.tokens import TokenStore

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True, timeout=30)
    async with pool:
        async with pool.connection() as conn:
            await migrate(conn)
        tokens = TokenStore(Database(pool, 5.0))
        new = await AccessService(tokens, PEPPER).create("bench", name="bench-dialer", roles=["dialer"], orgs=orgs)
        authenticator = Authenticator(tokens, PEPPER)
        await authenticator.refresh()  # as `serve` does before it opens its port
        yield Guard(authenticator), new.token


async def measure(ns: argparse.Namespace, redis_url: str, database_url: str | None) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        guard, token = None, ""
        if database_url is not None:
            guard, token = await stack.enter_async_context(dialer_guard(database_url, ["bench"] if ns.scoped else []))
        return await _measure(ns, redis_url, guard, token)


async def _measure(ns: argparse.Namespace, redis_url: str, guard: Any, token: str) -> dict[str, Any]:
    client = aioredis.Redis.from_url(redis_url)
    hot = HotRegistry(client, BITS)
    await client.set("dnc:ready", hot.ready_value)
    keyer = phone.NumberKeyer(PEPPER)
    settings = Settings(
        calling_hours=CallingHours.parse("00:00-24:00"), redis_timeout_ms=1000, pepper=PEPPER, **_caps(ns)
    )
    gateways = {multiplex: build_gateway(settings, hot, keyer, multiplex=multiplex) for multiplex in (True, False)}
    registry = ns.registry
    if ns.org_listed:
        await _org_list(hot, registry, 4 * 200 + ns.rounds * 4 * 2 * ns.calls)
    if ns.every_rule:
        for gw in gateways.values():
            _every_rule(gw)

    def check(gw: Gateway) -> Op:
        # no ReportCallOutcome here; no log fields bound, as `serve` at the benchmarks' log level (warning)
        servicer = CallGateServicer(gw, 5000, None, log_fields=False)  # type: ignore[arg-type]
        if ns.instrumented:
            plain = grpc.unary_unary_rpc_method_handler(
                servicer.Check,
                request_deserializer=gateway_pb2.CheckRequest.FromString,
                response_serializer=gateway_pb2.CheckResponse.SerializeToString,
            )
            method = "/dncgate.v1.CallGate/Check"
            # an old tree's `instrument` takes no guard
            handler = instrument(method, plain, False, guard=guard) if guard else instrument(method, plain, False)
            decode, behavior, encode = handler.request_deserializer, handler.unary_unary, handler.response_serializer
            context = _Context((("authorization", f"Bearer {token}"),) if token else ())

            async def through(i: int) -> Any:
                return encode(await behavior(decode(request(i, registry)), context))

            return through

        async def op(i: int) -> Any:
            reply = await servicer.Check(gateway_pb2.CheckRequest.FromString(request(i, registry)), None)
            return reply.SerializeToString()

        return op

    mux = gateways[True].lane.mux
    assert mux is not None
    if ns.org_listed:  # the odd calls' callees answer ORG_LIST, the even ones' REGISTERED
        probe = CallGateServicer(gateways[True], 5000, None, log_fields=False)  # type: ignore[arg-type]
        got = [
            (await probe.Check(gateway_pb2.CheckRequest.FromString(request(i, registry)), None)).reason for i in (0, 1)
        ]
        assert got == [gateway_pb2.REASON_REGISTERED, gateway_pb2.REASON_ORG_LIST], got

    if ns.every_rule:  # the rules are on the path, and none of them changes an answer
        probe = CallGateServicer(gateways[True], 5000, None, log_fields=False)  # type: ignore[arg-type]
        assert gateways[True].rules.active
        assert getattr(gateways[True].rules, "consent_orgs", {"bench": 0}), "opt-in not configured"
        got = [
            (await probe.Check(gateway_pb2.CheckRequest.FromString(request(i, registry)), None)).reason for i in (0, 1)
        ]
        assert got == [gateway_pb2.REASON_REGISTERED, gateway_pb2.REASON_NOT_REGISTERED], got

    async def mux_ping(i: int) -> Any:
        return await mux.execute([("PING",)])

    async def pool_ping(i: int) -> Any:
        return await client.ping()

    ops: dict[str, Op] = {
        "check_mux": check(gateways[True]),
        "check_pool": check(gateways[False]),
        "ping_mux": mux_ping,
        "ping_pool": pool_ping,
    }
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {name: {"seq": [], "conc": []} for name in ops}
    start = 0
    try:
        for op in ops.values():  # warm-up: connections, caches of code paths
            await timed(op, start, 200, 1)
            start += 200
        for r in range(ns.rounds):
            for name, op in ops.items() if r % 2 == 0 else reversed(ops.items()):
                for mode, concurrency in (("seq", 1), ("conc", CONCURRENCY)):
                    rounds[name][mode].append(await timed(op, start, ns.calls, concurrency))
                    start += ns.calls
                await client.delete(CALLS)
        # Redis's own time per script call (the classify-and-log script of every Check, warm-up included).
        stats = await client.info("commandstats")
        script_us = float(stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0))
    finally:
        for gw in gateways.values():
            await gw.aclose()
        await client.aclose()
    out: dict[str, Any] = {
        name: {mode: {k: median([x[k] for x in runs]) for k in ("wall_us", "cpu_us")} for mode, runs in modes.items()}
        for name, modes in rounds.items()
    }
    out["redis_script"] = {"usec_per_call": script_us}
    return out


def _every_rule(gw: Gateway) -> None:
    """Every rule beyond the registry configured for org "bench", none of them blocking its calls: ranges
    on other prefixes and on its callees' own (+86139..., an ALLOW under a +86 BLOCK, so the longest-prefix
    walk finds a rule at two lengths), quiet days on (today is no holiday), registered lines required and
    the caller its line, opt-in for insurance calls (its calls are real-estate: the policy is looked up and
    its categories compared on every Check); so the answers stay what they are without rules and the cost
    is the rules' alone."""
    if not hasattr(gw, "rules"):
        raise SystemExit("--every-rule: this tree has no ranges, quiet days or caller lines")
    from datetime import UTC, date, datetime

    from dncgate.domain.lines import CallerLine
    from dncgate.domain.ranges import RangeAction, RangeRule
    from dncgate.domain.types import ALL_CATEGORIES_MASK, Category
    from dncgate.service.check_rules import CheckRules
    from dncgate.service.rules_ports import RulesSnapshot

    def fields(cls: type) -> set[str]:  # an older tree's snapshot has no opt-in
        return set(getattr(cls, "__dataclass_fields__", ()))

    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def rule(seq: int, prefix: str, action: RangeAction, org: str = "") -> RangeRule:
        return RangeRule(seq, prefix, org, action, ALL_CATEGORIES_MASK, t0, t0, "bench")

    others = [rule(i + 10, f"+86{400 + i}", RangeAction.BLOCK) for i in range(40)]
    rules = CheckRules(frozenset({date(2026, 10, 1)}))  # China's calendar for the quiet-day lookups
    rules.load(
        RulesSnapshot(
            version=(1, 1, 1),
            quiet_orgs=frozenset({"bench"}),
            line_orgs=frozenset({"bench"}),
            lines=(CallerLine(1, "+862759001234", "bench", "", t0, None, t0, "bench"),),
            ranges=(
                rule(1, "+86", RangeAction.BLOCK, "bench"),
                rule(2, "+86139", RangeAction.ALLOW, "bench"),
                rule(3, "+1201", RangeAction.BLOCK),
                *others,
            ),
            **({"consent_orgs": {"bench": 1 << Category.INSURANCE}} if "consent_orgs" in fields(RulesSnapshot) else {}),
        )
    )
    gw.rules = rules
    gw.settings = gw.settings  # the tables rebuilt over the new copy


async def _org_list(hot: HotRegistry, registry: int, calls: int) -> None:
    """Every callee an odd call names (consumers registry..registry+calls-1) on org "bench"'s own list."""
    if not hasattr(hot, "org_list_location"):
        raise SystemExit("--org-listed: this tree has no org lists")
    lists = [(key, "bench") for key in digests(registry, registry + calls)]
    for lo in range(0, len(lists), 10_000):
        await hot.load((), (), lists[lo : lo + 10_000])


def _caps(ns: argparse.Namespace) -> dict[str, int]:
    """`--caps`: the defaults (3 a day, 7 a week) on; else off. Every callee is distinct, so no cap is
    reached: what is measured is reading the counts and counting every ALLOWed Check."""
    return cap_settings(3, 7) if ns.caps else cap_settings()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=5000, help="calls per round and mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--instrumented", action="store_true", help="Check through api.interceptors.instrument, as served"
    )
    parser.add_argument("--scoped", action="store_true", help="--instrumented with a dialer token held to the org")
    parser.add_argument("--org-listed", action="store_true", help="the unregistered callees on the org's own list")
    parser.add_argument(
        "--caps", action="store_true", help="frequency caps on (3 a day, 7 a week; none reached); default off"
    )
    parser.add_argument(
        "--every-rule", action="store_true", help="ranges, quiet days and registered lines configured (none blocks)"
    )
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.calls, ns.rounds = 1000, 100, 1
    ns.instrumented = ns.instrumented or ns.scoped
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # as benchmarks serve
    token = ns.instrumented and has_access_control()
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        embedded = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        postgres = EmbeddedPostgres(Path(tmp) / "postgres").start() if token else None
        try:
            load_fast(embedded.url, ns.registry, BITS)
            info = machine(embedded.url)
            s = uvloop.run(measure(ns, embedded.url, postgres.url if postgres else None))
        finally:
            if postgres is not None:
                postgres.stop()
            embedded.stop()
    through = ""
    if ns.instrumented:
        credential = "no token: this tree has no access control"
        if token:
            credential = "a `dialer` bearer token" + (" held to the request's org" if ns.scoped else "")
        through = f"; through `api.interceptors.instrument` as served, {credential}"

    listed = " (the unregistered half of the callees on the calling org's own list)" if ns.org_listed else ""
    if ns.every_rule:
        listed += " (ranges, quiet days and registered lines configured for the org, none blocking)"

    def row(label: str, name: str) -> str:
        q, c = s[name]["seq"], s[name]["conc"]
        return f"| {label} | {q['wall_us']:.0f} | {q['cpu_us']:.0f} | {c['wall_us']:.0f} | {c['cpu_us']:.0f} |"

    table = "\n".join(
        [
            "## Check path in one process (what each lever gives)",
            "",
            f"`CallGateServicer.Check` called directly (request parse, gateway, response build; no gRPC"
            f"{through}) on uvloop "
            f"against an embedded Redis with {ns.registry:,} registered numbers, every number distinct"
            f"{listed}; baseline: "
            f"a bare Redis round trip (PING) on the same connection. Microseconds per call, medians of {ns.rounds} "
            f"rounds of {ns.calls} calls, sequential and {CONCURRENCY} concurrent callers; {caps_line(_caps(ns))}.",
            "",
            "| path | sequential wall (µs) | sequential CPU (µs) | 16 concurrent wall (µs) | 16 concurrent CPU (µs) |",
            "|---|---|---|---|---|",
            row("Check, multiplexed connection (what `serve` uses)", "check_mux"),
            row("Check, redis-py pool (the TLS fallback)", "check_pool"),
            row("PING, multiplexed connection (baseline)", "ping_mux"),
            row("PING, redis-py pool", "ping_pool"),
            "",
            f"Our own CPU per Check beyond its Redis round trip, 16 concurrent: "
            f"**{s['check_mux']['conc']['cpu_us'] - s['ping_mux']['conc']['cpu_us']:.0f} µs** multiplexed, "
            f"{s['check_pool']['conc']['cpu_us'] - s['ping_pool']['conc']['cpu_us']:.0f} µs over redis-py. "
            f"Redis's own time per Check script call (INFO commandstats, EVALSHA): "
            f"**{s['redis_script']['usec_per_call']:.2f} µs**.",
        ]
    )
    result = {
        "summary": s,
        "registry": ns.registry,
        "instrumented": ns.instrumented,
        "token": token,
        "org_listed": ns.org_listed,
        "caps": _caps(ns),
        "every_rule": ns.every_rule,
    }
    record("check_path", result, table, command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
