"""A run in progress: :class:`RunHandle` drives the engine, shows its progress and builds the
result; :class:`RunSetup` is everything a run (or its restart) needs.

A run that waits works on the caller's thread: the engine's events and the client's retries
(heard through the run's own view of the client) are drawn there as they come. A ``wait=False``
run works on a thread of its own, which folds every event into the run's state under one lock;
in a notebook it also draws the bar the starting cell showed (changing a widget is comm
traffic, which any thread may send), so the bar keeps moving there while the notebook is used.
:meth:`RunHandle.wait` and :meth:`RunHandle.status` read that state.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fs_pandas._types import JobKind
from fs_pandas.client import Client
from fs_pandas.errors import (
    FullstoryError,
    RunInterrupted,
)
from fs_pandas.payloads import Plan
from fs_pandas.progress import (
    Display,
    FallbackDisplay,
    NoDisplay,
    ProgressOption,
    ProgressState,
    WidgetDisplay,
    aborted_by,
    choose_display,
    consume,
    current_cell,
)
from fs_pandas.progress.events import Retrying, RunFinished
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


# Seconds between two redraws of a display wait() feeds from a background run's state.
_REDRAW = 0.1


# The note a failed run's error gets once (wait() raises a background run's error again).
_JOURNALLED = "are journalled in"

# Stops that raise RunInterrupted from wait(); "cancelled" was asked for and returns the result.
_RAISING_STOPS = ("interrupted", "timeout")


class RunStatus(ProgressState):
    """Where a run is, as a snapshot: a :class:`~fs_pandas.progress.ProgressState` whose repr is
    the line its progress bar shows ("Importing users: 1,200 of 5,000 rows ...")."""

    def __repr__(self) -> str:
        return render_line(self)


class RunHandle:
    """A run in progress (``wait=False``): jobs go on while the notebook stays usable.

    The work happens on a background thread. In a notebook the progress bar appears in the
    cell that started the run and keeps moving there; showing the handle or calling
    :meth:`wait` in a later cell puts a view of the same bar under that cell. Elsewhere
    (a terminal, ``progress="text"``) :meth:`wait` draws the progress. :meth:`status` reads
    like the bar's text; :meth:`cancel` stops the run; interrupting :meth:`wait` (Ctrl-C)
    stops it too.
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
        # A background run: its thread changes the state (and draws the live bar) under this
        # lock; status() copies the state under it.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None  # what ended a background run's thread
        self._live: Display | None = None  # the bar a background run draws itself
        self._live_widget: WidgetDisplay | None = None
        self._cell: object | None = None  # the notebook cell that started a background run
        self._result: BatchResult | None = None

    @property
    def ledger_path(self) -> str:
        """The run's journal; pass it to :func:`fs_pandas.resume` after a crash."""
        return str(self._ledger.path)

    def status(self) -> RunStatus:
        """Progress so far, as a snapshot that reads like the bar's text; its attributes are
        those of :class:`~fs_pandas.progress.ProgressState` (``rows_finished``,
        ``eta_seconds``...)."""
        with self._lock:
            snapshot = copy.deepcopy(self._state)
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
            try:
                if self._thread is None:
                    self._work_here()
                else:
                    self._wait_background(self._thread)
            except FullstoryError as exc:
                if not any(_JOURNALLED in note for note in getattr(exc, "__notes__", ())):
                    exc.add_note(
                        f"The run's jobs {_JOURNALLED} {self.ledger_path}; once the cause is "
                        "fixed, fs_pandas.resume(that_path, df) finishes the run without "
                        "sending anything twice (within 24 hours: Fullstory then forgets the "
                        "run's keys)."
                    )
                raise
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
        """Show the run's progress: the live bar (a view of it under a later cell; nothing
        more in the cell that started the run, where it already is), else its text line."""
        if self._live_widget is not None:
            if current_cell() != self._cell:
                self._live_widget.show_again()
            return
        from IPython.display import display  # only ever called by IPython itself

        display(self.status())  # type: ignore[no-untyped-call]

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
        self._runner.report(event)  # shown by the thread that draws, before the retry's wait

    def _work_here(self) -> None:
        """Run on this thread, drawing each event as it comes."""
        display = choose_display(self._progress)
        events = self._runner.events()
        try:
            consume(events, display, self._state, ended_by=self._ended_by)
        except KeyboardInterrupt:
            self._stop_interrupted()
        finally:
            events.close()  # a run interrupted between two events: close its generator
            self._close_ledger()

    def _start_background(self) -> None:
        """Start the run on a thread of its own; in a notebook, show its bar in this cell."""
        self._cell = current_cell()
        self._live = self._show_live()
        self._thread = threading.Thread(target=self._work, name="fs-pandas-run", daemon=True)
        self._thread.start()

    def _show_live(self) -> Display | None:
        """The widget bar, shown now (on the cell's thread) for the run's thread to draw; None
        where progress is text or nothing (then :meth:`wait` draws it)."""
        display = choose_display(self._progress)
        widget = display.current if isinstance(display, FallbackDisplay) else display
        if not isinstance(widget, WidgetDisplay):
            return None
        display.start(self._state)
        if isinstance(display, FallbackDisplay) and display.current is not widget:
            return None  # the widget failed as it started; the text it fell back to showed
        widget.allow_any_thread()
        self._live_widget = widget
        return display

    def _work(self) -> None:
        """The background thread: fold every event into the state and draw the live bar."""
        live = self._live if self._live is not None else NoDisplay()
        try:
            for event in self._runner.events():
                with self._lock:
                    self._state.apply(event)
                    live.update(self._state)
        except BaseException as exc:  # raised again by wait(), on the thread that waits
            self._error = exc
            with self._lock:
                if self._state.started and not self._state.finished:
                    self._state.apply(aborted_by(exc, self._state))
        finally:
            self._close_ledger()
            with self._lock:
                live.close(self._state)

    def _wait_background(self, thread: threading.Thread) -> None:
        """Wait for the run's thread; draw progress unless the live bar already does."""
        display = self._display_for_wait()
        try:
            while thread.is_alive():
                thread.join(_REDRAW)  # short: Ctrl-C is heard between two joins
                display.update(self.status())
        except KeyboardInterrupt:
            self._stop_interrupted()
        finally:
            display.close(self.status())
        if self._error is not None:
            raise self._error

    def _display_for_wait(self) -> Display:
        """What :meth:`wait` draws on: nothing new in the cell that started the run (its bar
        is there), a view of the live bar under another cell, else a display of its own."""
        if self._live_widget is not None:
            if current_cell() != self._cell:
                self._live_widget.show_again()
            return NoDisplay()
        display = choose_display(self._progress)
        display.start(self.status())
        return display

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
