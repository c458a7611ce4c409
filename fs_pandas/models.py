"""Typed views of what Fullstory answers: jobs and pages of results. Frozen, no I/O."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fs_pandas._types import JobKind

__all__ = ["ImportIds", "Job", "JobStatus", "Page"]


class JobStatus(enum.Enum):
    """Status of a batch import job.

    ``FAILED`` means the job finished with at least one failed row: it is often a partial
    success, with the other rows imported. ``COMPLETED`` is meant to say "no errors", but a
    server may answer it next to ``"errors": N`` (contract §11.3): either way a finished job's
    imports *and* errors are read, and the runner reports such a job as ``FAILED``.
    """

    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self is not JobStatus.PROCESSING


@dataclass(frozen=True)
class Job:
    """A batch import job as Fullstory last described it.

    ``imports`` and ``errors`` are the counters of the status endpoint (0 when Fullstory
    leaves them out, as proto3 JSON does for zero values); they are informative only, never
    trusted to decide which results to read. ``finished_at`` is None while processing, whether
    ``finished`` was absent, ``null`` or ``""``.
    """

    kind: JobKind
    id: str
    status: JobStatus
    created: str = ""
    finished_at: str | None = None
    imports: int = 0
    errors: int = 0


@dataclass(frozen=True)
class Page:
    """One page of ``.../imports`` or ``.../errors``.

    ``ready`` is False when Fullstory answered 202 (the job is still processing): then
    ``results`` is empty and the page says nothing yet. ``next_page_token`` is None on the
    last page, whether the answer left it out or sent ``null`` or ``""`` (contract §11.2).
    """

    results: list[dict[str, Any]] = field(default_factory=list)
    total_records: int = 0
    next_page_token: str | None = None
    ready: bool = True


@dataclass(frozen=True)
class ImportIds:
    """One page of a users job's imports, read for matching them to rows: each result's
    ``uid`` and ``id`` side by side (None where absent), and whole only the results without a
    uid (``anonymous``: their index on the page and the object), whose content is what
    matches them. ``ready`` and ``next_page_token`` are as in :class:`Page`. ``uids`` and
    ``ids`` are lists as read (a run keeps them as Arrow arrays until it joins them)."""

    uids: Sequence[Any] = field(default_factory=list)
    ids: Sequence[str | None] = field(default_factory=list)
    anonymous: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    total_records: int = 0
    next_page_token: str | None = None
    ready: bool = True

    def __len__(self) -> int:
        return len(self.uids)
