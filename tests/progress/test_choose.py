"""choose_display picks widget, text or nothing, and a failing widget falls back to text."""

from __future__ import annotations

import io
import logging

import pytest

from fs_pandas.progress import (
    Display,
    FallbackDisplay,
    NoDisplay,
    ProgressState,
    TextDisplay,
    WidgetDisplay,
    choose_display,
    in_kernel,
)
from tests.progress.progress_helpers import FakeClock, two_job_run


def _started_state() -> ProgressState:
    state = ProgressState()
    state.apply(two_job_run()[0])
    return state


def test_plain_process_is_not_a_kernel() -> None:
    assert not in_kernel()


@pytest.mark.parametrize("progress", [True, "auto"])
def test_auto_in_a_plain_process_is_text(progress: bool | str) -> None:
    assert isinstance(choose_display(progress), TextDisplay)  # type: ignore[arg-type]


@pytest.mark.parametrize("progress", [False, "none", None])
def test_false_or_none_is_the_no_op_display(progress: bool | str | None) -> None:
    assert isinstance(choose_display(progress), NoDisplay)  # type: ignore[arg-type]


def test_text_writes_to_the_given_stream() -> None:
    stream = io.StringIO()
    display = choose_display("text", stream=stream)
    display.start(_started_state())
    assert "users import: 5 / 105 rows" in stream.getvalue()


def test_widget_is_wrapped_in_a_text_fallback() -> None:
    display = choose_display("widget")
    assert isinstance(display, FallbackDisplay)
    assert isinstance(display.current, WidgetDisplay)


def test_mode_names_are_case_insensitive() -> None:
    assert isinstance(choose_display("TEXT"), TextDisplay)  # type: ignore[arg-type]


def test_unknown_mode_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="progress must be"):
        choose_display("bar")  # type: ignore[arg-type]


def test_every_display_satisfies_the_protocol() -> None:
    for display in (NoDisplay(), TextDisplay(), WidgetDisplay(), choose_display("widget")):
        assert isinstance(display, Display)


class _BrokenWidget(WidgetDisplay):
    """A widget whose front-end traffic fails, as after an incompatible ipywidgets upgrade."""

    def __init__(self, fail_in: str) -> None:
        super().__init__(show=lambda _: None, interval=0.0)
        self.fail_in = fail_in

    def start(self, state: ProgressState) -> None:
        if self.fail_in == "start":
            raise RuntimeError("widget broke")
        super().start(state)

    def update(self, state: ProgressState) -> None:
        if self.fail_in == "update":
            raise RuntimeError("widget broke")
        super().update(state)


@pytest.mark.parametrize("fail_in", ["start", "update"])
def test_widget_that_raises_falls_back_to_text_and_logs(
    fail_in: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    display = FallbackDisplay(
        _BrokenWidget(fail_in), lambda: TextDisplay(stream=stream, tty=False, clock=clock)
    )
    state = ProgressState(clock=clock)
    with caplog.at_level(logging.WARNING):
        display.start(state)
        for event in two_job_run():
            state.apply(event)
            display.update(state)
        display.close(state)
    assert isinstance(display.current, TextDisplay)
    assert "falling back to text" in caplog.text
    assert "105 / 105 rows" in stream.getvalue().splitlines()[-1]


def test_choose_display_widget_falls_back_when_the_widget_start_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_start(self: WidgetDisplay, state: ProgressState) -> None:
        raise RuntimeError("no comm")

    monkeypatch.setattr(WidgetDisplay, "start", broken_start)
    stream = io.StringIO()
    display = choose_display("widget", stream=stream)
    display.start(_started_state())
    assert isinstance(display, FallbackDisplay)
    assert isinstance(display.current, TextDisplay)
    assert "users import: 5 / 105 rows" in stream.getvalue()


def test_fallback_that_also_raises_propagates(clock: FakeClock) -> None:
    display = FallbackDisplay(_BrokenWidget("start"), lambda: _BrokenWidget("start"))
    with pytest.raises(RuntimeError, match="widget broke"):
        display.start(ProgressState(clock=clock))
