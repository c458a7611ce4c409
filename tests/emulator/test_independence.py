"""The emulator is the independent oracle: it imports nothing from the client side."""

from __future__ import annotations

import ast
from pathlib import Path

import fs_pandas.emulator

EMULATOR = Path(fs_pandas.emulator.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_emulator_module_imports_the_client_side_of_fs_pandas() -> None:
    for path in EMULATOR.glob("*.py"):
        client_side = {
            name
            for name in imported_modules(path)
            if name.startswith("fs_pandas") and not name.startswith("fs_pandas.emulator")
        }
        assert not client_side, f"{path.name} imports {sorted(client_side)}"
