"""Shared by the notebook tests: where the quickstart is, and a kernelspec for this interpreter.

A ``python3`` kernelspec in the user's own Jupyter data dir would otherwise win over the venv's
and run the notebook in some other Python, one without fs_pandas.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
KERNEL_NAME = "python3"  # the name the quickstart's metadata asks for


def write_kernelspec(data_dir: Path) -> None:
    """Write a ``python3`` kernelspec that runs ``sys.executable`` under ``data_dir``."""
    spec_dir = data_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (fs_pandas tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
