"""In a real kernel, a ``wait=False`` run shows its bar in the cell that started it and keeps it
moving there from its own thread; a later cell that shows the handle or waits gets a view of the
same bar under it; ``status()`` reads like the bar's text.

The notebook never calls ``wait()`` before the run has finished: it only polls ``done()``, so
the bar's final state (kept by nbclient as the notebook's widget state) can only have been drawn
by the run's own thread.
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
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

_SETUP = """
import tempfile, time
import pandas as pd
import fs_pandas
client = fs_pandas.Client(api_key={key!r}, base_url={url!r})
frame = pd.DataFrame({{"user_id": [f"h-{{i}}" for i in range(30)], "n": range(30)}})
"""
_START = """
handle = frame.fullstory.batch_update(
    uid_col="user_id", client=client, wait=False, chunk_size=10, poll_interval=0.01,
    ledger_dir=tempfile.mkdtemp(),
)
handle
"""
_MEANWHILE = """
print("status:", repr(handle.status()))
deadline = time.monotonic() + 30
while not handle.done() and time.monotonic() < deadline:
    time.sleep(0.05)
print("done:", handle.done())
"""
_SHOW = "handle"
_WAIT = """
result = handle.wait()
print("imported", result.counts["imported"])
"""


@pytest.fixture(scope="module")
def notebook(jupyter_home: Path, emulator: Emulator) -> Any:
    emulator.reset()
    emulator.configure(processing_polls=3)
    nb = nbformat.v4.new_notebook()
    sources = [_SETUP.format(key=emulator.api_key, url=emulator.url), _START, _MEANWHILE]
    sources += [_SHOW, _WAIT]
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    nbclient.NotebookClient(nb, timeout=60, kernel_name=KERNEL_NAME).execute()
    return nb


def views(nb: Any, cell: int) -> list[str]:
    """The model ids of the widget views a cell's outputs show."""
    outputs = nb.cells[cell].outputs
    return [o["data"][WIDGET_VIEW]["model_id"] for o in outputs if WIDGET_VIEW in o.get("data", {})]


def text(nb: Any, cell: int) -> str:
    return "".join(
        o.get("text", "") for o in nb.cells[cell].outputs if o["output_type"] == "stream"
    )


def widget_states(nb: Any) -> dict[str, dict[str, Any]]:
    saved = nb.metadata["widgets"][WIDGET_STATE]["state"]
    return {model_id: entry["state"] for model_id, entry in saved.items()}


def test_the_starting_cell_shows_one_bar_and_showing_the_handle_there_adds_none(
    notebook: Any,
) -> None:
    assert len(views(notebook, 1)) == 1


def test_the_bar_in_the_starting_cell_reaches_the_end_while_no_cell_waits(notebook: Any) -> None:
    assert "done: True" in text(notebook, 2)
    states = widget_states(notebook)
    (box,) = views(notebook, 1)
    bar_ref, label_ref = states[box]["children"]
    bar = states[bar_ref.removeprefix("IPY_MODEL_")]
    label = states[label_ref.removeprefix("IPY_MODEL_")]
    assert (bar["value"], bar["max"], bar["bar_style"]) == (30, 30, "success")
    assert "finished" in label["value"] and "imported 30" in label["value"]


def test_status_reads_like_the_bar(notebook: Any) -> None:
    line = text(notebook, 2).splitlines()[0]
    assert line.startswith("status: ")
    assert "rows" in line and "<" not in line  # the bar's text, not a bare object repr


def test_a_later_cell_shows_a_view_of_the_same_bar(notebook: Any) -> None:
    assert views(notebook, 3) == views(notebook, 1)


def test_wait_in_a_later_cell_draws_the_same_bar_under_it(notebook: Any) -> None:
    assert views(notebook, 4) == views(notebook, 1)
    assert "imported 30" in text(notebook, 4)
