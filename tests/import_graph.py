"""Shared by the layer tests: finding an import cycle in a module graph."""

from __future__ import annotations

from collections.abc import Mapping, Set


def assert_no_cycle(modules: Mapping[str, Set[str]]) -> None:
    """Fail naming the first import cycle found (``a -> b -> a``) in ``modules``."""
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dep in sorted(modules.get(name, ())):
            visit(dep, (*path, name))
        done.add(name)

    for name in sorted(modules):
        visit(name, ())
