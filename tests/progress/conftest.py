"""Fixtures for the progress tests."""

from __future__ import annotations

import pytest

from tests.progress.progress_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock()
