"""The ipywidgets display, built outside a kernel (ipywidgets works without a front end)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fs_pandas.progress import ProgressState, WidgetDisplay
from fs_pandas.progress.events import ProgressEvent, RunFinished
from tests.progress.progress_helpers import FakeClock, two_job_run


def _run(
    clock: FakeClock, events: list[ProgressEvent], *, close: bool = True
) -> tuple[WidgetDisplay, list[Any]]:
    shown: list[Any] = []
    display = WidgetDisplay(clock=clock, show=shown.append, interval=0.0)
    state = ProgressState(clock=clock)
    display.start(state)
    for event in events:
        clock.advance(1.0)
        state.apply(event)
        display.update(state)
    if close:
        display.close(state)
    return display, shown


def test_widget_is_displayed_exactly_once(clock: FakeClock) -> None:
    display, shown = _run(clock, two_job_run())
    assert shown == [display.box]


def test_label_carries_the_css_class(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run())
    assert "fs-pandas-progress" in display.label._dom_classes
    assert 'class="fs-pandas-progress"' in display.label.value


def test_bar_counts_rows_finished_out_of_rows_total(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run()[:8], close=False)
    assert (display.bar.value, display.bar.max) == (55, 105)
    assert display.bar.bar_style == "info"


def test_clean_run_ends_full_and_green(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run()[:1] + two_job_run()[1:-1] + [_clean_finish()])
    assert (display.bar.value, display.bar.max, display.bar.bar_style) == (100, 100, "success")
    assert "finished" in display.label.value


def _clean_finish() -> RunFinished:
    return RunFinished(imported=100, failed=0, rejected=0, pending=0)


def test_run_with_failed_rows_ends_amber_and_says_how_many(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run(failed_in_second=7))
    assert display.bar.bar_style == "warning"
    assert "7 failed" in display.label.value
    assert display.bar.value == display.bar.max == 105


def test_label_shows_live_counts(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run()[:5], close=False)
    label = display.label.value
    assert "imported 0 · failed 0 · rejected 5 · pending 100" in label
    assert "chunks 2/2 planned" in label
    assert "jobs 0 waiting, 2 processing, 0 completed, 0 with failed rows" in label
    assert "elapsed 4.0 s" in label


def test_aborted_run_ends_red_with_the_reason(clock: FakeClock) -> None:
    aborted = RunFinished(imported=50, failed=0, rejected=5, pending=50, aborted="quota <hit>")
    display, _ = _run(clock, [*two_job_run()[:8], aborted])
    assert display.bar.bar_style == "danger"
    assert "quota &lt;hit&gt;" in display.label.value
    assert "<hit>" not in display.label.value


def test_an_interrupted_run_ends_red_with_the_jobs_left_and_how_to_finish(
    clock: FakeClock,
) -> None:
    interrupted = RunFinished(imported=50, failed=0, rejected=5, pending=50, aborted="interrupted")
    display, _ = _run(clock, [*two_job_run()[:8], interrupted])
    assert display.bar.bar_style == "danger"
    assert "aborted: interrupted" in display.label.value
    assert (
        "1 job still running at Fullstory, 50 rows pending: finish with "
        "fs_pandas.resume(&#x27;l.db&#x27;, df)"
    ) in display.label.value


def test_a_clean_run_has_no_resume_hint(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run())
    assert "fs-pandas-unfinished" not in display.label.value


def test_display_closed_before_run_finished_ends_red(clock: FakeClock) -> None:
    display, _ = _run(clock, two_job_run()[:5])
    assert display.bar.bar_style == "danger"
    assert "stopped before the run finished" in display.label.value


def test_empty_finished_run_is_a_full_bar(clock: FakeClock) -> None:
    from fs_pandas.progress.events import RunStarted

    events: list[ProgressEvent] = [
        RunStarted("users", 0, 0, 0, None),
        RunFinished(imported=0, failed=0, rejected=0, pending=0),
    ]
    display, _ = _run(clock, events)
    assert display.bar.value == display.bar.max == 1
    assert display.bar.bar_style == "success"


def test_the_last_message_of_the_bar_carries_its_whole_end_state(clock: FakeClock) -> None:
    # A front end that missed earlier messages still draws the end: nbclient keeps only the
    # messages that arrive while a cell runs, and a background run draws between cells too.
    display = WidgetDisplay(clock=clock, show=lambda _: None, interval=0.0)
    sent: list[dict[str, Any]] = []
    state = ProgressState(clock=clock)
    display.start(state)
    display.bar.comm.send = lambda data, buffers=None: sent.append(data)
    for event in two_job_run():
        clock.advance(1.0)
        state.apply(event)
        display.update(state)
    display.close(state)
    updates = [m["state"] for m in sent if m.get("method") == "update"]
    bar = display.bar
    assert updates[-1] == {"max": bar.max, "value": bar.value, "bar_style": bar.bar_style}
    assert bar.max > 1


def test_updates_from_another_thread_are_ignored(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    display, _ = _run(clock, two_job_run()[:2], close=False)
    state = ProgressState(clock=clock)
    for event in two_job_run():
        state.apply(event)
    worker = threading.Thread(target=display.update, args=(state,))
    worker.start()
    worker.join()
    assert display.bar.value == 5  # still what the owning thread drew
    assert "another thread" in caplog.text


def test_once_allowed_other_threads_draw_and_showing_again_shows_the_same_bar(
    clock: FakeClock,
) -> None:
    """A background run: the cell's thread shows the bar, the run's thread draws it, and a
    later cell shows another view of the same widget (never a second widget)."""
    display, shown = _run(clock, two_job_run()[:2], close=False)
    display.allow_any_thread()
    state = ProgressState(clock=clock)
    for event in two_job_run():
        state.apply(event)
    worker = threading.Thread(target=display.close, args=(state,))
    worker.start()
    worker.join()
    assert display.bar.value == display.bar.max == 105
    display.show_again()
    assert shown == [display.box, display.box]


def test_a_red_end_colours_the_headline_too(clock: FakeClock) -> None:
    """An interrupted run with no row finished has an empty bar: the red shows in the text."""
    interrupted = RunFinished(imported=0, failed=0, rejected=0, pending=100, aborted="interrupted")
    display, _ = _run(clock, [*two_job_run()[:3], interrupted])
    assert display.bar.value == 0
    assert '<b style="color: #b91c1c">users import aborted: interrupted' in display.label.value
    clean, _ = _run(clock, two_job_run())
    assert "<b>users import finished" in clean.label.value
