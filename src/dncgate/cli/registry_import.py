"""`dncgate registry import FILE.csv`: stream a registry feed through Registry.ImportRegistry.

The CSV is read one line at a time and sent in messages of 2,000 rows, so a feed of any size streams
in constant memory. Columns (a header row naming them is optional; without one they are
taken in this order, as many as there are):

    number            the consumer's number, in any format the server accepts
    do_not_disturb    yes/no, true/false, 1/0, on/off; empty: yes
    categories        names separated by ';' (real-estate;finance); empty or "all": every category
    effective_from    ISO time (2026-12-01T00:00+08:00; without a zone: this machine's local time);
                      empty: --effective-from, else the time the import started

A first line whose first field has no digit is a header, and must name its columns as above (`dnd`,
`category` and `effective` are taken too): any other name is refused before anything is sent.

A line whose do_not_disturb, categories or effective_from cannot be read, that is not UTF-8, or whose
number the server's input limits refuse (more than 64 characters, a control character), is reported
here and not sent: the server would end the import at it. Numbers are otherwise checked by the server.
Rows are reported by line (CSV record) number, the header being line 1.

Exit status: 0 every row was imported; 3 the import went through but some rows were invalid (listed);
1 the server refused the import or reading stopped (broken quoting; the rows before were imported);
2 the file can't be read as a feed (nothing sent).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import re
import sys
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.cli.args import Subparsers, choices, client, enum_arg, time_arg
from dncgate.cli.output import Grid, err_console, kv
from dncgate.v1 import common_pb2, registry_pb2, registry_pb2_grpc

BATCH_ROWS = 2000
MAX_SHOWN = 100
COLUMNS = ("number", "do_not_disturb", "categories", "effective_from")
# The server's limits for a number (dncgate.api.limits.NUMBER): a row past them ends an import.
MAX_NUMBER = 64
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Undecodable bytes, as the reader's surrogateescape error handler passes them on.
_UNDECODED = re.compile("[\udc80-\udcff]")
EXIT_INVALID_ROWS = 3
_ALIASES = {"dnd": "do_not_disturb", "category": "categories", "effective": "effective_from"}
_BOOLS = {"": True, "1": True, "0": False} | dict.fromkeys(("y", "yes", "true", "t", "on"), True)
_BOOLS |= dict.fromkeys(("n", "no", "false", "f", "off"), False)
_CATEGORIES: dict[str, Any] = {  # name -> the wire enum value
    name[len("CATEGORY_") :].lower().replace("_", "-"): common_pb2.Category.Value(name)
    for name in common_pb2.Category.keys()[1:]
}


class FeedError(ValueError):
    """The file cannot be read as a feed at all (unknown columns, undecodable first line): nothing is sent."""


@lru_cache(maxsize=1024)
def _time(text: str) -> Timestamp:
    """Feeds repeat a handful of times: parse each once."""
    try:
        return time_arg(text)
    except argparse.ArgumentTypeError:
        raise ValueError(f"effective_from: {text!r} is not an ISO time") from None


def _categories(text: str) -> list[Any]:
    out = []
    for name in text.split(";"):
        name = name.strip().lower().replace("_", "-")
        if name in ("", "all"):
            continue
        if name not in _CATEGORIES:
            raise ValueError(f"categories: unknown category {name!r}")
        out.append(_CATEGORIES[name])
    return out


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER:
        raise ValueError(f"number: is longer than {MAX_NUMBER} characters")
    if not text.isprintable() and _CONTROL.search(text):
        raise ValueError("number: must not contain control characters")
    return text


class Feed:
    """The rows of a CSV feed as ImportRegistry messages, and the line each sent row came from."""

    def __init__(self, file: TextIO, source: int, effective_from: Timestamp | None) -> None:
        self.reader = csv.reader(file)
        self.source: Any = source  # a wire enum value
        self.effective_from = effective_from
        self.sent = 0
        self.invalid: list[tuple[int, str]] = []  # (line, reason), the first MAX_SHOWN
        self.invalid_count = 0
        self.error: str | None = None  # why reading stopped before the end (bad bytes, broken quoting)
        # (sent rows so far, lines skipped so far) at each skipped line: maps a sent row to its line.
        self._skips: list[tuple[int, int]] = []
        self._skipped = 0
        # The first line decides the columns before anything is sent (a mistake there is the file's).
        try:
            first = next(self.reader, None)
        except csv.Error as exc:
            raise FeedError(f"line 1: {exc}") from None
        columns, is_header = self._columns(first or [])
        self.header = int(is_header)
        self._width = len(columns)
        p0, p1, p2 = (columns.index(c) if c in columns else -1 for c in COLUMNS[1:])
        self._at = (p0, p1, p2)  # positions of do_not_disturb, categories, effective_from (-1: none)
        self._first = [first] if first is not None and not is_header else []

    def line_of(self, row: int) -> int:
        """The file line of the n-th sent row (1-based), for the server's invalid-row numbers."""
        i = bisect.bisect_left(self._skips, (row, -1)) - 1
        return row + self.header + (self._skips[i][1] if i >= 0 else 0)

    def _skip(self, line: int, reason: str | None) -> None:
        self._skipped += 1
        self._skips.append((self.sent, self._skipped))
        if reason is not None:
            self.invalid_count += 1
            if len(self.invalid) < MAX_SHOWN:
                self.invalid.append((line, reason))

    def _columns(self, first: list[str]) -> tuple[list[str], bool]:
        names = [_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in first]
        lead = first[0].strip() if first else ""
        if not lead or any(ch.isdigit() for ch in lead) or _UNDECODED.search(lead):
            return list(COLUMNS), False  # a data row (a number has digits)
        accepted = ", ".join(COLUMNS) + " (or " + ", ".join(_ALIASES) + ")"
        unknown = [c.strip() for c, n in zip(first, names, strict=True) if n not in COLUMNS]
        if unknown:
            raise FeedError(f"header: unknown column {', '.join(map(repr, unknown))}; the columns are {accepted}")
        if len(set(names)) != len(names):
            raise FeedError(f"header: a column is named twice ({', '.join(first)})")
        if names[0] != "number":
            raise FeedError(f"header: the first column must be number, not {first[0].strip()!r}")
        return names, True

    def _values(self, fields: list[str], at: tuple[int, int, int]) -> tuple[bool, list[Any], Timestamp | None]:
        """do_not_disturb, categories and effective_from of a line; ValueError names a bad one."""
        n = len(fields)
        text = fields[at[0]] if 0 <= at[0] < n else ""
        dnd = _BOOLS.get(text)
        if dnd is None:
            dnd = _BOOLS.get(text.strip().lower())
            if dnd is None:
                raise ValueError(f"do_not_disturb: {text!r} is not yes or no")
        categories = _categories(fields[at[1]]) if 0 <= at[1] < n and fields[at[1]] else []
        when = fields[at[2]].strip() if 0 <= at[2] < n else ""
        return dnd, categories, _time(when) if when else self.effective_from

    def messages(self, progress: Callable[[int], None] = lambda n: None) -> Iterator[Any]:
        """ImportRegistryRequest messages of up to BATCH_ROWS rows each (the hot loop of an import)."""
        at, width, record = self._at, self._width, self.header
        batch = registry_pb2.ImportRegistryRequest()
        add = batch.rows.add
        try:
            for fields in itertools.chain(self._first, self.reader):
                record += 1
                if not (fields and fields[0]) and not any(f.strip() for f in fields):
                    self._skip(record, None)  # a blank line is no row
                    continue
                if len(fields) > width:
                    self._skip(record, f"{len(fields)} columns, expected at most {width}")
                    continue
                try:
                    if not all(f.isascii() for f in fields) and any(_UNDECODED.search(f) for f in fields):
                        raise ValueError("not UTF-8 (an undecodable byte): the line is left out")
                    dnd, categories, effective = self._values(fields, at)
                    number = _number(fields[0])
                except ValueError as exc:
                    self._skip(record, str(exc))
                    continue
                row = add()
                row.number = number
                row.do_not_disturb = dnd
                row.source = self.source
                if categories:
                    row.categories.extend(categories)
                if effective is not None:
                    row.effective_from.CopyFrom(effective)
                self.sent += 1
                if len(batch.rows) >= BATCH_ROWS:
                    yield batch
                    progress(self.sent)
                    batch = registry_pb2.ImportRegistryRequest()
                    add = batch.rows.add
        except (csv.Error, UnicodeDecodeError) as exc:  # decoding: a file opened without surrogateescape
            # Raised here, it would only cancel the call in gRPC's sending thread: stop cleanly instead.
            self.error = f"line {record + 1}: {exc}"
        if batch.rows:
            yield batch
            progress(self.sent)


class Progress:
    """One line on stderr: rewritten in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = self.shown = time.monotonic()
        self.sent = 0

    def __call__(self, sent: int) -> None:
        self.sent = sent
        now = time.monotonic()
        if now - self.shown >= (0.25 if self.tty else 5.0):
            self.shown = now
            self._write(now)

    def _write(self, now: float, end: str = "") -> None:
        line = f"{self.sent:,} rows sent ({self.sent / max(now - self.started, 1e-9):,.0f} rows/s)"
        self.stream.write("\r" + line + end if self.tty else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """The final count, once every row is sent."""
        self._write(time.monotonic(), "\n")


def cmd_import(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    path = Path(ns.file)
    try:
        # surrogateescape: a bad byte reaches the line it is on, which is reported and left out, rather
        # than failing the read of a whole buffer (and the lines before it) at once.
        file = path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        err_console.print(f"[red]error[/red]: cannot read {path}: {exc.strerror}")
        return 2
    with file:
        try:
            feed = Feed(file, ns.source, ns.effective_from)
        except FeedError as exc:
            err_console.print(f"[red]error[/red]: {path}: {exc}")
            return 2
        progress = Progress()
        started = time.monotonic()

        def sending() -> Iterator[Any]:
            yield from feed.messages(progress)
            progress.done()  # every row is sent; the server is finishing its last chunks

        summary = stub.ImportRegistry(sending(), timeout=ns.timeout)
    seconds = time.monotonic() - started
    rows = summary.rows + feed.invalid_count
    invalid = sorted(feed.invalid + [(feed.line_of(r.row), r.reason) for r in summary.invalid_rows])[:MAX_SHOWN]
    kv(
        [
            ("file", str(path)),
            ("rows", f"{rows:,} in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)"),
            ("accepted", f"{summary.accepted:,}"),
            ("invalid", f"{summary.invalid + feed.invalid_count:,}"),
        ]
    )
    if invalid:
        title = f"invalid rows (the first {len(invalid)})" if len(invalid) == MAX_SHOWN else "invalid rows"
        table = Grid(title, ("line", "reason"), keep=frozenset({"line"}), right=frozenset({"line"}))
        for line, reason in invalid:
            table.add_row(str(line), reason)
        table.print("none")
    if feed.error is not None:
        err_console.print(
            f"[red]error[/red]: {path}: reading stopped at {feed.error}; the rows before it were imported"
        )
        return 1
    return EXIT_INVALID_ROWS if invalid else 0


def add_command(reg: Subparsers) -> None:
    """Register `registry import` under the `dncgate registry` parser."""
    p = reg.add_parser(
        "import",
        help="import a CSV feed: number[,do_not_disturb][,categories][,effective_from]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="the CSV file (UTF-8; header row optional)")
    p.epilog = "exit status: 0 all imported, 3 some rows invalid, 1 refused or stopped, 2 unreadable file"
    p.add_argument(
        "--source",
        type=enum_arg(common_pb2.Source, "SOURCE_"),
        default=common_pb2.SOURCE_NATIONAL_REGISTRY,
        help="where the feed comes from: " + choices(common_pb2.Source, "SOURCE_") + " (default national-registry)",
    )
    p.add_argument("--effective-from", type=time_arg, help="ISO time for rows without one (default: import start)")
    client(p, cmd_import)
    p.set_defaults(timeout=None)  # a feed of millions of rows takes minutes: no deadline unless asked
