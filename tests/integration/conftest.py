"""Fixtures for the integration tests (real Redis and PostgreSQL from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.integration.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at the real current time."""
    return FakeClock()
