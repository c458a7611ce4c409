"""Shared helpers for the payload tests: parse bodies strictly, like a JSON-only server."""

from __future__ import annotations

import json
from typing import Any

from fs_pandas.payloads import Plan


def _no_constants(name: str) -> Any:
    raise AssertionError(f"body contains the non-JSON constant {name}")


def parse(body: bytes) -> dict[str, Any]:
    """Parse with the standard library, refusing NaN/Infinity (invalid JSON)."""
    parsed: dict[str, Any] = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    return parsed


def requests_of(plan: Plan, size: int = 50_000) -> list[dict[str, Any]]:
    """Every request object of every chunk, in chunk order."""
    out: list[dict[str, Any]] = []
    for chunk in plan.chunks(size):
        out.extend(parse(chunk.body)["requests"])
    return out


def only(plan: Plan) -> dict[str, Any]:
    """The single request of a one-accepted-row plan."""
    reqs = requests_of(plan)
    assert len(reqs) == 1, reqs
    return reqs[0]
