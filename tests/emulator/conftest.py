"""Fixtures for the emulator's own tests: plain ``requests`` sessions against ``emu.url``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api


@pytest.fixture
def admin(emu: Emulator) -> Iterator[Api]:
    """Requests with the Admin key."""
    api = Api(emu, emu.api_key)
    yield api
    api.close()


@pytest.fixture
def standard(emu: Emulator) -> Iterator[Api]:
    """Requests with the Standard key."""
    api = Api(emu, emu.standard_key)
    yield api
    api.close()


@pytest.fixture
def anon(emu: Emulator) -> Iterator[Api]:
    """Requests with no Authorization header."""
    api = Api(emu, None)
    yield api
    api.close()
