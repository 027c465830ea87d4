"""`make bench`: every benchmark in turn, each writing its section of RESULTS.md and latest.json."""

from __future__ import annotations

import subprocess
import sys

SUITE = [
    ["benchmarks.memory", "--numbers", "1000000"],
    ["benchmarks.check_latency", "--registry", "1000000", "--calls", "2000", "--rounds", "5"],
]


def main() -> None:
    for module, *args in SUITE:
        print(f"== {module} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, "-m", module, *args], check=True)


if __name__ == "__main__":
    main()
