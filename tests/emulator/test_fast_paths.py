"""The fast paths decide exactly as the full checks and walks they skip."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fs_pandas.emulator.properties import _strip_nulls, without_nulls
from fs_pandas.emulator.replies import RowError
from fs_pandas.emulator.rules import (
    MAX_VALUE_BYTES,
    _flatten_schema,
    _list_surely_fits,
    check_event_row,
    flatten_schema,
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


def _random_props(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    values: list[Any] = [None, "null", "x", 0, 1.5, True, False, [], [None], ["a", None]]
    out: dict[str, Any] = {}
    for i in range(rng.randrange(0, 6)):
        if depth < 2 and rng.random() < 0.2:
            out[f"k{i}"] = _random_props(rng, depth + 1)
        else:
            out[f"k{i}"] = rng.choice(values)
    return out


def test_nulls_are_dropped_as_the_full_walk_drops_them() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        props = _random_props(rng)
        assert without_nulls(props) == _strip_nulls(props)


def test_a_schema_seen_before_flattens_as_it_did_the_first_time() -> None:
    rng = random.Random(5)
    types = ["str", "int", "real", "bool", "date", "strs"]
    seen: list[dict[str, Any]] = []
    for _ in range(2000):
        if seen and rng.random() < 0.5:  # an equal schema, a new dict, keys maybe reordered
            items = list(rng.choice(seen).items())
            rng.shuffle(items)
            schema = dict(items)
        else:
            schema = {f"p{i}": rng.choice(types) for i in range(rng.randrange(0, 4))}
            if rng.random() < 0.3:
                schema["nested"] = {"a": rng.choice(types)}
            seen.append(schema)
        assert flatten_schema(schema) == _flatten_schema(schema, "")


def test_a_bad_schema_is_refused_even_after_a_good_one_like_it() -> None:
    assert flatten_schema({"a": "int"}) == {"a": "int"}
    with pytest.raises(RowError):
        flatten_schema({"a": 1})  # equal to nothing kept: leaves kept are type names
    with pytest.raises(RowError):
        flatten_schema({"a": "int", "b": "nope"})
