"""The terminal display writes the same numbers to a stream."""

from __future__ import annotations

import io
import re

from fs_pandas.progress import ProgressState, TextDisplay
from fs_pandas.progress.events import ChunkPlanned, ProgressEvent, Retrying, RunFinished
from tests.progress.progress_helpers import FakeClock, two_job_run


def _run(clock: FakeClock, events: list[ProgressEvent], *, tty: bool, width: int = 1000) -> str:
    stream = io.StringIO()
    display = TextDisplay(
        stream=stream, tty=tty, clock=clock, tty_interval=0, line_interval=0, width=width
    )
    state = ProgressState(clock=clock)
    display.start(state)
    for event in events:
        clock.advance(1.0)
        state.apply(event)
        display.update(state)
    display.close(state)
    return stream.getvalue()


def _run_lines(clock: FakeClock, events: list[ProgressEvent], **options: object) -> str:
    """What :func:`_run` writes, without the one-off journal announcement."""
    return re.sub(r"\r?run journal: [^\n]*\n", "", _run(clock, events, **options))  # type: ignore[arg-type]


def test_the_journal_path_is_announced_once_on_its_own_line(clock: FakeClock) -> None:
    for tty in (True, False):
        out = _run(clock, two_job_run(), tty=tty)
        assert out.count("run journal: l.db") == 1
        assert re.search(r"(^|\r)run journal: l\.db *\n", out)


def test_tty_redraws_one_line_with_carriage_returns(clock: FakeClock) -> None:
    out = _run_lines(clock, two_job_run(), tty=True)
    assert out.count("\n") == 1
    assert out.endswith("\n")
    assert out.count("\r") == len(two_job_run()) + 2  # start, each event, close


def test_tty_pads_a_shorter_line_over_a_longer_one(clock: FakeClock) -> None:
    retrying = Retrying(reason="HTTP 503", attempt=2, delay=1.5)
    events: list[ProgressEvent] = [*two_job_run()[:2], retrying, ChunkPlanned(chunk=1, rows=50)]
    long_line, short_line = _run_lines(clock, events, tty=True).rstrip("\n").split("\r")[-3:-1]
    assert "retrying" in long_line and "retrying" not in short_line
    assert len(short_line) == len(long_line)  # spaces wipe what the longer line left behind
    assert short_line.endswith(" ")


def test_tty_redraws_are_cut_to_the_terminal_width_but_the_final_line_is_whole(
    clock: FakeClock,
) -> None:
    *redraws, final = (
        _run_lines(clock, two_job_run(), tty=True, width=60).rstrip("\n").split("\r")[1:]
    )
    assert all(len(line) <= 60 for line in redraws)
    assert "jobs 0 waiting, 0 processing, 2 completed" in final


def test_non_tty_writes_whole_lines(clock: FakeClock) -> None:
    out = _run_lines(clock, two_job_run(), tty=False)
    assert "\r" not in out
    lines = out.splitlines()
    # Each event but the last, then close: the finished line once, not twice.
    assert len(lines) == len(two_job_run())
    assert len(set(lines)) == len(lines) and "finished" in lines[-1]


def test_non_tty_waits_for_the_run_to_start_before_writing(clock: FakeClock) -> None:
    first = _run_lines(clock, two_job_run(), tty=False).splitlines()[0]
    assert first.startswith("users import: 5 / 105 rows (5%)")


def test_tty_shows_starting_before_the_first_event(clock: FakeClock) -> None:
    assert _run(clock, [], tty=True).startswith("\rFullstory import: starting…")


def test_final_line_has_the_outcome_counts(clock: FakeClock) -> None:
    last = _run(clock, two_job_run(failed_in_second=3), tty=False).splitlines()[-1]
    assert "users import finished with 3 failed, 5 rejected" in last
    assert "imported 97 · failed 3 · rejected 5 · pending 0" in last
    assert "jobs 0 waiting, 0 processing, 1 completed, 1 with failed rows" in last


def test_final_line_has_elapsed_time_and_rate(clock: FakeClock) -> None:
    last = _run(clock, two_job_run(), tty=False).splitlines()[-1]
    # RunStarted came 1 s after start, RunFinished 10 s later; 100 rows were sent
    assert "elapsed 10.0 s · 10 rows/s" in last


def test_running_line_has_an_eta(clock: FakeClock) -> None:
    lines = _run_lines(clock, two_job_run(), tty=False).splitlines()
    # Line 7 follows job-a's JobFinished: 50 rows sent in 7 s, 50 pending -> 7 s to go.
    assert "ETA 7.0 s" in lines[7]


def test_aborted_run_says_aborted_and_why(clock: FakeClock) -> None:
    aborted = RunFinished(imported=50, failed=0, rejected=5, pending=50, aborted="quota")
    final = _run(clock, [*two_job_run()[:8], aborted], tty=False).splitlines()[-2]
    assert "aborted: quota" in final


def test_a_run_stopped_early_ends_with_the_jobs_left_and_how_to_finish(clock: FakeClock) -> None:
    interrupted = RunFinished(imported=50, failed=0, rejected=5, pending=50, aborted="interrupted")
    lines = _run(clock, [*two_job_run()[:8], interrupted], tty=True).splitlines()
    assert "aborted: interrupted" in lines[-2]
    assert lines[-1] == (
        "1 job still running at Fullstory, 50 rows pending: finish with "
        "fs_pandas.resume('l.db', df), or run the same call again (within 24 h nothing is sent "
        "twice)"
    )


def test_a_finished_run_has_no_resume_line(clock: FakeClock) -> None:
    lines = _run_lines(clock, two_job_run(), tty=False).splitlines()
    assert "finished" in lines[-1]
    assert not any("resume" in line for line in lines)


def test_close_twice_writes_once(clock: FakeClock) -> None:
    stream = io.StringIO()
    display = TextDisplay(stream=stream, tty=False, clock=clock)
    state = ProgressState(clock=clock)
    display.start(state)
    display.close(state)
    display.close(state)
    assert len(stream.getvalue().splitlines()) == 1


def test_a_run_that_ended_before_the_display_started_is_written_once(clock: FakeClock) -> None:
    """A background run waited for after it ended: one final line, not the same line twice."""
    state = ProgressState(clock=clock)
    for event in two_job_run():
        state.apply(event)
    stream = io.StringIO()
    display = TextDisplay(stream=stream, tty=False, clock=clock, line_interval=0)
    display.start(state)
    display.close(state)
    lines = [line for line in stream.getvalue().splitlines() if not line.startswith("run journal")]
    assert len(lines) == 1 and "finished" in lines[0]
