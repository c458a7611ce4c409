"""ProgressState: a pure reducer over the runner's progress events.

Displays never look at events themselves; they read a :class:`ProgressState` that has seen
every event of the run (``state.apply(event)`` for each one). Keeping the arithmetic here, away
from any widget or terminal, lets it be tested on event sequences alone, with a fake clock.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable

from fs_pandas._types import JobKind
from fs_pandas.models import JobStatus
from fs_pandas.progress.events import (
    ChunkPlanned,
    JobCreated,
    JobFinished,
    JobPolled,
    PageFetched,
    ProgressEvent,
    Retrying,
    RunFinished,
    RunStarted,
)

__all__ = [
    "ETA_MAX_SECONDS",
    "ETA_MIN_SECONDS",
    "RATE_WINDOW_SECONDS",
    "RATE_WINDOW_SHARE",
    "ProgressState",
]

RATE_WINDOW_SECONDS = 120.0
"""The running rate is measured over at least the last this many seconds of the run ..."""
RATE_WINDOW_SHARE = 0.5
"""... or over this share of the time elapsed, when that is longer (a long run's rate steadies)."""
ETA_MIN_SECONDS = 2.0
"""No ETA before the run is this old: a first job that lands at once says little about the rest."""
ETA_MAX_SECONDS = 7 * 24 * 3600.0
"""An ETA beyond a week is noise (a trickle of rows), not a forecast: it is shown as unknown."""


class ProgressState:
    """What is known about one run, rebuilt from its progress events.

    Parameters
    ----------
    clock : callable, optional
        Returns seconds on a monotonic scale; ``time.monotonic`` by default. Tests inject a
        fake clock so elapsed time, rate and ETA need no sleeping.

    Notes
    -----
    Row counts follow the outcome rule of the design: every row of the frame ends as exactly
    one of imported, failed, rejected or pending, so ``RunStarted.total_rows`` is read as the
    number of rows in the frame, locally rejected rows included (``rejected_rows`` are
    finished before anything is sent). While a job runs, its imported / failed rows follow
    the counters of its latest status poll (so the bar moves with Fullstory's job states);
    when the job's results have been read (``JobFinished``) its joined counts replace them.
    ``RunFinished`` carries the authoritative totals and overrides everything else.

    One state follows one run: a second ``RunStarted`` starts over.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reset()

    def _reset(self) -> None:
        self.kind: JobKind | None = None
        self.ledger_path: str | None = None
        self.resumed = False
        self.chunks_total = 0
        self.retries = 0
        self.last_retry: Retrying | None = None
        self.pages_fetched = 0
        self.events_applied = 0
        self._started_at: float | None = None
        self._finished_at: float | None = None
        self._total_rows = 0
        self._rejected_at_start = 0
        self._retrying = False
        self._planned: set[int] = set()
        self._job_rows: dict[int, int] = {}
        # Chunks whose create Fullstory answered with an earlier run's job: chunk -> (when, job).
        self._replayed: dict[int, tuple[str, str]] = {}
        self._done: dict[int, JobStatus] = {}
        # Per chunk (imported, failed); summed incrementally so each event costs O(1).
        self._rows_by_chunk: dict[int, tuple[int, int]] = {}
        self._imported_sent = 0
        self._failed_sent = 0
        self._final: RunFinished | None = None
        # When the rows sent and finished changed, and to what: (time, rows), from the start.
        # One list of pairs, appended whole, so a timer thread reading it never sees half.
        self._samples: list[tuple[float, int]] = []

    # ------------------------------------------------------------------ reducer

    def apply(self, event: ProgressEvent) -> None:
        """Fold one progress event into the state.

        Parameters
        ----------
        event : ProgressEvent
            Any event of :mod:`fs_pandas.progress.events`; unknown objects raise ``TypeError``.
        """
        self.events_applied += 1
        self._retrying = isinstance(event, Retrying)
        match event:
            case RunStarted():
                self._on_run_started(event)
            case ChunkPlanned():
                self._planned.add(event.chunk)
            case JobCreated():
                self._planned.add(event.chunk)
                self._job_rows[event.chunk] = event.rows
                if event.replayed_at is not None:
                    self._replayed[event.chunk] = (event.replayed_at, event.job_id)
            case JobPolled():
                self._on_job_polled(event)
            case PageFetched():
                self.pages_fetched += 1
            case JobFinished():
                self._done[event.chunk] = event.status
                self._set_chunk_rows(event.chunk, event.imported, event.failed)
            case Retrying():
                self.retries += 1
                self.last_retry = event
            case RunFinished():
                self._final = event
                self._finished_at = self._clock()
            case _:
                raise TypeError(f"not a progress event: {type(event).__name__}")
        self._sample()

    def _sample(self) -> None:
        """Note the time when the rows sent and finished changed (for the running rate)."""
        if self._started_at is None or self._final is not None:
            return
        rows = self._imported_sent + self._failed_sent
        if rows != self._samples[-1][1]:
            self._samples.append((self._clock(), rows))

    def _on_run_started(self, event: RunStarted) -> None:
        events_applied = self.events_applied
        self._reset()
        self.events_applied = events_applied
        self.kind = event.kind
        self.ledger_path = event.ledger_path
        self.resumed = event.resumed
        self.chunks_total = event.chunks
        self._total_rows = event.total_rows
        self._rejected_at_start = event.rejected_rows
        self._started_at = self._clock()
        self._samples = [(self._started_at, 0)]

    def _on_job_polled(self, event: JobPolled) -> None:
        # Once a job's results are joined, its counts are final; a late poll must not undo them.
        if event.chunk in self._done:
            return
        rows = self._job_rows.get(event.chunk)
        imported, failed = max(event.imports, 0), max(event.errors, 0)
        if rows is not None:
            # Fullstory's counters can never exceed the rows sent; clamp so a bad counter
            # cannot push the bar past its end.
            imported = min(imported, rows)
            failed = min(failed, rows - imported)
        self._set_chunk_rows(event.chunk, imported, failed)

    def _set_chunk_rows(self, chunk: int, imported: int, failed: int) -> None:
        old_imported, old_failed = self._rows_by_chunk.get(chunk, (0, 0))
        self._imported_sent += imported - old_imported
        self._failed_sent += failed - old_failed
        self._rows_by_chunk[chunk] = (imported, failed)

    # ------------------------------------------------------------------ rows

    @property
    def started(self) -> bool:
        """True once ``RunStarted`` was seen."""
        return self._started_at is not None

    @property
    def finished(self) -> bool:
        """True once ``RunFinished`` was seen (normally or aborted)."""
        return self._final is not None

    @property
    def aborted(self) -> str | None:
        """Why the run ended early, or ``None`` (still running, or ended normally)."""
        return None if self._final is None else self._final.aborted

    @property
    def imported(self) -> int:
        """Rows Fullstory imported."""
        return self._imported_sent if self._final is None else self._final.imported

    @property
    def failed(self) -> int:
        """Rows Fullstory reported as errors."""
        return self._failed_sent if self._final is None else self._final.failed

    @property
    def rejected(self) -> int:
        """Rows rejected locally by validation (never sent)."""
        return self._rejected_at_start if self._final is None else self._final.rejected

    @property
    def rows_finished(self) -> int:
        """Rows with a final outcome: imported + failed + rejected."""
        return self.imported + self.failed + self.rejected

    @property
    def rows_total(self) -> int:
        """Rows in the run; at the end, the sum of the four outcomes."""
        if self._final is not None:
            f = self._final
            return f.imported + f.failed + f.rejected + f.pending
        return max(self._total_rows, self.rows_finished)

    @property
    def pending(self) -> int:
        """Rows without an outcome yet."""
        if self._final is not None:
            return self._final.pending
        return max(self.rows_total - self.rows_finished, 0)

    @property
    def fraction(self) -> float:
        """Share of rows finished, between 0 and 1 (0 while the total is unknown)."""
        total = self.rows_total
        return 0.0 if total <= 0 else min(self.rows_finished / total, 1.0)

    # ------------------------------------------------------------------ chunks and jobs

    @property
    def chunks_planned(self) -> int:
        """Chunks built so far (each becomes one batch job)."""
        return len(self._planned)

    @property
    def jobs_waiting(self) -> int:
        """Chunks planned that have no job at Fullstory yet (waiting for a free slot)."""
        return len(self._planned) - len(self._job_rows.keys() & self._planned)

    @property
    def jobs_processing(self) -> int:
        """Jobs created (or re-attached) whose results are not read in full yet."""
        return len(self._job_rows.keys() - self._done.keys())

    @property
    def jobs_running(self) -> int:
        """Jobs still running at Fullstory: as the run's end counted them once it ended (the
        events shown may lag behind an interrupt), else the jobs processing."""
        counted = None if self._final is None else self._final.jobs_running
        return self.jobs_processing if counted is None else counted

    @property
    def jobs_completed(self) -> int:
        """Finished jobs with status COMPLETED."""
        return sum(1 for s in self._done.values() if s is JobStatus.COMPLETED)

    @property
    def jobs_failed(self) -> int:
        """Finished jobs with status FAILED (often a partial success)."""
        return sum(1 for s in self._done.values() if s is JobStatus.FAILED)

    @property
    def chunks_replayed(self) -> int:
        """Chunks Fullstory answered with a job an earlier run made (nothing new was sent)."""
        return len(self._replayed)

    @property
    def replayed(self) -> dict[int, tuple[str, str]]:
        """Replayed chunks: chunk -> (when the earlier run started, its job id)."""
        return dict(self._replayed)

    @property
    def retrying(self) -> bool:
        """True when the latest event was a ``Retrying`` (the client is waiting to retry)."""
        return self._retrying

    # ------------------------------------------------------------------ time

    @property
    def elapsed_seconds(self) -> float:
        """Seconds since ``RunStarted`` (frozen at ``RunFinished``); 0 before the start."""
        if self._started_at is None:
            return 0.0
        end = self._finished_at if self._finished_at is not None else self._clock()
        return max(end - self._started_at, 0.0)

    @property
    def rate(self) -> float | None:
        """Rows finished per second, or ``None`` before any time has passed.

        Once the run finished: over the whole run. While it runs: over a window ending now,
        the last :data:`RATE_WINDOW_SECONDS` (or :data:`RATE_WINDOW_SHARE` of the time
        elapsed, if longer); a run younger than the window is measured since its start. Rows
        arrive in steps (a poll's counters, a job's results): each step is spread evenly over
        the time since the step before, so the window slides smoothly over it, and one fast or
        slow job moves the rate little. Locally rejected rows are decided before anything is
        sent, so they are left out: counting them would make the first seconds of a run look
        impossibly fast.
        """
        elapsed = self.elapsed_seconds
        if elapsed <= 0:
            return None
        sent = max(self.rows_finished - self._rejected_at_start, 0)
        samples = self._samples
        if self._final is not None or not samples:
            return sent / elapsed
        window = max(RATE_WINDOW_SECONDS, elapsed * RATE_WINDOW_SHARE)
        if elapsed <= window:
            return sent / elapsed
        now = samples[0][0] + elapsed
        return max(samples[-1][1] - _rows_at(samples, now - window), 0) / window

    @property
    def eta_seconds(self) -> float | None:
        """Estimated seconds until every row is finished (pending rows over :attr:`rate`).

        ``0.0`` once the run finished; ``None`` (unknown) until the rate can be trusted: before
        a row sent has finished, in the first :data:`ETA_MIN_SECONDS`, while no row finished
        within the rate's window (a stall), or when the estimate exceeds
        :data:`ETA_MAX_SECONDS`. Never negative.
        """
        if self._final is not None:
            return 0.0
        if not self.started:
            return None
        if self.pending == 0:
            return 0.0
        rate = self.rate
        if rate is None or rate <= 0 or self.elapsed_seconds < ETA_MIN_SECONDS:
            return None
        eta = self.pending / rate
        return eta if 0 <= eta <= ETA_MAX_SECONDS else None

    def __repr__(self) -> str:
        return (
            f"ProgressState(kind={self.kind!r}, rows={self.rows_finished}/{self.rows_total}, "
            f"imported={self.imported}, failed={self.failed}, rejected={self.rejected}, "
            f"pending={self.pending}, finished={self.finished}, aborted={self.aborted!r})"
        )


def _rows_at(samples: list[tuple[float, int]], when: float) -> float:
    """Rows sent and finished by ``when``, each step spread over the time since the one before."""
    i = bisect_right(samples, when, key=lambda sample: sample[0])
    if i == 0:
        return 0.0
    if i >= len(samples):
        return float(samples[-1][1])
    (t0, r0), (t1, r1) = samples[i - 1], samples[i]
    share = (when - t0) / (t1 - t0) if t1 > t0 else 1.0
    return r0 + (r1 - r0) * share
