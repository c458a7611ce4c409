"""Shared fixtures.

* ``emulator`` (session): one local Fullstory emulator (real HTTP on 127.0.0.1) for the whole run.
* ``emu`` (function): that same emulator, reset before each test to deterministic defaults:
  ``processing_polls=1`` (a job answers PROCESSING to its first status poll and is terminal from
  the second), ``processing_seconds=0``, ``page_size=1000``, no faults. Change settings inside a
  test with ``emu.configure(...)``; the next test starts from the defaults again.

Before each test the session emulator must answer a plain request within a few seconds. If it
does not (its thread died, or its event loop is blocked), that test fails at once with every
thread's stack printed, and the emulator is replaced: one clear failure instead of every later
test waiting out its timeout against a server that will never answer.
"""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from fs_pandas.emulator import Emulator, serve

_SETTINGS = {"processing_polls": 1, "processing_seconds": 0.0, "page_size": 1000}
_HEALTH_TIMEOUT = 10.0


class _Session:
    """The session's emulator, replaceable if it stops answering."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self.current = self._stack.enter_context(serve(**_SETTINGS))

    def replace(self) -> None:
        self.close()
        self._stack = ExitStack()
        self.current = self._stack.enter_context(serve(**_SETTINGS))

    def close(self) -> None:
        self._stack.close()


def _unanswered(emulator: Emulator) -> str | None:
    """Why the emulator does not answer, or None if it does."""
    if not emulator.running:
        return "its server thread is no longer running"
    try:
        requests.get(f"{emulator.url}/_emulator/jobs", timeout=_HEALTH_TIMEOUT)
    except requests.RequestException as exc:
        return f"a plain request failed: {exc!r}"
    return None


@pytest.fixture(scope="session")
def _session_emulator() -> Iterator[_Session]:
    session = _Session()
    yield session
    session.close()


@pytest.fixture(scope="session")
def emulator(_session_emulator: _Session) -> Emulator:
    """One emulator for the session (deterministic defaults, see module docstring)."""
    return _session_emulator.current


@pytest.fixture
def emu(_session_emulator: _Session) -> Emulator:
    """The session emulator, answering, with all state cleared and start-up settings restored."""
    why = _unanswered(_session_emulator.current)
    if why is not None:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        _session_emulator.replace()
        pytest.fail(f"the session emulator stopped answering before this test: {why}")
    _session_emulator.current.reset()
    return _session_emulator.current
