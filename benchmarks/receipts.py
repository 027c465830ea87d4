"""What signed receipts cost: one Ed25519 signature, and a Check's CPU with receipts on and off.

    python -m benchmarks.receipts --registry 100000 --calls 5000 --rounds 5

As benchmarks.check_path (whose request, timing and embedded Redis it reuses): `CallGateServicer.Check`
called directly (request parse, gateway, response build; no gRPC) on uvloop over the multiplexed
connection, 16 concurrent callers. Three gateways over the same Redis, their rounds interleaved:
`off` has no org with receipts (the state of every deployment that never turns them on), `off, others
signed` has 1,000 other orgs signed but not the request's (what an org without receipts pays once
some org has them), `on` signs the request's org. Then the signature alone (`ReceiptSigner.receipt`
of a Check's receipt: its encoding plus Ed25519) and a verification, timed in a loop. Medians of the
rounds.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
import uvloop

from benchmarks.check_path import BITS, CONCURRENCY, Op, request, timed
from benchmarks.common import Output, add_common_args, cap_settings, caps_line, command_line, machine, median, record
from benchmarks.registry_load import PEPPER, load_fast
from dncgate import phone, receipt_keys
from dncgate.api.gateway import CallGateServicer
from dncgate.bootstrap import build_gateway
from dncgate.config import Settings
from dncgate.domain.hours import CallingHours
from dncgate.domain.receipts import Receipt
from dncgate.domain.types import Decision, Reason
from dncgate.embedded import EmbeddedRedis
from dncgate.service.receipts import Receipts
from dncgate.store.hot import HotRegistry
from dncgate.v1 import gateway_pb2

SEED = bytes(range(32))
CASES = ("off", "off_others", "on")


def signature_cost(n: int) -> dict[str, float]:
    """Microseconds per receipt signed (encoding + Ed25519) and per verification."""
    signer = receipt_keys.ReceiptSigner(SEED)
    public = receipt_keys.load_public(signer.public.raw)
    r = Receipt(
        signer.key_id,
        "0190a1b2c3d4" + "ab" * 10,
        1_764_600_000_123_456,
        "cd" * 32,
        "+862759001234",
        "bench",
        "a1",
        Decision.ALLOW,
        Reason.NOT_REGISTERED,
        False,
    )
    started = time.process_time()
    for _ in range(n):
        payload, signature = signer.receipt(r)
    sign_us = (time.process_time() - started) / n * 1e6
    started = time.process_time()
    for _ in range(n):
        receipt_keys.verify(public, payload, signature)
    return {"sign_us": sign_us, "verify_us": (time.process_time() - started) / n * 1e6}


async def measure(ns: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    client = aioredis.Redis.from_url(redis_url)
    hot = HotRegistry(client, BITS)
    await hot.finish_rebuild(0)  # every shard marked loaded
    keyer = phone.NumberKeyer(PEPPER)
    settings = Settings(
        calling_hours=CallingHours.parse("00:00-24:00"), redis_timeout_ms=1000, pepper=PEPPER, **cap_settings()
    )
    signer = receipt_keys.ReceiptSigner(SEED)
    orgs = {
        "off": frozenset[str](),
        "off_others": frozenset(f"org-{i}" for i in range(1000)),
        "on": frozenset({"bench"}),
    }
    ops: dict[str, Op] = {}
    gateways = []
    for case in CASES:
        receipts = Receipts(signer)
        receipts.orgs = orgs[case]
        gw = build_gateway(settings, hot, keyer, receipts=receipts)
        gateways.append(gw)
        servicer = CallGateServicer(gw, 5000, None, log_fields=False)  # type: ignore[arg-type]

        def op(servicer: CallGateServicer = servicer) -> Op:
            async def check(i: int) -> Any:
                reply = await servicer.Check(gateway_pb2.CheckRequest.FromString(request(i, ns.registry)), None)
                return reply.SerializeToString()

            return check

        ops[case] = op()
    rounds: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    start = 0
    try:
        for o in ops.values():  # warm-up
            await timed(o, start, 200, CONCURRENCY)
            start += 200
        for r in range(ns.rounds):
            for case, o in ops.items() if r % 2 == 0 else reversed(ops.items()):
                rounds[case].append(await timed(o, start, ns.calls, ns.concurrency))
                start += ns.calls
            await client.delete(*hot.layout.streams)
    finally:
        for gw in gateways:
            await gw.aclose()
        await client.aclose()
    checks = {c: {k: median([x[k] for x in runs]) for k in ("wall_us", "cpu_us")} for c, runs in rounds.items()}
    checks_cpu_runs = {c: [round(x["cpu_us"], 1) for x in runs] for c, runs in rounds.items()}
    sigs = [signature_cost(ns.signatures) for _ in range(ns.rounds)]
    signing = {k: median([s[k] for s in sigs]) for k in ("sign_us", "verify_us")}
    return {"checks": checks, "cpu_runs": checks_cpu_runs, "signing": signing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=5000, help="calls per round and case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="concurrent callers")
    parser.add_argument("--signatures", type=int, default=5000, help="signatures timed per round")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.registry, ns.calls, ns.rounds, ns.signatures = 1000, 100, 1, 100
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="dncgate-bench-") as tmp:
        embedded = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        try:
            load_fast(embedded.url, ns.registry, BITS)
            info = machine(embedded.url)
            s = uvloop.run(measure(ns, embedded.url))
        finally:
            embedded.stop()
    c, sig = s["checks"], s["signing"]
    spread = max(s["cpu_runs"]["off"]) - min(s["cpu_runs"]["off"])
    others = c["off_others"]["cpu_us"] - c["off"]["cpu_us"]
    labels = {
        "off": "receipts off (no org signed)",
        "off_others": "receipts off for this org, 1,000 other orgs signed",
        "on": "receipts on for this org",
    }
    rows = [f"| {labels[k]} | {c[k]['wall_us']:.1f} | {c[k]['cpu_us']:.1f} | {s['cpu_runs'][k]} |" for k in CASES]
    table = "\n".join(
        [
            "## Signed receipts: what a signature costs, and a Check with receipts on and off",
            "",
            f"`CallGateServicer.Check` called directly (no gRPC) on uvloop over the multiplexed connection, "
            f"{ns.concurrency} concurrent callers, against an embedded Redis with {ns.registry:,} registered numbers; "
            f"the three gateways' rounds interleaved. Microseconds per call, medians of {ns.rounds} rounds of "
            f"{ns.calls} calls. The signature alone: `ReceiptSigner.receipt` (canonical encoding + Ed25519, "
            f"`cryptography`), {ns.signatures} in a loop, median of {ns.rounds} rounds. "
            f"{caps_line(cap_settings()).capitalize()}.",
            "",
            "| Check | wall (µs) | CPU (µs) | CPU of each round (µs) |",
            "|---|---|---|---|",
            *rows,
            "",
            f"One receipt signed: **{sig['sign_us']:.1f} µs** CPU; verified: {sig['verify_us']:.1f} µs. "
            f"A Check with receipts on costs {c['on']['cpu_us'] - c['off']['cpu_us']:+.1f} µs CPU against off; "
            f"an org without receipts, while others have them: {others:+.1f} µs "
            f"(one frozenset lookup), against a spread of {spread:.1f} µs between the `off` rounds.",
        ]
    )
    record("receipts", {"summary": s, "registry": ns.registry}, table, command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
