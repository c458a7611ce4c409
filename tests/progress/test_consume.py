"""consume(): drives a display from an event iterator on the calling thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fs_pandas.progress import ProgressState, consume
from fs_pandas.progress.events import ProgressEvent
from tests.progress.progress_helpers import FakeClock, two_job_run


class _Recorder:
    """A display that notes every call and the rows finished it saw."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.final: ProgressState | None = None

    def start(self, state: ProgressState) -> None:
        self.calls.append(("start", state.rows_finished))

    def update(self, state: ProgressState) -> None:
        self.calls.append(("update", state.rows_finished))

    def close(self, state: ProgressState) -> None:
        self.calls.append(("close", state.rows_finished))
        self.final = state


def test_consume_starts_updates_per_event_and_closes() -> None:
    recorder = _Recorder()
    consume(two_job_run(), recorder)
    names = [name for name, _ in recorder.calls]
    assert names == ["start"] + ["update"] * len(two_job_run()) + ["close"]


def test_consume_returns_the_final_state() -> None:
    state = consume(two_job_run(failed_in_second=2), _Recorder())
    assert (state.imported, state.failed, state.rejected, state.finished) == (98, 2, 5, True)


def test_consume_folds_into_a_given_state(clock: FakeClock) -> None:
    state = ProgressState(clock=clock)
    assert consume(two_job_run(), _Recorder(), state) is state


def _failing_run(exc: BaseException) -> Iterator[ProgressEvent]:
    yield from two_job_run()[:5]
    raise exc


def test_consume_closes_as_aborted_and_reraises_when_the_run_raises() -> None:
    recorder = _Recorder()
    with pytest.raises(ConnectionError):
        consume(_failing_run(ConnectionError("refused")), recorder)
    assert recorder.calls[-1][0] == "close"
    assert recorder.final is not None
    assert recorder.final.aborted == "ConnectionError: refused"
    assert recorder.final.pending == 100


def test_consume_calls_an_interrupt_interrupted() -> None:
    recorder = _Recorder()
    with pytest.raises(KeyboardInterrupt):
        consume(_failing_run(KeyboardInterrupt()), recorder)
    assert recorder.final is not None
    assert recorder.final.aborted == "interrupted"
