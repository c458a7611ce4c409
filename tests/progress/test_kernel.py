"""Inside a real IPython kernel, ``progress=True`` shows the widget (run through nbclient)."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

_CELL = """
from fs_pandas.progress.events import RunStarted, JobCreated, JobFinished, RunFinished
from fs_pandas.models import JobStatus
from fs_pandas.progress import choose_display, consume, in_kernel
display = choose_display(True)
state = consume(
    [
        RunStarted("users", 10, 0, 1, None),
        JobCreated(0, "job-a", 10),
        JobFinished(0, "job-a", JobStatus.COMPLETED, 10, 0),
        RunFinished(imported=10, failed=0, rejected=0, pending=0),
    ],
    display,
)
bar = display.current.bar
print(in_kernel(), type(display.current).__name__, bar.value, bar.max, bar.bar_style)
"""


@pytest.fixture(scope="module")
def outputs() -> list[dict[str, object]]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(_CELL)]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    return list(nb.cells[0].outputs)


def test_auto_progress_in_a_kernel_is_the_widget(outputs: list[dict[str, object]]) -> None:
    text = "".join(str(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")
    assert "True WidgetDisplay 10 10 success" in text


def test_widget_is_displayed_as_a_widget_view(outputs: list[dict[str, object]]) -> None:
    views = [
        o
        for o in outputs
        if o.get("output_type") == "display_data"
        and "application/vnd.jupyter.widget-view+json" in o.get("data", {})  # type: ignore[operator]
    ]
    assert len(views) == 1
