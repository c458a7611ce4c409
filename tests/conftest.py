"""Shared fixtures.

* ``emulator`` (session): one local Fullstory emulator (real HTTP on 127.0.0.1) for the whole run.
* ``emu`` (function): that same emulator, reset before each test to deterministic defaults:
  ``processing_polls=1`` (a job answers PROCESSING to its first status poll and is terminal from
  the second), ``processing_seconds=0``, ``page_size=1000``, no faults. Change settings inside a
  test with ``emu.configure(...)``; the next test starts from the defaults again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fs_pandas.emulator import Emulator, serve


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One emulator for the session (deterministic defaults, see module docstring)."""
    with serve(processing_polls=1, processing_seconds=0.0, page_size=1000) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    """The session emulator, with all state cleared and start-up settings restored."""
    emulator.reset()
    return emulator
