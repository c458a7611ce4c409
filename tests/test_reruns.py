"""Running the same call again within 24 h (issue: re-runs are replayed silently).

Fullstory answers a create whose Idempotency-Key it saw within 24 h with the first job: the
second run sends nothing new. The run tells so (display, ``result.notes``) by comparing the job
ids Fullstory answers with those the other ledgers of its folder journalled; ``resend=True``
salts the keys so Fullstory makes new jobs, and a resume of such a run keeps its salted keys.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import orjson
import pandas as pd
import pytest

import fs_pandas
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ConfigurationError, RunInterrupted
from fs_pandas.payloads import plan
from fs_pandas.progress import ProgressState
from fs_pandas.progress.events import JobCreated, RunStarted
from fs_pandas.progress.text import render_line
from fs_pandas.progress.widget import render_label
from fs_pandas.run import RunHandle
from fs_pandas.run.engine import format_when, idempotency_key
from fs_pandas.run.ledger import Ledger, read_ledger, recent_jobs
from fs_pandas.specs import Pacing

ROWS = 30  # three chunks of ten
FOREVER = 10**6  # processing_polls: a job that never finishes while the test waits


def frame(offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"uid": [f"u{i + offset}" for i in range(ROWS)], "n": range(ROWS)})


def push(
    client: Client, tmp_path: Path, data: pd.DataFrame | None = None, **options: object
) -> fs_pandas.BatchResult:
    settings: dict[str, object] = {"progress": False, "chunk_size": 10, "poll_interval": 0.01}
    settings.update(options)
    result = (frame() if data is None else data).fullstory.batch_update(
        uid_col="uid",
        client=client,
        ledger_dir=tmp_path,
        **settings,  # type: ignore[arg-type]
    )
    assert isinstance(result, fs_pandas.BatchResult)
    return result


def started(result: fs_pandas.BatchResult) -> str:
    assert result.ledger_path is not None
    when = read_ledger(result.ledger_path).created_at
    assert when is not None
    return format_when(when)


def replay_notes(result: fs_pandas.BatchResult) -> list[str]:
    return [note for note in result.notes if "already sent" in note]


# -- the same call twice -------------------------------------------------------------------------


def test_the_same_call_again_sends_nothing_new_and_says_so(
    emu: Emulator, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = push(client, tmp_path)
    assert len(emu.jobs()) == 3
    assert first.notes == []

    second = push(client, tmp_path, progress="text")

    assert len(emu.jobs()) == 3  # Fullstory replayed the first run's jobs
    assert second.job_ids == first.job_ids
    assert second.outcomes.equals(first.outcomes)
    assert second.counts == first.counts == {
        "imported": ROWS, "failed": 0, "rejected": 0, "pending": 0
    }  # fmt: skip
    assert second.imports["fs_id"].equals(first.imports["fs_id"])
    [note] = replay_notes(second)
    assert note.startswith(f"3 of 3 chunks were already sent by the run of {started(first)} ")
    assert all(job in note for job in first.job_ids)
    assert "nothing new was sent" in note and "resend=True" in note
    shown = capsys.readouterr().err
    assert f"already sent at {started(first)}" in shown
    assert "nothing new sent" in shown
    for job in first.job_ids:
        assert job in shown


def test_only_the_chunks_sent_before_are_reported(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = push(client, tmp_path)
    changed = frame()
    changed.loc[25, "n"] = 1000  # the third chunk differs: a new key, a new job
    second = push(client, tmp_path, changed)
    assert len(emu.jobs()) == 4
    [note] = replay_notes(second)
    assert note.startswith("2 of 3 chunks were already sent")
    assert first.job_ids[0] in note and first.job_ids[1] in note
    assert second.job_ids[2] not in note


def test_a_different_frame_in_the_same_folder_is_not_a_replay(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    push(client, tmp_path)
    other = push(client, tmp_path, frame(offset=1000))
    assert len(emu.jobs()) == 6
    assert other.notes == []
    assert other.all_imported


def test_the_same_call_to_a_fresh_fullstory_is_sent_and_not_reported_as_already_sent(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    """An org that never saw the keys (here the emulator reset, as a fresh demo emulator
    starts) makes new jobs: their ids are new, so nothing is taken for a replay."""
    first = push(client, tmp_path)
    emu.reset()
    second = push(client, tmp_path)
    assert len(emu.jobs()) == 3  # sent again: the org had forgotten everything
    assert not set(second.job_ids) & set(first.job_ids)
    assert replay_notes(second) == []
    assert len(emu.users()) == ROWS


def test_a_third_run_names_the_run_that_sent_the_rows(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = push(client, tmp_path)
    push(client, tmp_path)  # a replay itself: its ledger journals the first run's jobs
    third = push(client, tmp_path)
    assert len(emu.jobs()) == 3
    [note] = replay_notes(third)
    assert f"by the run of {started(first)} " in note


def test_a_resume_names_only_runs_before_it(emu: Emulator, client: Client, tmp_path: Path) -> None:
    first = push(client, tmp_path)
    second = push(client, tmp_path)
    assert first.ledger_path is not None and second.ledger_path is not None
    # The first run's resume must not take the later replay for an earlier send.
    again = fs_pandas.resume(first.ledger_path, frame(), client=client, progress=False)
    assert replay_notes(again) == []
    # The replaying run's resume still says whose jobs they are.
    resumed = fs_pandas.resume(second.ledger_path, frame(), client=client, progress=False)
    [note] = replay_notes(resumed)
    assert f"by the run of {started(first)} " in note
    assert len(emu.jobs()) == 3


# -- resend=True ----------------------------------------------------------------------------------


def test_resend_creates_new_jobs_and_keeps_its_salt_in_the_ledger(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = push(client, tmp_path)
    again = push(client, tmp_path, resend=True)
    assert len(emu.jobs()) == 6
    assert set(again.job_ids).isdisjoint(first.job_ids)
    assert again.notes == []
    assert again.all_imported
    assert again.pacing is not None and again.pacing.resend
    assert again.ledger_path is not None
    state = read_ledger(again.ledger_path)
    assert state.key_salt
    assert set(state.keys.values()).isdisjoint(read_ledger(str(first.ledger_path)).keys.values())
    # A plain run after that has the first run's keys again: it replays the first run's jobs.
    third = push(client, tmp_path)
    assert len(emu.jobs()) == 6
    assert third.job_ids == first.job_ids
    [note] = replay_notes(third)
    assert f"by the run of {started(first)} " in note


def test_a_resend_run_resumes_without_new_jobs_for_journalled_chunks(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    push(client, tmp_path)
    assert len(emu.jobs()) == 3
    emu.configure(processing_polls=FOREVER)
    with pytest.raises(RunInterrupted) as caught:
        push(client, tmp_path, resend=True, max_jobs_in_flight=2, timeout=0.5)
    ledger = caught.value.ledger_path
    state = read_ledger(ledger)
    assert state.key_salt and len(state.jobs) == 2
    assert len(emu.jobs()) == 5  # the resend made two new jobs before it stopped
    journalled = dict(state.jobs)

    emu.configure(processing_polls=1)
    resumed = fs_pandas.resume(ledger, frame(), client=client, progress=False)

    assert resumed.all_imported
    assert replay_notes(resumed) == []
    assert len(emu.jobs()) == 6  # only the chunk that never got a job was created
    after = read_ledger(ledger)
    assert {n: after.jobs[n] for n in journalled} == journalled
    assert resumed.spec is not None
    chunk = next(c for c in plan(frame(), resumed.spec).chunks(10) if c.number not in journalled)
    assert after.keys[chunk.number] == idempotency_key(
        "users", chunk.body, chunk=chunk.number, chunk_size=10, salt=state.key_salt
    )
    # A second resume has everything journalled: not a single create.
    fs_pandas.resume(ledger, frame(), client=client, progress=False)
    assert len(emu.jobs()) == 6


def test_a_cancelled_resend_run_resumes_under_its_salted_keys(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=FOREVER)
    handle = frame().fullstory.batch_update(
        uid_col="uid", client=client, chunk_size=10, max_jobs_in_flight=3, poll_interval=0.01,
        progress=False, ledger_dir=tmp_path, wait=False, resend=True,
    )  # fmt: skip
    assert isinstance(handle, RunHandle)
    deadline = time.monotonic() + 30
    while len(read_ledger(handle.ledger_path).jobs) < 3:
        assert time.monotonic() < deadline, "the run never created its jobs"
        time.sleep(0.02)
    handle.cancel()
    assert handle.wait().aborted == "cancelled"
    created = [job["id"] for job in emu.jobs()]
    emu.configure(processing_polls=1)
    resumed = fs_pandas.resume(handle.ledger_path, frame(), client=client, progress=False)
    assert [job["id"] for job in emu.jobs()] == created
    assert resumed.all_imported and sorted(resumed.job_ids) == sorted(created)


def test_resend_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match="resend"):
        Pacing(resend="yes")  # type: ignore[arg-type]
    assert Pacing(resend=True).resend is True


def test_the_cli_has_a_resend_flag() -> None:
    from fs_pandas import cli

    options = cli._parser().parse_args(["users", "f.csv", "--uid-col", "u", "--resend"])
    assert cli._from_flags(Pacing, options) == Pacing(resend=True)


def test_a_salt_changes_the_key_and_no_salt_keeps_it() -> None:
    body = b'{"requests": []}'
    plain = idempotency_key("users", body, chunk=0, chunk_size=10)
    assert plain == idempotency_key("users", body, chunk=0, chunk_size=10, salt=None)
    salted = idempotency_key("users", body, chunk=0, chunk_size=10, salt="ab12")
    assert salted != plain and salted.startswith("fs-pandas-users-0-")
    assert salted != idempotency_key("users", body, chunk=0, chunk_size=10, salt="cd34")
    with pytest.raises(ValueError, match="salt"):
        idempotency_key("users", body, chunk=0, chunk_size=10, scheme=1, salt="ab12")


# -- which ledgers are read ------------------------------------------------------------------------


def age(path: Path, *, days: float) -> None:
    """Make a ledger look ``days`` old: its start stamp and its last write."""
    lines = path.read_bytes().splitlines()
    head = orjson.loads(lines[0])
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    head["created"] = when.isoformat().replace("+00:00", "Z")
    path.write_bytes(b"\n".join([orjson.dumps(head), *lines[1:]]) + b"\n")
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def test_unreadable_and_old_ledgers_are_ignored(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = push(client, tmp_path)
    assert first.ledger_path is not None
    age(Path(first.ledger_path), days=2)  # journals these very jobs, but is too old to count
    (tmp_path / "garbage.jsonl").write_bytes(b"not json at all\n\x00\xff")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "no-run-record.jsonl").write_bytes(b'{"type":"chunk","chunk":0}\n')
    (tmp_path / "a-folder.jsonl").mkdir()
    second = push(client, tmp_path)
    assert second.all_imported
    assert second.notes == []


def test_recent_jobs_reads_keys_and_jobs_of_recent_ledgers(tmp_path: Path) -> None:
    def ledger(jobs: dict[int, tuple[str, str]], *, days: float = 0.0) -> Path:
        made = Ledger.create(
            kind="users", options={"uid_col": "uid"}, n_rows=10, chunk_size=10,
            directory=tmp_path,
        )  # fmt: skip
        for chunk, (key, job) in jobs.items():
            made.chunk_planned(chunk, rows=10, key=key)
            made.job_created(chunk, job_id=job)
        made.close()
        if days:
            age(made.path, days=days)
        return made.path

    now = dt.datetime.now(dt.UTC)
    ledger({0: ("k-old", "j-old")}, days=2)
    a = ledger({0: ("k0", "j0"), 1: ("k1", "j1")}, days=0.5)
    b = ledger({0: ("k0", "j0"), 2: ("k2", "j2")})  # k0 replayed: j0 stays a's
    since = now - dt.timedelta(hours=24)
    found = recent_jobs(tmp_path, since=since)
    assert set(found) == {"k0", "k1", "k2"}
    when_a = read_ledger(a).created_at
    when_b = read_ledger(b).created_at
    assert found["k0"] == (when_a, "j0")
    assert found["k2"] == (when_b, "j2")
    assert set(recent_jobs(tmp_path, since=since, exclude=b)) == {"k0", "k1"}
    assert when_b is not None
    assert set(recent_jobs(tmp_path, since=since, before=when_b)) == {"k0", "k1"}
    assert recent_jobs(tmp_path / "missing", since=since) == {}


# -- the displays --------------------------------------------------------------------------------


def test_the_displays_say_which_chunks_were_already_sent() -> None:
    state = ProgressState(clock=lambda: 0.0)
    state.apply(RunStarted("users", total_rows=30, rejected_rows=0, chunks=3, ledger_path=None))
    state.apply(JobCreated(0, "abc123", 10, replayed_at="2026-11-30 14:05 UTC"))
    state.apply(JobCreated(1, "def456", 10))
    assert state.chunks_replayed == 1
    assert state.replayed == {0: ("2026-11-30 14:05 UTC", "abc123")}
    line = render_line(state)
    assert "1 of 3 chunks already sent at 2026-11-30 14:05 UTC (job abc123): nothing new sent" in (
        line
    )
    assert "already sent at 2026-11-30 14:05 UTC (job abc123)" in render_label(state)
    state.apply(JobCreated(2, "ghi789", 10, replayed_at="2026-11-30 14:05 UTC"))
    assert "2 of 3 chunks already sent" in render_line(state)


def test_a_run_with_nothing_replayed_says_nothing_of_it() -> None:
    state = ProgressState(clock=lambda: 0.0)
    state.apply(RunStarted("users", total_rows=10, rejected_rows=0, chunks=1, ledger_path=None))
    state.apply(JobCreated(0, "abc123", 10))
    assert "already sent" not in render_line(state)
    assert "already sent" not in render_label(state)


def test_the_summary_of_a_replayed_run_says_nothing_new_was_sent(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    push(client, tmp_path)
    second = push(client, tmp_path)
    [note] = replay_notes(second)
    assert note in repr(second)  # the text summary a scheduled job logs
    assert "fs-pandas-result-note" in second._repr_html_() and "nothing new" in (
        second._repr_html_()
    )
