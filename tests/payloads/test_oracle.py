"""Differential tests: ``plan_users`` / ``plan_events`` against the reference encoder.

Frames come the way analysts get them (``strategies.py``: many dtype families; built
directly, concatenated, through parquet and CSV files, sliced, re-indexed). For each, the
plan must agree with the plain per-row reference (``reference.py``):

* the same rejected positions, with the same rule;
* the same accepted positions, in source order, and ``chunk.positions`` mapping each request
  back to its source row;
* per request, the same JSON value (types included: ``1`` is not ``1.0``, ``true`` is not
  ``1``);
* bodies byte-identical for one and two threads, and the same request texts whatever the
  chunk size (1, 3, 7);
* bodies byte-identical to the reference's ``orjson`` bytes, whose key order is: top-level
  fields (users: ``uid``; events: ``name``, ``timestamp``, ``user``), then ``properties``
  in the order of the property columns (a nested object where its first column is), then
  ``schema`` (declarations in the same order); floats without ``+`` in the exponent.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from fs_pandas.errors import InvalidDataError
from fs_pandas.payloads import Plan, plan_events, plan_users
from tests.payloads.payload_helpers import parse
from tests.payloads.reference import (
    Reference,
    RefusedError,
    column_kind,
    reference_events,
    reference_users,
    typed,
)
from tests.payloads.strategies import (
    CSV_ORIGINS,
    FAMILIES,
    HAS_STRING_VIEW,
    NAIVE_TZ,
    NAME_FAMILY,
    ORIGINS,
    PANDAS_3,
    TIMESTAMP_FAMILIES,
    UID_FAMILIES,
    Family,
    Recipe,
    arrow_backed,
    arrow_chunks,
    build,
    frames,
    read_parquet,
    realise,
    show,
    write_parquet,
)

OPEN, CLOSE = b'{"requests":[', b"]}"
# FS_PANDAS_ORACLE_SCALE=20 runs 20 times the examples (a deeper search than CI's).
SCALE = int(os.environ.get("FS_PANDAS_ORACLE_SCALE", "1"))
SIZES = (1, 3, 7)
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def tell(what: str) -> None:
    """A statistic of the generated examples (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(what)


def describe(df: pd.DataFrame) -> str:
    chunks = {c: arrow_chunks(df[c]) for c in df}
    return f"{show(df)}\n{df.dtypes.to_dict()}\nchunks={chunks}"


def check_against_reference(
    df: pd.DataFrame,
    planner: Callable[..., Plan],
    referee: Callable[..., Reference],
    options: dict[str, Any],
    explain: Callable[[str], None] = note,
) -> None:
    """Everything listed in the module docstring, for one frame and one set of options
    (``explain``: where the frame and options are told, shown when the test fails)."""
    explain(describe(df))
    explain(f"options={options}")
    try:
        expected = referee(df, **options)
    except RefusedError as why:
        with pytest.raises(InvalidDataError):
            planner(df, **options)
        explain(f"refused: {why}")
        tell("refused by both")
        return
    plan = planner(df, **options)
    tell(f"rows: {len(df)}, rejected: {min(len(expected.rejected), 2)}+")
    got = dict(zip(plan.rejected["position"].tolist(), plan.rejected["rule"], strict=True))
    assert got == expected.rejected, "rejected positions/rules differ"
    assert plan.accepted_positions.tolist() == expected.positions

    bodies: dict[tuple[int, int], list[bytes]] = {}
    for threads in (1, 2):
        for size in SIZES:
            chunks = list(plan.chunks(size, threads=threads))
            positions = [p for c in chunks for p in c.positions.tolist()]
            assert positions == expected.positions, (threads, size)
            assert [c.number for c in chunks] == list(range(len(chunks)))
            assert all(0 < len(c) <= size for c in chunks)
            if threads == 1 and size == SIZES[-1]:
                for chunk in chunks:
                    requests = parse(chunk.body)["requests"]
                    assert len(requests) == len(chunk)
                    for position, request in zip(chunk.positions.tolist(), requests, strict=True):
                        want = expected.request_at(position)
                        assert typed(request) == typed(want), f"the request of row {position}"
            bodies[threads, size] = [c.body for c in chunks]

    for size in SIZES:
        assert bodies[1, size] == bodies[2, size], f"threads change the bodies (size {size})"
    singles = [body[len(OPEN) : -len(CLOSE)] for body in bodies[1, 1]]
    for size in SIZES[1:]:
        rebuilt = [
            OPEN + b",".join(singles[i : i + size]) + CLOSE for i in range(0, len(singles), size)
        ]
        assert bodies[1, size] == rebuilt, f"chunk size {size} changes the request texts"
    for chunk in plan.chunks(SIZES[-1], threads=1):
        assert chunk.body == expected.body(chunk.positions.tolist())
    check_rebuilt_requests(plan, [parse(body) for body in bodies[1, 1]])


def check_rebuilt_requests(plan: Plan, sent: list[dict[str, Any]]) -> None:
    """What a run joins against -- requests built again for any rows, and users' uids and
    ids -- is what the chunks sent (a run keeps no body once its job is created)."""
    singles = [s["requests"][0] for s in sent]
    by_position = dict(zip(plan.accepted_positions.tolist(), singles, strict=True))
    for at in (plan.accepted_positions, plan.accepted_positions[::-2]):
        want = [by_position[p] for p in at.tolist()]
        assert plan.requests_at(at) == want, "requests_at differs from the bodies sent"
        if plan.kind == "users":
            uids = [r.get("uid") for r in want]
            got = tuple(a.to_pylist() for a in plan.identities(at))
            assert got == (uids, [r.get("id") for r in want])


# ---------------------------------------------------------------------------------------------
# Options, drawn for the frame as it ends up (CSV and parquet change dtypes)
# ---------------------------------------------------------------------------------------------


def _kind(s: pd.Series) -> str:
    try:
        return column_kind(s)
    except RefusedError:
        return "refused"


def _overrides(df: pd.DataFrame, names: dict[Any, str], draw: st.DrawFn) -> dict[str, str]:
    """Schema overrides that suit each column's values as they are now."""
    out = {}
    for column, name in names.items():
        kind = _kind(df[column])
        choices = {
            "str": ["str", "date"],
            "int": ["int", "real"],
            "real": ["real"],
            "bool": ["bool"],
            "date": ["date"],
        }.get(kind, [])
        if kind == "real":
            values = df[column].dropna().tolist()
            if all(math.isfinite(v) and v == int(v) for v in values):
                choices = ["real", "int"]  # whole floats, as ints with missing values become
        if choices and draw(st.booleans()):
            out[name] = draw(st.sampled_from(choices))
    return out


def _text_dates(df: pd.DataFrame, recipe: Recipe, names: dict[Any, str]) -> dict[str, str]:
    """ISO text columns (and text that was a date before CSV) are declared ``date``."""
    out = {}
    for column, name in names.items():
        family = FAMILIES.get(recipe.families.get(column, ""))
        dates = family is not None and family.kind in ("date_text", "date")
        if dates and _kind(df[column]) in ("str", "date"):
            out[name] = "date"
    return out


def draw_options(
    draw: st.DrawFn, df: pd.DataFrame, recipe: Recipe, used: list[str]
) -> dict[str, Any]:
    candidates = [c for c in df.columns if c not in used]
    how = draw(st.sampled_from(["all", "list", "mapping"]))
    names: dict[Any, str]
    if how == "all":
        properties = None
        names = {c: c for c in candidates}
    else:
        chosen = draw(st.permutations(candidates))
        chosen = chosen[: draw(st.integers(0, len(chosen)))]
        if how == "list":
            properties = list(chosen)
            names = {c: c for c in chosen}
        else:
            names = {c: draw(st.sampled_from([f"r{i}", f"h.r{i}"])) for i, c in enumerate(chosen)}
            properties = dict(names)
    schema_how = draw(st.sampled_from(["infer", "infer", "none", "mapping", "dates"]))
    schema: Any = {"infer": "infer", "none": None}.get(schema_how)
    if schema_how == "mapping":
        schema = {**_text_dates(df, recipe, names), **_overrides(df, names, draw)}
    elif schema_how == "dates":
        schema = _text_dates(df, recipe, names)
    return {
        "properties": properties,
        "schema": schema,
        "nulls": draw(st.sampled_from(["omit", "null"])),
        "naive_tz": draw(st.sampled_from(NAIVE_TZ)),
    }


USER_SPECIALS = {"uid": list(UID_FAMILIES.values())}


def user_frames(origins: list[str]) -> st.SearchStrategy[Recipe]:
    return frames(specials=USER_SPECIALS, origins=origins)


ORIGIN_GROUPS = {
    "direct_and_slices": ["direct"],
    "concat": ["concat"],
    "parquet": [o for o in ORIGINS if o.startswith("parquet")],
    "csv": CSV_ORIGINS,
}


@pytest.mark.parametrize("group", list(ORIGIN_GROUPS))
@settings(SETTINGS, max_examples=40 * SCALE)
@given(data=st.data())
def test_users_match_the_reference(group: str, data: st.DataObject) -> None:
    recipe = data.draw(user_frames(ORIGIN_GROUPS[group]), label="recipe")
    event(f"origin: {recipe.origin}")
    with tempfile.TemporaryDirectory() as tmp:
        df = realise(recipe, Path(tmp))
    options = draw_options(data.draw, df, recipe, ["uid"])
    check_against_reference(df, plan_users, reference_users, {"uid_col": "uid", **options})


EVENT_SPECIALS = {
    "u": list(UID_FAMILIES.values()),
    "t": [FAMILIES[name] for name in TIMESTAMP_FAMILIES],
    "ev": [NAME_FAMILY],
}


@settings(SETTINGS, max_examples=60 * SCALE)
@given(data=st.data())
def test_events_match_the_reference(data: st.DataObject) -> None:
    recipe = data.draw(frames(specials=EVENT_SPECIALS, max_properties=4), label="recipe")
    with tempfile.TemporaryDirectory() as tmp:
        df = realise(recipe, Path(tmp))
    identity: dict[str, Any] = {}
    if data.draw(st.booleans(), label="name_col"):
        identity["name_col"] = "ev"
    else:
        identity["name"] = "Clicked"
    if data.draw(st.booleans(), label="uid_col"):
        identity["uid_col"] = "u"
    if data.draw(st.booleans(), label="timestamp_col"):
        identity["timestamp_col"] = "t"
    used = [identity[k] for k in ("name_col", "uid_col", "timestamp_col") if k in identity]
    options = draw_options(data.draw, df, recipe, used)
    check_against_reference(df, plan_events, reference_events, {**identity, **options})


# ---------------------------------------------------------------------------------------------
# One family at a time, through every origin: a failure names the dtype and the origin
# ---------------------------------------------------------------------------------------------

# Values per family, edge cases included; the frame has a unique text uid.
EXAMPLES: dict[str, list[Any]] = {
    "int64": [0, -(2**63), 2**63 - 1, 7, 42],
    "Int64": [1, None, 2**63 - 1, -5, None],
    "uint64": [0, 2**63 - 1, 2**63, 2**64 - 1, 3],
    "int64_pyarrow": [1, None, -(2**63), 9, None],
    "object_int": [1, None, 2**40, -3, None],
    "float64": [0.1, None, 1e16, math.inf, -0.0],
    "float32": [0.1, None, 3.4e38, 16777217.0, 1.1],
    "Float32": [0.1, None, 1e-45, -math.inf, 0.3],
    "double_pyarrow": [0.1, None, math.nan, 1e300, 2.0],
    "whole_float": [1.0, None, 2.0**53, -4.0, None],
    "bool": [True, False, True, False, True],
    "boolean": [True, None, False, None, True],
    "bool_pyarrow": [None, True, False, None, True],
    "object_str": ["a", None, "", 'q"uote', "é\n"],
    "str": ["a", None, "", "tab\t", "😀"],
    "string_pyarrow": ["a", None, "", "back\\", "\u2028"],
    "large_string": ["a", None, "", "x", "日本"],
    "category": ["pro", None, "free", "é", "pro"],
    "dictionary": ["pro", None, "free", "é", "pro"],
    "datetime_ns": [
        (dt.datetime(2024, 5, 1, 12), 0),
        None,
        (dt.datetime(2024, 3, 31, 2, 30), 0),  # skipped in Paris
        (dt.datetime(2024, 10, 27, 2, 30), 0),  # repeated in Paris
        (dt.datetime(2024, 1, 2, 3, 4, 5, 500_000), 1),
    ],
    "datetime_us": [
        (dt.datetime(2024, 5, 1, 12, 0, 0, 1), 0),
        None,
        (dt.datetime(2024, 3, 31, 2, 30), 0),
        (dt.datetime(1950, 6, 1), 0),
        (dt.datetime(2099, 12, 31, 23, 59, 59), 0),
    ],
    "datetime_paris": [
        (dt.datetime(2024, 5, 1, 12), 0),
        None,
        (dt.datetime(2024, 3, 31, 1, 30), 0),
        (dt.datetime(2024, 10, 27, 0, 30), 0),
        (dt.datetime(2024, 1, 2, 3, 4, 5), 999),
    ],
    "datetime_kolkata_us": [
        (dt.datetime(2024, 5, 1, 12), 0),
        None,
        (dt.datetime(1900, 1, 1), 0),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 120_000), 0),
        None,
    ],
    "timestamp_pyarrow": [
        dt.datetime(2024, 5, 1, 12),
        None,
        dt.datetime(2024, 3, 31, 2, 30),
        dt.datetime(2024, 10, 27, 2, 30),
        dt.datetime(2024, 1, 2, 3, 4, 5, 500_000),
    ],
    "timestamp_utc_pyarrow": [
        dt.datetime(2024, 5, 1, 12),
        None,
        dt.datetime(2024, 3, 31, 2, 30),
        dt.datetime(2024, 1, 2, 3, 4, 5, 1),
        None,
    ],
    "date_object": [dt.date(2024, 5, 1), None, dt.date(2024, 3, 10), dt.date(2024, 11, 3), None],
    "date32": [dt.date(2024, 5, 1), None, dt.date(2024, 3, 10), dt.date(2024, 11, 3), None],
    "date_text": [
        "2024-05-01 12:00:00",  # Paris wall time
        "2024-05-01T12:00:00+02:00",  # an instant
        "2024-05-01",  # a day
        "2024-03-31 02:30:00",  # skipped in Paris
        "2024-05-01T10:00:00.5Z",
    ],
    "int32": [1, -(2**31), 2**31 - 1, 0, 5],
    "uint8": [0, 255, 7, 1, 2],
    "UInt64": [2**64 - 1, None, 2**63 - 1, 2**63, 0],
    "Float64": [0.1, None, 1e16, -0.0, 2.0],
    "float16": [0.1, None, 65504.0, 6e-08, 1.5],
    "object_num": [1, None, 2.5, 2**40, -0.0],
    "object_bool": [True, None, False, None, True],
    "string_python": ["a", None, "", 'q"', "é"],
    "long_str": ["x" * 8192, "x" * 8193, '"' * 8192, "é" * 4097, "\x01" * 8192],
    "category_int": [3, None, -1, 2**40, 3],
    "category_datetime": [
        pd.Timestamp("2024-05-01 12:00"),
        None,
        pd.Timestamp("2024-03-31 02:30"),
        None,
        pd.Timestamp("2024-05-01 12:00"),
    ],
    "timestamp_tz_pyarrow": [
        dt.datetime(2024, 5, 1, 12),
        None,
        dt.datetime(2024, 3, 10, 7, 30),
        dt.datetime(2024, 1, 2, 3, 4, 5, 1),
        None,
    ],
    "timestamp_wide_pyarrow": [
        dt.datetime(1, 1, 1),
        None,
        dt.datetime(1500, 6, 1, 12),
        dt.datetime(9999, 12, 31, 23, 59, 59),
        dt.datetime(2300, 1, 1),
    ],
    "datetime_s": [
        (dt.datetime(2024, 5, 1, 12), 0),
        None,
        (dt.datetime(2024, 3, 31, 2, 30), 0),
        (dt.datetime(1900, 1, 1), 0),
        None,
    ],
    "object_datetime": [
        dt.datetime(1, 1, 1, 5),
        None,
        dt.datetime(1500, 6, 1, 12),
        dt.datetime(2024, 10, 27, 2, 30),
        dt.datetime(2024, 5, 1, 12, 0, 0, 500),
    ],
    "object_aware": [
        dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        None,
        dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        None,
    ],
    "string_view": ["a", None, "", "é", 'q"'],
    "sparse_float": [0.1, None, 1e16, None, 2.0],
    "sparse_int": [0, 0, 3, -5, 0],
    "null_object": [None] * 5,
    "null_float": [None] * 5,
    "null_str": [None] * 5,
    "null_arrow": [None] * 5,
    "null_datetime": [None] * 5,
}
FAMILY_TZ = {"date_object": "America/Havana", "date32": "America/Havana"}
FAMILY_ORIGINS = [
    "direct",
    "concat",
    "parquet",
    "parquet_pyarrow",
    "parquet_plain",
    "csv_c",
    "csv_pyarrow",
]


def family_recipe(family: str, origin: str) -> Recipe:
    values = EXAMPLES[family]
    n = len(values)
    columns: dict[str, tuple[Family, list[Any]]] = {
        "uid": (UID_FAMILIES["object_str"], [f"u{i}" for i in range(n)]),
        "p": (FAMILIES[family], values),
    }
    return Recipe(build(columns), origin=origin, cuts=[2, 4], families={"p": family})


def _writable(family: str, origin: str) -> bool:
    unwritable = FAMILIES[family].unwritable
    return not any(origin.startswith(kind) for kind in unwritable)


@pytest.mark.parametrize(
    ("family", "origin"),
    # (families missing from this pyarrow, string_view before 16, are not in FAMILIES)
    [(f, o) for f in EXAMPLES if f in FAMILIES for o in FAMILY_ORIGINS if _writable(f, o)],
)
def test_each_family_matches_the_reference(family: str, origin: str, tmp_path: Path) -> None:
    recipe = family_recipe(family, origin)
    df = realise(recipe, tmp_path)
    schema: Any = "infer"
    if _kind(df["p"]) == "str" and FAMILIES[family].kind in ("date", "date_text"):
        schema = {"p": "date"}  # dates that CSV turned into text
    options = {
        "uid_col": "uid",
        "schema": schema,
        "naive_tz": FAMILY_TZ.get(family, "Europe/Paris"),
    }
    check_against_reference(df, plan_users, reference_users, options, explain=print)


# Frames hypothesis found (kept so that they are checked on every run), and a few more.
def _frame(**columns: Any) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"uid": [f"u{i}" for i in range(n)], **columns})


def _string_view(values: list[Any]) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.string_view())))


EDGE_CASES: dict[str, tuple[Callable[[], pd.DataFrame], dict[str, Any]]] = {
    # an object column of ints and floats declared int: a fraction, or beyond int64
    "object_numbers_declared_int_fraction": (
        lambda: _frame(x=pd.Series([0, 2.5], dtype=object)),
        {"schema": {"x": "int"}},
    ),
    "object_numbers_declared_int_too_big": (
        lambda: _frame(x=pd.Series([0, 2.0**63, None], dtype=object)),
        {"schema": {"x": "int"}},
    ),
    # -2**63 is a whole float inside the int64 range
    "float_int64_min_declared_int": (
        lambda: _frame(x=[-(2.0**63), 1.0]),
        {"schema": {"x": "int"}},
    ),
    "float_int64_min_uid": (lambda: pd.DataFrame({"uid": [-(2.0**63), 1.0]}), {}),
    # a float uid beyond int64 is not_integral, whatever the column's dtype
    "object_float_uid_beyond_int64": (
        lambda: pd.DataFrame({"uid": pd.Series([1, 2.0**63, 1e20], dtype=object)}),
        {},
    ),
    # text dates: parsed per value, whatever the other rows hold
    "text_dates_beyond_nanosecond_range_next_to_nanoseconds": (
        lambda: _frame(d=["2263-01-01T00:00:00", "2024-03-31T02:30:00.000000000"]),
        {"schema": {"d": "date"}},
    ),
    # A date before 1677 next to nanosecond digits is a deliberate rejection (one column,
    # one precision): tests/payloads/test_real_frames.py checks it, not the reference.
    "text_dates_naive_and_offset_mixed": (
        lambda: _frame(
            d=["2024-05-01 12:00:00", "2024-05-01T12:00:00+05:30", "2024-05-01", "2024-03-31 02:30"]
        ),
        {"schema": {"d": "date"}, "naive_tz": "Europe/Paris"},
    ),
    "lone_surrogate_in_text_dates": (
        lambda: _frame(d=pd.Series(["2024-05-01", "\ud800", None], dtype="string[python]")),
        {"schema": {"d": "date"}},
    ),
    "lone_surrogate_in_object_text": (
        lambda: _frame(d=pd.Series(["ok", "a\udfff", None], dtype=object)),
        {},
    ),
    "date_alone_at_a_skipped_midnight": (
        lambda: _frame(d=pd.Series([dt.date(2024, 9, 8), dt.date(2024, 9, 9)], dtype=object)),
        {"naive_tz": "America/Santiago"},
    ),
    "uint64_uid_beyond_int64": (
        lambda: pd.DataFrame({"uid": np.array([2**63 + 5, 2**64 - 1, 1], dtype="uint64")}),
        {},
    ),
    "float32_as_shown": (
        lambda: _frame(x=pd.Series([0.1, 1.1, None], dtype="float32")),
        {},
    ),
    "multi_chunk_dictionary_and_null_columns": (
        lambda: pd.concat(
            [
                _frame(
                    s=pd.Series(
                        ["a", None], dtype=pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string()))
                    ),
                    n=pd.Series([None, None], dtype=pd.ArrowDtype(pa.null())),
                )
            ]
            * 3,
            ignore_index=True,
        ),
        {},
    ),
    "wide_frame_with_more_than_64_declared_columns": (
        lambda: _frame(
            **{
                f"c{i}": pd.array([None if (j * i) % 7 == 0 else j for j in range(40)], "Int64")
                for i in range(70)
            }
        ),
        {},
    ),
}

if HAS_STRING_VIEW:  # pyarrow >= 16: older pyarrow has no string_view
    EDGE_CASES["string_view_text_dates"] = (
        lambda: _frame(d=_string_view(["2024-05-01 12:00:00", None, "2024-05-01", "nope"])),
        {"schema": {"d": "date"}, "naive_tz": "Europe/Paris"},
    )


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_match_the_reference(case: str) -> None:
    make, options = EDGE_CASES[case]
    check_against_reference(
        make(), plan_users, reference_users, {"uid_col": "uid", **options}, explain=print
    )


def test_origins_give_multi_chunk_arrow_columns(tmp_path: Path) -> None:
    """The concat and parquet origins really give the Arrow columns several chunks."""
    arrow = ["str", "string_pyarrow", "large_string", "int64_pyarrow", "double_pyarrow"]
    arrow += ["bool_pyarrow", "timestamp_pyarrow", "dictionary", "date32", "null_arrow"]
    columns = {name: (FAMILIES[name], EXAMPLES[name] * 2) for name in arrow}
    recipe = Recipe(build(columns), origin="concat", cuts=[3, 6])
    df = realise(recipe, tmp_path)
    # pandas < 3: the default string dtype ("str") is NumPy object, not Arrow-backed.
    backed = [c for c in arrow if PANDAS_3 or c != "str"]
    assert [c for c in df if arrow_backed(df[c])] == backed
    assert {c: arrow_chunks(df[c]) for c in df} == {c: 3 if c in backed else 0 for c in df}
    for origin in ("parquet_pyarrow", "parquet_plain_pyarrow"):
        df = realise(Recipe(recipe.source, origin=origin), tmp_path)
        assert all(arrow_chunks(df[c]) > 1 for c in df), {c: arrow_chunks(df[c]) for c in df}
    df = realise(Recipe(recipe.source, origin="parquet"), tmp_path)
    # The default backend reads text as pandas' default string dtype: Arrow-backed from
    # pandas 3 on, NumPy objects before.
    texts = [c for c in ("str", "string_pyarrow") if arrow_backed(df[c])]
    assert texts == (["str", "string_pyarrow"] if PANDAS_3 else [])
    assert all(arrow_chunks(df[c]) > 1 for c in texts), {c: arrow_chunks(df[c]) for c in df}


# ---------------------------------------------------------------------------------------------
# A large frame read back from parquet in many row groups
# ---------------------------------------------------------------------------------------------

# pandas < 3 localises naive times far more slowly (``tz_localize`` with a ``ZoneInfo``,
# some 20 times): a smaller frame there keeps the run short, in the same shape (seven row
# groups, four chunks of several slices each).
BIG = 200_000 if PANDAS_3 else 60_000
ROW_GROUP = BIG * 3 // 20  # 30_000 rows on pandas 3
CHUNK = BIG // 4  # 50_000


def big_frame() -> pd.DataFrame:
    rng = np.random.default_rng(20240501)
    n = BIG
    seconds = rng.integers(0, 4_000_000_000, n)
    stamps = pd.to_datetime(seconds, unit="s") + pd.to_timedelta(rng.integers(0, 1000, n), "ms")
    floats = rng.standard_normal(n) * 1000
    floats[rng.random(n) < 0.1] = np.nan
    floats[7] = np.inf  # rejected: non_finite
    uids = pd.array([f"user-{i}" for i in range(n)], dtype="str")
    uids[11] = None  # rejected: uid_missing
    counts = pd.array(rng.integers(-5, 1_000_000, n), dtype="Int64")
    counts[rng.random(n) < 0.1] = None
    texts = np.array(["free", "pro", "team", 'say "hi"', "é"], dtype=object)[rng.integers(0, 5, n)]
    return pd.DataFrame(
        {
            "uid": uids,
            "plan": pd.Series(texts, dtype="str"),
            "tier": pd.Categorical(texts),
            "score": floats,
            "ratio": floats.astype("float32"),
            "visits": counts,
            "active": rng.random(n) < 0.5,
            "seen": stamps,
            "seen_paris": stamps.tz_localize("UTC").tz_convert("Europe/Paris"),
            "day": pd.Series(stamps.date, dtype=object),
            "geo.city": pd.Series(texts, dtype="string[pyarrow]"),
            "geo.zip": rng.integers(10_000, 99_999, n),
        }
    )


def user_requests(body: bytes) -> list[bytes]:
    """The request texts of a users body, without parsing it all (75 MB here): every request
    starts with its uid, and ``,{"uid":`` cannot occur elsewhere (a quote inside a JSON
    string is escaped; lists of objects are never sent)."""
    assert body.startswith(OPEN + b'{"uid":') and body.endswith(CLOSE)
    first, *rest = body[len(OPEN) : -len(CLOSE)].split(b',{"uid":')
    return [first, *(b'{"uid":' + text for text in rest)]


@pytest.mark.parametrize("backend", ["default", "pyarrow"])
def test_a_large_multi_chunk_parquet_frame_matches_the_reference(
    backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "big.parquet"
    write_parquet(big_frame(), path, plain=False, row_group_size=ROW_GROUP)
    df = read_parquet(path, "parquet" if backend == "default" else "parquet_pyarrow")
    backed = [c for c in df if arrow_backed(df[c])]
    # pandas < 3 reads this file's text with the default backend as NumPy objects or
    # string[python] (its default storage): no column is Arrow-backed, none has chunks.
    if PANDAS_3 or backend == "pyarrow":
        assert backed
    assert all(arrow_chunks(df[c]) > 1 for c in backed), {c: arrow_chunks(df[c]) for c in df}
    plan = plan_users(df, uid_col="uid", naive_tz="Europe/Paris")
    rng = np.random.default_rng(7)
    sample = sorted({7, 11, 0, BIG - 1, *rng.choice(BIG, 400, replace=False).tolist()})
    # uids are unique: each row's outcome depends on that row only, so a sample will do.
    expected = reference_users(df.iloc[sample], uid_col="uid", naive_tz="Europe/Paris")
    rejected = set(plan.rejected["position"].tolist())
    assert {p for p in sample if p in rejected} == {sample[i] for i in expected.rejected}
    wanted = {sample[i]: r for i, r in zip(expected.positions, expected.requests, strict=True)}
    found = {}
    bodies = []
    for chunk in plan.chunks(CHUNK, threads=2):
        bodies.append(chunk.body)
        texts = user_requests(chunk.body)
        assert len(texts) == len(chunk)
        for k, p in enumerate(chunk.positions.tolist()):
            if p in wanted:
                found[p] = orjson.loads(texts[k])  # strict JSON: no NaN, no Infinity
    assert {p: typed(r) for p, r in found.items()} == {p: typed(r) for p, r in wanted.items()}
    # Several slices per chunk, built ahead on two threads or in turn on one: the same bytes.
    assert [c.body for c in plan.chunks(CHUNK, threads=1)] == bodies


# A smoke check that the reference itself reads Arrow nulls as missing.
def test_reference_reads_arrow_nan_as_missing() -> None:
    s = pd.Series(pd.arrays.ArrowExtensionArray(pa.array([1.5, math.nan], from_pandas=False)))
    df = pd.DataFrame({"uid": ["a", "b"], "x": s})
    assert reference_users(df, uid_col="uid").requests == [
        {"uid": "a", "properties": {"x": 1.5}},
        {"uid": "b"},
    ]
