"""The numbers the displays show: job wording, a smoothed ETA, a ticking clock, the colour rule."""

from __future__ import annotations

import gc
import io
import itertools
import threading
import time
from typing import Any

import pytest

from fs_pandas.models import JobStatus
from fs_pandas.progress import ProgressState, TextDisplay, WidgetDisplay
from fs_pandas.progress._describe import job_counts, note, tone
from fs_pandas.progress.events import (
    JobCreated,
    JobFinished,
    JobPolled,
    ProgressEvent,
    RunFinished,
    RunStarted,
)
from fs_pandas.progress.state import ETA_MAX_SECONDS, ETA_MIN_SECONDS
from fs_pandas.progress.widget import render_label
from tests.progress.progress_helpers import FakeClock, two_job_run


def _fold(clock: FakeClock, events: list[ProgressEvent], *, step: float = 1.0) -> ProgressState:
    state = ProgressState(clock=clock)
    for event in events:
        clock.advance(step)
        state.apply(event)
    return state


# ---------------------------------------------------------------- 1. jobs with failed rows


def test_a_failed_job_is_counted_as_a_job_with_failed_rows(clock: FakeClock) -> None:
    state = _fold(clock, two_job_run(failed_in_second=3))
    assert job_counts(state).endswith(
        "jobs 0 waiting, 0 processing, 1 completed, 1 with failed rows"
    )


def test_text_and_widget_word_failed_jobs_the_same(clock: FakeClock) -> None:
    state = _fold(clock, two_job_run(failed_in_second=3))
    stream = io.StringIO()
    text = TextDisplay(stream=stream, tty=False, clock=clock)
    text.start(state)
    text.close(state)
    wording = "1 completed, 1 with failed rows"
    assert wording in stream.getvalue()
    assert wording in render_label(state, closed=True)
    assert "1 failed" not in job_counts(state)


# ---------------------------------------------------------------- 2. the ETA


class _SteadyRun:
    """A run of ``total`` rows, one job per chunk; ``land(rows, after)`` finishes the next job."""

    def __init__(self, clock: FakeClock, total: int = 200_000, chunk: int = 1_000) -> None:
        self.clock = clock
        self.state = ProgressState(clock=clock)
        self.state.apply(RunStarted("users", total, 0, total // chunk, None))
        self.chunk = chunk
        self.next = 0

    def land(self, rows: int, after: float) -> float | None:
        self.clock.advance(after)
        self.state.apply(JobCreated(self.next, f"job-{self.next}", rows))
        self.state.apply(JobFinished(self.next, f"job-{self.next}", JobStatus.COMPLETED, rows, 0))
        self.next += 1
        return self.state.eta_seconds

    def steady(self, seconds: float, every: float = 10.0) -> float | None:
        eta = None
        for _ in range(round(seconds / every)):
            eta = self.land(self.chunk, every)
        return eta


def test_one_slow_job_does_not_swing_the_eta(clock: FakeClock) -> None:
    run = _SteadyRun(clock)
    before = run.steady(600)  # 100 rows/s for 10 min: 60,000 rows, 140,000 to go
    assert before == pytest.approx(1400, rel=0.01)
    after = run.land(1_000, after=40)  # one job takes 4 times as long
    assert after is not None and before is not None
    # The interval's own rate (25 rows/s) would say 5,560 s; the smoothed rate moves little.
    assert abs(after - before) / before < 0.2


def test_one_fast_job_does_not_swing_the_eta(clock: FakeClock) -> None:
    run = _SteadyRun(clock)
    before = run.steady(600)
    after = run.land(1_000, after=1)  # one job lands at once
    assert after is not None and before is not None
    # The interval's own rate (1,000 rows/s) would say 139 s.
    assert abs(after - before) / before < 0.1


def test_the_rate_follows_a_lasting_change(clock: FakeClock) -> None:
    run = _SteadyRun(clock, total=1_000_000)
    run.steady(600)  # 100 rows/s
    run.steady(1200, every=20)  # then 50 rows/s for 20 min
    rate = run.state.rate
    assert rate is not None
    overall = 120_000 / 1800  # what the average since the start would say: 66.7
    assert abs(rate - 50) < abs(overall - 50) / 2


def test_the_rate_slides_smoothly_between_events(clock: FakeClock) -> None:
    # Lumps of 10,000 rows every 100 s: as the window's start passes a lump, the rate must not
    # step (each lump is spread over the time before it).
    run = _SteadyRun(clock, total=1_000_000, chunk=10_000)
    run.steady(1000, every=100)
    rates = []
    for _ in range(30):
        clock.advance(1)
        rate = run.state.rate
        assert rate is not None
        rates.append(rate)
    assert max(abs(a - b) / a for a, b in itertools.pairwise(rates)) < 0.01


def test_no_eta_before_a_row_sent_has_finished_or_too_early(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    state.apply(RunStarted("users", 100, 5, 1, None))
    clock.advance(30)
    assert state.eta_seconds is None  # only locally rejected rows so far
    early = ProgressState(clock=clock)
    early.apply(RunStarted("users", 100, 0, 1, None))
    early.apply(JobCreated(0, "a", 100))
    clock.advance(ETA_MIN_SECONDS / 2)
    early.apply(JobPolled(0, "a", JobStatus.PROCESSING, imports=50, errors=0))
    assert early.eta_seconds is None
    clock.advance(ETA_MIN_SECONDS)
    assert early.eta_seconds is not None


def test_no_absurd_eta_for_a_trickle(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    state.apply(RunStarted("users", 50_000_000, 0, 1, None))
    state.apply(JobCreated(0, "a", 50_000))
    clock.advance(10)
    state.apply(JobPolled(0, "a", JobStatus.PROCESSING, imports=1, errors=0))
    assert ETA_MAX_SECONDS < 50_000_000 * 10  # what pending / rate would say
    assert state.eta_seconds is None


def test_a_stall_longer_than_the_window_has_no_eta(clock: FakeClock) -> None:
    run = _SteadyRun(clock)
    assert run.steady(300) is not None
    clock.advance(1000)  # nothing finishes for longer than the window
    assert run.state.rate == 0
    assert run.state.eta_seconds is None


def test_the_eta_is_never_negative_even_when_counters_go_back(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    state.apply(RunStarted("users", 1_000, 0, 2, None))
    state.apply(JobCreated(0, "a", 500))
    state.apply(JobCreated(1, "b", 500))
    etas: list[float | None] = []
    # Polls overshoot, then the joined counts come in lower; a second job races ahead.
    for imports in (100, 400, 500, 450, 300):
        clock.advance(3)
        state.apply(JobPolled(0, "a", JobStatus.PROCESSING, imports=imports, errors=0))
        etas.append(state.eta_seconds)
    clock.advance(3)
    state.apply(JobFinished(0, "a", JobStatus.COMPLETED, imported=200, failed=0))
    etas.append(state.eta_seconds)
    for _ in range(300):
        clock.advance(7)
        etas.append(state.eta_seconds)
    assert all(eta is None or 0 <= eta <= ETA_MAX_SECONDS for eta in etas)
    assert any(eta is not None for eta in etas)


def test_the_finished_rate_is_over_the_whole_run(clock: FakeClock) -> None:
    run = _SteadyRun(clock, total=2_000)
    run.steady(20)  # 2,000 rows in 20 s
    run.state.apply(RunFinished(imported=2_000, failed=0, rejected=0, pending=0))
    clock.advance(500)
    assert run.state.rate == 100
    assert run.state.eta_seconds == 0


# ---------------------------------------------------------------- 3. elapsed time ticks


def _started_widget(clock: FakeClock, *, tick: float | None) -> tuple[WidgetDisplay, ProgressState]:
    shown: list[Any] = []
    display = WidgetDisplay(clock=clock, show=shown.append, interval=0.0, tick=tick)
    state = ProgressState(clock=clock)
    display.start(state)
    for event in two_job_run()[:5]:
        clock.advance(1.0)
        state.apply(event)
        display.update(state)
    return display, state


def _tick_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fs-pandas-progress-tick"]


def test_a_tick_redraws_the_elapsed_time_between_events(clock: FakeClock) -> None:
    display, state = _started_widget(clock, tick=None)
    assert "elapsed 4.0 s" in display.label.value
    clock.advance(30)  # a long poll wait: no event
    display.tick()
    assert "elapsed 34.0 s" in display.label.value
    assert "jobs 0 waiting, 2 processing" in display.label.value  # the rest stays
    assert display.ticks == 1
    display.tick()  # nothing changed: no message to the front end
    assert display.ticks == 1
    display.close(state)


def test_the_timer_thread_ticks_and_stops_when_the_display_closes(clock: FakeClock) -> None:
    before = set(_tick_threads())
    display, state = _started_widget(clock, tick=0.01)
    assert display.ticker is not None and display.ticker.is_alive()
    clock.advance(30)
    deadline = time.monotonic() + 10
    while "elapsed 34.0 s" not in display.label.value and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "elapsed 34.0 s" in display.label.value
    display.close(state)
    assert not display.ticker.is_alive()
    assert set(_tick_threads()) <= before


def test_nothing_is_drawn_after_close(clock: FakeClock) -> None:
    display, state = _started_widget(clock, tick=0.01)
    display.close(state)
    label, draws, ticks = display.label.value, display.draws, display.ticks
    clock.advance(60)
    display.tick()
    time.sleep(0.05)  # several timer periods, had the timer survived
    assert (display.label.value, display.draws, display.ticks) == (label, draws, ticks)


def test_the_timer_stops_when_the_run_finished(clock: FakeClock) -> None:
    display, state = _started_widget(clock, tick=None)
    for event in two_job_run()[5:]:
        clock.advance(1.0)
        state.apply(event)
        display.update(state)
    label = display.label.value
    clock.advance(60)
    display.tick()  # elapsed is frozen at RunFinished: nothing to redraw
    assert display.label.value == label
    display.close(state)


def test_a_display_never_closed_leaves_no_timer_behind(clock: FakeClock) -> None:
    display, _ = _started_widget(clock, tick=0.01)
    ticker = display.ticker
    assert ticker is not None
    del display
    gc.collect()
    ticker.join(timeout=5)
    assert not ticker.is_alive()


def test_a_broken_widget_stops_its_timer(clock: FakeClock) -> None:
    display, state = _started_widget(clock, tick=0.01)

    class Broken:
        def __setattr__(self, name: str, value: object) -> None:
            raise RuntimeError("front end gone")

    display.label = Broken()
    with pytest.raises(RuntimeError):
        display._draw(state, closed=False)
    assert display.ticker is not None
    display.ticker.join(timeout=5)
    assert not display.ticker.is_alive()


# ---------------------------------------------------------------- 4. the colour rule


def _finished(imported: int, failed: int, rejected: int, pending: int = 0) -> ProgressState:
    state = ProgressState(clock=FakeClock())
    total = imported + failed + rejected + pending
    state.apply(RunStarted("users", total, rejected, 1, None))
    state.apply(RunFinished(imported=imported, failed=failed, rejected=rejected, pending=pending))
    return state


def test_a_few_rejected_rows_of_many_stay_green_with_a_note() -> None:
    state = _finished(imported=199_997, failed=0, rejected=3)
    assert tone(state, closed=True) == "success"
    assert note(state, closed=True) == "3 rejected"
    label = render_label(state, closed=True)
    assert 'data-state="success"' in label
    assert 'class="fs-pandas-note"' in label and "3 rejected" in label


@pytest.mark.parametrize(
    ("failed", "rejected", "expected"),
    [
        (0, 0, "success"),
        (100, 0, "success"),  # exactly 0.1%: still green, with a note
        (60, 40, "success"),  # failed and rejected together: 0.1%
        (101, 0, "warning"),  # just over 0.1%
        (0, 101, "warning"),
        (49_999, 0, "warning"),  # just under half
        (50_000, 0, "danger"),  # half the rows did not arrive
        (30_000, 20_000, "danger"),
        (100_000, 0, "danger"),
    ],
)
def test_the_colour_follows_the_share_of_rows_that_did_not_arrive(
    failed: int, rejected: int, expected: str
) -> None:
    state = _finished(imported=100_000 - failed - rejected, failed=failed, rejected=rejected)
    assert tone(state, closed=True) == expected
    assert (note(state, closed=True) is not None) == (
        expected == "success" and failed + rejected > 0
    )


def test_a_red_run_that_finished_says_finished_not_aborted() -> None:
    state = _finished(imported=10, failed=90, rejected=0)
    label = render_label(state, closed=True)
    assert 'data-state="danger"' in label
    assert "finished with 90 failed" in label
    assert "aborted" not in label and "fs-pandas-unfinished" not in label


def test_a_stopped_run_is_red_whatever_its_share() -> None:
    state = ProgressState(clock=FakeClock())
    state.apply(RunStarted("users", 100_000, 0, 1, None))
    state.apply(RunFinished(imported=99_999, failed=0, rejected=0, pending=1, aborted="quota"))
    assert tone(state, closed=True) == "danger"


def test_the_text_line_carries_the_same_note(clock: FakeClock) -> None:
    stream = io.StringIO()
    display = TextDisplay(stream=stream, tty=False, clock=clock)
    state = _finished(imported=199_997, failed=1, rejected=2)
    display.start(state)
    display.close(state)
    assert "users import finished — 200,000 / 200,000 rows (100%) (note: 1 failed, 2 rejected)" in (
        stream.getvalue()
    )


def test_the_bar_is_green_when_a_few_rows_were_rejected(clock: FakeClock) -> None:
    display = WidgetDisplay(clock=clock, show=lambda _: None, tick=None)
    state = _finished(imported=199_997, failed=0, rejected=3)
    display.start(state)
    display.close(state)
    assert display.bar.bar_style == "success"


def _started_text(
    clock: FakeClock, *, tty: bool, tick: float | None
) -> tuple[TextDisplay, ProgressState, io.StringIO]:
    stream = io.StringIO()
    display = TextDisplay(
        stream=stream, tty=tty, clock=clock, tty_interval=0, line_interval=0, width=1000, tick=tick
    )
    state = ProgressState(clock=clock)
    display.start(state)
    for event in two_job_run()[:5]:
        clock.advance(1.0)
        state.apply(event)
        display.update(state)
    return display, state, stream


def test_on_a_terminal_a_tick_redraws_the_line_with_the_time_moved(clock: FakeClock) -> None:
    display, state, stream = _started_text(clock, tty=True, tick=None)
    clock.advance(30)  # a long poll wait: no event
    display.tick()
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert "elapsed 34.0 s" in last
    assert "jobs 0 waiting, 2 processing" in last  # the rest of the line stays
    assert display.ticks == 1
    display.tick()  # nothing changed: nothing written
    assert display.ticks == 1
    display.close(state)


def test_the_terminal_timer_ticks_and_stops_when_the_display_closes(clock: FakeClock) -> None:
    before = set(_tick_threads())
    display, state, stream = _started_text(clock, tty=True, tick=0.01)
    assert display.ticker is not None and display.ticker.is_alive()
    clock.advance(30)
    deadline = time.monotonic() + 10
    while "elapsed 34.0 s" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "elapsed 34.0 s" in stream.getvalue()
    display.close(state)
    assert not display.ticker.is_alive()
    assert set(_tick_threads()) <= before
    written = stream.getvalue()
    clock.advance(60)
    time.sleep(0.05)  # several timer periods, had the timer survived
    assert stream.getvalue() == written


def test_a_log_gets_no_timer_lines(clock: FakeClock) -> None:
    """Not a terminal (a log, CI): a line when something happened, never one a second."""
    display, state, stream = _started_text(clock, tty=False, tick=0.01)
    assert display.ticker is None
    lines = stream.getvalue()
    clock.advance(30)
    display.tick()
    assert stream.getvalue() == lines
    display.close(state)
