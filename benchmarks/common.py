"""Shared helpers: machine facts, percentiles, CLI options, and writing latest.json and RESULTS.md.

Results go to `benchmarks/results/latest.json` and `benchmarks/RESULTS.md` unless `--out DIR` (or the
environment variable DNCGATE_BENCH_OUT) names another directory; then to DIR/latest.json, DIR/RESULTS.md
and DIR/<artifacts>. Re-running a benchmark replaces its own section, leaving the others alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
OUT_ENV = "DNCGATE_BENCH_OUT"
SERVE_ARGS_ENV = "DNCGATE_BENCH_SERVE_ARGS"  # extra `dncgate serve` arguments for every benchmark, e.g. "--workers 2"
# `dncgate serve` from another source tree, e.g. "/work/old/src" (an old commit's worktree) for an A/B run
SERVER_SRC_ENV = "DNCGATE_BENCH_SERVER_SRC"


@dataclass(frozen=True)
class Output:
    """Where one run writes: the JSON, the Markdown, and artifacts such as plots."""

    json: Path
    markdown: Path
    artifacts: Path

    @classmethod
    def at(cls, directory: str | Path | None = None) -> Output:
        directory = directory or os.environ.get(OUT_ENV)
        if not directory:
            return cls(HERE / "results" / "latest.json", HERE / "RESULTS.md", HERE / "results")
        d = Path(directory)
        return cls(d / "latest.json", d / "RESULTS.md", d)


def cap_settings(per_day: int = 0, per_week: int = 0) -> dict[str, int]:
    """`config.Settings` keywords for the frequency caps (0: off), as benchmarks built in-process state
    them; empty on a tree without caps (an old commit measured against a new one)."""
    from dncgate.config import Settings

    if "cap_per_day" not in Settings.__dataclass_fields__:
        return {}
    return {"cap_per_day": per_day, "cap_per_week": per_week}


def caps_line(caps: dict[str, int]) -> str:
    """The cap settings a benchmark ran with, for its output."""
    if not caps:
        return "frequency caps: none (this tree has none)"
    if not (caps["cap_per_day"] or caps["cap_per_week"]):
        return "frequency caps off (`DNCGATE_CAP_PER_DAY=0`, `DNCGATE_CAP_PER_WEEK=0`)"
    return f"frequency caps on: {caps['cap_per_day']} a day, {caps['cap_per_week']} a week"


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds: checks the harness only")
    parser.add_argument("--out", help=f"results directory (default ${OUT_ENV} or benchmarks/)")


def redis_version(url: str | None = None) -> str:
    """INFO server of the Redis at `url`; without one, the version of the redis-server the benchmarks start."""
    if url is None:
        from dncgate.embedded import redis_server_binary

        out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True).stdout
        return next((w[2:] for w in out.split() if w.startswith("v=")), "-")
    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def machine(redis_url: str | None = None) -> dict[str, Any]:
    """Cores, Python, client library versions, and the Redis server's version (INFO server of `redis_url`)."""

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
        "hiredis": version("hiredis"),
        "redis-server": redis_version(redis_url),
        "platform": platform.platform(),
    }


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def medians(rounds: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over rounds."""
    return {k: median([r[k] for r in rounds]) for k in rounds[0]} if rounds else {}


def command_line() -> str:
    """The exact command that ran, as `python -m benchmarks.<module> <args>`."""
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    module = spec.name if spec is not None else Path(sys.argv[0]).stem
    named = [env for env in (SERVE_ARGS_ENV, SERVER_SRC_ENV) if os.environ.get(env)]
    prefix = [f"{env}={shlex.quote(os.environ[env])}" for env in named]
    return " ".join([*prefix, "python -m", module.removesuffix(".__main__"), *map(shlex.quote, sys.argv[1:])])


def record(
    name: str,
    result: dict[str, Any],
    table: str,
    command: str,
    machine_info: dict[str, Any] | None = None,
    out: Output | None = None,
) -> None:
    """Merge one benchmark's result into latest.json and replace (or add) its section of RESULTS.md."""
    out = out or Output.at()
    info = machine_info or machine()
    out.json.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(out.json.read_text()) if out.json.exists() else {}
    data[name] = {"command": command, "machine": info, **result}
    out.json.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{table.strip()}\n\nCommand: `{command}`  \nMachine: {machine_line(info)}\n{end}"
    text = out.markdown.read_text() if out.markdown.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    out.markdown.write_text(text)
    print(table, flush=True)


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['cores']} cores, Python {m['python']}, grpcio {m['grpcio']}, redis-py {m['redis-py']}"
        f" (hiredis {m.get('hiredis', '-')}), Redis {m.get('redis-server', '-')}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table as lines."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
