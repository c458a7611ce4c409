"""A run whose process is killed resumes from its ledger: no job is ever created twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

import fs_pandas
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.ledger import read_ledger

ROWS = 30  # three chunks of ten

CHILD = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import fs_pandas
    from fs_pandas.client import Client

    url, key, ledger_dir, in_flight = sys.argv[1:5]
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(30)], "n": range(30)})
    frame.fullstory.batch_update(
        uid_col="uid", client=Client(api_key=key, base_url=url), chunk_size=10,
        max_jobs_in_flight=int(in_flight), poll_interval=0.05, progress=False,
        ledger_dir=ledger_dir,
    )
    """
)


def frame() -> pd.DataFrame:
    return pd.DataFrame({"uid": [f"u{i}" for i in range(ROWS)], "n": range(ROWS)})


def run_and_kill(emu: Emulator, tmp_path: Path, *, in_flight: int, jobs_before_kill: int) -> Path:
    """Start a run in a child process and SIGKILL it once the ledger holds enough job ids."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, emu.url, emu.api_key, str(tmp_path), str(in_flight)]
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ledgers = fs_pandas.runs(tmp_path)
            if ledgers and len(read_ledger(ledgers[0]).jobs) >= jobs_before_kill:
                return ledgers[0]
            assert child.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        raise AssertionError("the child never created its jobs")
    finally:
        child.kill()
        child.wait()


def test_a_killed_run_resumes_without_creating_a_single_new_job(
    emu: Emulator, tmp_path: Path
) -> None:
    emu.configure(processing_polls=None, processing_seconds=3600)  # jobs outlive the process
    ledger = run_and_kill(emu, tmp_path, in_flight=3, jobs_before_kill=3)
    created = [job["id"] for job in emu.jobs()]
    assert len(created) == 3
    emu.configure(processing_seconds=0)
    client = Client(api_key=emu.api_key, base_url=emu.url)
    result = fs_pandas.resume(ledger, frame(), client=client, progress=False)
    assert [job["id"] for job in emu.jobs()] == created
    assert result.counts == {"imported": ROWS, "failed": 0, "rejected": 0, "pending": 0}
    assert sorted(result.job_ids) == sorted(created)


def test_chunks_that_never_got_a_job_are_sent_on_resume_once(emu: Emulator, tmp_path: Path) -> None:
    emu.configure(processing_polls=None, processing_seconds=3600)
    ledger = run_and_kill(emu, tmp_path, in_flight=1, jobs_before_kill=1)
    emu.configure(processing_seconds=0)
    client = Client(api_key=emu.api_key, base_url=emu.url)
    resumed = fs_pandas.resume(ledger, frame(), client=client, progress=False)
    assert len(emu.jobs()) == 3  # one per chunk, whatever was in flight at the kill
    assert resumed.counts["imported"] == ROWS


def test_resume_refuses_a_different_frame(emu: Emulator, tmp_path: Path) -> None:
    import pytest

    from fs_pandas.errors import LedgerError

    emu.configure(processing_polls=None, processing_seconds=3600)
    ledger = run_and_kill(emu, tmp_path, in_flight=3, jobs_before_kill=1)
    other = frame().assign(n=lambda f: f["n"] + 1)
    client = Client(api_key=emu.api_key, base_url=emu.url)
    with pytest.raises(LedgerError, match="differs"):
        fs_pandas.resume(ledger, other, client=client, progress=False)
