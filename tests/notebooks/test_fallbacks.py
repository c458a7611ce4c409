"""Inside a real kernel, the progress display falls back as docs/progress.md promises.

``tests/progress`` covers the choice in a plain process (no kernel -> text) and the widget in a
kernel; these run real ``batch_update`` calls in a real IPython kernel (nbclient) against the
session's emulator and check what reaches the notebook: no widget view and no text for
``progress=False``; text on stderr, never a widget view, for ``progress="text"`` and when
ipywidgets cannot be imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fs_pandas.emulator import Emulator
from tests.notebooks.notebook_helpers import KERNEL_NAME

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FINAL_LINE = "users import finished — 20 / 20 rows (100%)"

_SETUP = """
import sys, tempfile
import pandas as pd
import fs_pandas
client = fs_pandas.Client(api_key={key!r}, base_url={url!r})
runs_dir = tempfile.mkdtemp()
def send(frame_id, **options):
    frame = pd.DataFrame({{"user_id": [f"{{frame_id}}-{{i}}" for i in range(20)], "n": range(20)}})
    result = frame.fullstory.batch_update(
        uid_col="user_id", client=client, poll_interval=0.01, ledger_dir=runs_dir, **options
    )
    print("imported", result.counts["imported"])
"""
# One cell per case; the last one hides ipywidgets, so it runs after the others.
_CASES = {
    "none": 'send("none", progress=False)',
    "text": 'send("text", progress="text")',
    "auto_without_ipywidgets": 'sys.modules["ipywidgets"] = None\nsend("auto", progress=True)',
    "widget_without_ipywidgets": 'send("widget", progress="widget")',
}


@pytest.fixture(scope="module")
def outputs(jupyter_home: Path, emulator: Emulator) -> dict[str, list[dict[str, Any]]]:
    """Each case's cell outputs, from one kernel."""
    emulator.reset()
    nb = nbformat.v4.new_notebook()
    setup = _SETUP.format(key=emulator.api_key, url=emulator.url)
    nb.cells = [nbformat.v4.new_code_cell(setup, id="setup")] + [
        nbformat.v4.new_code_cell(source, id=name.replace("_", "-"))
        for name, source in _CASES.items()
    ]
    nbclient.NotebookClient(nb, timeout=60, kernel_name=KERNEL_NAME).execute()
    return {name: list(cell.outputs) for name, cell in zip(_CASES, nb.cells[1:], strict=True)}


def _stream(outputs: list[dict[str, Any]], name: str) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == name)


def _widget_views(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if WIDGET_VIEW in o.get("data", {})]


def test_progress_false_shows_nothing_in_a_kernel(
    outputs: dict[str, list[dict[str, Any]]],
) -> None:
    cell = outputs["none"]
    assert _stream(cell, "stdout") == "imported 20\n"  # the run happened...
    assert not _widget_views(cell)  # ...and drew nothing
    assert _stream(cell, "stderr") == ""


def test_progress_text_in_a_kernel_writes_text_and_no_widget(
    outputs: dict[str, list[dict[str, Any]]],
) -> None:
    cell = outputs["text"]
    assert not _widget_views(cell)
    assert FINAL_LINE in _stream(cell, "stderr")


def test_auto_in_a_kernel_without_ipywidgets_falls_back_to_text(
    outputs: dict[str, list[dict[str, Any]]],
) -> None:
    cell = outputs["auto_without_ipywidgets"]
    assert not _widget_views(cell)
    assert FINAL_LINE in _stream(cell, "stderr")
    assert _stream(cell, "stdout") == "imported 20\n"


def test_widget_asked_for_without_ipywidgets_warns_and_shows_text(
    outputs: dict[str, list[dict[str, Any]]],
) -> None:
    cell = outputs["widget_without_ipywidgets"]
    stderr = _stream(cell, "stderr")
    assert not _widget_views(cell)
    assert "ipywidgets is not installed; showing text" in stderr
    assert FINAL_LINE in stderr
