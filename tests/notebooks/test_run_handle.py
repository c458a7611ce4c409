"""In a real kernel, a ``wait=False`` handle shows the run's widget and ``wait()`` animates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fs_pandas.emulator import Emulator
from tests.notebooks.notebook_helpers import KERNEL_NAME

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

_SETUP = """
import tempfile
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
_WAIT = """
result = handle.wait()
print("imported", result.counts["imported"])
"""


@pytest.fixture(scope="module")
def outputs(jupyter_home: Path, emulator: Emulator) -> list[list[dict[str, Any]]]:
    emulator.reset()
    emulator.configure(processing_polls=3)
    nb = nbformat.v4.new_notebook()
    sources = [_SETUP.format(key=emulator.api_key, url=emulator.url), _START, _WAIT]
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    nbclient.NotebookClient(nb, timeout=60, kernel_name=KERNEL_NAME).execute()
    return [list(cell.outputs) for cell in nb.cells]


def views(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if WIDGET_VIEW in o.get("data", {})]


def test_displaying_the_handle_shows_the_progress_widget(
    outputs: list[list[dict[str, Any]]],
) -> None:
    assert len(views(outputs[1])) == 1


def test_wait_animates_the_shown_widget_instead_of_drawing_another(
    outputs: list[list[dict[str, Any]]],
) -> None:
    assert views(outputs[2]) == []
    text = "".join(o.get("text", "") for o in outputs[2] if o["output_type"] == "stream")
    assert "imported 30" in text
