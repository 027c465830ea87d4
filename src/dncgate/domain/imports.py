"""Bulk registry imports: a feed's rows, how a row is checked, the summary, and a fold for many numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from dncgate.domain.registry import Schedule
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Source

# A feed of millions of bad rows must not turn into a summary of millions of lines.
MAX_REPORTED_INVALID = 100
# Timestamps PostgreSQL and Python both hold (years 1 to 9999), in microseconds since the Unix epoch.
MIN_EPOCH_US = -62_135_596_800_000_000
MAX_EPOCH_US = 253_402_300_799_999_999
_CATEGORY_BITS = {int(c): 1 << c for c in Category if c is not Category.UNSPECIFIED}
_SOURCES = frozenset(int(s) for s in Source if s is not Source.UNSPECIFIED)


# One row of a feed, its number as written (parsed later): (number, do_not_disturb, categories mask,
# source, effective time in microseconds since the Unix epoch or None for the import's start, why the
# row is invalid or None). A plain tuple: a million of them pass through one import.
ImportRow = tuple[str, bool, int, int, int | None, str | None]


def import_row(
    number: str, do_not_disturb: bool, categories: Sequence[int], source: int, effective_us: int | None
) -> ImportRow:
    """Check a row's categories, source and time (not its number) and give the row to import."""
    if not categories and effective_us is None and source in _SOURCES:
        return (number, do_not_disturb, ALL_CATEGORIES_MASK, source, None, None)  # most rows of a feed
    mask = 0
    for i, c in enumerate(categories):
        bit = _CATEGORY_BITS.get(c)
        if bit is None:
            reason = "CATEGORY_UNSPECIFIED is not a category" if c == 0 else f"unknown category {c}"
            return (number, do_not_disturb, 0, source, None, f"categories[{i}]: {reason}")
        mask |= bit
    if source not in _SOURCES:
        reason = "source: is required" if source == 0 else f"source: unknown source {source}"
        return (number, do_not_disturb, 0, source, None, reason)
    if effective_us is not None and not MIN_EPOCH_US <= effective_us <= MAX_EPOCH_US:
        return (number, do_not_disturb, 0, source, None, "effective_from: is out of range")
    return (number, do_not_disturb, mask or ALL_CATEGORIES_MASK, source, effective_us, None)


@dataclass(slots=True)
class ImportSummary:
    """What an import did: rows read, accepted and invalid, and the first invalid rows with reasons."""

    rows: int = 0
    accepted: int = 0
    invalid: int = 0
    # (1-based row number in stream order, reason), at most MAX_REPORTED_INVALID of them.
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, row: int, reason: str) -> None:
        self.invalid += 1
        if len(self.invalid_rows) < MAX_REPORTED_INVALID:
            self.invalid_rows.append((row, reason))


@lru_cache(maxsize=2 * ALL_CATEGORIES_MASK)
def _in_effect(mask: int) -> Schedule:
    """Schedule(mask), shared: most numbers of an import have one of a few masks, and building a frozen
    dataclass costs more than the rest of their fold."""
    return Schedule(mask)


# (effective time in epoch microseconds, journal seq, blocked-category mask: 0 when switched off)
Entry = tuple[int, int, int]


def fold_one(effective_us: int, mask: int, now_us: int) -> Schedule:
    """`fold_entries` of a number whose journal is one entry (most numbers of a first import)."""
    return _in_effect(mask) if effective_us <= now_us else Schedule(0, ((effective_us, mask),))


def fold_entries(entries: Sequence[Entry], now_us: int) -> Schedule:
    """`schedule_of` for journal entries reduced to what the fold reads, in any order.

    An import folds tens of thousands of numbers per chunk; building a `PreferenceChange` with two
    datetimes per entry costs more than the whole fold. tests/unit/test_imports.py holds the two equal.
    """
    if len(entries) == 1:
        effective, _, mask = entries[0]
        return fold_one(effective, mask, now_us)
    current = 0
    upcoming: list[tuple[int, int]] = []
    for effective, _, mask in sorted(entries):
        if effective <= now_us:
            current = mask
        elif upcoming and upcoming[-1][0] == effective:
            upcoming[-1] = (effective, mask)  # the same instant: the later entry counts
        else:
            upcoming.append((effective, mask))
    return Schedule(current, tuple(upcoming))
