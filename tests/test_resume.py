"""A run whose process is killed resumes from its ledger: no job is ever created twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

import fs_pandas
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ConfigurationError, ExpiredKeysWarning
from fs_pandas.run.ledger import read_ledger
from fs_pandas.specs import Pacing

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
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=None, processing_seconds=3600)  # jobs outlive the process
    ledger = run_and_kill(emu, tmp_path, in_flight=3, jobs_before_kill=3)
    created = [job["id"] for job in emu.jobs()]
    assert len(created) == 3
    emu.configure(processing_seconds=0)
    result = fs_pandas.resume(ledger, frame(), client=client, progress=False)
    assert [job["id"] for job in emu.jobs()] == created
    assert result.counts == {"imported": ROWS, "failed": 0, "rejected": 0, "pending": 0}
    assert sorted(result.job_ids) == sorted(created)


def test_chunks_that_never_got_a_job_are_sent_on_resume_once(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=None, processing_seconds=3600)
    ledger = run_and_kill(emu, tmp_path, in_flight=1, jobs_before_kill=1)
    emu.configure(processing_seconds=0)
    resumed = fs_pandas.resume(ledger, frame(), client=client, progress=False)
    assert len(emu.jobs()) == 3  # one per chunk, whatever was in flight at the kill
    assert resumed.counts["imported"] == ROWS


def test_resume_refuses_a_different_frame(emu: Emulator, client: Client, tmp_path: Path) -> None:
    import pytest

    from fs_pandas.errors import LedgerError

    emu.configure(processing_polls=None, processing_seconds=3600)
    ledger = run_and_kill(emu, tmp_path, in_flight=3, jobs_before_kill=1)
    other = frame().assign(n=lambda f: f["n"] + 1)
    with pytest.raises(LedgerError, match="differs"):
        fs_pandas.resume(ledger, other, client=client, progress=False)


def test_resume_refuses_a_chunk_size_other_than_the_runs(client: Client, tmp_path: Path) -> None:
    frame().fullstory.batch_update(
        uid_col="uid",
        client=client,
        chunk_size=10,
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path,
    )
    (ledger,) = fs_pandas.runs(tmp_path)
    with pytest.raises(ConfigurationError, match="chunk_size=10"):
        fs_pandas.resume(ledger, frame(), client=client, options=Pacing(chunk_size=5))


# A set of columns iterates in an order that depends on the process's string hash seed: a run
# and its resume in two processes must still plan the same chunks.
SET_FRAME = """
import sys, json
import pandas as pd
import fs_pandas
from fs_pandas.client import Client
from fs_pandas.errors import RunInterrupted

url, key, where = sys.argv[1:4]
columns = [f"p{i}" for i in range(8)]
values = {c: [i, i + 1, i + 2] for i, c in enumerate(columns)}
frame = pd.DataFrame({"uid": ["a", "b", "c"], **values})
client = Client(api_key=key, base_url=url)
"""

SET_RUN = (
    SET_FRAME
    + """
try:
    frame.fullstory.batch_update(
        uid_col="uid", properties=set(columns), client=client, chunk_size=1,
        max_jobs_in_flight=1, poll_interval=0.01, progress=False, ledger_dir=where,
        timeout=1.0,
    )
except RunInterrupted:
    pass  # its first job never finishes here: the run stops at its timeout
"""
)

SET_RESUME = (
    SET_FRAME
    + """
result = fs_pandas.resume(where, frame, client=client, progress=False)
print(json.dumps(result.counts))
"""
)


def child(script: str, *args: str, seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_properties_given_as_a_set_resume_in_another_process(emu: Emulator, tmp_path: Path) -> None:
    emu.configure(processing_polls=10**6)  # the first job never finishes: the run times out
    ran = child(SET_RUN, emu.url, emu.api_key, str(tmp_path), seed="1")
    assert ran.returncode == 0, ran.stderr
    emu.configure(processing_polls=1)
    (ledger,) = fs_pandas.runs(tmp_path)
    first_jobs = [job["idempotency_key"] for job in emu.jobs()]
    assert len(first_jobs) == 1
    resumed = child(SET_RESUME, emu.url, emu.api_key, str(ledger), seed="2")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1])["imported"] == 3
    assert len(emu.jobs()) == 3  # one per row: the first job was re-attached, not sent again
    assert emu.jobs()[0]["idempotency_key"] == first_jobs[0]


# -- a torn journal, and a resume after Fullstory forgot the keys ------------------------------


def finished_run(client: Client, tmp_path: Path) -> Path:
    frame().fullstory.batch_update(
        uid_col="uid",
        client=client,
        chunk_size=10,
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path,
    )
    (ledger,) = fs_pandas.runs(tmp_path)
    return ledger


def rewrite(
    ledger: Path, *, started_hours_ago: float = 0, forget_jobs_of: int | None = None
) -> None:
    """Age the run's start, and drop a chunk's job records (a crash after its create)."""
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=started_hours_ago)
    lines[0]["created"] = started.isoformat().replace("+00:00", "Z")
    kept = [
        r for r in lines if not (r["type"] in ("job", "done") and r.get("chunk") == forget_jobs_of)
    ]
    ledger.write_text("".join(json.dumps(r) + "\n" for r in kept))


def resume_quietly(client: Client, ledger: Path) -> fs_pandas.BatchResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExpiredKeysWarning)
        return fs_pandas.resume(ledger, frame(), client=client, progress=False)


def test_a_torn_last_line_does_not_stop_a_second_resume(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    ledger = finished_run(client, tmp_path)
    with ledger.open("ab") as f:
        f.write(b'{"type": "job", "chunk": 2, "jo')  # the kernel died mid-write
    first = resume_quietly(client, ledger)
    second = resume_quietly(client, ledger)
    assert first.counts["imported"] == second.counts["imported"] == ROWS
    assert len(emu.jobs()) == 3
    assert read_ledger(ledger).jobs.keys() == {0, 1, 2}


def test_a_resume_after_the_keys_expired_warns_that_rows_may_be_sent_twice(
    client: Client, tmp_path: Path
) -> None:
    ledger = finished_run(client, tmp_path)
    rewrite(ledger, started_hours_ago=25, forget_jobs_of=2)
    with pytest.warns(ExpiredKeysWarning, match=r"25 hours ago .* chunks \[2\]"):
        result = fs_pandas.resume(ledger, frame(), client=client, progress=False)
    assert result.counts["imported"] == ROWS
    assert len(result.notes) == 1 and "24 hours" in result.notes[0]


def test_a_resume_within_a_day_does_not_warn(emu: Emulator, client: Client, tmp_path: Path) -> None:
    ledger = finished_run(client, tmp_path)
    rewrite(ledger, started_hours_ago=23, forget_jobs_of=2)
    result = resume_quietly(client, ledger)
    assert result.notes == []
    assert len(emu.jobs()) == 3  # the key replayed chunk 2's job


def test_an_old_run_whose_every_job_was_journalled_resumes_without_a_warning(
    client: Client, tmp_path: Path
) -> None:
    ledger = finished_run(client, tmp_path)
    rewrite(ledger, started_hours_ago=72)
    assert resume_quietly(client, ledger).notes == []


def test_a_run_chunked_by_default_resumes_in_its_own_chunks_whatever_the_pacing_given(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    # 30,000 rows over at most 3 jobs in flight: 3 jobs of 10,000. Given pacing without a
    # chunk_size (and other jobs in flight, which would cut the rows otherwise), a resume
    # chunks the run as its ledger says, and every chunk finds its job.
    from fs_pandas.errors import RunInterrupted

    rows = pd.DataFrame({"uid": [f"u{i}" for i in range(30_000)]})
    emu.configure(processing_polls=None, processing_seconds=3600)
    with pytest.raises(RunInterrupted) as stopped:
        rows.fullstory.batch_update(
            uid_col="uid",
            client=client,
            max_jobs_in_flight=3,
            poll_interval=0.05,
            progress=False,
            ledger_dir=tmp_path,
            timeout=3,
        )
    ledger = stopped.value.ledger_path
    created = [job["id"] for job in emu.jobs()]
    assert len(created) == 3 and read_ledger(ledger).chunk_size == 10_000
    emu.configure(processing_seconds=0)
    options = Pacing(max_jobs_in_flight=2, poll_interval=0.01)
    result = fs_pandas.resume(ledger, rows, client=client, progress=False, options=options)
    assert [job["id"] for job in emu.jobs()] == created
    assert result.counts["imported"] == 30_000
