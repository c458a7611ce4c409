"""The run ledger: written as the run goes, read back for resume, never holding the key."""

import datetime as dt
import json
import threading
import zoneinfo
from pathlib import Path

import numpy as np
import pytest

from fs_pandas.errors import LedgerError
from fs_pandas.run import ledger as ledger_module
from fs_pandas.run.ledger import KEY_SCHEME, Ledger, read_ledger, runs


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


def test_reopening_cuts_off_a_torn_last_line_so_appends_stay_readable(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.job_created(0, job_id="job-a")
    ledger.close()
    with ledger.path.open("ab") as f:
        f.write(b'{"type": "job", "chu')
    for chunk, job in ((1, "job-b"), (2, "job-c")):  # two resumes in a row, each appending
        again = Ledger(ledger.path)
        again.job_created(chunk, job_id=job)
        again.close()
    assert read_ledger(ledger.path).jobs == {0: "job-a", 1: "job-b", 2: "job-c"}


def test_reopening_keeps_a_whole_last_record_that_lost_only_its_newline(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.close()
    with ledger.path.open("ab") as f:
        f.write(b'{"type": "job", "chunk": 0, "job_id": "job-a"}')
    again = Ledger(ledger.path)
    again.job_created(1, job_id="job-b")
    again.close()
    assert read_ledger(ledger.path).jobs == {0: "job-a", 1: "job-b"}


def test_reopening_cuts_off_a_corrupt_last_line_that_ends_with_a_newline(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.close()
    with ledger.path.open("ab") as f:
        f.write(b"\0\0\0\0\n")  # blocks a crash left unwritten
    again = Ledger(ledger.path)
    again.job_created(0, job_id="job-a")
    again.close()
    assert read_ledger(ledger.path).jobs == {0: "job-a"}


def test_a_new_ledger_is_never_listed_before_its_run_record_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []
    dumps = ledger_module.orjson.dumps

    class ListingWhileWriting:
        """orjson, but every record written is preceded by a listing that reads each ledger."""

        JSONDecodeError = ledger_module.orjson.JSONDecodeError
        loads = staticmethod(ledger_module.orjson.loads)

        @staticmethod
        def dumps(obj: object) -> bytes:
            for path in runs(tmp_path):
                read_ledger(path)  # raises for a listed file without its run record
                seen.append(path)
            return dumps(obj)

    monkeypatch.setattr(ledger_module, "orjson", ListingWhileWriting)
    first = make(tmp_path)
    first.chunk_planned(0, rows=5, key="k0")
    first.close()
    assert seen == [first.path]  # listed once it was whole, when its chunk was written


def test_runs_racing_ledger_creation_lists_only_readable_ledgers(tmp_path: Path) -> None:
    stop = threading.Event()

    def create() -> None:
        while not stop.is_set():
            make(tmp_path).close()

    writer = threading.Thread(target=create)
    writer.start()
    try:
        for _ in range(300):
            for path in runs(tmp_path, limit=5):
                assert read_ledger(path).kind == "users"
    finally:
        stop.set()
        writer.join()


def test_a_new_ledger_records_its_key_scheme(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.close()
    assert read_ledger(ledger.path).key_scheme == KEY_SCHEME == 2


def test_a_version_2_ledger_used_content_only_keys(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.close()
    head = json.loads(ledger.path.read_text().splitlines()[0])
    head["version"] = 2
    del head["key_scheme"]
    ledger.path.write_text(json.dumps(head) + "\n")
    assert read_ledger(ledger.path).key_scheme == 1


def test_the_run_start_is_read_as_an_aware_datetime(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.close()
    started = read_ledger(ledger.path).created_at
    assert started is not None
    assert abs(dt.datetime.now(dt.UTC) - started) < dt.timedelta(minutes=5)


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


def test_options_keyed_by_non_text_labels_are_written_and_read_back(tmp_path: Path) -> None:
    options = {
        "uid_col": np.str_("id"),
        "properties": {2024: "y2024", ("p", np.int64(3)): "p3"},
        "context": {"browser.url": ("where", "url")},
        "naive_tz": zoneinfo.ZoneInfo("Europe/Paris"),
    }
    ledger = Ledger.create(
        kind="events", options=options, n_rows=3, chunk_size=1, directory=tmp_path
    )
    ledger.close()
    assert read_ledger(ledger.path).options == {
        "uid_col": "id",
        "properties": {2024: "y2024", ("p", 3): "p3"},
        "context": {"browser.url": ("where", "url")},
        "naive_tz": zoneinfo.ZoneInfo("Europe/Paris"),
    }


def test_every_line_is_strict_json(tmp_path: Path) -> None:
    options = {"properties": {float("nan"): "nan", float("inf"): "inf"}, "naive_tz": dt.UTC}
    ledger = Ledger.create(
        kind="users", options=options, n_rows=1, chunk_size=1, directory=tmp_path
    )
    ledger.chunk_planned(0, rows=1, key="k0")
    ledger.close()
    for line in ledger.path.read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the ledger"))


def test_an_option_that_cannot_be_stored_is_refused_before_a_file_is_made(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="properties: object"):
        Ledger.create(
            kind="users",
            options={"properties": {object(): "x"}},
            n_rows=1,
            chunk_size=1,
            directory=tmp_path,
        )
    assert runs(tmp_path) == []


def test_a_version_1_ledger_is_read_as_it_was_written(tmp_path: Path) -> None:
    # Version 1 wrote options as plain JSON: a "$"-key there is a column name, not a tag.
    head = {
        "type": "run",
        "version": 1,
        "kind": "users",
        "created": "2025-01-01T00:00:00Z",
        "n_rows": 1,
        "chunk_size": 1,
        "options": {"uid_col": "id", "properties": {"$set": "dollar_set"}},
    }
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(head) + "\n")
    assert read_ledger(path).options == {"uid_col": "id", "properties": {"$set": "dollar_set"}}


def test_a_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.close()
    head = ledger.path.read_text().splitlines()[0]
    ledger.path.write_text(head.replace('"version":3', '"version":99') + "\n")
    with pytest.raises(LedgerError, match="newer fs_pandas"):
        read_ledger(ledger.path)
