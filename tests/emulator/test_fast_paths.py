"""The validation fast paths decide exactly as the full checks they skip."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fs_pandas.emulator.replies import RowError
from fs_pandas.emulator.rules import (
    MAX_VALUE_BYTES,
    _list_surely_fits,
    check_event_row,
    value_bytes,
)


@pytest.mark.parametrize(
    "items",
    [
        ["x" * 2048],  # 8,192 bytes at most
        ["\U0001f600" * 2048],  # 4 bytes a character: exactly 8,192
        [-2.2250738585072014e-308] * 341,  # the longest float, 24 bytes each: 8,184
        [-(2**63)] * 341,
        [2**64 - 1, True, None, 1.5],
        [],
    ],
)
def test_a_list_said_to_fit_does_fit(items: list[Any]) -> None:
    assert _list_surely_fits(items)
    assert value_bytes(items) <= MAX_VALUE_BYTES


@pytest.mark.parametrize(
    "items",
    [
        ["x" * 2049],  # cannot tell without encoding: measured
        [{"a": 1}],  # arrays of objects: the full check refuses them
        [["a"]],
        [2**64],  # beyond 64 bits
        [1.0] * 342,
    ],
)
def test_a_list_the_bound_cannot_clear_is_measured(items: list[Any]) -> None:
    assert not _list_surely_fits(items)


def test_the_bound_never_passes_an_oversize_list() -> None:
    rng = random.Random(7)
    pool: list[Any] = ["x" * 700, "\u00e9" * 400, "\U0001f600" * 300, 1.5, -(2**63), True, None]
    for _ in range(2000):
        items = [rng.choice(pool) for _ in range(rng.randrange(0, 40))]
        if _list_surely_fits(items):
            assert value_bytes(items) <= MAX_VALUE_BYTES


def _fails(user: Any) -> bool:
    try:
        check_event_row({"name": "A", "user": user}, shared_context=False, good_names=set())
    except RowError:
        return True
    return False


@pytest.mark.parametrize(
    ("user", "fails"),
    [
        ({"uid": "u"}, False),
        ({"uid": "x" * 256}, False),
        ({"uid": "x" * 257}, True),
        ({"uid": ""}, True),
        ({"uid": 1}, True),
        ({"uid": None}, True),
        ({"id": "123"}, False),
        ({"id": ""}, True),
        ({"id": 123}, True),
        ({"name": "u"}, True),
        ({"uid": "u", "id": "1"}, True),
        ({}, True),
    ],
)
def test_event_user_refs_pass_or_fail_as_the_contract_says(user: Any, fails: bool) -> None:
    assert _fails(user) is fails
