"""`dncgate scrub FILE.csv`: check a whole call list before a campaign, and write the numbers that may be
dialled.

The list goes through CallGate.CheckBatch in chunks (--batch-size, within the server's DNCGATE_MAX_BATCH),
each row a Check of --caller calling it for --org and --category, as the dialer would ask just before
dialling: each Check is logged as a call event, like any other, and counts against the org's scrub
quota. The number is the first column, or the column a header row names `number`, `callee`, `phone` or
`mobile`. A row the gate ALLOWs is written to --out as it was in the file (header first); a BLOCKed one
is counted under its reason. The verdicts hold now: a number registered later, or a call made after the
calling hours, is not covered by a scrub done today.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import grpc
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dncgate.cli.args import Subparsers, choices, client, enum_arg
from dncgate.cli.output import Grid, console, count, err_console, typed
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

NUMBER_COLUMNS = ("number", "callee", "callee_number", "phone", "mobile")
DEFAULT_BATCH = 1000


def read_list(file: TextIO) -> tuple[list[str] | None, int, list[list[str]]]:
    """(the header row or None, the number's column, the data rows, blank lines left out)."""
    rows = [r for r in csv.reader(file) if any(cell.strip() for cell in r)]
    if not rows:
        return None, 0, []
    names = [c.strip().lower() for c in rows[0]]
    named = [i for i, n in enumerate(names) if n in NUMBER_COLUMNS]
    if named:
        return rows[0], named[0], rows[1:]
    if not any(ch.isdigit() for ch in rows[0][0]):
        raise ValueError(f"header {rows[0]}: name the number's column one of {', '.join(NUMBER_COLUMNS)}")
    return None, 0, rows


def _chunks(rows: Sequence[list[str]], size: int) -> Iterator[Sequence[list[str]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _progress() -> Progress:
    """A bar on stderr, only where someone watches it (a terminal): stdout stays the summary's."""
    return Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=True,
    )


def cmd_scrub(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    path = Path(ns.file)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            head, col, rows = read_list(f)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        err_console.print(f"[red]error[/red]: {path}: {getattr(exc, 'strerror', None) or exc}")
        return 2
    stub = gateway_pb2_grpc.CallGateStub(channel)
    skipped: Counter[str] = Counter()
    violations = 0
    out = Path(ns.out) if ns.out else None
    writer_file = out.open("w", newline="", encoding="utf-8") if out else None
    try:
        writer = csv.writer(writer_file, lineterminator="\n") if writer_file else None
        if writer and head is not None:
            writer.writerow(head)
        with _progress() as bar:
            task = bar.add_task("scrub", total=len(rows))
            for chunk in _chunks(rows, ns.batch_size):
                requests = [
                    gateway_pb2.CheckRequest(
                        caller_number=ns.caller,
                        callee_number=r[col] if col < len(r) else "",
                        agent_id=ns.agent,
                        org_id=ns.org,
                        campaign_id=ns.campaign,
                        category=ns.category,
                    )
                    for r in chunk
                ]
                batch = stub.CheckBatch(gateway_pb2.CheckBatchRequest(requests=requests), timeout=ns.timeout)
                for r, answer in zip(chunk, batch.responses, strict=True):
                    if answer.decision == gateway_pb2.DECISION_ALLOW:
                        violations += answer.violation
                        if writer:
                            writer.writerow(r)
                    else:
                        skipped[typed(gateway_pb2.Reason, answer.reason, "REASON_")] += 1
                bar.advance(task, len(chunk))
    finally:
        if writer_file:
            writer_file.close()
    _summary(ns, len(rows), skipped, violations, out)
    return 0


def _summary(ns: argparse.Namespace, rows: int, skipped: Counter[str], violations: int, out: Path | None) -> None:
    total = sum(skipped.values())
    if ns.output == "json":
        summary = {
            "rows": rows,
            "skipped": total,
            "dialable": rows - total,
            "skipped_by_reason": dict(skipped.most_common()),
            "violations": violations,
            "out": str(out) if out else None,
        }
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    console.print(f"[bold]{total:,} of {count(rows, 'number')} will be skipped[/bold]; {rows - total:,} may be dialled")
    if skipped:
        table = Grid("skipped, by reason", ("reason", "numbers"), keep=frozenset({"reason", "numbers"}))
        for reason, n in skipped.most_common():
            table.add_row(reason, f"{n:,}")
        table.print("none")
    if violations:
        console.print(f"monitor mode: {count(violations, 'dialable number')} would be blocked in enforce mode")
    if out:
        console.print(f"dialable rows written to {out}")


def add_commands(sub: Subparsers) -> None:
    """Register `scrub` under the `dncgate` parser."""
    p = sub.add_parser(
        "scrub",
        help="check a whole call list (CheckBatch) and write the dialable numbers to a file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="the call list, CSV (UTF-8): the number first, or in a column a header names")
    p.add_argument("--caller", required=True, help="the company line the calls would be placed from")
    p.add_argument("--org", required=True, help="the org placing the calls")
    p.add_argument("--agent", default="", help="the agent placing them (default: none)")
    p.add_argument("--campaign", default="", help="the campaign, as the Checks record it")
    p.add_argument(
        "--category",
        type=enum_arg(common_pb2.Category, "CATEGORY_"),
        default=0,
        help="what the calls are about: " + choices(common_pb2.Category, "CATEGORY_"),
    )
    p.add_argument("--out", help="write the dialable rows here, as they were in the file (header first)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"numbers per CheckBatch (default {DEFAULT_BATCH}; at most the server's DNCGATE_MAX_BATCH)",
    )
    p.add_argument(
        "--output",
        "-o",
        choices=("table", "json"),
        default="table",
        help="the summary as text (default) or as one JSON object",
    )
    client(p, cmd_scrub)
