"""`make bench`: every benchmark in turn, each writing its section of RESULTS.md and latest.json.

    python -m benchmarks                 # the full suite (under 10 minutes on 2 cores)
    python -m benchmarks --quick --out /tmp/b   # every harness on tiny sizes, results elsewhere
    python -m benchmarks --only scrub memory

Each benchmark runs in a process of its own, starting its own `dncgate serve` (and stores) as needed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks.common import Output, add_common_args, machine, record, table

# (module, arguments of the full run). Every module also takes --quick and --out.
SUITE: list[tuple[str, list[str]]] = [
    ("benchmarks.check_latency", ["--registry", "1000000", "--calls", "2000", "--rounds", "5"]),
    ("benchmarks.check_path", ["--registry", "100000", "--calls", "5000", "--rounds", "3"]),
    ("benchmarks.cluster", ["--registry", "100000", "--calls", "3000", "--rounds", "3"]),
    ("benchmarks.cluster_import", ["--numbers", "200000", "--rounds", "3"]),
    ("benchmarks.grpc_floor", ["--registry", "100000", "--duration", "1", "--sequential", "0.5", "--rounds", "9"]),
    ("benchmarks.throughput", ["--registry", "1000000", "--concurrency", "4", "16", "64", "--duration", "2"]),
    ("benchmarks.open_loop", ["--registry", "1000000", "--rate", "1500", "--duration", "30", "--sweep-duration", "4"]),
    ("benchmarks.scrub", ["--registry", "1000000", "--batch", "1000", "--batches", "10", "--rounds", "3"]),
    ("benchmarks.bulk_import", ["--rows", "1000000", "--repeats", "3"]),
    ("benchmarks.memory", ["--numbers", "1000000", "10000000", "--cap-callees", "200000"]),
    ("benchmarks.complaint", ["--rows", "10000000", "--complaints", "200"]),
    ("benchmarks.http_face", ["--requests", "20000", "--clients", "8", "--rounds", "5"]),
    ("benchmarks.server_cpu", ["--requests", "10000", "--clients", "8", "--rounds", "3"]),
    ("benchmarks.sip_edge", ["--rate", "200", "--calls", "3000", "--rounds", "2"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these (e.g. scrub memory) only")
    add_common_args(parser)
    ns = parser.parse_args()
    suite = [(m, a) for m, a in SUITE if not ns.only or m.removeprefix("benchmarks.") in ns.only]
    took: list[tuple[str, float]] = []
    started = time.perf_counter()
    for module, args in suite:
        argv = [*(["--quick"] if ns.quick else args), *(["--out", ns.out] if ns.out else [])]
        print(f"== python -m {module} {' '.join(argv)}", flush=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", module, *argv], check=True)
        took.append((module, time.perf_counter() - t))
    total = time.perf_counter() - started
    lines = [
        "## The whole suite",
        "",
        f"`make bench` ran {len(took)} benchmarks in **{total / 60:.1f} minutes** (goal: under 10).",
        "",
        *table(["benchmark", "seconds"], [[f"`{m}`", f"{s:.0f}"] for m, s in took]),
    ]
    if ns.only:
        print("\n".join(lines))
        return
    command = "python -m benchmarks" + (" --quick" if ns.quick else "")
    record("suite", {"seconds": dict(took), "total_s": total}, "\n".join(lines), command, machine(), Output.at(ns.out))


if __name__ == "__main__":
    main()
