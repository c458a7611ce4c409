"""The code a newcomer copies from the docs runs as written (the pages listed here; the others
show fragments of a session, `df` standing for the reader's own frame)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUNNABLE = ["getting-started.md"]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", RUNNABLE)
def test_every_python_example_of_the_page_runs(page: str, tmp_path: Path) -> None:
    blocks = python_blocks(DOCS / page)
    assert blocks, f"{page} has no python example"
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env={"FS_PANDAS_HOME": str(tmp_path), "PATH": ""},
            check=False,
        )
        assert done.returncode == 0, f"{page}:\n{block}\n{done.stderr}"


def test_the_first_run_prints_every_rows_outcome(tmp_path: Path) -> None:
    (block,) = python_blocks(DOCS / "getting-started.md")
    done = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=120,
        cwd=tmp_path, env={"FS_PANDAS_HOME": str(tmp_path), "PATH": ""}, check=True,
    )  # fmt: skip
    assert "{'imported': 3, 'failed': 0, 'rejected': 0, 'pending': 0}" in done.stdout
