"""A batch job's lifecycle is a state machine: QUEUED -> RUNNING -> COMPLETED | FAILED, and no
other move (models.py). These tests drive a Job directly, without HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.models import TRANSITIONS, IllegalTransitionError, Job, Phase
from fs_pandas.emulator.replies import RowError


def new_job(created: float = 100.0) -> Job:
    return Job("users", "j1", created, [{"uid": "a"}], None, [None], None, n_requests=1)


def running_job() -> Job:
    job = new_job()
    job.start(100.0)
    return job


def test_a_new_job_is_queued_and_answers_processing() -> None:
    job = new_job()
    assert job.phase is Phase.QUEUED and job.status == "PROCESSING"
    assert not job.running and not job.terminal and job.started is None


def test_start_takes_a_slot_never_before_the_job_was_created() -> None:
    job = new_job(created=100.0)
    job.start(90.0)
    assert job.phase is Phase.RUNNING and job.status == "PROCESSING"
    assert job.running and job.started == 100.0


def test_finish_without_errors_completes_and_drops_the_request_rows() -> None:
    job = running_job()
    job.finish(105.0, now=110.0)
    assert job.phase is Phase.COMPLETED and job.status == "COMPLETED" and job.terminal
    assert job.finished == 105.0
    assert (job.rows, job.prefailed, job.cleaned) == ([], [], {})


def test_finish_with_errors_fails_and_may_read_completed() -> None:
    job = running_job()
    job.errors.append({"message": "no", "code": "invalid_argument", "user": {"uid": "a"}})
    job.finish(105.0, now=110.0)
    assert job.phase is Phase.FAILED and job.status == "FAILED"
    assert job.public_status(EmulatorConfig()) == "FAILED"
    assert job.public_status(EmulatorConfig(row_error_status="COMPLETED")) == "COMPLETED"


def test_finish_time_is_clamped_between_created_and_now() -> None:
    early, late = running_job(), running_job()
    early.finish(50.0, now=110.0)
    late.finish(500.0, now=110.0)
    assert (early.finished, late.finished) == (100.0, 110.0)


@pytest.mark.parametrize(
    ("setup", "move"),
    [
        ("queued", "finish"),  # a job must run before it finishes
        ("running", "start"),  # a running job already has its slot
        ("completed", "start"),
        ("completed", "finish"),  # finished is final
        ("failed", "finish"),
    ],
)
def test_an_illegal_transition_raises_and_changes_nothing(setup: str, move: str) -> None:
    job = new_job()
    if setup != "queued":
        job.start(100.0)
    if setup == "failed":
        job.errors.append({"message": "no", "code": "x", "user": {}})
    if setup in ("completed", "failed"):
        job.finish(101.0, now=101.0)
    before = job.phase
    with pytest.raises(IllegalTransitionError):
        if move == "start":
            job.start(102.0)
        else:
            job.finish(102.0, now=102.0)
    assert job.phase is before


def test_transitions_are_the_lifecycle_and_terminal_phases_have_none() -> None:
    assert dict(TRANSITIONS) == {
        Phase.QUEUED: {Phase.RUNNING},
        Phase.RUNNING: {Phase.COMPLETED, Phase.FAILED},
        Phase.COMPLETED: set(),
        Phase.FAILED: set(),
    }
    assert set(TRANSITIONS) == set(Phase)


def test_only_polls_of_a_running_job_count() -> None:
    job = new_job()
    assert not job.count_poll(0) and job.polls == 0  # queued: not counted
    job.start(100.0)
    assert not job.count_poll(1) and job.polls == 1
    assert job.count_poll(1) and job.polls == 2  # more than the limit: due to finish
    job.finish(101.0, now=101.0)
    assert not job.count_poll(1) and job.polls == 2  # finished: not counted


def test_metadata_shows_finished_only_once_terminal() -> None:
    job = running_job()
    assert job.metadata(EmulatorConfig())["finished"] is None
    assert "finished" not in job.metadata(EmulatorConfig(finished_while_processing="omit"))
    job.finish(100.5, now=101.0)
    assert job.metadata(EmulatorConfig()) == {
        "id": "j1",
        "status": "COMPLETED",
        "created": "1970-01-01T00:01:40.000Z",
        "finished": "1970-01-01T00:01:40.500Z",
    }


def test_prefailed_rows_are_kept_until_the_job_finishes() -> None:
    job = Job("users", "j2", 0.0, [{"uid": ""}], None, [RowError("x", "y")], None, n_requests=1)
    job.start(0.0)
    assert job.prefailed[0] is not None
    job.errors.append({"message": "y", "code": "x", "user": {"uid": ""}})
    job.finish(0.0, now=0.0)
    assert job.prefailed == [] and job.status == "FAILED"


def test_row_checks_run_once_whichever_thread_asks_first() -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def checks(pause: Callable[[], None]) -> tuple[list[RowError | None], dict[int, Any]]:
        runs.append(1)
        started.set()
        release.wait(5)
        return [RowError("invalid_argument", "bad")], {}

    job = new_job()
    job.check_rows = checks
    checker = threading.Thread(target=job.run_checks)
    checker.start()
    assert started.wait(5)
    finisher = threading.Thread(target=job.run_checks)  # the job's end, while they run
    finisher.start()
    finisher.join(0.2)
    assert finisher.is_alive()  # it waits for the checks under way
    release.set()
    checker.join(5)
    finisher.join(5)
    assert runs == [1] and job.check_rows is None
    assert job.prefailed[0] is not None and job.prefailed[0].message == "bad"


def test_row_checks_that_raise_stay_to_run_again() -> None:
    job = new_job()
    outcomes: list[Any] = [RuntimeError("bug"), ([None], {})]

    def checks(pause: Callable[[], None]) -> tuple[list[RowError | None], dict[int, Any]]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    job.check_rows = checks
    with pytest.raises(RuntimeError):
        job.run_checks()
    job.run_checks()
    assert job.check_rows is None and job.prefailed == [None]
