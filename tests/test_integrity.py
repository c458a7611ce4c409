"""One chunk, one job: identical chunks of a run are each sent, and a job that answers for two
chunks is reported, never counted as two chunks imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest

import fs_pandas
from fs_pandas._types import JobKind
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import DuplicateJobWarning
from fs_pandas.models import Job, Page
from fs_pandas.payloads import plan_events, plan_users
from fs_pandas.run.engine import Runner, idempotency_key
from fs_pandas.run.ledger import Ledger, read_ledger
from fs_pandas.run.result import BatchResult
from fs_pandas.specs import Pacing

ALL_IMPORTED = {"imported": 6, "failed": 0, "rejected": 0, "pending": 0}


def anonymous_users(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"plan": ["free"] * n})


def same_events(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"event": ["Clicked"] * n, "uid": ["u1"] * n, "ts": pd.Timestamp("2024-05-01", tz="UTC")}
    )


USERS_OPTIONS: dict[str, Any] = {"uid_col": None, "properties": ["plan"]}
EVENTS_OPTIONS: dict[str, Any] = {"name_col": "event", "uid_col": "uid", "timestamp_col": "ts"}


def send_users(client: Client, tmp_path: Path, frame: pd.DataFrame, **kw: Any) -> BatchResult:
    return frame.fullstory.batch_update(
        **USERS_OPTIONS,
        client=client,
        poll_interval=0.001,
        progress=False,
        ledger_dir=tmp_path,
        **kw,
    )


def send_events(client: Client, tmp_path: Path, frame: pd.DataFrame, **kw: Any) -> BatchResult:
    return frame.fullstory.batch_events(
        **EVENTS_OPTIONS,
        client=client,
        poll_interval=0.001,
        progress=False,
        ledger_dir=tmp_path,
        **kw,
    )


# -- identical chunks are each a job of their own ---------------------------------------------


def test_identical_anonymous_user_chunks_are_each_sent_as_a_job(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    result = send_users(client, tmp_path, anonymous_users(6), chunk_size=2)
    assert len(emu.jobs()) == 3
    assert len({job["idempotency_key"] for job in emu.jobs()}) == 3
    assert len(emu.users()) == 6
    assert result.counts == ALL_IMPORTED
    assert len(set(result.imports["fs_id"])) == 6  # six users, not one user three times


def test_identical_event_chunks_are_each_sent_as_a_job(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    result = send_events(client, tmp_path, same_events(6), chunk_size=2)
    assert len(emu.jobs()) == 3
    assert len(emu.events()) == 6
    assert result.counts == ALL_IMPORTED
    assert result.imports["fs_job_id"].nunique() == 3


def test_running_the_same_frame_again_replays_the_same_jobs(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = send_events(client, tmp_path, same_events(6), chunk_size=2)
    again = send_events(client, tmp_path, same_events(6), chunk_size=2)
    assert again.job_ids == first.job_ids
    assert len(emu.jobs()) == 3
    assert len(emu.events()) == 6


# -- a job that answers two chunks is an error, not a success ---------------------------------


class ContentKeyedClient:
    """A real client that keys every create by the chunk body alone (the old scheme), so
    Fullstory answers identical chunks with the first one's job."""

    def __init__(self, client: Client):
        self._client = client

    def create_job(self, kind: JobKind, body: bytes, *, idempotency_key: str) -> Job:
        key = content_key(kind, body)
        return self._client.create_job(kind, body, idempotency_key=key)

    def job_status(self, kind: JobKind, job_id: str) -> Job:
        return self._client.job_status(kind, job_id)

    def job_page(
        self,
        kind: JobKind,
        job_id: str,
        what: Literal["imports", "errors"],
        *,
        page_token: str | None = None,
        include_schema: bool = False,
    ) -> Page:
        return self._client.job_page(
            kind, job_id, what, page_token=page_token, include_schema=include_schema
        )


def content_key(kind: JobKind, body: bytes) -> str:
    return idempotency_key(kind, body, chunk=0, chunk_size=0, scheme=1)


def result_of(runner: Runner, frame: pd.DataFrame) -> BatchResult:
    from fs_pandas.run.result import _Run

    runner_events = list(runner.events())
    assert runner_events
    return BatchResult(
        _Run(
            kind=runner.kind,
            source=frame,
            rejected=runner.plan.rejected,
            records=runner.records,
            aborted=runner.aborted,
            duration=None,
            ledger_path=None,
        )
    )


def test_a_job_answering_a_second_chunk_fails_that_chunk_loudly(
    emu: Emulator, client: Client
) -> None:
    frame = same_events(6)
    plan = plan_events(frame, **EVENTS_OPTIONS)
    options = Pacing(chunk_size=2, poll_interval=0.001)
    runner = Runner(ContentKeyedClient(client), plan, options=options)
    with pytest.warns(DuplicateJobWarning, match=r"already holds chunk \d of this run"):
        result = result_of(runner, frame)
    assert len(emu.jobs()) == 1  # Fullstory made one job for the three creates
    assert result.counts == {"imported": 2, "failed": 4, "rejected": 0, "pending": 0}
    assert set(result.errors["fs_error_code"]) == {"duplicate_job"}
    # The chunk whose create was answered first holds the job (creates go out together).
    pairs = [result.outcomes.iloc[i : i + 2].tolist() for i in (0, 2, 4)]
    assert sorted(pairs) == [["failed"] * 2] * 2 + [["imported"] * 2]


def test_a_resumed_ledger_giving_two_chunks_one_job_fails_the_second(
    client: Client, tmp_path: Path
) -> None:
    send_users(client, tmp_path, anonymous_users(6), chunk_size=2)
    (path,) = fs_pandas.runs(tmp_path)
    first_job = read_ledger(path).jobs[0]
    with path.open("ab") as ledger:  # a server (or a hand) gave chunk 1 the job of chunk 0
        ledger.write(json.dumps({"type": "job", "chunk": 1, "job_id": first_job}).encode() + b"\n")
    with pytest.warns(DuplicateJobWarning):
        result = fs_pandas.resume(path, anonymous_users(6), client=client, progress=False)
    assert result.counts == {"imported": 4, "failed": 2, "rejected": 0, "pending": 0}
    assert result.outcomes.iloc[2:4].tolist() == ["failed", "failed"]
    assert read_ledger(path).done[1] == "DUPLICATE"


# -- ledgers written with content-only keys (version 2) still resume --------------------------


def old_run(client: Client, tmp_path: Path, frame: pd.DataFrame, *, journal_jobs: int) -> Path:
    """What the previous version left behind: a v2 ledger with content-only keys, its
    identical chunks all answered by the first one's job; jobs after ``journal_jobs`` were
    lost in a crash."""
    ledger = Ledger.create(
        kind="users", options=USERS_OPTIONS, n_rows=len(frame), chunk_size=2, directory=tmp_path
    )
    head, *_ = ledger.path.read_text().splitlines()
    record = json.loads(head)
    record["version"] = 2
    del record["key_scheme"]
    ledger.close()
    ledger.path.write_text(json.dumps(record) + "\n")
    ledger = Ledger(ledger.path)
    for chunk in plan_users(frame, **USERS_OPTIONS).chunks(2):
        key = content_key("users", chunk.body)
        ledger.chunk_planned(chunk.number, rows=len(chunk), key=key)
        job = client.create_job("users", chunk.body, idempotency_key=key)
        if chunk.number < journal_jobs:
            ledger.job_created(chunk.number, job_id=job.id)
    ledger.close()
    return ledger.path


def test_a_version_2_ledger_resumes_and_sends_the_chunks_its_keys_swallowed(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    path = old_run(client, tmp_path, anonymous_users(6), journal_jobs=3)
    assert len(emu.jobs()) == 1  # the bug: one job (two users) for six rows
    result = fs_pandas.resume(path, anonymous_users(6), client=client, progress=False)
    assert result.counts == ALL_IMPORTED
    assert len(emu.jobs()) == 3  # chunk 0 re-attached, chunks 1 and 2 sent under new keys
    assert len(emu.users()) == 6
    again = fs_pandas.resume(path, anonymous_users(6), client=client, progress=False)
    assert again.counts == ALL_IMPORTED
    assert len(emu.jobs()) == 3


def test_a_version_2_ledger_resends_an_unjournalled_chunk_under_its_old_key(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"plan": ["free", "free", "paid", "paid"]})
    path = old_run(client, tmp_path, frame, journal_jobs=1)  # chunk 1's job id was lost
    assert len(emu.jobs()) == 2
    result = fs_pandas.resume(path, frame, client=client, progress=False)
    assert result.counts == {"imported": 4, "failed": 0, "rejected": 0, "pending": 0}
    assert len(emu.jobs()) == 2  # the old key replayed chunk 1's job: nothing sent twice
