"""Progress events: what the runner reports while it works.

The runner yields these; displays (a notebook widget, a terminal bar) consume them and tests
read them. Nothing here knows about any display.
"""

from __future__ import annotations

from dataclasses import dataclass

from fs_pandas._types import JobKind
from fs_pandas.models import JobStatus
from fs_pandas.retry import Retrying

__all__ = [
    "ChunkPlanned",
    "JobCreated",
    "JobFinished",
    "JobPolled",
    "PageFetched",
    "ProgressEvent",
    "Retrying",
    "RunFinished",
    "RunStarted",
]


@dataclass(frozen=True)
class RunStarted:
    """A run began: how many rows it covers and where its ledger lives."""

    kind: JobKind
    total_rows: int
    rejected_rows: int
    chunks: int
    ledger_path: str | None
    resumed: bool = False


@dataclass(frozen=True)
class ChunkPlanned:
    """A chunk of requests was built and waits for a free slot."""

    chunk: int
    rows: int


@dataclass(frozen=True)
class JobCreated:
    """Fullstory accepted a chunk as a batch job (or, on resume, the runner re-attached to it).

    ``replayed_at`` is set (``"2026-11-30 14:05 UTC"``) when the job is one an earlier run
    started then made under the same Idempotency-Key: Fullstory replayed it and nothing new
    was sent.
    """

    chunk: int
    job_id: str
    rows: int
    reattached: bool = False
    replayed_at: str | None = None


@dataclass(frozen=True)
class JobPolled:
    """A status poll answered; counters are Fullstory's."""

    chunk: int
    job_id: str
    status: JobStatus
    imports: int
    errors: int


@dataclass(frozen=True)
class PageFetched:
    """A page of imports or errors was read."""

    chunk: int
    job_id: str
    what: str  # "imports" or "errors"
    rows: int


@dataclass(frozen=True)
class JobFinished:
    """A job's results were read in full and joined back to the source rows."""

    chunk: int
    job_id: str
    status: JobStatus
    imported: int
    failed: int


@dataclass(frozen=True)
class RunFinished:
    """The run ended; ``aborted`` carries the reason when it ended early."""

    imported: int
    failed: int
    rejected: int
    pending: int
    aborted: str | None = None
    # Jobs created and not read in full when the run ended (still running at Fullstory if it
    # ended early), counted from the runner's records; None: not counted.
    jobs_running: int | None = None


ProgressEvent = (
    RunStarted
    | ChunkPlanned
    | JobCreated
    | JobPolled
    | PageFetched
    | JobFinished
    | Retrying
    | RunFinished
)
