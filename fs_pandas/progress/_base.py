"""The display protocol, the no-op display, throttling, the fallback wrapper and ``consume``."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from fs_pandas.progress.events import ProgressEvent, RunFinished
from fs_pandas.progress.state import ProgressState

__all__ = [
    "Display",
    "FallbackDisplay",
    "NoDisplay",
    "Throttle",
    "aborted_by",
    "consume",
    "start_ticker",
]

logger = logging.getLogger(__name__)


@runtime_checkable
class Display(Protocol):
    """Something that shows a run's progress.

    The runner's caller drives it from one thread: ``start`` once, then ``update`` after each
    ``state.apply(event)``, then ``close`` once at the end (also when the run raised). A
    display decides itself how often it really redraws; ``close`` always draws.
    """

    def start(self, state: ProgressState) -> None:
        """Show the display for the first time."""

    def update(self, state: ProgressState) -> None:
        """The state changed; redraw if it is time to."""

    def close(self, state: ProgressState) -> None:
        """The run is over (or stopped): draw the final state."""


class NoDisplay:
    """A display that shows nothing (``progress=False``)."""

    def start(self, state: ProgressState) -> None:
        """Do nothing."""

    def update(self, state: ProgressState) -> None:
        """Do nothing."""

    def close(self, state: ProgressState) -> None:
        """Do nothing."""

    def __repr__(self) -> str:
        return "NoDisplay()"


class Throttle:
    """Lets at most one redraw through per ``interval`` seconds.

    A 1,000,000-row run yields thousands of events; redrawing on each would flood a notebook
    front end (every widget change is a message) or a terminal.

    Parameters
    ----------
    interval : float
        Minimum seconds between two redraws.
    clock : callable
        Monotonic seconds; injected so tests need no sleeping.
    """

    def __init__(self, *, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        """True (and the time is noted) when a redraw may happen now."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True

    def mark(self) -> None:
        """Note a redraw that happened regardless of the throttle (start, close)."""
        self._last = self._clock()


class FallbackDisplay:
    """Use ``primary``; if it raises, log the error and carry on with ``make_fallback()``.

    A progress bar must never be the reason a run fails (design §6: widgets that stop
    rendering after an ipywidgets upgrade, or a front end that cannot show them).
    """

    def __init__(self, primary: Display, make_fallback: Callable[[], Display]) -> None:
        self._current = primary
        self._make_fallback = make_fallback
        self._fell_back = False

    @property
    def current(self) -> Display:
        """The display in use now."""
        return self._current

    def start(self, state: ProgressState) -> None:
        """Start the primary display, or the fallback if that fails."""
        self._call("start", state)

    def update(self, state: ProgressState) -> None:
        """Update the display in use."""
        self._call("update", state)

    def close(self, state: ProgressState) -> None:
        """Close the display in use."""
        self._call("close", state)

    def _call(self, method: str, state: ProgressState) -> None:
        try:
            getattr(self._current, method)(state)
        except Exception:
            if self._fell_back:
                raise
            logger.warning(
                "progress display %s failed in %s(); falling back to text",
                type(self._current).__name__,
                method,
                exc_info=True,
            )
            self._fell_back = True
            self._current = self._make_fallback()
            self._current.start(state)
            if method != "start":
                getattr(self._current, method)(state)

    def __repr__(self) -> str:
        return f"FallbackDisplay(current={self._current!r})"


def consume(
    events: Iterable[ProgressEvent],
    display: Display,
    state: ProgressState | None = None,
    *,
    ended_by: Callable[[BaseException], RunFinished | None] | None = None,
) -> ProgressState:
    """Drive ``display`` from an iterator of progress events, on the calling thread.

    Parameters
    ----------
    events : iterable of ProgressEvent
        Typically the runner's generator.
    display : Display
        Where to show progress; see :func:`fs_pandas.progress.choose_display`.
    state : ProgressState, optional
        A state to fold the events into (a fresh one by default).
    ended_by : callable, optional
        Given the exception that ended the run early, the run's own account of its end
        (counted from its records, which may be ahead of the events shown); ``None`` or
        missing: the end is counted from the state.

    Returns
    -------
    ProgressState
        The state after the last event.

    Notes
    -----
    If the iterator raises (or the user interrupts the cell), the state is closed with an
    ``aborted`` reason so the display ends red, and the exception propagates unchanged.
    """
    state = ProgressState() if state is None else state
    display.start(state)
    try:
        for event in events:
            state.apply(event)
            display.update(state)
    except BaseException as exc:
        if state.started and not state.finished:
            final = ended_by(exc) if ended_by is not None else None
            state.apply(final if final is not None else aborted_by(exc, state))
        display.close(state)
        raise
    display.close(state)
    return state


def aborted_by(exc: BaseException, state: ProgressState) -> RunFinished:
    """The end of a run that ``exc`` cut short, counted from ``state`` (what the display shows)."""
    if isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    else:
        # fs_pandas error messages never hold the API key (design §3), so the message may show.
        message = str(exc)
        message = message if len(message) <= 120 else message[:119] + "…"
        reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return RunFinished(
        imported=state.imported,
        failed=state.failed,
        rejected=state.rejected,
        pending=state.pending,
        aborted=reason,
    )


class _Ticking(Protocol):
    def tick(self) -> None: ...


def start_ticker(display: _Ticking, stop: threading.Event, interval: float) -> threading.Thread:
    """Start the timer thread that calls ``display.tick()`` every ``interval`` seconds, so the
    elapsed time moves while the run waits (a poll wait can be long).

    It stops when ``stop`` is set, when the display is gone (it holds it weakly: a display
    never closed does not keep it alive) or when a tick raises. A daemon: it never keeps the
    interpreter alive.
    """
    thread = threading.Thread(
        target=_tick_until_stopped,
        args=(weakref.ref(display), stop, interval),
        name="fs-pandas-progress-tick",
        daemon=True,
    )
    thread.start()
    return thread


def _tick_until_stopped(
    display: weakref.ref[_Ticking], stop: threading.Event, interval: float
) -> None:
    while not stop.wait(interval):
        current = display()
        if current is None:
            return
        try:
            current.tick()
        except Exception:
            logger.debug("progress: the timer's redraw failed; timer stopped", exc_info=True)
            return
        del current
