"""Rewrite the README's generated tables (configuration, input limits) from the code; `--check` fails on drift.

The tests assert each table is in the README as the code has it (tests/unit/test_settings_table.py,
tests/unit/test_limits.py); this writes them there after a change to the rows.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from dncgate.api import limits
from dncgate.config import markdown

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
# Each table: its first line, and how its last line starts (the limits table ends with its counts).
TABLES = (
    (markdown, "| variable | default | meaning |", "|"),
    (limits.markdown, "| kind | at most (characters) | may hold | fields |", "At most:"),
)


def rewrite(text: str) -> str:
    lines = text.split("\n")
    for render, first, last_starts in TABLES:
        start = lines.index(first)
        end = start
        if last_starts == "|":
            while end + 1 < len(lines) and lines[end + 1].startswith("|"):
                end += 1
        else:
            end = next(i for i in range(start, len(lines)) if lines[i].startswith(last_starts))
        lines[start : end + 1] = render().rstrip("\n").split("\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = README.read_text()
    new = rewrite(text)
    if args.check:
        sys.exit(0 if new == text else "README tables are stale: run scripts/readme_tables.py")
    README.write_text(new)


if __name__ == "__main__":
    main()
