"""PackedKeys: a catch-up's consumer keys as one sorted bytes, behaving as the sorted list of keys."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dncgate.store.catchup import PackedKeys

KEYS = st.lists(st.integers(0, 500).map(lambda i: hashlib.sha256(b"%d" % i).digest()), max_size=60)


@given(KEYS, st.integers(1, 9))
def test_packed_keys_behave_as_the_sorted_distinct_keys_and_slice_in_order(keys: list[bytes], size: int) -> None:
    """Length, indexing, iteration, membership and slices agree with the sorted list of distinct keys."""
    packed = PackedKeys.of(keys)
    expected = sorted(set(keys))
    assert len(packed) == len(expected) and list(packed) == expected
    assert [packed[i] for i in range(-len(expected), len(expected))] == expected + expected
    assert all(k in packed for k in expected)
    assert hashlib.sha256(b"absent").digest() not in packed and b"short" not in packed
    parts = [list(s) for s in packed.slices(size)]
    assert [k for p in parts for k in p] == expected
    assert all(len(p) == size for p in parts[:-1]) and all(0 < len(p) <= size for p in parts)


def test_indexing_past_either_end_raises_index_error() -> None:
    """An index outside the keys is an IndexError, as for a list."""
    packed = PackedKeys.of([hashlib.sha256(b"x").digest()])
    for i in (1, -2):
        with pytest.raises(IndexError):
            packed[i]
