"""A run that ends early (a fatal answer, a timeout) closes its chunk builder at once, on its own
thread: no build thread is left for the garbage collector to stop at some random moment
(tests/payloads/test_abandoned_chunks.py shows what that could do)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import NotFoundError, RunInterrupted
from fs_pandas.payloads.plan import default_threads


def build_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fs_pandas-payloads")]


def wait_until_none_left(seconds: float = 10.0) -> list[threading.Thread]:
    deadline = time.monotonic() + seconds
    while build_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    return build_threads()


FRAME = pd.DataFrame({"uid": [f"u{i}" for i in range(60_000)], "n": range(60_000)})


@pytest.mark.skipif(default_threads() < 2, reason="chunks are built on one thread here")
def test_a_run_stopped_by_a_fatal_answer_leaves_no_build_thread(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    assert wait_until_none_left() == []
    emu.configure(processing_polls=10**6)
    handle = FRAME.fullstory.batch_update(
        uid_col="uid", client=client, chunk_size=10_000, max_jobs_in_flight=1,
        poll_interval=0.01, progress=False, ledger_dir=tmp_path, wait=False,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not emu.jobs() and time.monotonic() < deadline:
        time.sleep(0.01)
    emu.reset()  # Fullstory no longer knows the job: its next status poll is a 404
    with pytest.raises(NotFoundError) as raised:
        handle.wait()
    assert len(emu.jobs()) < 6  # stopped before the builder reached the end
    # The exception (and its traceback's frames) are still alive here: the builder was closed
    # by the run itself, not when they are collected.
    assert wait_until_none_left() == [], raised


@pytest.mark.skipif(default_threads() < 2, reason="chunks are built on one thread here")
def test_a_run_that_timed_out_leaves_no_build_thread(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=10**6)
    with pytest.raises(RunInterrupted) as raised:
        FRAME.fullstory.batch_update(
            uid_col="uid", client=client, chunk_size=10_000, max_jobs_in_flight=1,
            poll_interval=0.01, progress=False, ledger_dir=tmp_path, timeout=0.5,
        )  # fmt: skip
    assert raised.value.result.counts["pending"] == len(FRAME)
    assert wait_until_none_left() == [], raised
