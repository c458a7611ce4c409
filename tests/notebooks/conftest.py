"""Fixtures for the notebook tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notebooks.notebook_helpers import write_kernelspec


@pytest.fixture(scope="module")
def jupyter_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point every Jupyter/IPython directory at a fresh temp dir, with a ``python3`` kernel
    that is this interpreter; kernel connection files stay out of the user's runtime dir."""
    home = tmp_path_factory.mktemp("jupyter")
    write_kernelspec(home / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_CONFIG_DIR", str(home / "config"))
        patch.setenv("JUPYTER_DATA_DIR", str(home / "data"))
        patch.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        patch.setenv("IPYTHONDIR", str(home / "ipython"))
        patch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning from jupyter_core
        yield home
