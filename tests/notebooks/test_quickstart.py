"""The quickstart notebook runs top to bottom in a real kernel and shows what it promises.

nbclient executes ``notebooks/quickstart.ipynb`` once (about 10 s with kernel start-up) in a
temporary working directory; each test then checks one thing the notebook must show or leave
behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.notebooks.notebook_helpers import KERNEL_NAME, NOTEBOOK

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The uids the notebook tells the emulator to refuse, and the code it refuses them with.
REFUSED = {"cust-00042", "cust-01234"}
REFUSED_CODE = "demo_refused"


@pytest.fixture(scope="module")
def executed(jupyter_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The executed notebook and the working directory it ran in."""
    workdir = tmp_path_factory.mktemp("quickstart")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return nb, workdir


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _rich(nb: Any, mimetype: str) -> list[Any]:
    return [
        o["data"][mimetype]
        for o in _outputs(nb)
        if o["output_type"] in {"display_data", "execute_result"} and mimetype in o["data"]
    ]


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_committed_notebook_is_valid_and_every_cell_has_an_id() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)  # nbformat 4.5: ids are required, unique and well-formed
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    assert all(cell.get("id") for cell in nb.cells)


def test_no_cell_raised(executed: tuple[Any, Path]) -> None:
    nb, _ = executed
    assert not [o for o in _outputs(nb) if o["output_type"] == "error"]


def test_batch_update_shows_the_progress_widget(executed: tuple[Any, Path]) -> None:
    nb, _ = executed
    assert _rich(nb, WIDGET_VIEW)


def test_result_renders_the_html_summary(executed: tuple[Any, Path]) -> None:
    nb, _ = executed
    assert any("fs-pandas-result" in html for html in _rich(nb, "text/html"))


def test_errors_parquet_holds_exactly_the_rows_fullstory_refused(
    executed: tuple[Any, Path],
) -> None:
    _, workdir = executed
    errors = pd.read_parquet(workdir / "errors.parquet")
    assert set(errors["user_id"]) == REFUSED
    assert len(errors) == len(REFUSED)
    assert set(errors["fs_error_code"]) == {REFUSED_CODE}


def test_retry_imports_the_failed_rows(executed: tuple[Any, Path]) -> None:
    nb, _ = executed
    retry = next(c for c in nb.cells if c.get("id") == "step6b")
    summaries = [o["data"]["text/plain"] for o in retry.outputs if "data" in o]
    assert any("2 rows: 2 imported, 0 failed" in text for text in summaries)


def _views(cell: Any) -> list[str]:
    return [
        o["data"][WIDGET_VIEW]["model_id"] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})
    ]


def test_the_background_run_shows_one_bar_and_wait_shows_the_same_bar_again(
    executed: tuple[Any, Path],
) -> None:
    nb, _ = executed
    cells = {c.get("id"): c for c in nb.cells}
    started, waited = _views(cells["step8a"]), _views(cells["step8c"])
    assert len(started) == 1
    assert waited == started
    status = "".join(o["data"]["text/plain"] for o in cells["step8b"].outputs if "data" in o)
    assert status.startswith("users import")  # the bar's text, not an object's repr
    counts = "".join(o["data"]["text/plain"] for o in cells["step8c"].outputs if "data" in o)
    assert "'imported': 1997" in counts and "'rejected': 3" in counts
