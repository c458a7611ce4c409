"""A background run's status() reads like its bar's text, and is a snapshot with the numbers."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.errors import AuthenticationError
from fs_pandas.progress import ProgressState
from fs_pandas.progress.events import Retrying
from fs_pandas.progress.text import render_line
from fs_pandas.run import RunHandle


def test_status_reads_like_the_bar_and_keeps_the_numbers(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=10**6)  # the job stays in progress while the test looks
    frame = pd.DataFrame({"uid": ["a", "b", "c"]})
    handle = frame.fullstory.batch_update(
        uid_col="uid", client=client, poll_interval=0.01, progress=False, ledger_dir=tmp_path,
        wait=False,
    )  # fmt: skip
    assert isinstance(handle, RunHandle)
    deadline = time.monotonic() + 30
    while handle.status().jobs_processing < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    status = handle.status()
    assert isinstance(status, ProgressState)
    assert repr(status) == render_line(status)
    assert repr(status).startswith("users import: 0 / 3 rows")
    assert (status.rows_total, status.rows_finished, status.jobs_processing) == (3, 0, 1)
    emu.configure(processing_polls=1)
    result = handle.wait()
    assert result.all_imported
    assert status.rows_finished == 0  # a snapshot: it did not move with the run
    assert handle.status().rows_finished == 3


def test_every_retry_of_a_background_run_reaches_its_status(
    emu: Emulator, client: Client, retries: list[Retrying], tmp_path: Path
) -> None:
    """Retries are announced on the threads that send the requests; the run's own thread
    folds them into the state with its other events, so none is lost or drawn elsewhere."""
    emu.configure(faults=Faults(rate_5xx=0.3, seed=11))
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(60)]})
    handle = frame.fullstory.batch_update(
        uid_col="uid", client=client, chunk_size=10, poll_interval=0.01, progress=False,
        ledger_dir=tmp_path, wait=False,
    )  # fmt: skip
    assert isinstance(handle, RunHandle)
    result = handle.wait()
    assert result.all_imported
    assert len(retries) > 0
    assert handle.status().retries == len(retries)


def test_a_background_run_that_failed_raises_the_same_error_on_every_wait(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=10**6)
    frame = pd.DataFrame({"uid": ["a", "b"]})
    handle = frame.fullstory.batch_update(
        uid_col="uid", client=client, poll_interval=0.01, progress=False, ledger_dir=tmp_path,
        wait=False,
    )  # fmt: skip
    assert isinstance(handle, RunHandle)
    deadline = time.monotonic() + 30
    while handle.status().jobs_processing < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    emu.configure(api_key="na1.rotated-admin-key")  # the key is revoked mid-run
    with pytest.raises(AuthenticationError) as first:
        handle.wait()
    with pytest.raises(AuthenticationError) as again:
        handle.wait()
    assert again.value is first.value
    notes = [n for n in first.value.__notes__ if "journalled in" in n]
    assert len(notes) == 1 and handle.ledger_path in notes[0]
    assert handle.done()
    assert handle.status().finished  # the run's end is in its status, reason and all
