"""Import rows, summaries and the many-numbers fold: the pure parts of a bulk import."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.domain.imports import (
    MAX_EPOCH_US,
    MAX_REPORTED_INVALID,
    ImportSummary,
    fold_entries,
    import_row,
)
from dncgate.domain.registry import PreferenceChange, epoch_us, schedule_of
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Source
from dncgate.phone import NumberKeyer
from tests.unit.test_registry_properties import any_instant, preference_journals, whole_seconds


@settings(max_examples=500)
@given(st.one_of(preference_journals(whole_seconds()), preference_journals(any_instant())), any_instant())
def test_the_import_fold_equals_schedule_of(changes: list[PreferenceChange], now: datetime) -> None:
    """fold_entries on (effective µs, seq, mask) gives exactly schedule_of's Schedule, for any journal and now."""
    entries = [(epoch_us(c.effective_from), c.seq, c.mask) for c in changes]
    assert fold_entries(entries, epoch_us(now)) == schedule_of(changes, now)


def test_a_row_without_categories_covers_every_category() -> None:
    """No category in a feed row means do-not-disturb for all of them, as in SetPreference."""
    _, _, mask, _, _, error = import_row("13800138000", True, [], int(Source.NATIONAL_REGISTRY), None)
    assert error is None and mask == ALL_CATEGORIES_MASK


def test_a_row_with_categories_covers_just_those() -> None:
    """Categories become the same bit mask the journal stores for single writes."""
    _, _, mask, _, effective_us, error = import_row("13800138000", True, [Category.FINANCE, Category.HEALTH], 1, 5)
    assert error is None and mask == (1 << Category.FINANCE) | (1 << Category.HEALTH)
    assert effective_us == 5


@pytest.mark.parametrize(
    ("categories", "source", "effective_us", "reason"),
    [
        ([0], 4, None, "categories[0]: CATEGORY_UNSPECIFIED is not a category"),
        ([1, 42], 4, None, "categories[1]: unknown category 42"),
        ([], 0, None, "source: is required"),
        ([], 9, None, "source: unknown source 9"),
        ([], 4, MAX_EPOCH_US + 1, "effective_from: is out of range"),
    ],
)
def test_a_row_with_a_bad_category_source_or_time_is_invalid_with_a_reason(
    categories: list[int], source: int, effective_us: int | None, reason: str
) -> None:
    """Such a row is not imported; its reason names the field, as a BadRequest would."""
    *_, error = import_row("13800138000", True, categories, source, effective_us)
    assert error == reason


def test_the_summary_counts_every_invalid_row_but_reports_only_the_first_hundred() -> None:
    """A feed of garbage yields a count, not a summary of millions of lines."""
    summary = ImportSummary()
    for row in range(1, 251):
        summary.reject(row, "number: is not a valid phone number")
    assert summary.invalid == 250
    assert [r for r, _ in summary.invalid_rows] == list(range(1, MAX_REPORTED_INVALID + 1))


@pytest.mark.parametrize("pepper", [b"p" * 16, b"q" * 32, b"r" * 64, b"s" * 100])
def test_the_uncached_digest_is_the_keyed_hash(pepper: bytes) -> None:
    """The import's digest function gives HMAC-SHA256(pepper, e164), for peppers shorter and longer than a block."""
    keyer = NumberKeyer(pepper)
    digest = keyer.uncached()
    for e164 in ("+8613800138000", "+12125550123", "+85221234567"):
        assert digest(e164) == keyer.digest(e164) == hmac.digest(pepper, e164.encode(), hashlib.sha256)
