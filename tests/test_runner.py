"""The runner: admission control, polling, both result kinds for every finished job."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from fs_pandas._types import JobKind
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.errors import ConfigurationError
from fs_pandas.payloads import plan_users
from fs_pandas.progress.events import JobCreated, JobPolled, PageFetched, RunFinished
from fs_pandas.retry import RetryPolicy
from fs_pandas.run.engine import Runner, _seconds_between, idempotency_key
from fs_pandas.specs import Pacing


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"uid": [f"u{i}" for i in range(n)], "n": range(n)})


def runner(client: Client, n: int, **options: object) -> Runner:
    settings = {"chunk_size": 10, "poll_interval": 0.001, **options}
    return Runner(client, plan_users(frame(n), uid_col="uid"), options=Pacing(**settings))


def in_flight_peak(events: list[object]) -> int:
    """Most jobs in progress at Fullstory at once: created and not yet seen finished (a job
    seen finished frees its place while its results are read)."""
    peak = current = 0
    for event in events:
        finished = isinstance(event, JobPolled) and event.status.finished
        current += isinstance(event, JobCreated) - finished
        peak = max(peak, current)
    return peak


def test_no_more_jobs_in_flight_than_allowed(emu: Emulator, client: Client) -> None:
    emu.configure(processing_polls=2)
    events = list(runner(client, 60, max_jobs_in_flight=2).events())
    assert in_flight_peak(events) == 2
    assert len(emu.jobs()) == 6


def test_no_more_rows_in_flight_than_allowed(client: Client) -> None:
    events = list(runner(client, 40, max_jobs_in_flight=10, max_rows_in_flight=20).events())
    assert in_flight_peak(events) == 2


def test_a_chunk_larger_than_the_row_bound_still_runs_alone(client: Client) -> None:
    events = list(runner(client, 30, max_rows_in_flight=5).events())
    assert in_flight_peak(events) == 1
    assert events[-1] == RunFinished(30, 0, 0, 0, jobs_running=0)


def test_jobs_are_polled_until_they_finish(emu: Emulator, client: Client) -> None:
    emu.configure(processing_polls=3)
    events = list(runner(client, 10).events())
    polls = [e.status.value for e in events if isinstance(e, JobPolled)]
    assert polls == ["PROCESSING"] * 3 + ["COMPLETED"]


def test_jobs_after_the_first_are_polled_when_a_job_of_the_run_takes_as_long(
    emu: Emulator, client: Client
) -> None:
    # Each job runs 0.5 s. Backing off, the second poll comes 3 s after the first; once
    # the first job has shown how long jobs take, later ones are polled as they should end.
    emu.configure(processing_polls=None, processing_seconds=0.5)
    run = runner(
        client, 30, max_jobs_in_flight=1, poll_interval=0.05, poll_backoff=60, max_poll_interval=5
    )
    polls: dict[int, list[tuple[float, str]]] = {}
    for event in run.events():
        if isinstance(event, JobPolled):
            polls.setdefault(event.chunk, []).append((time.monotonic(), event.status.value))
    gaps = {chunk: seen[-1][0] - seen[-2][0] for chunk, seen in polls.items()}
    assert [seen[-1][1] for seen in polls.values()] == ["COMPLETED"] * 3
    assert gaps[0] > 2.5  # the first job: no length known yet, the backed-off poll
    assert gaps[1] < 1.5 and gaps[2] < 1.5  # at the end the first job's length foretold


@pytest.mark.parametrize(
    ("created", "finished", "seconds"),
    [
        ("2026-12-01T02:30:20.123Z", "2026-12-01T02:30:30.123Z", 10.0),
        ("2026-12-01T02:30:20.123456789Z", "2026-12-01T03:30:20.123456789+01:00", 0.0),
        ("2026-12-01T02:30:20Z", None, None),
        ("", "2026-12-01T02:30:20Z", None),
        ("2026-12-01T02:30:20Z", "2026-12-01T02:30:19Z", None),  # ends before it began
        ("2026-12-01T02:30:20", "2026-12-01T02:30:30Z", None),  # one without a zone
    ],
)
def test_a_job_length_is_read_from_fullstorys_timestamps_or_not_at_all(
    created: str, finished: str | None, seconds: float | None
) -> None:
    assert _seconds_between(created, finished) == seconds


def test_a_failed_job_has_both_its_imports_and_its_errors_read(
    emu: Emulator, client: Client
) -> None:
    emu.configure(fail_uids={"u4"})
    events = list(runner(client, 10).events())
    pages = {(e.what, e.rows) for e in events if isinstance(e, PageFetched)}
    assert pages == {("imports", 9), ("errors", 1)}


def test_every_page_is_read(emu: Emulator, client: Client) -> None:
    emu.configure(page_size=3)
    run = runner(client, 10)
    events = list(run.events())
    assert sum(e.rows for e in events if isinstance(e, PageFetched) and e.what == "imports") == 10
    assert len(run.records[0].join.imported) == 10  # type: ignore[union-attr]


def test_fullstory_at_its_cap_makes_chunks_wait_for_our_own_jobs(
    emu: Emulator, make_client: Callable[..., Client]
) -> None:
    # The org allows two batches in progress; we ask for four: the 429s must not fail the run.
    emu.configure(max_in_progress=2, retry_after=0, processing_polls=2)
    client = make_client(retry=RetryPolicy(total=2, backoff_factor=0))
    options = Pacing(chunk_size=10, poll_interval=0.001, max_jobs_in_flight=4)
    run = Runner(client, plan_users(frame(50), uid_col="uid"), options=options)
    events = list(run.events())
    assert events[-1] == RunFinished(50, 0, 0, 0, jobs_running=0)
    assert len(emu.jobs()) == 5


def test_retries_used_up_leave_unfinished_rows_pending_not_lost(
    emu: Emulator, make_client: Callable[..., Client]
) -> None:
    emu.configure(processing_polls=1)
    client = make_client(retry=RetryPolicy(total=1, backoff_factor=0))
    run = Runner(client, plan_users(frame(20), uid_col="uid"), options=Pacing(chunk_size=10))
    events = []
    for event in run.events():
        events.append(event)
        if isinstance(event, JobCreated) and event.chunk == 1:
            emu.configure(faults=Faults(rate_5xx=1.0, seed=1))
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.aborted is not None
    assert finished.pending == 20


def key(kind: JobKind = "users", body: bytes = b"abc", chunk: int = 0, size: int = 10) -> str:
    return idempotency_key(kind, body, chunk=chunk, chunk_size=size)


def test_the_idempotency_key_is_a_function_of_the_chunk_content_and_place() -> None:
    assert key() == key()
    assert key(body=b"abd") != key()
    assert key(kind="events") != key()
    assert key(chunk=1) != key()  # identical chunks of one run are two jobs
    assert key(size=20) != key()


def test_the_idempotency_key_is_stable_across_versions() -> None:
    # Resume compares these with the keys its ledger recorded: they must never drift.
    assert key() == "fs-pandas-users-0-f5c09dffea33814866a2ccf5001e937677fba97e1bbb11ff"
    assert idempotency_key("users", b"abc", chunk=3, chunk_size=10, scheme=1) == (
        "fs-pandas-users-ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
    )


def test_an_unknown_key_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        idempotency_key("users", b"abc", chunk=0, chunk_size=1, scheme=3)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        Pacing(chunk_size=50_001)
    with pytest.raises(ValueError, match="max_jobs_in_flight"):
        Pacing(max_jobs_in_flight=0)


@pytest.mark.parametrize("name", ["poll_interval", "poll_backoff", "max_poll_interval"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), True, "1"])
def test_a_pacing_number_must_be_a_finite_number(name: str, value: object) -> None:
    # NaN passes no comparison, so "<= 0" alone let it through; inf would poll never.
    with pytest.raises(ConfigurationError, match=name):
        Pacing(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["chunk_size", "max_jobs_in_flight", "max_rows_in_flight", "max_requests_in_flight"]
)
@pytest.mark.parametrize("value", [True, np.True_, 10.0, float("nan"), "10"])
def test_a_count_must_be_a_whole_number_not_a_bool(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Pacing(**{name: value})  # type: ignore[arg-type]


def test_out_of_range_pacing_is_refused_naming_the_option() -> None:
    with pytest.raises(ValueError, match="poll_interval must be > 0"):
        Pacing(poll_interval=-1)
    with pytest.raises(ValueError, match="poll_backoff must be at least 1"):
        Pacing(poll_backoff=0.5)
    with pytest.raises(ValueError, match="include_schema"):
        Pacing(include_schema=1)  # type: ignore[arg-type]


def test_numpy_numbers_are_taken_as_plain_numbers() -> None:
    options = Pacing(
        chunk_size=np.int64(10),  # type: ignore[arg-type]
        poll_interval=np.float32(0.5),
        poll_backoff=2,
    )
    assert options.chunk_size == 10 and type(options.chunk_size) is int
    assert options.poll_interval == 0.5 and type(options.poll_interval) is float
    assert type(options.poll_backoff) is float
