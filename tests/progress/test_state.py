"""ProgressState: the reducer over progress events, with a fake clock."""

from __future__ import annotations

import pytest

from fs_pandas.models import JobStatus
from fs_pandas.progress import ProgressState
from fs_pandas.progress.events import (
    ChunkPlanned,
    JobCreated,
    JobFinished,
    JobPolled,
    Retrying,
    RunFinished,
    RunStarted,
)
from tests.progress.progress_helpers import FakeClock, two_job_run


def _state(clock: FakeClock, events: list[object]) -> ProgressState:
    state = ProgressState(clock=clock)
    for event in events:
        state.apply(event)  # type: ignore[arg-type]
    return state


def _started(total: int = 100, rejected: int = 0, chunks: int = 2) -> RunStarted:
    return RunStarted(
        kind="users", total_rows=total, rejected_rows=rejected, chunks=chunks, ledger_path=None
    )


def test_fresh_state_knows_nothing(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    assert (state.started, state.finished, state.rows_total, state.rows_finished) == (
        False,
        False,
        0,
        0,
    )
    assert state.elapsed_seconds == 0.0
    assert state.rate is None
    assert state.eta_seconds is None


def test_run_started_sets_totals_and_counts_rejected_rows_as_finished(clock: FakeClock) -> None:
    state = _state(clock, [_started(total=105, rejected=5)])
    assert state.rows_total == 105
    assert state.rejected == 5
    assert state.rows_finished == 5
    assert state.pending == 100
    assert state.chunks_total == 2


def test_run_started_keeps_kind_and_ledger_path(clock: FakeClock) -> None:
    state = _state(clock, two_job_run()[:1])
    assert state.kind == "users"
    assert state.ledger_path == "l.db"


def test_planned_chunk_without_job_is_waiting(clock: FakeClock) -> None:
    state = _state(clock, [_started(), ChunkPlanned(chunk=0, rows=50)])
    assert (state.chunks_planned, state.jobs_waiting, state.jobs_processing) == (1, 1, 0)


def test_created_job_moves_from_waiting_to_processing(clock: FakeClock) -> None:
    state = _state(
        clock,
        [_started(), ChunkPlanned(chunk=0, rows=50), JobCreated(chunk=0, job_id="a", rows=50)],
    )
    assert (state.jobs_waiting, state.jobs_processing) == (0, 1)


def test_reattached_job_without_planned_event_counts_as_processing(clock: FakeClock) -> None:
    state = _state(clock, [_started(), JobCreated(chunk=3, job_id="a", rows=50, reattached=True)])
    assert (state.chunks_planned, state.jobs_waiting, state.jobs_processing) == (1, 0, 1)


def test_poll_counters_move_rows_while_job_runs(clock: FakeClock) -> None:
    state = _state(
        clock,
        [
            _started(),
            JobCreated(chunk=0, job_id="a", rows=50),
            JobPolled(chunk=0, job_id="a", status=JobStatus.PROCESSING, imports=20, errors=3),
        ],
    )
    assert (state.imported, state.failed, state.rows_finished) == (20, 3, 23)
    assert state.jobs_processing == 1


def test_later_poll_replaces_earlier_counters_of_the_same_job(clock: FakeClock) -> None:
    state = _state(
        clock,
        [
            _started(),
            JobCreated(chunk=0, job_id="a", rows=50),
            JobPolled(chunk=0, job_id="a", status=JobStatus.PROCESSING, imports=20, errors=0),
            JobPolled(chunk=0, job_id="a", status=JobStatus.PROCESSING, imports=40, errors=0),
        ],
    )
    assert state.imported == 40


def test_poll_counters_are_clamped_to_the_rows_sent(clock: FakeClock) -> None:
    state = _state(
        clock,
        [
            _started(),
            JobCreated(chunk=0, job_id="a", rows=50),
            JobPolled(chunk=0, job_id="a", status=JobStatus.FAILED, imports=45, errors=30),
        ],
    )
    assert (state.imported, state.failed) == (45, 5)


def test_job_finished_counts_replace_poll_counters(clock: FakeClock) -> None:
    state = _state(
        clock,
        [
            _started(),
            JobCreated(chunk=0, job_id="a", rows=50),
            JobPolled(chunk=0, job_id="a", status=JobStatus.FAILED, imports=48, errors=2),
            JobFinished(chunk=0, job_id="a", status=JobStatus.FAILED, imported=47, failed=3),
        ],
    )
    assert (state.imported, state.failed) == (47, 3)


def test_poll_after_job_finished_does_not_undo_final_counts(clock: FakeClock) -> None:
    state = _state(
        clock,
        [
            _started(),
            JobCreated(chunk=0, job_id="a", rows=50),
            JobFinished(chunk=0, job_id="a", status=JobStatus.COMPLETED, imported=50, failed=0),
            JobPolled(chunk=0, job_id="a", status=JobStatus.PROCESSING, imports=1, errors=0),
        ],
    )
    assert state.imported == 50


def test_finished_jobs_are_counted_by_status(clock: FakeClock) -> None:
    state = _state(clock, two_job_run(failed_in_second=4)[:-1])
    assert (state.jobs_processing, state.jobs_completed, state.jobs_failed) == (0, 1, 1)


def test_run_finished_totals_override_running_counts(clock: FakeClock) -> None:
    state = _state(
        clock,
        [_started(total=100), RunFinished(imported=90, failed=4, rejected=1, pending=5)],
    )
    assert (state.imported, state.failed, state.rejected, state.pending) == (90, 4, 1, 5)
    assert state.rows_total == 100


def test_full_run_with_failures_ends_with_outcomes_adding_up(clock: FakeClock) -> None:
    state = _state(clock, two_job_run(failed_in_second=7))
    assert state.finished
    assert state.aborted is None
    assert (state.imported, state.failed, state.rejected, state.pending) == (93, 7, 5, 0)
    assert state.rows_finished == state.rows_total == 105
    assert state.fraction == 1.0


def test_aborted_run_keeps_reason_and_pending_rows(clock: FakeClock) -> None:
    state = _state(
        clock,
        [
            *two_job_run()[:8],
            RunFinished(imported=50, failed=0, rejected=5, pending=50, aborted="429 storm"),
        ],
    )
    assert state.aborted == "429 storm"
    assert state.pending == 50
    assert state.fraction == pytest.approx(55 / 105)


def test_elapsed_counts_from_run_started_and_freezes_at_run_finished(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    clock.advance(3)
    state.apply(_started())
    clock.advance(10)
    assert state.elapsed_seconds == 10
    state.apply(RunFinished(imported=100, failed=0, rejected=0, pending=0))
    clock.advance(60)
    assert state.elapsed_seconds == 10


def test_rate_is_rows_finished_per_second_without_rows_rejected_up_front(
    clock: FakeClock,
) -> None:
    state = _state(clock, [_started(total=105, rejected=5), JobCreated(0, "a", 100)])
    clock.advance(4)
    state.apply(JobFinished(0, "a", JobStatus.COMPLETED, imported=40, failed=0))
    assert state.rate == 10.0


def test_rate_is_unknown_before_time_passes(clock: FakeClock) -> None:
    state = _state(clock, [_started()])
    assert state.rate is None


def test_eta_is_pending_rows_over_rate(clock: FakeClock) -> None:
    state = _state(clock, [_started(total=100), JobCreated(0, "a", 100)])
    clock.advance(5)
    state.apply(JobPolled(0, "a", JobStatus.PROCESSING, imports=25, errors=0))
    assert state.eta_seconds == 15.0


def test_eta_is_unknown_while_nothing_has_finished(clock: FakeClock) -> None:
    state = _state(clock, [_started(total=100)])
    clock.advance(5)
    assert state.eta_seconds is None


def test_eta_is_zero_once_the_run_finished(clock: FakeClock) -> None:
    state = _state(clock, two_job_run())
    assert state.eta_seconds == 0.0


def test_retrying_is_true_only_until_the_next_event(clock: FakeClock) -> None:
    state = _state(clock, [_started(), Retrying(reason="429", attempt=1, delay=2.0)])
    assert state.retrying
    assert state.retries == 1
    state.apply(ChunkPlanned(chunk=0, rows=10))
    assert not state.retrying
    assert state.last_retry == Retrying(reason="429", attempt=1, delay=2.0)


def test_second_run_started_starts_over(clock: FakeClock) -> None:
    state = _state(clock, [*two_job_run(), _started(total=10, chunks=1)])
    assert (state.finished, state.imported, state.jobs_completed, state.rows_total) == (
        False,
        0,
        0,
        10,
    )


def test_unknown_event_is_a_type_error(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    with pytest.raises(TypeError, match="not a progress event"):
        state.apply("RunStarted")  # type: ignore[arg-type]


def test_a_run_that_ended_early_counts_its_jobs_from_the_runners_records() -> None:
    # The runner's end (its records) may be ahead of the events shown: a job created just
    # before Ctrl-C. The state then says what the runner counted, as RunInterrupted does.
    state = ProgressState()
    for event in two_job_run()[:3]:  # one job created, as far as the events go
        state.apply(event)
    assert state.jobs_running == 1
    state.apply(RunFinished(0, 0, 5, 100, aborted="interrupted", jobs_running=2))
    assert state.jobs_running == 2
    uncounted = ProgressState()
    for event in [*two_job_run()[:3], RunFinished(0, 0, 5, 100, aborted="interrupted")]:
        uncounted.apply(event)
    assert uncounted.jobs_running == 1
