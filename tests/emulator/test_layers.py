"""The emulator's modules depend on each other one way only (docs/dev/emulator.md, "Layout"):
no import cycle, so each module can be read knowing only the ones it imports."""

from __future__ import annotations

import ast
from pathlib import Path

import fs_pandas.emulator
from tests.import_graph import assert_no_cycle

EMULATOR = Path(fs_pandas.emulator.__file__).parent
PREFIX = "fs_pandas.emulator."


def emulator_imports(path: Path) -> set[str]:
    """The sibling modules ``path`` imports (by short name, e.g. ``"rules"``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            names.add(node.module.removeprefix(PREFIX))
        elif isinstance(node, ast.Import):
            ours = (a.name for a in node.names if a.name.startswith(PREFIX))
            names.update(name.removeprefix(PREFIX) for name in ours)
    return names


def graph() -> dict[str, set[str]]:
    # The package's __init__ re-exports the public names, so it sits above everything.
    return {p.stem: emulator_imports(p) for p in EMULATOR.glob("*.py") if p.stem != "__init__"}


def test_every_import_names_an_existing_module() -> None:
    modules = graph()
    for name, deps in modules.items():
        assert deps <= set(modules), f"{name} imports {sorted(deps - set(modules))}"


def test_there_is_no_import_cycle() -> None:
    assert_no_cycle(graph())


def test_the_rules_and_records_know_nothing_of_the_org_or_http() -> None:
    modules = graph()
    upper = {"state", "app", "server", "cli", "__main__", "store", "scheduling"}
    for name in ("replies", "config", "rules", "properties", "paging", "idempotency", "models"):
        assert not modules[name] & upper, f"{name} imports {sorted(modules[name] & upper)}"
