"""Throttling: displays redraw at most once per interval, and always draw the final state."""

from __future__ import annotations

import io

from fs_pandas.models import JobStatus
from fs_pandas.progress import ProgressState, TextDisplay, Throttle, WidgetDisplay
from fs_pandas.progress.events import JobPolled, RunStarted
from tests.progress.progress_helpers import FakeClock, two_job_run


def test_throttle_lets_the_first_call_through(clock: FakeClock) -> None:
    assert Throttle(interval=1.0, clock=clock).ready()


def test_throttle_refuses_calls_inside_the_interval(clock: FakeClock) -> None:
    throttle = Throttle(interval=1.0, clock=clock)
    throttle.ready()
    clock.advance(0.5)
    assert not throttle.ready()


def test_throttle_lets_a_call_through_once_the_interval_passed(clock: FakeClock) -> None:
    throttle = Throttle(interval=1.0, clock=clock)
    throttle.ready()
    clock.advance(1.0)
    assert throttle.ready()


def test_throttle_counts_the_interval_from_a_marked_draw(clock: FakeClock) -> None:
    throttle = Throttle(interval=1.0, clock=clock)
    throttle.mark()
    assert not throttle.ready()


def _flood(display: TextDisplay | WidgetDisplay, clock: FakeClock, updates: int) -> ProgressState:
    """Start a display, then send ``updates`` polls 1 ms apart, then close it."""
    state = ProgressState(clock=clock)
    display.start(state)
    state.apply(RunStarted("events", updates, 0, 1, None))
    for i in range(updates):
        clock.advance(0.001)
        state.apply(JobPolled(0, "j", JobStatus.PROCESSING, imports=i + 1, errors=0))
        display.update(state)
    display.close(state)
    return state


def test_widget_redraws_at_most_ten_times_a_second(clock: FakeClock) -> None:
    display = WidgetDisplay(clock=clock, show=lambda _: None)
    _flood(display, clock, updates=10_000)  # 10 s of events at 1 kHz
    # start + one draw per 0.1 s + the final one
    assert display.draws <= 1 + 100 + 1


def test_widget_draws_the_final_state_even_inside_the_interval(clock: FakeClock) -> None:
    display = WidgetDisplay(clock=clock, show=lambda _: None)
    _flood(display, clock, updates=50)
    assert display.bar.value == 50


def test_tty_text_redraws_at_most_ten_times_a_second(clock: FakeClock) -> None:
    display = TextDisplay(stream=io.StringIO(), tty=True, clock=clock)
    _flood(display, clock, updates=10_000)
    assert display.draws <= 1 + 100 + 1


def test_non_tty_text_writes_a_line_every_five_seconds_at_most(clock: FakeClock) -> None:
    stream = io.StringIO()
    display = TextDisplay(stream=stream, tty=False, clock=clock)
    _flood(display, clock, updates=10_000)
    assert len(stream.getvalue().splitlines()) <= 1 + 2 + 1


def test_throttled_text_still_ends_with_the_final_numbers(clock: FakeClock) -> None:
    stream = io.StringIO()
    display = TextDisplay(stream=stream, tty=False, clock=clock)
    state = ProgressState(clock=clock)
    display.start(state)
    for event in two_job_run():
        state.apply(event)
        display.update(state)
    display.close(state)
    assert "105 / 105 rows" in stream.getvalue().splitlines()[-1]
