"""The run ledger: written as the run goes, read back for resume, never holding the key."""

from pathlib import Path

import pytest

from fs_pandas.errors import LedgerError
from fs_pandas.ledger import Ledger, read_ledger, runs


def make(tmp_path: Path) -> Ledger:
    return Ledger.create(
        kind="users", options={"uid_col": "id"}, n_rows=10, chunk_size=5, directory=tmp_path
    )


def test_ledger_records_chunks_jobs_and_outcomes(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.chunk_planned(0, rows=5, key="k0")
    ledger.job_created(0, job_id="job-a")
    ledger.chunk_planned(1, rows=5, key="k1")
    ledger.job_done(0, job_id="job-a", status="COMPLETED", imported=5, failed=0)
    ledger.close()
    state = read_ledger(ledger.path)
    assert state.kind == "users"
    assert state.options == {"uid_col": "id"}
    assert state.keys == {0: "k0", 1: "k1"}
    assert state.jobs == {0: "job-a"}
    assert state.done == {0: "COMPLETED"}


def test_a_torn_last_line_from_a_crash_is_ignored(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.job_created(0, job_id="job-a")
    ledger.close()
    with ledger.path.open("ab") as f:
        f.write(b'{"type": "job", "chu')
    assert read_ledger(ledger.path).jobs == {0: "job-a"}


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"type": "job"}\n')
    with pytest.raises(LedgerError, match="not an fs_pandas ledger"):
        read_ledger(path)


def test_runs_lists_ledgers_newest_first(tmp_path: Path) -> None:
    first = make(tmp_path)
    first.close()
    second = make(tmp_path)
    second.close()
    import os

    os.utime(first.path, (1, 1))
    assert runs(tmp_path) == [second.path, first.path]


def test_runs_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert runs(tmp_path / "nothing") == []
