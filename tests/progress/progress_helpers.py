"""Helpers for the progress tests: a fake clock and a typical event sequence."""

from __future__ import annotations

from fs_pandas.models import JobStatus
from fs_pandas.progress.events import (
    ChunkPlanned,
    JobCreated,
    JobFinished,
    JobPolled,
    PageFetched,
    ProgressEvent,
    RunFinished,
    RunStarted,
)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def two_job_run(*, failed_in_second: int = 0) -> list[ProgressEvent]:
    """A users run of 105 rows: 5 rejected, two chunks of 50, the second may have failures."""
    second_status = JobStatus.FAILED if failed_in_second else JobStatus.COMPLETED
    return [
        RunStarted(kind="users", total_rows=105, rejected_rows=5, chunks=2, ledger_path="l.db"),
        ChunkPlanned(chunk=0, rows=50),
        JobCreated(chunk=0, job_id="job-a", rows=50),
        ChunkPlanned(chunk=1, rows=50),
        JobCreated(chunk=1, job_id="job-b", rows=50),
        JobPolled(chunk=0, job_id="job-a", status=JobStatus.COMPLETED, imports=50, errors=0),
        PageFetched(chunk=0, job_id="job-a", what="imports", rows=50),
        JobFinished(chunk=0, job_id="job-a", status=JobStatus.COMPLETED, imported=50, failed=0),
        JobPolled(
            chunk=1,
            job_id="job-b",
            status=second_status,
            imports=50 - failed_in_second,
            errors=failed_in_second,
        ),
        JobFinished(
            chunk=1,
            job_id="job-b",
            status=second_status,
            imported=50 - failed_in_second,
            failed=failed_in_second,
        ),
        RunFinished(
            imported=100 - failed_in_second, failed=failed_in_second, rejected=5, pending=0
        ),
    ]
