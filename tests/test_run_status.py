"""A background run's status() reads like its bar's text, and is a snapshot with the numbers."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.progress import ProgressState
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
