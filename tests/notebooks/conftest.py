"""Fixtures for the notebook tests: an isolated Jupyter environment whose ``python3`` kernel is
this interpreter.

A ``python3`` kernelspec in the user's own Jupyter data dir would otherwise win over the venv's
and run the notebook in some other Python, without fs_pandas; and a kernel's connection files
must not land in the user's runtime dir.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
KERNEL_NAME = "python3"  # the name the quickstart's metadata asks for


def write_kernelspec(data_dir: Path) -> None:
    """Write a ``python3`` kernelspec running ``sys.executable`` under ``data_dir``."""
    spec_dir = data_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (fs_pandas tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


@pytest.fixture(scope="module")
def jupyter_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point every Jupyter/IPython directory at a fresh temp dir for the module's tests."""
    home = tmp_path_factory.mktemp("jupyter")
    write_kernelspec(home / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_CONFIG_DIR", str(home / "config"))
        patch.setenv("JUPYTER_DATA_DIR", str(home / "data"))
        patch.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        patch.setenv("IPYTHONDIR", str(home / "ipython"))
        patch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning from jupyter_core
        yield home
