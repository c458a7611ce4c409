"""Helpers for tests of errors: everything an error shows, along its whole chain."""

from __future__ import annotations

from collections.abc import Iterator


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it chains to (cause, context, a retry's last error)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "last_error", None)]


def shown(error: BaseException) -> str:
    """Everything an error shows: text, repr, args, attributes, and those of its chain."""
    parts = []
    for e in error_chain(error):
        parts += [str(e), repr(e), repr(e.args), repr(vars(e))]
    return "\n".join(parts)
