"""The post-dial delay the SIP edge adds: SIPp's INVITE-to-answer times through Kamailio with the gate
against the same proxy relaying without asking.

    python -m benchmarks.sip_edge --rate 200 --calls 4000 --rounds 3

A `dncgate serve` (its own process and stores, HTTP face on a free port), a SIPp carrier answering at
once, and Kamailio with integrations/kamailio/kamailio.cfg as shipped (its defaults: 8 workers, the
dialer token in dncgate-local.cfg). The other proxy is a copy of that cfg made here, for this
measurement only, whose request_route relays without the Check and whose timer posts no outcomes
(`benchmarks.sip.ungated`). A SIPp agent places `--calls` calls at `--rate` calls/s to an unregistered
number, each held `--hold-ms` and hung up, so the gated proxy also posts three outcome reports per call
meanwhile. Each call's time is from its INVITE leaving SIPp to its 200 arriving, read from SIPp's
message trace (to the µs; SIPp's own response times count whole milliseconds). Rounds alternate the
two proxies; percentiles are over every call of a proxy's rounds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import sip
from benchmarks.common import Output, add_common_args, command_line, machine, percentile, record, table
from benchmarks.server import free_port, serve

CALLEE = "13900139000"  # not registered: every call is allowed and relayed
KEYS = {
    "caller": "+862759001234",
    "callee": CALLEE,
    "org": "bench",
    "agent": "a1",
    "campaign": "c1",
    "category": "finance",
}


def wait_http(url: str, within_s: float = 30.0) -> None:
    """Until GET /healthz on the HTTP face answers 200."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the HTTP face at {url} did not answer /healthz")
        time.sleep(0.1)


def run_round(directory: Path, proxy: sip.Proxy, ns: argparse.Namespace) -> tuple[list[float], int]:
    """One round of calls through `proxy`: every call's INVITE-to-answer ms, and the calls not answered 200."""
    run = sip.agent(
        directory, proxy.port, KEYS, calls=ns.calls, rate=ns.rate, hold_ms=ns.hold_ms, timeout_s=ns.calls / ns.rate + 30
    )
    finals = [m for m in run.finals() if (m.header("CSeq") or "").endswith("INVITE")]
    refused = sum(1 for m in finals if m.status != 200) + (ns.calls - len(finals))
    return run.answer_ms, refused


def finished_outcomes(database_url: str) -> int:
    """Calls whose outcome has its duration (the report at BYE) in PostgreSQL."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM call_outcome WHERE duration_seconds >= 1").fetchone()
    return int(row[0]) if row else 0


def outcome_lag_s(database_url: str, expected: int, within_s: float = 60.0) -> float:
    """Seconds until `expected` calls have their duration reported (NaN if not within `within_s`)."""
    started = time.monotonic()
    while finished_outcomes(database_url) < expected:
        if time.monotonic() - started > within_s:
            return float("nan")
        time.sleep(0.05)
    return time.monotonic() - started


def summary(ms: list[float], refused: int) -> dict[str, Any]:
    return {
        "calls": len(ms),
        "refused": refused,
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200, help="calls per second")
    parser.add_argument("--calls", type=int, default=4000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per proxy, alternating")
    parser.add_argument("--hold-ms", type=int, default=600, help="how long each answered call lasts (≥ 500)")
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.rate, ns.calls, ns.rounds, ns.hold_ms = 50, 50, 1, 600
    missing = sip.missing_tools()
    if missing:
        raise SystemExit(
            f"not installed: {missing} (apt-get install kamailio kamailio-utils-modules "
            "kamailio-json-modules sip-tester)"
        )
    http_port = free_port()
    samples: dict[str, list[float]] = {"gated": [], "ungated": []}
    refused = {"gated": 0, "ungated": 0}
    answered, lags = 0, []  # gated calls answered so far; per gated round, how long their outcomes took
    with (
        tempfile.TemporaryDirectory(prefix="dncgate-sip-") as tmp,
        serve({"DNCGATE_HTTP_LISTEN": f"127.0.0.1:{http_port}", "DNCGATE_LOG_LEVEL": "warning"}) as server,
    ):
        url = f"http://127.0.0.1:{http_port}"
        wait_http(url)
        assert server.dialer_token is not None
        d = Path(tmp)
        with sip.carrier(d / "carrier") as carrier:
            defines = sip.local_defines(url, server.dialer_token, sip.free_udp_port(), carrier.port)
            for i in range(ns.rounds):
                for name in ("gated", "ungated") if i % 2 == 0 else ("ungated", "gated"):
                    with sip.proxy(d / f"{name}-{i}", defines, gate=name == "gated") as proxy:
                        sip.agent(d / "warm", proxy.port, KEYS, calls=5, hold_ms=10, trace=False)
                        ms, bad = run_round(d / f"{name}-{i}", proxy, ns)
                        if name == "gated":
                            answered += ns.calls - bad
                            lags.append(outcome_lag_s(server.database_url, answered))
                    samples[name] += ms
                    refused[name] += bad
    result = {name: summary(samples[name], refused[name]) for name in samples}
    added = {p: result["gated"][f"{p}_ms"] - result["ungated"][f"{p}_ms"] for p in ("p50", "p90", "p99")}
    rows = [
        [
            name,
            f"{r['calls']}",
            f"{r['refused']}",
            f"{r['p50_ms']:.2f}",
            f"{r['p90_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['max_ms']:.2f}",
        ]
        for name, r in (("with the gate", result["gated"]), ("relaying without asking", result["ungated"]))
    ]
    if ns.rate >= 200:
        goal = f"goal ≤ 5 ms at p99 at 200 calls/s: {'met' if added['p99'] <= 5 else '**not met**'}"
    else:
        goal = "below 200 calls/s the goal is not judged"
    lines = [
        "## SIP edge: post-dial delay added by the gate",
        "",
        f"SIPp agent → Kamailio 5.6 (`integrations/kamailio/kamailio.cfg`, 8 workers) → SIPp carrier on loopback, "
        f"{ns.rate:g} calls/s, {ns.calls} calls a round, {ns.rounds} round(s) per proxy alternating, each call "
        f"held {ns.hold_ms} ms. Milliseconds from the INVITE leaving SIPp to its 200 arriving (SIPp's message "
        "trace); `refused` counts calls not answered 200.",
        "",
        *table(["proxy", "calls", "refused", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows),
        "",
        f"The post-dial delay added: **{added['p50']:.2f} ms at p50, {added['p99']:.2f} ms at p99** ({goal}).",
        "",
        "Outcomes kept up: every answered call's duration report (the third, at BYE) was in PostgreSQL "
        f"{max(lags):.1f} s at most after its round's last call was hung up.",
    ]
    record(
        "sip_edge",
        {
            **result,
            "added_ms": added,
            "outcome_lag_s": lags,
            "rate": ns.rate,
            "rounds": ns.rounds,
            "hold_ms": ns.hold_ms,
        },
        "\n".join(lines),
        command_line(),
        machine(),
        Output.at(ns.out),
    )


if __name__ == "__main__":
    main()
