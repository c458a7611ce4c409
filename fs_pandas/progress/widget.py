"""Notebook progress: one ipywidgets bar and label per run.

The widget is shown once (``IPython.display.display``) when the run starts and then only
changed in place. Every change is a message to the front end, so redraws are throttled.
ipykernel 7 rejects display traffic from threads other than the cell's own (design §6), so the
display refuses to draw from any thread but the one that started it.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fs_pandas.progress._base import Throttle
from fs_pandas.progress._describe import (
    Tone,
    headline,
    job_counts,
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

    Notes
    -----
    The bar counts rows finished (imported + failed + rejected) out of the run's rows. It
    ends green when every row was imported, amber when rows failed or were rejected (the
    label says how many), red when the run was aborted or closed before it finished -- an
    interrupt or a timeout included, when the label also says how many jobs still run at
    Fullstory and how to finish them.
    """

    def __init__(
        self,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        show: Callable[[Any], object] | None = None,
    ) -> None:
        self._throttle = Throttle(interval=interval, clock=clock)
        self._show = show
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

    def update(self, state: ProgressState) -> None:
        """Redraw if the throttle allows and this is the thread that started the display."""
        if not self._closed and self._on_owner_thread() and self._throttle.ready():
            self._draw(state, closed=False)

    def close(self, state: ProgressState) -> None:
        """Draw the final state, whatever the throttle says; later calls do nothing."""
        if self._closed or not self._on_owner_thread():
            return
        self._draw(state, closed=True)
        self._closed = True

    def _on_owner_thread(self) -> bool:
        if self.box is None:
            return False  # never started
        if threading.get_ident() == self._owner:
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
        with self.bar.hold_sync():
            # max first: setting value above the current max would clamp it.
            self.bar.max = total
            self.bar.value = min(finished, total)
            self.bar.bar_style = _BAR_STYLE[current_tone]
        self.label.value = render_label(state, closed=closed)
        self.draws += 1

    def __repr__(self) -> str:
        return f"WidgetDisplay(draws={self.draws}, closed={self._closed})"


def render_label(state: ProgressState, *, closed: bool = False) -> str:
    """The label's HTML: the headline in bold, then rows, jobs and timing, all escaped."""
    state_tone = tone(state, closed=closed)
    lines = [f"<b>{html.escape(headline(state, closed=closed))}</b>"]
    if state.started:
        lines += [html.escape(row_counts(state)), html.escape(job_counts(state))]
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
    body = "<br>".join(lines)
    return (
        f'<div class="{LABEL_CLASS}" data-state="{state_tone}" '
        f'style="font-size: 0.9em; line-height: 1.4">{body}</div>'
    )


def _ipython_display(obj: Any) -> None:
    from IPython.display import display

    display(obj)  # type: ignore[no-untyped-call]
