"""One run, end to end: plan the payloads, journal the run, drive the jobs, show progress,
build the result. ``batch_update``, ``batch_events``, ``resume`` and the CLI all come here.

An interrupt is a normal end: Ctrl-C (Kernel → Interrupt) or a ``timeout=`` stops the waiting,
the display turns red and says how to finish, and :class:`~fs_pandas.errors.RunInterrupted`
carries the partial result; its traceback starts at the user's call, not inside urllib3.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import queue
import threading
import time
import warnings
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fs_pandas import payloads
from fs_pandas._types import JobKind
from fs_pandas.client import Client
from fs_pandas.errors import (
    ConfigurationError,
    ExpiredKeysWarning,
    FullstoryError,
    LedgerError,
    RunInterrupted,
)
from fs_pandas.events import ProgressEvent, Retrying, RunFinished
from fs_pandas.ledger import KEY_SCHEME, Ledger, LedgerState, read_ledger
from fs_pandas.payloads import Plan
from fs_pandas.progress import Display, ProgressOption, ProgressState, choose_display, consume
from fs_pandas.result import BatchResult, _Run
from fs_pandas.runner import Runner, idempotency_key
from fs_pandas.specs import Pacing, Spec, check_timeout, spec_for

__all__ = ["RunHandle", "resume", "run"]

log = logging.getLogger(__name__)

# Fullstory forgets an Idempotency-Key 24 h after its first use (contract §6).
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class _Setup:
    """Everything needed to (re)start a run of one frame."""

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

    @property
    def kind(self) -> JobKind:
        return self.spec.kind


def run(
    spec: Spec,
    frame: pd.DataFrame,
    *,
    client: Client | None = None,
    pacing: Pacing | None = None,
    progress: ProgressOption = True,
    wait: bool = True,
    ledger_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
) -> BatchResult | RunHandle:
    """Plan ``frame`` into requests and push them through Fullstory batch jobs.

    This is the engine behind :meth:`FullstoryAccessor.batch_update` and
    :meth:`FullstoryAccessor.batch_events`; see those for the parameters.

    Raises
    ------
    TypeError
        A plan option cannot be kept in the run's ledger (see :mod:`fs_pandas.options`);
        raised before anything is planned or sent.
    RunInterrupted
        The run stopped waiting (Ctrl-C, or ``timeout`` seconds passed); it carries the
        partial result and the ledger path.
    """
    setup = _Setup(
        # Plan from the spec as the ledger will give it back, so resume rebuilds this plan.
        spec=spec.normalised(),
        frame=frame,
        client=client if client is not None else Client.from_env(),
        pacing=pacing or Pacing(),
        ledger_dir=Path(ledger_dir) if ledger_dir is not None else None,
        timeout=check_timeout(timeout),
    )
    return _start(setup, progress=progress, wait=wait)


def resume(
    ledger_path: str | os.PathLike[str],
    frame: pd.DataFrame,
    *,
    client: Client | None = None,
    progress: ProgressOption = True,
    options: Pacing | None = None,
    timeout: float | None = None,
) -> BatchResult:
    """Finish a run that was interrupted (Ctrl-C, a ``timeout``, a crashed kernel, a closed
    laptop).

    Re-attaches to every job the ledger recorded and rebuilds the result against the same
    frame; chunks that never got a job are sent (with their original Idempotency-Key, so a
    create whose answer was lost is not made twice). Within 24 hours of the run's start
    nothing is sent twice.

    After 24 hours Fullstory has forgotten the run's keys. A chunk whose create was sent but
    whose job id never reached the ledger (the process died in between) is then sent as a new
    job, and its rows may be imported twice: an :class:`~fs_pandas.errors.ExpiredKeysWarning`
    says so, naming the chunks, and ``result.notes`` repeats it. Chunks journalled with a job
    are re-attached as always, however old.

    A ledger written before fs_pandas keyed chunks by their place in the run (ledger version
    2 or older) resumes under the keys it recorded. Where two chunks of such a run had the same
    content, and so the same key, only the first was ever imported by a job of its own (the
    other was answered with the first one's job): the others are sent now, under keys of their
    own.

    Parameters
    ----------
    ledger_path : path
        The ledger of the run (``result.ledger_path``; :func:`fs_pandas.runs` lists recent ones).
    frame : DataFrame
        The same frame the run was started with.
    client : Client, optional
        Defaults to :meth:`Client.from_env`.
    progress : bool or str, default True
        As for ``batch_update``.
    options : Pacing, optional
        Pacing for the rest of the run; its ``chunk_size`` must be the run's (the default is
        the ledger's).
    timeout : float, optional
        Seconds to wait at most; then the resume stops as ``batch_update`` does and can itself
        be resumed.

    Raises
    ------
    LedgerError
        If the ledger cannot be read or the frame is not the one the run was started with.
    ConfigurationError
        If ``options.chunk_size`` differs from the run's, or ``timeout`` is not a positive
        number of seconds.
    RunInterrupted
        Ctrl-C or ``timeout``: the rows still unfinished are ``pending`` in ``exc.result``.

    Warns
    -----
    ExpiredKeysWarning
        The run started more than 24 hours ago and some chunk was planned without a job
        journalled: it is sent again, and may be imported twice.
    DuplicateJobWarning
        Fullstory (or the ledger) gives one job to two chunks; the later chunk's rows are
        reported as failed with code ``duplicate_job``.
    """
    timeout = check_timeout(timeout)
    state = read_ledger(ledger_path)
    if state.n_rows != len(frame):
        raise LedgerError(
            f"the ledger's run had {state.n_rows} rows, this frame has {len(frame)}: "
            "resume needs the same frame"
        )
    if options is not None and options.chunk_size != state.chunk_size:
        # The recorded keys and jobs are per chunk: other chunk bounds would match none of them.
        raise ConfigurationError(
            f"chunk_size={options.chunk_size}, but the run was chunked by "
            f"chunk_size={state.chunk_size}; resume must use the run's chunk_size"
        )
    keys, jobs = _carried_over(state)
    expired = _expired_keys_note(state, dt.datetime.now(dt.UTC))
    setup = _Setup(
        spec=spec_for(state.kind, state.options),
        frame=frame,
        client=client if client is not None else Client.from_env(),
        pacing=options or Pacing(chunk_size=state.chunk_size),
        ledger_dir=None,
        known_jobs=jobs,
        known_keys=keys,
        ledger_path=state.path,
        notes=() if expired is None else (expired,),
        timeout=timeout,
    )
    plan = _plan(setup)
    _check_same_frame(plan, setup.pacing.chunk_size, state.keys, state.key_scheme)
    if expired is not None:
        log.warning(expired)
        warnings.warn(expired, ExpiredKeysWarning, stacklevel=2)
    try:
        result = _start(setup, progress=progress, wait=True, plan=plan)
    except RunInterrupted as exc:  # raised afresh: a traceback of this call, not the run's
        raise exc.with_traceback(None) from None
    assert isinstance(result, BatchResult)
    return result


def _carried_over(state: LedgerState) -> tuple[dict[int, str], dict[int, str]]:
    """The keys and jobs a resume keeps: all of them, except in a scheme-1 ledger, where
    chunks with the same content had the same key and so were answered with one job.

    That job holds the first such chunk's requests; the others were never imported by a job of
    their own and get new keys (their recorded key would only replay that job). A later chunk
    whose recorded job differs from the first one's (sent after the key expired) keeps it.
    """
    if state.key_scheme >= 2:
        return dict(state.keys), dict(state.jobs)
    keys: dict[int, str] = {}
    jobs = {n: job for n, job in state.jobs.items() if n not in state.keys}
    first: dict[str, int] = {}  # key -> the first chunk recorded with it
    for number in sorted(state.keys):
        key, job = state.keys[number], state.jobs.get(number)
        owner = first.setdefault(key, number)
        owner_job = jobs.get(owner)
        if owner == number or (job is not None and owner_job not in (None, job)):
            keys[number] = key
            if job is not None:
                jobs[number] = job
        elif job is not None and owner_job is None:
            jobs[owner] = job  # the same content: the job answers for the first chunk
    return keys, jobs


def _expired_keys_note(state: LedgerState, now: dt.datetime) -> str | None:
    """Why a resume may send a chunk twice, or None: the run is older than Fullstory's
    idempotency window and some chunk was planned (its create perhaps sent) with no job
    journalled."""
    started = state.created_at
    if started is None or now - started <= IDEMPOTENCY_WINDOW:
        return None
    unjournalled = sorted(set(state.keys) - set(state.jobs))
    if not unjournalled:
        return None
    hours = (now - started).total_seconds() / 3600
    return (
        f"this run started {hours:.0f} hours ago and Fullstory forgets Idempotency-Keys after "
        f"24 hours: chunks {unjournalled} have no job in the ledger, so they are sent again as "
        "new jobs; if their first create reached Fullstory before the crash, their rows are "
        "imported twice"
    )


def _check_same_frame(
    plan: Plan, chunk_size: int, keys: Mapping[int, str], key_scheme: int
) -> None:
    """Each chunk's key is a hash of its content: a different frame cannot match them all.

    A chunk of an old (scheme-1) ledger may carry either scheme's key: a resume records keys
    of the current scheme for the chunks it sends under new keys.
    """
    for chunk in plan.chunks(chunk_size):
        expected = keys.get(chunk.number)
        if expected is None:
            continue
        schemes = {key_scheme, KEY_SCHEME}
        place = {"chunk": chunk.number, "chunk_size": chunk_size}
        if all(
            idempotency_key(plan.kind, chunk.body, **place, scheme=s) != expected for s in schemes
        ):
            raise LedgerError(
                f"chunk {chunk.number} of this frame differs from the one the ledger recorded; "
                "resume needs the same frame with the same options"
            )


def _plan(setup: _Setup) -> Plan:
    return payloads.plan(setup.frame, setup.spec)


def _start(
    setup: _Setup, *, progress: ProgressOption, wait: bool, plan: Plan | None = None
) -> BatchResult | RunHandle:
    planned = plan if plan is not None else _plan(setup)
    ledger = _open_ledger(setup, planned)
    log.info("fs_pandas run journal: %s", ledger.path)
    if not wait:
        # The result is joined back to the frame as it was at the call (the plan already
        # snapshots what is sent), whatever the notebook does to it meanwhile.
        setup = dataclasses.replace(setup, frame=_snapshot(setup.frame))
    handle = RunHandle(setup, planned, ledger, progress=progress)
    if not wait:
        handle._start_background()
        return handle
    return handle.wait()


def _snapshot(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy the caller's later edits cannot reach: free under copy-on-write (always on from
    pandas 3; a shallow copy then copies a column only when one side writes to it), a deep
    copy before it."""
    copy_on_write = int(pd.__version__.split(".")[0]) >= 3
    return frame.copy(deep=not copy_on_write)


def _open_ledger(setup: _Setup, plan: Plan) -> Ledger:
    if setup.ledger_path is not None:
        return Ledger(setup.ledger_path)
    return Ledger.create(
        kind=setup.kind,
        options=setup.spec.options(),
        n_rows=plan.n_rows,
        chunk_size=setup.pacing.chunk_size,
        directory=setup.ledger_dir,
    )


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


class RunHandle:
    """A run in progress (``wait=False``): jobs go on while the notebook stays usable.

    The work happens on a background thread; progress is shown by whichever thread calls
    :meth:`wait` (ipykernel only accepts display updates from the cell's own thread).
    :meth:`cancel` stops it; interrupting :meth:`wait` (Ctrl-C) stops it too.
    """

    def __init__(self, setup: _Setup, plan: Plan, ledger: Ledger, *, progress: ProgressOption):
        self._setup = setup
        self._drawing: Display | None = None  # the display wait() draws on, while it does
        self._runner = Runner(
            # The run's own view of the client: its retries reach this run's display only.
            setup.client.reporting_retries_to(self._on_retry),
            plan,
            options=setup.pacing,
            ledger=ledger,
            known_jobs=setup.known_jobs,
            known_keys=setup.known_keys,
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

    def status(self) -> ProgressState:
        """Progress so far (folds in the events that arrived since the last look)."""
        self._drain(block=False)
        return self._state

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

        def rerun(frame: pd.DataFrame, **overrides: Any) -> BatchResult:
            again = run(
                setup.spec.replace(**overrides),
                frame,
                client=setup.client,
                pacing=setup.pacing,
                progress=self._progress,
                ledger_dir=setup.ledger_dir,
            )
            assert isinstance(again, BatchResult)
            return again

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
                rerun=rerun,
                notes=setup.notes,
            )
        )
