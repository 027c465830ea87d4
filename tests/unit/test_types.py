"""Category masks: how a preference's categories are stored and whether they cover a call."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dncgate.domain.types import (
    ALL_CATEGORIES_MASK,
    REAL_CATEGORIES,
    Category,
    Decision,
    Mode,
    Reason,
    Source,
    categories_of,
    mask_covers,
    mask_of,
)

real_category_sets = st.sets(st.sampled_from(REAL_CATEGORIES))


def test_category_values_match_the_wire_enum() -> None:
    """Mask bits are stored, so each category keeps the number the proto gives it."""
    assert [(c.name, int(c)) for c in Category] == [
        ("UNSPECIFIED", 0),
        ("REAL_ESTATE", 1),
        ("FINANCE", 2),
        ("INSURANCE", 3),
        ("EDUCATION", 4),
        ("HEALTH", 5),
        ("TOURISM", 6),
        ("CONSUMER_GOODS", 7),
        ("TELECOM", 8),
        ("OTHER", 9),
    ]


def test_real_categories_leave_out_unspecified() -> None:
    """UNSPECIFIED is the wire default, not a kind of call a consumer can opt out of."""
    assert Category.UNSPECIFIED not in REAL_CATEGORIES
    assert len(REAL_CATEGORIES) == 9


def test_the_all_categories_mask_has_one_bit_per_real_category() -> None:
    """Bits 1..9 are set and bit 0 (UNSPECIFIED) is not."""
    assert ALL_CATEGORIES_MASK == 0b11_1111_1110


def test_mask_of_one_category_sets_only_its_bit() -> None:
    """A finance-only preference is bit 2 alone."""
    assert mask_of([Category.FINANCE]) == 1 << 2


def test_mask_of_several_categories_sets_each_bit() -> None:
    """Real estate and health together are bits 1 and 5."""
    assert mask_of([Category.REAL_ESTATE, Category.HEALTH]) == (1 << 1) | (1 << 5)


def test_mask_of_no_category_means_every_category() -> None:
    """An empty category list is the API's 'all', not 'nothing'."""
    assert mask_of([]) == ALL_CATEGORIES_MASK


def test_mask_of_only_unspecified_means_every_category() -> None:
    """UNSPECIFIED carries no choice, so a list of only UNSPECIFIED is still 'all'."""
    assert mask_of([Category.UNSPECIFIED]) == ALL_CATEGORIES_MASK


def test_mask_of_ignores_unspecified_next_to_real_categories() -> None:
    """UNSPECIFIED beside a real category adds no bit 0."""
    assert mask_of([Category.UNSPECIFIED, Category.TELECOM]) == 1 << 8


def test_mask_of_repeated_category_counts_once() -> None:
    """Duplicates in the request do not change the mask."""
    assert mask_of([Category.OTHER, Category.OTHER]) == 1 << 9


def test_mask_of_accepts_any_iterable() -> None:
    """A generator works as well as a list (the service passes whatever the API gave it)."""
    assert mask_of(c for c in (Category.TOURISM,)) == 1 << 6


def test_categories_of_lists_the_categories_in_enum_order() -> None:
    """A mask comes back as its categories, lowest value first."""
    assert categories_of((1 << 5) | (1 << 1)) == (Category.REAL_ESTATE, Category.HEALTH)


def test_categories_of_every_category_is_the_empty_tuple() -> None:
    """The full mask is rendered as the API's 'all': no category listed."""
    assert categories_of(ALL_CATEGORIES_MASK) == ()


def test_categories_of_a_mask_with_stray_bit_zero_still_reads_as_all() -> None:
    """A stored bit 0 (never written by mask_of) does not stop the full mask from meaning 'all'."""
    assert categories_of(ALL_CATEGORIES_MASK | 1) == ()


def test_categories_of_all_but_one_category_lists_eight() -> None:
    """Missing a single category is not 'all'."""
    mask = ALL_CATEGORIES_MASK & ~(1 << Category.OTHER)
    assert categories_of(mask) == tuple(c for c in REAL_CATEGORIES if c is not Category.OTHER)


@given(real_category_sets)
def test_categories_of_undoes_mask_of(categories: set[Category]) -> None:
    """Storing categories and reading them back gives the same set (every category reads as 'all')."""
    expected = () if len(categories) in (0, len(REAL_CATEGORIES)) else tuple(sorted(categories))
    assert categories_of(mask_of(categories)) == expected


@given(real_category_sets)
def test_mask_of_is_never_zero(categories: set[Category]) -> None:
    """A registration always blocks something: zero is reserved for 'not registered'."""
    assert mask_of(categories) != 0


@pytest.mark.parametrize("category", REAL_CATEGORIES)
def test_a_registration_for_a_category_covers_calls_of_that_category(category: Category) -> None:
    """A single-category registration covers its own category."""
    assert mask_covers(mask_of([category]), category)


def test_a_registration_for_finance_does_not_cover_a_real_estate_call() -> None:
    """A consumer who only refused finance calls may still get real estate calls."""
    assert not mask_covers(mask_of([Category.FINANCE]), Category.REAL_ESTATE)


@pytest.mark.parametrize("category", REAL_CATEGORIES)
def test_an_all_categories_registration_covers_every_category(category: Category) -> None:
    """'All' means every real category."""
    assert mask_covers(ALL_CATEGORIES_MASK, category)


def test_a_call_without_category_is_covered_by_a_single_category_registration() -> None:
    """A dialer that does not say what it sells cannot claim to be outside the consumer's choice."""
    assert mask_covers(mask_of([Category.EDUCATION]), Category.UNSPECIFIED)


def test_a_call_without_category_is_not_covered_when_not_registered() -> None:
    """Mask 0 is 'not registered': nothing covers anything."""
    assert not mask_covers(0, Category.UNSPECIFIED)


@pytest.mark.parametrize("category", list(Category))
def test_nothing_is_covered_by_an_empty_mask(category: Category) -> None:
    """A cleared preference (mask 0) blocks no category, specified or not."""
    assert not mask_covers(0, category)


@given(real_category_sets, st.sampled_from(REAL_CATEGORIES))
def test_coverage_of_a_real_category_is_membership(categories: set[Category], category: Category) -> None:
    """A real category is covered exactly when it was chosen (or nothing was, meaning all)."""
    assert mask_covers(mask_of(categories), category) == (not categories or category in categories)


def test_enum_values_are_the_names_used_in_logs_and_storage() -> None:
    """Decisions, reasons and modes are string enums whose values equal their names."""
    for enum in (Decision, Reason, Mode):
        assert all(member.value == member.name for member in enum)
    assert [int(s) for s in Source] == [0, 1, 2, 3, 4, 5]
