"""A run's requests go out several at a time, and every row still ends in exactly one outcome.

The engine keeps its state on one thread and sends creates, polls and result pages on a small
pool (``max_requests_in_flight``); these tests hold it to the bound, and to the outcomes, with
faults, with another run sharing the org's caps, and with results that come back out of order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.payloads import plan_users
from fs_pandas.progress.events import JobCreated, ProgressEvent, RunFinished
from fs_pandas.retry import RetryPolicy
from fs_pandas.run.engine import Runner
from fs_pandas.specs import Pacing
from tests.test_runner import in_flight_peak


def frame(n: int, prefix: str = "u") -> pd.DataFrame:
    return pd.DataFrame({"uid": [f"{prefix}{i}" for i in range(n)], "n": range(n)})


def runner(client: Client, df: pd.DataFrame, **options: object) -> Runner:
    settings = {"chunk_size": 10, "poll_interval": 0.01, "max_poll_interval": 0.05, **options}
    return Runner(client, plan_users(df, uid_col="uid"), options=Pacing(**settings))


def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


@pytest.mark.parametrize(("bound", "uploads"), [(1, 1), (3, 2), (10, 2)])
def test_uploads_go_out_two_at_a_time_within_the_request_bound(
    emu: Emulator, client: Client, bound: int, uploads: int
) -> None:
    # Two creates overlap (one's round trip with the other's upload); more would share the
    # link and finish all late together.
    hold = threading.Event()
    emu.configure(create_hold=hold)
    run = runner(client, frame(60), max_requests_in_flight=bound)
    events: list[ProgressEvent] = []
    worker = threading.Thread(target=lambda: events.extend(run.events()))
    worker.start()
    try:
        until(lambda: emu.held() == uploads)
        time.sleep(0.2)  # room for one more, which must not come
        assert emu.held() == uploads
    finally:
        hold.set()
        worker.join(60)
    assert events[-1] == RunFinished(60, 0, 0, 0, jobs_running=0)
    assert len(emu.jobs()) == 6


def test_one_request_at_a_time_still_runs_every_chunk(emu: Emulator, client: Client) -> None:
    emu.configure(processing_polls=1, page_size=3)
    run = runner(client, frame(45), max_requests_in_flight=1)
    events = list(run.events())
    assert events[-1] == RunFinished(45, 0, 0, 0, jobs_running=0)
    assert len(emu.jobs()) == 5


def test_faults_under_concurrency_leave_one_job_per_chunk_and_every_row_imported(
    emu: Emulator, make_client: Callable[..., Client]
) -> None:
    # 5xx before and after the server acted, and dropped connections: retried creates reuse
    # their Idempotency-Key, so each chunk still has exactly one job.
    emu.configure(
        processing_polls=2,
        page_size=4,
        shuffle_results=True,
        faults=Faults(rate_5xx=0.15, rate_drop_after=0.1, seed=7),
    )
    client = make_client(retry=RetryPolicy(total=20, backoff_factor=0))
    run = runner(client, frame(120), max_requests_in_flight=6)
    events = list(run.events())
    assert events[-1] == RunFinished(120, 0, 0, 0, jobs_running=0)
    assert len(emu.jobs()) == 12
    assert sorted(len(r.join.imported) for r in run.records.values()) == [10] * 12  # type: ignore[union-attr]


def test_two_runs_sharing_the_org_caps_both_finish_with_one_job_per_chunk(
    emu: Emulator, make_client: Callable[..., Client]
) -> None:
    # The org takes 30 rows in progress; each run alone would send 60. Fullstory's 429s make
    # each wait for a job of its own rather than fail or send a chunk twice.
    emu.configure(max_rows_in_progress=30, retry_after=0, processing_polls=2)
    finished: dict[str, list[ProgressEvent]] = {}

    def go(prefix: str) -> None:
        client = make_client(retry=RetryPolicy(total=3, backoff_factor=0))
        finished[prefix] = list(runner(client, frame(60, prefix)).events())

    threads = [threading.Thread(target=go, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for events in finished.values():
        assert events[-1] == RunFinished(60, 0, 0, 0, jobs_running=0)
        assert len({e.chunk for e in events if isinstance(e, JobCreated)}) == 6
    assert len(finished) == 2
    assert len(emu.jobs()) == 12
    assert len({u["uid"] for u in emu.users()}) == 120


@pytest.mark.parametrize("bound", [1, 2, 8])
def test_the_row_bound_holds_whatever_the_request_bound(
    emu: Emulator, client: Client, bound: int
) -> None:
    emu.configure(processing_polls=3)
    run = runner(client, frame(80), max_requests_in_flight=bound, max_rows_in_flight=20)
    events = list(run.events())
    assert events[-1] == RunFinished(80, 0, 0, 0, jobs_running=0)
    assert in_flight_peak(events) == 2
