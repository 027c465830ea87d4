"""An HTTP/JSON Check against a gRPC Check on the same `dncgate serve`, with the same load generator.

    python -m benchmarks.http_face --requests 20000 --clients 8 --rounds 5

h2load (nghttp2) drives both faces of one server in each round, one after the other (the order
alternating between rounds): gRPC over HTTP/2 with a prebuilt length-prefixed CheckRequest
(`content-type: application/grpc`, `te: trailers`), and with `--h1` the HTTP/JSON face over kept-alive
HTTP/1.1 connections with the same request as JSON. Both send a `dialer` bearer token, `--clients`
connections, one request in flight on each. Latency is each request's time as h2load logs it
(`--log-file`); p50, p99 and requests/s are medians over the rounds. The goal: the HTTP Check's p50 at
most 1.5x the gRPC Check's.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import struct
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from benchmarks.common import Output, add_common_args, command_line, machine, median, percentile, record, table
from benchmarks.server import BenchServer, bearer, free_port, serve, settle
from dncgate.v1 import gateway_pb2, gateway_pb2_grpc

GOAL = 1.5
FACES = ("grpc", "http")


def check_request() -> gateway_pb2.CheckRequest:
    return gateway_pb2.CheckRequest(
        caller_number="+862759001234",
        callee_number="13800138000",
        agent_id="bench-agent",
        org_id="bench-org",
        campaign_id="bench",
        category=gateway_pb2.Category.Value("CATEGORY_REAL_ESTATE") if hasattr(gateway_pb2, "Category") else 1,
    )


def bodies(directory: Path) -> dict[str, Path]:
    """The request body of each face, written once: a gRPC message frame, and the same request as JSON."""
    raw = check_request().SerializeToString()
    grpc_body, http_body = directory / "check.grpc", directory / "check.json"
    grpc_body.write_bytes(b"\x00" + struct.pack(">I", len(raw)) + raw)
    http_body.write_text(json_format.MessageToJson(check_request(), indent=None))
    return {"grpc": grpc_body, "http": http_body}


def verify(server: BenchServer, http_port: int) -> None:
    """Both faces answer the benchmark's request with the same decision before it is timed."""
    with grpc.insecure_channel(server.target) as ch:
        over_grpc = gateway_pb2_grpc.CallGateStub(ch).Check(check_request(), metadata=server.dialer, timeout=10)
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/v1/check",
        data=json_format.MessageToJson(check_request()).encode(),
        headers={"authorization": f"Bearer {server.dialer_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        over_http = json_format.Parse(reply.read(), gateway_pb2.CheckResponse())
    if (over_http.decision, over_http.reason) != (over_grpc.decision, over_grpc.reason):
        raise RuntimeError(f"the faces disagree: gRPC {over_grpc}, HTTP {over_http}")


def h2load(face: str, url: str, body: Path, token: str | None, requests: int, clients: int, log: Path) -> list[str]:
    """The h2load command for `face`."""
    args = ["h2load", "-n", str(requests), "-c", str(clients), "-m", "1", "-t", "1", "-d", str(body)]
    args += ["--log-file", str(log)]
    if face == "grpc":
        args += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    else:
        args += ["--h1", "-H", "content-type: application/json"]
    for key, value in bearer(token) or ():
        args += ["-H", f"{key}: {value}"]
    return [*args, url]


def run_once(command: list[str], log: Path, requests: int) -> dict[str, float]:
    """One h2load run: p50 and p99 (ms) of the requests it logged, and its requests/s; every one a 200."""
    log.unlink(missing_ok=True)  # h2load appends to it
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [line.split("\t") for line in log.read_text().splitlines() if line.strip()]
    if len(rows) != requests or any(status != "200" for _, status, _ in rows):
        raise RuntimeError(f"h2load did not get {requests} answers of 200 ({len(rows)} logged):\n{out[-2000:]}")
    latencies = [int(us) / 1000 for _, _, us in rows]
    rate = next(float(line.split(",")[1].split()[0]) for line in out.splitlines() if line.startswith("finished in"))
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per face and round")
    parser.add_argument("--clients", type=int, default=8, help="connections, one request in flight on each")
    parser.add_argument("--rounds", type=int, default=5)
    add_common_args(parser)
    ns = parser.parse_args()
    if ns.quick:
        ns.requests, ns.clients, ns.rounds = 200, 2, 1
    if shutil.which("h2load") is None:
        raise SystemExit("h2load is not installed (Debian: apt-get install nghttp2-client)")
    http_port = free_port()
    runs: dict[str, list[dict[str, float]]] = {face: [] for face in FACES}
    with (
        tempfile.TemporaryDirectory(prefix="dncgate-http-face-") as tmp,
        serve({"DNCGATE_HTTP_LISTEN": f"127.0.0.1:{http_port}"}) as server,
    ):
        body = bodies(Path(tmp))
        verify(server, http_port)
        urls = {
            "grpc": f"http://{server.target}/dncgate.v1.CallGate/Check",
            "http": f"http://127.0.0.1:{http_port}/v1/check",
        }
        log = Path(tmp) / "requests.log"
        warm = max(ns.requests // 10, 50)
        for face in FACES:  # warm-up: connections, caches, the token verified once
            run_once(h2load(face, urls[face], body[face], server.dialer_token, warm, ns.clients, log), log, warm)
        for i in range(ns.rounds):
            for face in FACES if i % 2 == 0 else tuple(reversed(FACES)):
                settle(server)
                command = h2load(face, urls[face], body[face], server.dialer_token, ns.requests, ns.clients, log)
                runs[face].append(run_once(command, log, ns.requests))
        info = machine(server.redis_url)
        shown = shlex.join(
            a.replace(tmp + "/", "")
            for a in h2load("http", urls["http"], body["http"], "<dialer token>", ns.requests, ns.clients, log)
        )
    result: dict[str, Any] = {
        face: {key: median([r[key] for r in runs[face]]) for key in ("p50_ms", "p99_ms", "per_s")} for face in FACES
    }
    result["rounds"] = runs
    result["p50_ratio"] = result["http"]["p50_ms"] / result["grpc"]["p50_ms"]
    result["goal"] = GOAL
    rows = [
        [name, f"{result[face]['p50_ms']:.3f}", f"{result[face]['p99_ms']:.3f}", f"{result[face]['per_s']:,.0f}"]
        for face, name in (
            ("grpc", "gRPC `CallGate/Check` (HTTP/2)"),
            ("http", "HTTP/JSON `POST /v1/check` (HTTP/1.1)"),
        )
    ]
    verdict = "met" if result["p50_ratio"] <= GOAL else "**not met**"
    lines = [
        "## HTTP/JSON face against gRPC: a Check on each, same server, same load generator",
        "",
        f"h2load, {ns.clients} connections with one request in flight each, {ns.requests:,} Checks per face and "
        f"round, {ns.rounds} rounds (medians); each Check carries a `dialer` bearer token. HTTP p50 / gRPC p50 = "
        f"**{result['p50_ratio']:.2f}** (goal ≤ {GOAL}: {verdict}).",
        "",
        *table(["face", "p50 ms", "p99 ms", "Checks/s"], rows),
        "",
        f"The HTTP runs, as h2load ran them: `{shown}`",
    ]
    record("http_face", result, "\n".join(lines), command_line(), info, Output.at(ns.out))


if __name__ == "__main__":
    main()
