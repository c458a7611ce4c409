"""Shared fixtures.

* ``emulator`` (session): one local Fullstory emulator (real HTTP on 127.0.0.1) for the whole run.
* ``emu`` (function): that same emulator, reset before each test to deterministic defaults:
  ``processing_polls=1`` (a job answers PROCESSING to its first status poll and is terminal from
  the second), ``processing_seconds=0``, ``page_size=1000``, no faults. Change settings inside a
  test with ``emu.configure(...)``; the next test starts from the defaults again.
* ``client`` (function): a ``fs_pandas.client.Client`` for ``emu`` with the Admin key, which
  never waits between retries: ``make_client()``.
* ``make_client`` (function): ``make_client(key=None, **options)`` builds more clients for
  ``emu`` -- another key (``emu.standard_key``), or any ``Client`` argument (``retry=``,
  ``on_retry=``, ``sleep=``, ``timeout=``...) in place of the defaults: each wait it is asked
  for is appended to ``sleeps`` (nothing waits), each retry to ``retries``, and the jitter is
  seeded. Every client it made is closed after the test.

Before each test the session emulator must answer a plain request within a few seconds. If it
does not (its thread died, or its event loop is blocked), that test fails at once with every
thread's stack printed, and the emulator is replaced: one clear failure instead of every later
test waiting out its timeout against a server that will never answer.
"""

from __future__ import annotations

import faulthandler
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, serve
from fs_pandas.retry import Retrying

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


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the test's ``make_client`` clients were asked for (they do not wait)."""
    return []


@pytest.fixture
def retries() -> list[Retrying]:
    """The retries the test's ``make_client`` clients announced (``on_retry``)."""
    return []


@pytest.fixture
def make_client(
    emu: Emulator, sleeps: list[float], retries: list[Retrying]
) -> Iterator[Callable[..., Client]]:
    """``make_client(key=None, **options)``: a client for ``emu`` (see module docstring)."""
    made: list[Client] = []

    def make(key: str | None = None, **kwargs: Any) -> Client:
        options: dict[str, Any] = {
            "base_url": emu.url,
            "sleep": sleeps.append,
            "on_retry": retries.append,
            "rng": random.Random(0),
        }
        options.update(kwargs)
        client = Client(emu.api_key if key is None else key, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    """A client for ``emu`` with the Admin key that never waits between retries."""
    return make_client()
