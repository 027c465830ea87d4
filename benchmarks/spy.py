"""Profile the server under load with py-spy (`pip install py-spy`, in the `bench` extra).

`--profile PATH` on a benchmark samples `dncgate serve` (and its worker processes, if any) while it runs
an extra load step, writes the collapsed stacks to PATH (flame-graph input: e.g. `flamegraph.pl PATH >
out.svg`, or speedscope.app) and prints where the server's CPU time goes: the functions with the most
samples on CPU, by their own time and including what they call.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: pip install py-spy (or the bench extra)")
    return found


def summarize(collapsed: str, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Share of on-CPU samples per function: `self` (the frame on top) and `total` (anywhere on the stack)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split("/")[-1] for f in stack.split(";")[1:]]
        if not frames:
            continue
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    share = 100.0 / max(samples, 1)
    return {
        "self": [(f, n * share) for f, n in own.most_common(top)],
        "total": [(f, n * share) for f, n in total.most_common(top)],
    }


def maybe_profile(path: str | None, pid: int, workload: Callable[[], Any], seconds: float = 10.0) -> None:
    """If `path` is set, sample `pid` for `seconds` while `workload()` runs, and print the summary."""
    if not path:
        return
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    args = ["record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200", "--format", "raw"]
    spy = subprocess.Popen(
        [_py_spy(), *args, "--function", "--nonblocking", "--subprocesses", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workload()
    _, err = spy.communicate(timeout=seconds + 30)
    if spy.returncode != 0:
        print(f"py-spy failed: {err.decode(errors='replace')[-500:]}", file=sys.stderr)
        return
    summary = summarize(out.read_text())
    for kind in ("self", "total"):
        print(f"\nserver CPU by function ({kind}), from {out}:")
        for name, pct in summary[kind]:
            print(f"  {pct:5.1f}%  {name}")
