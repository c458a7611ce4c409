"""The row checker: new jobs' rows are checked on a thread of their own, oldest first, and
never while a create is being read (scheduling.py). Driven directly, without HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fs_pandas.emulator.models import Job
from fs_pandas.emulator.replies import RowError
from fs_pandas.emulator.scheduling import JobWorker


def job_checked_into(done: list[str], name: str) -> Job:
    job = Job("users", name, 0.0, [{"uid": "a"}], None, [], None, n_requests=1)

    def checks(pause: Callable[[], None]) -> tuple[list[RowError | None], dict[int, Any]]:
        done.append(name)
        return [None], {}

    job.check_rows = checks
    return job


def test_jobs_are_checked_in_the_order_they_came() -> None:
    done: list[str] = []
    checker = JobWorker()
    jobs = [job_checked_into(done, name) for name in ("j1", "j2", "j3")]
    for job in jobs:
        checker.put(job)
    checker.close()  # the jobs put before it are checked first
    assert done == ["j1", "j2", "j3"]
    assert all(job.check_rows is None and job.prefailed == [None] for job in jobs)


def test_no_checks_start_while_a_create_is_read() -> None:
    checked = threading.Event()
    job = Job("users", "j1", 0.0, [{"uid": "a"}], None, [], None, n_requests=1)

    def checks(pause: Callable[[], None]) -> tuple[list[RowError | None], dict[int, Any]]:
        checked.set()
        return [None], {}

    job.check_rows = checks
    checker = JobWorker()
    with checker.giving_way():
        checker.put(job)
        assert not checked.wait(0.3)  # waits for the create
    assert checked.wait(5)
    checker.close()


def test_a_job_that_ended_first_is_not_checked_again() -> None:
    done: list[str] = []
    checker = JobWorker()
    job = job_checked_into(done, "j1")
    job.run_checks()  # its end came first
    checker.put(job)
    checker.close()
    assert done == ["j1"]


def test_with_nothing_to_check_the_worker_calls_idle_when_it_says() -> None:
    calls: list[float] = []
    twice = threading.Event()

    def idle() -> float | None:
        calls.append(time.monotonic())
        if len(calls) == 2:
            twice.set()
            return None  # nothing due: wait for a job
        return 0.05

    worker = JobWorker(idle=idle)
    worker.put(job_checked_into([], "j1"))
    assert twice.wait(5)
    time.sleep(0.2)
    assert len(calls) == 2  # None: no more calls until a job comes
    worker.close()


def paused_job(inside: threading.Event, go_on: threading.Event, steps: list[str]) -> Job:
    """A job whose checks, once started, wait for ``go_on`` and then take a chance to pause."""
    job = Job("users", "j1", 0.0, [{"uid": "a"}], None, [], None, n_requests=1)

    def checks(pause: Callable[[], None]) -> tuple[list[RowError | None], dict[int, Any]]:
        inside.set()
        go_on.wait(5)
        pause()
        steps.append("checked")
        return [None], {}

    job.check_rows = checks
    return job


def test_checks_under_way_pause_between_rows_for_a_create() -> None:
    inside, go_on, steps = threading.Event(), threading.Event(), []
    worker = JobWorker()
    worker.put(paused_job(inside, go_on, steps))
    assert inside.wait(5)
    with worker.giving_way():  # a create comes in while the checks run
        go_on.set()
        time.sleep(0.3)
        assert steps == []  # they wait at their next chance to pause
    worker.close()
    assert steps == ["checked"]


def test_a_jobs_end_takes_its_checks_even_while_a_create_is_read() -> None:
    # The end runs on the thread that reads creates: were the checks to wait for the create
    # to be read, and the end for the checks, neither would go on.
    inside, go_on, steps = threading.Event(), threading.Event(), []
    worker = JobWorker()
    job = paused_job(inside, go_on, steps)
    worker.put(job)
    assert inside.wait(5)
    with worker.giving_way():
        go_on.set()
        ended = threading.Thread(target=job.run_checks)  # the job's end
        ended.start()
        ended.join(5)
        assert not ended.is_alive() and steps == ["checked"]
    worker.close()
