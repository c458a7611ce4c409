"""Notebook progress: one ipywidgets bar and label per run.

The widget is shown once (``IPython.display.display``) when the run starts and then only
changed in place. Every change is a message to the front end, so redraws are throttled.
ipykernel 7 rejects display traffic from threads other than the cell's own (design §6), so the
display refuses to draw from any thread but the one that started it. One exception: a timer
thread of the display's own changes the label's time line once a second, so elapsed time
ticks while the runner waits (a poll wait can be 30 s). That is a comm message, not display
traffic: ipykernel sends comm messages on its IOPub thread from whichever thread makes them
(tqdm's notebook bar relies on it too). The timer stops when the display closes, or when a
draw fails, and never draws after that.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fs_pandas.progress._base import Throttle, start_ticker
from fs_pandas.progress._describe import (
    Tone,
    headline,
    job_counts,
    note,
    replayed,
    row_counts,
    timing,
    tone,
    unfinished,
)
from fs_pandas.progress.state import ProgressState

__all__ = ["LABEL_CLASS", "WidgetDisplay"]

logger = logging.getLogger(__name__)

LABEL_CLASS = "fs-pandas-progress"
"""CSS class of the label widget (and of the ``div`` inside it); browser tests read it."""

_BAR_STYLE: dict[Tone, str] = {
    "running": "info",
    "success": "success",
    "warning": "warning",
    "danger": "danger",
}


_HEADLINE_COLOUR: dict[Tone, str] = {"danger": "#b91c1c"}


class WidgetDisplay:
    """Progress as an ipywidgets ``IntProgress`` bar with an ``HTML`` label.

    Parameters
    ----------
    interval : float
        Minimum seconds between two redraws (0.1: at most about ten a second).
    clock : callable
        Monotonic seconds, for the throttle; injected in tests.
    show : callable, optional
        How to put the widget on screen; ``IPython.display.display`` by default.
    tick : float or None
        Seconds between two redraws of the time line by the display's timer thread (1.0);
        ``None`` or 0: no timer, the time line changes with events only.

    Notes
    -----
    The bar counts rows finished (imported + failed + rejected) out of the run's rows. It
    ends green when every row was imported or at most 0.1% of them failed or were rejected
    (then an amber note says how many), amber above that, red when half the rows or more did
    not arrive, or when the run was aborted or closed before it finished -- an interrupt or a
    timeout included, when the label also says how many jobs still run at Fullstory and how
    to finish them. See :func:`fs_pandas.progress._describe.tone`.
    """

    def __init__(
        self,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        show: Callable[[Any], object] | None = None,
        tick: float | None = 1.0,
    ) -> None:
        self._throttle = Throttle(interval=interval, clock=clock)
        self._show = show
        self._tick_interval = tick
        # Guards the label between the owner's draws and the timer's ticks, and _closed.
        self._lock = threading.Lock()
        self._stop_ticking = threading.Event()
        self.ticker: threading.Thread | None = None
        self.ticks = 0
        self._state: ProgressState | None = None
        self._lines: list[str] = []
        self._timing_at: int | None = None
        self._owner: int | None = None
        self._warned_thread = False
        self._closed = False
        self.bar: Any = None
        self.label: Any = None
        self.box: Any = None
        self.draws = 0

    def start(self, state: ProgressState) -> None:
        """Build the widget, display it once and draw the first state."""
        import ipywidgets as widgets  # deferred: importing fs_pandas must not need a kernel

        self._owner = threading.get_ident()
        self.bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.bar.layout.width = "100%"
        self.bar.layout.max_width = "48em"
        self.bar.add_class("fs-pandas-progress-bar")
        self.label = widgets.HTML(value="")
        self.label.add_class(LABEL_CLASS)
        self.box = widgets.VBox([self.bar, self.label])
        self.box.add_class("fs-pandas-progress-box")
        self._draw(state, closed=False)
        show = self._show if self._show is not None else _ipython_display
        show(self.box)
        self._throttle.mark()
        if self._tick_interval:
            self.ticker = start_ticker(self, self._stop_ticking, self._tick_interval)

    def allow_any_thread(self) -> None:
        """Let other threads than the starting one draw from now on (a background run's).

        Changing the widget is comm traffic, which ipykernel sends from any thread; only showing
        it (display traffic, :meth:`start` and :meth:`show_again`) must come from a cell's own
        thread. Draws and the timer's ticks take turns on the display's lock.
        """
        self._owner = None

    def show_again(self) -> None:
        """Show the widget once more, under the cell running now: another view of the same
        bar, which moves with it (call from the cell's own thread)."""
        if self.box is not None:
            show = self._show if self._show is not None else _ipython_display
            show(self.box)

    def update(self, state: ProgressState) -> None:
        """Redraw if the throttle allows and this is the thread that started the display."""
        if not self._closed and self._on_owner_thread() and self._throttle.ready():
            self._draw(state, closed=False)

    def close(self, state: ProgressState) -> None:
        """Stop the timer and draw the final state, whatever the throttle says; later calls do
        nothing."""
        if self._closed or not self._on_owner_thread():
            return
        self._stop_ticker()
        try:
            self._draw(state, closed=True)
        finally:
            self._closed = True

    def tick(self) -> None:
        """Redraw the time line from the state last drawn (what the timer thread calls).

        Only the time line is recomputed (elapsed, rate, ETA: plain numbers of the state), so
        the timer never walks the state's tables while the owner thread changes them. Does
        nothing once the display closes (or its run finished: the time is frozen then).
        """
        with self._lock:
            if self._closed or self._stop_ticking.is_set() or self._timing_at is None:
                return
            if self._state is None:
                return
            line = html.escape(timing(self._state))
            if line == self._lines[self._timing_at]:
                return
            self._lines[self._timing_at] = line
            self.label.value = _wrap_label(self._lines, tone(self._state))
            self.ticks += 1

    def _stop_ticker(self) -> None:
        self._stop_ticking.set()
        ticker = self.ticker
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=5.0)

    def _on_owner_thread(self) -> bool:
        if self.box is None:
            return False  # never started
        if self._owner is None or threading.get_ident() == self._owner:
            return True
        if not self._warned_thread:
            self._warned_thread = True
            logger.warning(
                "progress widget updated from another thread; ignored (ipykernel 7 only "
                "accepts display traffic from the cell's own thread)"
            )
        return False

    def _draw(self, state: ProgressState, *, closed: bool) -> None:
        finished = state.rows_finished
        total = state.rows_total
        if total <= 0:
            # An empty run that finished is a full bar, not an empty one.
            total, finished = 1, (1 if state.finished else 0)
        current_tone = tone(state, closed=closed)
        lines, timing_at = _label_lines(state, closed=closed)
        with self._lock:
            try:
                with self.bar.hold_sync():
                    # max first: setting value above the current max would clamp it.
                    self.bar.max = total
                    self.bar.value = min(finished, total)
                    self.bar.bar_style = _BAR_STYLE[current_tone]
                if closed or state.finished:
                    # The end once more, whole: a draw sends only what changed, and a front
                    # end may have missed a message. nbclient (nbconvert --execute, papermill)
                    # keeps only those that arrive while a cell runs, so a background run's
                    # max drawn between two cells was lost and the saved bar read 30 of 1.
                    self.bar.send_state(["max", "value", "bar_style"])
                self.label.value = _wrap_label(lines, current_tone)
            except BaseException:
                self._stop_ticking.set()  # a broken widget: the timer must not draw on it
                raise
            self._state = state
            self._lines, self._timing_at = lines, timing_at
            if closed or state.finished:
                self._stop_ticking.set()  # the time is frozen now
            self.draws += 1

    def __repr__(self) -> str:
        return f"WidgetDisplay(draws={self.draws}, closed={self._closed})"


def render_label(state: ProgressState, *, closed: bool = False) -> str:
    """The label's HTML: the headline in bold, then rows, jobs and timing, all escaped."""
    return _wrap_label(_label_lines(state, closed=closed)[0], tone(state, closed=closed))


def _label_lines(state: ProgressState, *, closed: bool) -> tuple[list[str], int | None]:
    """The label's lines of HTML, and the index of the time line (``None`` if not shown)."""
    # The headline takes the bar's colour when it ends badly: an interrupted run with no row
    # finished has an empty bar, so the red would not show anywhere else.
    colour = _HEADLINE_COLOUR.get(tone(state, closed=closed))
    style = f' style="color: {colour}"' if colour else ""
    first = f"<b{style}>{html.escape(headline(state, closed=closed))}</b>"
    few = note(state, closed=closed)
    if few is not None:  # green, but a few rows did not arrive: say how many, in amber
        style = "color: #b45309"
        first += f' <span class="fs-pandas-note" style="{style}">(note: {html.escape(few)})</span>'
    lines = [first]
    timing_at = None
    if state.started:
        lines += [html.escape(row_counts(state)), html.escape(job_counts(state))]
        timing_at = len(lines)
        lines.append(html.escape(timing(state)))
    again = replayed(state)
    if again is not None:  # the same call run again: Fullstory answered with earlier jobs
        lines.append(f'<span class="fs-pandas-replayed">{html.escape(again)}</span>')
    hint = unfinished(state, closed=closed)
    if hint is not None:  # stopped early: the jobs left running and how to finish them
        lines.append(f'<span class="fs-pandas-unfinished">{html.escape(hint)}</span>')
    if state.ledger_path:
        # What fs_pandas.resume needs after a crash, shown from the start of the run.
        lines.append(f"<small>run journal: {html.escape(state.ledger_path)}</small>")
    return lines, timing_at


def _wrap_label(lines: list[str], state_tone: Tone) -> str:
    body = "<br>".join(lines)
    return (
        f'<div class="{LABEL_CLASS}" data-state="{state_tone}" '
        f'style="font-size: 0.9em; line-height: 1.4">{body}</div>'
    )


def _ipython_display(obj: Any) -> None:
    from IPython.display import display

    display(obj)  # type: ignore[no-untyped-call]
