"""Shared helpers: machine facts, percentiles, and writing results/latest.json and RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results" / "latest.json"
RESULTS_MD = HERE / "RESULTS.md"


def machine() -> dict[str, Any]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "redis-py": version("redis"),
        "platform": platform.platform(),
    }


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def record(name: str, result: dict[str, Any], table: str, command: str) -> None:
    """Merge one benchmark's result into latest.json and rewrite its section of RESULTS.md."""
    RESULTS_JSON.parent.mkdir(exist_ok=True)
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    data[name] = {"command": command, "machine": machine(), **result}
    RESULTS_JSON.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{table.strip()}\n\nCommand: `{command}`  \nMachine: {_machine_line()}\n{end}"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS_MD.write_text(text)
    print(table)


def _machine_line() -> str:
    m = machine()
    return f"{m['cores']} cores, Python {m['python']}, grpcio {m['grpcio']}, redis-py {m['redis-py']}"


def command_line() -> str:
    return "python -m " + " ".join([sys.argv[0].replace("/", ".").removesuffix(".py"), *sys.argv[1:]])
