"""A run in progress: :class:`RunHandle` drives the engine, shows its progress and builds the
result; :class:`RunSetup` is everything a run (or its restart) needs.

Every event reaches the display through one path: the engine's events and the client's
retries (heard through the run's own view of the client) are drawn on the thread that waits --
directly when the run works on that thread, through one queue from a ``wait=False`` run's
background thread.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fs_pandas._types import JobKind
from fs_pandas.client import Client
from fs_pandas.errors import (
    FullstoryError,
    RunInterrupted,
)
from fs_pandas.payloads import Plan
from fs_pandas.progress import Display, ProgressOption, ProgressState, choose_display, consume
from fs_pandas.progress.events import ProgressEvent, Retrying, RunFinished
from fs_pandas.progress.text import render_line
from fs_pandas.run.engine import Runner
from fs_pandas.run.ledger import Ledger
from fs_pandas.run.result import BatchResult, _Run
from fs_pandas.specs import Pacing, Spec

__all__ = ["Restart", "RunHandle", "RunSetup", "RunStatus"]

#: How a finished run starts another with the same client, pacing and ledger folder: used by
#: ``retry_failed`` (given by :mod:`fs_pandas.run.launch`, which this module does not import).
Restart = Callable[["RunSetup", Spec, pd.DataFrame, ProgressOption], BatchResult]


@dataclass(frozen=True, kw_only=True)
class RunSetup:
    """Everything needed to (re)start a run of one frame: what to send, from which frame, through
    which client, how fast, and what a resumed run carries over from its ledger."""

    spec: Spec
    frame: pd.DataFrame
    client: Client
    pacing: Pacing
    ledger_dir: Path | None
    known_jobs: Mapping[int, str] = field(default_factory=dict)
    known_keys: Mapping[int, str] = field(default_factory=dict)
    ledger_path: Path | None = None
    notes: tuple[str, ...] = ()
    timeout: float | None = None  # seconds: a deadline for waiting, from the run's start
    source: str | None = None  # where the frame came from (the CLI's file), for the ledger
    # Keys other runs of the ledger folder journalled within 24 h -> (their start, job id):
    # a create answered with that job is a replay of theirs (nothing new sent).
    earlier_jobs: Mapping[str, tuple[dt.datetime, str]] = field(default_factory=dict)
    key_salt: str | None = None  # resend=True: a random salt makes keys (and jobs) new

    @property
    def kind(self) -> JobKind:
        return self.spec.kind


_DONE = object()


class _AlreadyShown:
    """A display that is already on screen: starting it again must not show a second one."""

    def __init__(self, display: Display):
        self._display = display

    def start(self, state: ProgressState) -> None:
        self._display.update(state)

    def update(self, state: ProgressState) -> None:
        self._display.update(state)

    def close(self, state: ProgressState) -> None:
        self._display.close(state)


# Stops that raise RunInterrupted from wait(); "cancelled" was asked for and returns the result.
_RAISING_STOPS = ("interrupted", "timeout")


class RunStatus(ProgressState):
    """Where a run is, as a snapshot: a :class:`~fs_pandas.progress.ProgressState` whose repr is
    the line its progress bar shows ("Importing users: 1,200 of 5,000 rows ...")."""

    def __repr__(self) -> str:
        return render_line(self)


class RunHandle:
    """A run in progress (``wait=False``): jobs go on while the notebook stays usable.

    The work happens on a background thread; progress is shown by whichever thread calls
    :meth:`wait` (ipykernel only accepts display updates from the cell's own thread).
    :meth:`cancel` stops it; interrupting :meth:`wait` (Ctrl-C) stops it too.
    """

    def __init__(
        self,
        setup: RunSetup,
        plan: Plan,
        ledger: Ledger,
        *,
        progress: ProgressOption,
        restart: Restart,
    ):
        self._setup = setup
        self._restart = restart
        self._drawing: Display | None = None  # the display wait() draws on, while it does
        self._runner = Runner(
            # The run's own view of the client: its retries reach this run's display only.
            setup.client.reporting_retries_to(self._on_retry),
            plan,
            options=setup.pacing,
            ledger=ledger,
            known_jobs=setup.known_jobs,
            known_keys=setup.known_keys,
            earlier_jobs=setup.earlier_jobs,
            key_salt=setup.key_salt,
            timeout=setup.timeout,
        )
        self._ledger = ledger
        self._progress = progress
        self._state = ProgressState()
        self._started_at = time.monotonic()
        self._events: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._result: BatchResult | None = None
        self._shown: Display | None = None

    @property
    def ledger_path(self) -> str:
        """The run's journal; pass it to :func:`fs_pandas.resume` after a crash."""
        return str(self._ledger.path)

    def status(self) -> RunStatus:
        """Progress so far, as a snapshot that reads like the bar's text (folds in the events
        that arrived since the last look); its attributes are those of
        :class:`~fs_pandas.progress.ProgressState` (``rows_finished``, ``eta_seconds``...)."""
        self._drain(block=False)
        snapshot = copy.copy(self._state)
        snapshot.__class__ = RunStatus
        return snapshot  # type: ignore[return-value]  # the same state, shown as text

    def done(self) -> bool:
        """True once every job finished (or the run stopped)."""
        return self._result is not None or (
            self._thread is not None and not self._thread.is_alive()
        )

    def wait(self) -> BatchResult:
        """Block until the run ends, showing progress, and return its result.

        After :meth:`cancel` it returns the partial result (``result.aborted == "cancelled"``,
        unfinished rows ``pending`` with their job ids).

        Raises
        ------
        RunInterrupted
            The wait was interrupted (Ctrl-C, Kernel → Interrupt: the run is stopped too) or
            the run's ``timeout`` passed; ``exc.result`` is the partial result. Raised again
            by every later call.
        """
        if self._result is None:
            # Animate the widget this handle last showed, if any, rather than a second one.
            display = _AlreadyShown(self._shown) if self._shown else choose_display(self._progress)
            stream = self._event_stream(display)
            try:
                consume(stream, display, self._state, ended_by=self._ended_by)
            except KeyboardInterrupt:
                self._stop_interrupted()
            except FullstoryError as exc:
                exc.add_note(
                    f"The run's jobs are journalled in {self.ledger_path}; once the cause is "
                    "fixed, fs_pandas.resume(that_path, df) finishes the run without sending "
                    "anything twice (within 24 hours: Fullstory then forgets the run's keys)."
                )
                raise
            finally:
                stream.close()  # a run interrupted between two events: close its generator
            self._result = self._build()
        if self._runner.stopped in _RAISING_STOPS:
            raise self._interrupted(self._result) from None
        return self._result

    def result(self) -> BatchResult:
        """The result; waits for the run to end first (same as :meth:`wait`)."""
        return self.wait()

    def cancel(self) -> None:
        """Stop the run: no further chunk is sent and the waiting ends.

        Returns at once; the run stops at its next wait (a status poll's wait ends at once, a
        request under way is let finish). Jobs already created keep running at Fullstory:
        :meth:`wait` / :meth:`result` then return the partial result, whose unfinished rows are
        ``pending`` with their job ids, and ``fs_pandas.resume(handle.ledger_path, df)``
        finishes the run. Cancelling a run that already ended does nothing.
        """
        self._runner.stop("cancelled")

    def _ipython_display_(self) -> None:
        """Show progress so far; showing the handle again shows it as it is then."""
        self._shown = choose_display(self._progress)
        self._shown.start(self.status())
        self._shown.update(self._state)

    def __repr__(self) -> str:
        state = self.status()
        return (
            f"<RunHandle {self._setup.kind}: {state.rows_finished}/{state.rows_total} rows "
            f"finished, done={self.done()}>"
        )

    # -- internals --------------------------------------------------------------------------

    def _on_retry(self, event: Retrying) -> None:
        """A request of this run is about to be retried (called on the thread that sent it)."""
        self._runner.check_stop(ahead=event.delay)  # a cancel or the deadline ends the wait
        if self._thread is not None:
            self._events.put(event)  # drawn by the thread that waits
        elif self._drawing is not None:
            # In the middle of a request on the waiting thread: draw it now, not after.
            self._state.apply(event)
            self._drawing.update(self._state)

    def _event_stream(self, display: Display) -> Generator[ProgressEvent, None, None]:
        if self._thread is None:
            self._drawing = display
            try:
                yield from self._runner.events()
            finally:
                self._drawing = None
                self._close_ledger()
            return
        while True:
            item = self._events.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _start_background(self) -> None:
        def work() -> None:
            try:
                for event in self._runner.events():
                    self._events.put(event)
            except BaseException as exc:  # handed to the thread that waits
                self._events.put(exc)
            finally:
                self._close_ledger()
                self._events.put(_DONE)

        self._thread = threading.Thread(target=work, name="fs-pandas-run", daemon=True)
        self._thread.start()

    def _drain(self, *, block: bool) -> None:
        if self._thread is None:
            return
        while True:
            try:
                item = self._events.get(block=block)
            except queue.Empty:
                return
            if item is _DONE or isinstance(item, BaseException):
                self._events.put(item)  # leave the end for wait()
                return
            self._state.apply(item)

    def _close_ledger(self) -> None:
        self._ledger.close()

    def _ended_by(self, exc: BaseException) -> RunFinished | None:
        """How an interrupted run ended, counted from the runner's records: the display then
        says as many jobs still running as :class:`RunInterrupted` does, though the event of
        a job created just before Ctrl-C was not shown yet."""
        if not isinstance(exc, KeyboardInterrupt) or self._thread is not None:
            return None  # a background run's records are its thread's until it has ended
        return dataclasses.replace(self._runner.summary(), aborted="interrupted")

    def _stop_interrupted(self) -> None:
        """Ctrl-C reached :meth:`wait`: stop the run (a background one at its next wait) and
        leave its records as they are; the display was already closed red by ``consume``."""
        self._runner.stop("interrupted")
        if self._thread is not None:
            self._thread.join()  # the records are stable once the thread has ended
            self._drain(block=False)
        self._runner.mark_stopped("interrupted")

    def _interrupted(self, result: BatchResult) -> RunInterrupted:
        """The short error a stopped run raises: what is left, and how to finish it."""
        reason = self._runner.stopped or "interrupted"
        running = sum(
            1 for r in self._runner.records.values() if r.job_id is not None and r.join is None
        )
        counts = result.counts
        if reason == "timeout":
            what = f"Timed out after {self._runner.timeout:g} s"
        else:
            what = "Interrupted"
        jobs = f"{running} job{'s' if running != 1 else ''}"
        message = (
            f"{what}: {jobs} still running at Fullstory, {counts['pending']:,} of "
            f"{sum(counts.values()):,} rows pending. Finish with "
            f"fs_pandas.resume({self.ledger_path!r}, df), or run the same call again (within "
            "24 h nothing is sent twice). The rows so far: this exception's .result "
            "(sys.last_value.result in a notebook's next cell)."
        )
        return RunInterrupted(
            message,
            result=result,
            ledger_path=self.ledger_path,
            jobs_running=running,
            reason=reason,
        )

    def _build(self) -> BatchResult:
        setup = self._setup

        def restart(spec: Spec, frame: pd.DataFrame) -> BatchResult:
            return self._restart(setup, spec, frame, self._progress)

        plan_rejected = self._runner.plan.rejected
        return BatchResult(
            _Run(
                kind=setup.kind,
                source=setup.frame,
                rejected=plan_rejected,
                records=self._runner.records,
                aborted=self._runner.aborted,
                duration=time.monotonic() - self._started_at,
                ledger_path=self.ledger_path,
                notes=setup.notes,
                spec=setup.spec,
                pacing=setup.pacing,
                restart=restart,
            )
        )
