"""Terminal progress: one line, redrawn in place on a TTY, a new line now and then otherwise.

On a TTY a timer thread of the display's own redraws the line once a second with only its time
part recomputed (elapsed, rate, ETA: plain numbers of the state), so the clock moves while the
run waits; the owner's draws and the timer's take turns on one lock.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from fs_pandas.progress._base import Throttle, start_ticker
from fs_pandas.progress._describe import (
    headline,
    job_counts,
    note,
    replayed,
    row_counts,
    timing,
    unfinished,
)
from fs_pandas.progress.state import ProgressState

__all__ = ["TextDisplay"]


class TextDisplay:
    """Progress as text on a stream (``sys.stderr`` by default).

    On a terminal the line is redrawn in place with ``\\r`` at most ``tty_interval`` seconds
    apart; elsewhere (a log file, CI, a notebook without widgets) a new line is written at
    most every ``line_interval`` seconds. The final state is always written, ending the line;
    a run that stopped early with rows pending gets one more line, saying how many jobs still
    run at Fullstory and how to finish them.

    Parameters
    ----------
    stream : text stream, optional
        Where to write; ``sys.stderr`` at the time of each write when not given (so pytest's
        and Jupyter's stream capture keep working).
    tty : bool, optional
        Force in-place redrawing on or off; by default ``stream.isatty()``.
    tty_interval, line_interval : float
        Minimum seconds between two redraws on a terminal / between two lines elsewhere.
    width : int, optional
        Terminal width for in-place redraws; by default the terminal's, read at each draw.
    clock : callable
        Monotonic seconds, for the throttle; injected in tests.
    tick : float or None
        On a terminal, seconds between two redraws of the time by the display's timer thread
        (1.0); ``None`` or 0: the line changes with events only. Never used elsewhere: a log
        gets a line when something happened, not every second.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        tty_interval: float = 0.1,
        line_interval: float = 5.0,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick: float | None = 1.0,
    ) -> None:
        self._stream = stream
        self._tty = _isatty(self.stream) if tty is None else tty
        interval = tty_interval if self._tty else line_interval
        self._throttle = Throttle(interval=interval, clock=clock)
        self._columns = width
        self._width = 0
        self._closed = False
        self.draws = 0
        self._announced = False
        self._tick_interval = tick if self._tty else None
        self._lock = threading.Lock()  # the owner's draws and the timer's, and _closed
        self._stop_ticking = threading.Event()
        self.ticker: threading.Thread | None = None
        self.ticks = 0
        self._state: ProgressState | None = None
        self._parts: list[str] = []
        self._timing_at: int | None = None

    @property
    def stream(self) -> TextIO:
        """The stream written to."""
        return sys.stderr if self._stream is None else self._stream

    def start(self, state: ProgressState) -> None:
        """Write the first line on a terminal; elsewhere wait for the first event.

        In a log, "starting…" says nothing; the first line after ``RunStarted`` gives the
        number of rows and chunks.
        """
        # A run that already ended (a background one waited for late) is drawn once, by close.
        if self._tty or (state.started and not state.finished):
            self._throttle.mark()
            self._draw(state, closed=False)
        if self._tick_interval:
            self.ticker = start_ticker(self, self._stop_ticking, self._tick_interval)

    def update(self, state: ProgressState) -> None:
        """Redraw if the throttle allows. Off a terminal a finished run's line is left to
        :meth:`close`, which writes it once."""
        if self._closed or (state.finished and not self._tty):
            return
        if self._throttle.ready():
            self._draw(state, closed=False)

    def close(self, state: ProgressState) -> None:
        """Write the final line and end it; later calls do nothing."""
        if self._closed:
            return
        self._stop_ticker()
        self._draw(state, closed=True)
        if self._tty:
            self.stream.write("\n")
        hint = unfinished(state, closed=True)
        if hint is not None:  # a run stopped early: what is left and how to finish it
            self.stream.write(hint + "\n")
        self.stream.flush()
        self._closed = True

    def tick(self) -> None:
        """Redraw the line with its time part recomputed from the state last drawn (what the
        timer thread calls); does nothing off a terminal, once the display closes or once the
        run finished."""
        if not self._tty:
            return
        with self._lock:
            state, at = self._state, self._timing_at
            if self._stop_ticking.is_set() or state is None or at is None or state.finished:
                return
            now = timing(state)
            if now == self._parts[at]:
                return
            self._parts[at] = now
            self._write_tty(" | ".join(self._parts), closed=False)
            self.ticks += 1

    def _stop_ticker(self) -> None:
        self._stop_ticking.set()
        ticker = self.ticker
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=5.0)

    def _draw(self, state: ProgressState, *, closed: bool) -> None:
        with self._lock:
            if state.ledger_path and not self._announced:
                self._announce(state.ledger_path)
            parts, timing_at = _parts(state, closed=closed)
            line = " | ".join(parts)
            if self._tty:
                self._write_tty(line, closed=closed)
            else:
                self.stream.write(line + "\n")
                self.stream.flush()
            self._state, self._parts, self._timing_at = state, parts, timing_at
            self.draws += 1

    def _write_tty(self, line: str, *, closed: bool) -> None:
        # A line longer than the terminal wraps, and "\r" then only redraws its last part;
        # the final line is not redrawn, so it is written whole.
        columns = self._columns or shutil.get_terminal_size(fallback=(120, 24)).columns
        if not closed and len(line) >= columns:
            line = line[: max(columns - 2, 1)] + "…"
        # Pad with spaces so a shorter line wipes the end of the longer one before it.
        padded = line.ljust(self._width)
        self._width = len(line)
        self.stream.write("\r" + padded)
        self.stream.flush()

    def _announce(self, ledger_path: str) -> None:
        """Say once where the run's journal is: it is what ``resume`` needs after a crash."""
        text = f"run journal: {ledger_path}"
        self.stream.write(("\r" + text.ljust(self._width) if self._tty else text) + "\n")
        self._width = 0
        self._announced = True

    def __repr__(self) -> str:
        return f"TextDisplay(tty={self._tty})"


def render_line(state: ProgressState, *, closed: bool = False) -> str:
    """The one line of text that describes ``state``."""
    return " | ".join(_parts(state, closed=closed)[0])


def _parts(state: ProgressState, *, closed: bool) -> tuple[list[str], int | None]:
    """The line's parts, and the index of its time part (``None`` if not shown)."""
    if not state.started and not closed:
        return [headline(state)], None
    first = headline(state, closed=closed)
    few = note(state, closed=closed)
    if few is not None:  # a green run with a few rows that did not arrive: say how many
        first += f" (note: {few})"
    parts = [first, row_counts(state), job_counts(state), timing(state)]
    again = replayed(state)
    if again is not None:  # the same call run again: Fullstory answered with earlier jobs
        parts.append(again)
    return parts, 3


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or exotic streams
        return False
