"""fs_pandas's modules depend on each other one way (docs/dev/design.md): no import cycle, and no
module imports one from a layer above its own. The emulator imports nothing of the client side
(tests/emulator/test_independence.py); its own layers: tests/emulator."""

from __future__ import annotations

import ast
from pathlib import Path

import fs_pandas
from tests.import_graph import assert_no_cycle

PACKAGE = Path(fs_pandas.__file__).parent

# Lowest first; a module may import its own layer's modules and any below. The package
# __init__ files only re-export, so they are read as the modules they name.
LAYERS: list[set[str]] = [
    {"_types", "_version", "errors"},
    {"models", "retry", "options"},
    {"specs", "client"},
    {"payloads", "progress", "report"},
    {"run"},
    {"accessor", "demo", "cli", "__main__"},
]


def area(module: str) -> str:
    """The layer name of ``fs_pandas.x.y`` (``x``), or ``""`` for the package itself."""
    return module.removeprefix("fs_pandas").lstrip(".").partition(".")[0]


def layer(module: str) -> int:
    name = area(module)
    return next(i for i, names in enumerate(LAYERS) if name in names)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The fs_pandas modules ``path`` imports anywhere (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "fs_pandas":  # from fs_pandas import payloads
                found.update(f"fs_pandas.{a.name}" for a in node.names)
            elif node.module.startswith("fs_pandas."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fs_pandas."))
    return found


def client_side() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name != "fs_pandas" and area(name) != "emulator":
            modules[name] = {m for m in imports(path) if area(m) != "emulator"}
    return modules


def test_every_module_has_a_layer() -> None:
    for name in client_side():
        assert any(area(name) in names for names in LAYERS), f"{name} has no layer"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    for name, deps in client_side().items():
        for dep in deps:
            assert layer(dep) <= layer(name), f"{name} imports {dep}, a layer above it"


def test_there_is_no_import_cycle() -> None:
    assert_no_cycle(client_side())
