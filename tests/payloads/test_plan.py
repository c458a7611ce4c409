"""Plan and Chunk: lazy chunks, exact deterministic bodies, positions mapping to source rows."""

from __future__ import annotations

import time
import types

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs_pandas.payloads import Chunk, Plan, plan_users
from tests.payloads.payload_helpers import parse, requests_of


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"uid": [f"u{i}" for i in range(n)], "score": np.arange(n) / 4})


def test_plan_reports_kind_and_row_counts() -> None:
    plan = plan_users(pd.DataFrame({"uid": ["a", None, "c"]}), uid_col="uid")
    assert (plan.kind, plan.n_rows, len(plan.rejected)) == ("users", 3, 1)
    assert plan.accepted_positions.dtype == np.int64
    assert plan.accepted_positions.tolist() == [0, 2]


def test_chunks_split_accepted_rows_by_size() -> None:
    chunks = list(plan_users(frame(5), uid_col="uid").chunks(2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [c.number for c in chunks] == [0, 1, 2]


def test_chunks_is_a_generator() -> None:
    assert isinstance(plan_users(frame(3), uid_col="uid").chunks(1), types.GeneratorType)


def spy_on_slices(plan: Plan) -> list[int]:
    """Record the size of every slice of rows the plan turns into text."""
    built: list[int] = []
    real = plan._slice_text

    def spy(positions: np.ndarray) -> pa.BinaryArray:
        built.append(len(positions))
        return real(positions)

    plan._slice_text = spy  # type: ignore[method-assign]
    return built


def test_first_chunk_is_built_without_building_later_ones() -> None:
    plan = plan_users(frame(10), uid_col="uid")
    built = spy_on_slices(plan)
    chunks = plan.chunks(3, threads=1)
    assert built == []  # nothing happens until the first chunk is asked for
    next(chunks)
    assert built == [3]


def test_threads_build_only_a_few_slices_ahead() -> None:
    plan = plan_users(frame(100), uid_col="uid")
    built = spy_on_slices(plan)
    chunks = plan.chunks(3, threads=2)
    next(chunks)
    time.sleep(0.2)  # whatever the threads could do meanwhile
    # the chunk handed over, plus at most threads + 1 slices queued or being built
    assert len(built) <= 1 + 3
    chunks.close()


def test_body_is_exactly_a_compact_requests_object() -> None:
    plan = plan_users(pd.DataFrame({"uid": ["a"], "n": [1]}), uid_col="uid")
    body = next(plan.chunks()).body
    assert body == (
        b'{"requests":[{"uid":"a","properties":{"n":1},"schema":{"properties":{"n":"int"}}}]}'
    )


def test_bodies_are_deterministic() -> None:
    df = pd.DataFrame(
        {
            "uid": ["a", "b"],
            "t": pd.to_datetime(["2024-01-01", None]),
            "c": pd.Categorical(["x", None]),
            "l": [[1], None],
        }
    )
    first = [c.body for c in plan_users(df, uid_col="uid").chunks(1)]
    second = [c.body for c in plan_users(df.copy(), uid_col="uid").chunks(1)]
    assert first == second


def test_chunk_is_frozen() -> None:
    chunk = next(plan_users(frame(1), uid_col="uid").chunks())
    assert isinstance(chunk, Chunk)
    with pytest.raises(AttributeError):
        chunk.number = 5  # type: ignore[misc]


@pytest.mark.parametrize("size", [0, -1, 50_001])
def test_chunk_size_outside_1_to_50000_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="50000"):
        plan_users(frame(1), uid_col="uid").chunks(size)


def test_positions_are_source_positions_with_a_non_unique_index() -> None:
    df = frame(4)
    df.index = [7, 7, 3, 3]
    df.loc[df.index[1:2], "uid"] = None  # label 7 appears twice; only position 1 is missing
    df.iloc[1, 0] = None
    plan = plan_users(df, uid_col="uid")
    positions = np.concatenate([c.positions for c in plan.chunks(2)])
    uids = [r["uid"] for r in requests_of(plan, 2)]
    assert [df.iloc[p, 0] for p in positions] == uids
    assert 1 in plan.rejected["position"].tolist()


def test_positions_map_to_rows_with_a_multiindex() -> None:
    df = frame(3)
    df.index = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)])
    plan = plan_users(df, uid_col="uid")
    chunk = next(plan.chunks())
    assert chunk.positions.tolist() == [0, 1, 2]
    assert [r["uid"] for r in parse(chunk.body)["requests"]] == ["u0", "u1", "u2"]


def test_requests_returns_every_accepted_request() -> None:
    plan = plan_users(frame(3), uid_col="uid")
    assert [r["uid"] for r in plan.requests()] == ["u0", "u1", "u2"]


def test_empty_frame_plans_no_chunk() -> None:
    plan = plan_users(pd.DataFrame({"uid": pd.Series([], dtype=object)}), uid_col="uid")
    assert list(plan.chunks()) == []
    assert plan.rejected.empty


def test_bodies_span_the_internal_encoding_slices() -> None:
    plan = plan_users(frame(12_001), uid_col="uid")
    reqs = requests_of(plan, 12_001)
    assert [r["uid"] for r in reqs] == [f"u{i}" for i in range(12_001)]


def test_plan_is_a_plan() -> None:
    assert isinstance(plan_users(frame(1), uid_col="uid"), Plan)


def test_bodies_do_not_depend_on_the_number_of_threads() -> None:
    plan = plan_users(frame(20_000), uid_col="uid")
    one = [c.body for c in plan.chunks(15_000, threads=1)]
    assert [c.body for c in plan.chunks(15_000, threads=3)] == one


def test_threads_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="threads"):
        plan_users(frame(1), uid_col="uid").chunks(threads=0)


def _shares_one_array() -> tuple[pd.DataFrame, np.ndarray]:
    """A frame built on the caller's array without a copy (``copy=False``)."""
    values = np.array([0.5, 1.5])
    return pd.DataFrame({"uid": ["a", "b"], "x": values}, copy=False), values


@pytest.mark.parametrize("how", ["through pandas", "into the caller's array"])
def test_writes_to_the_frame_after_planning_change_no_body(how: str) -> None:
    # The plan copies NumPy-backed columns: copy-on-write covers writes through pandas, not
    # writes into an array the frame was built on without a copy, which reach the frame.
    frame, values = _shares_one_array()
    frame["n"] = np.array([1, 2])
    frame["ok"] = np.array([True, False])
    plan = plan_users(frame, uid_col="uid")
    before = [chunk.body for chunk in plan.chunks()]
    if how == "through pandas":
        frame.iloc[0, 1] = 9.5
        frame.iloc[0, 2] = 7
        frame.iloc[0, 3] = False
    else:
        values[0] = 9.5
        assert frame["x"].iloc[0] == 9.5  # the frame did change
    assert [chunk.body for chunk in plan.chunks()] == before


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_each_request_declares_exactly_the_properties_it_holds(
    fields: int, rows: int, seed: int
) -> None:
    # Whole numbers with missing values, each declared "int" where present (contract §3.4);
    # up to 16 fields and beyond take different routes to the rows' presence patterns.
    rng = np.random.default_rng(seed)
    present = rng.random((rows, fields)) < rng.random(fields)
    columns = {
        f"p{j}": pd.array(np.where(present[:, j], j, 0), dtype="Int64") for j in range(fields)
    }
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(rows)], **columns})
    for j in range(fields):
        df.loc[~present[:, j], f"p{j}"] = pd.NA
    for i, request in enumerate(requests_of(plan_users(df, uid_col="uid"))):
        held = {f"p{j}" for j in range(fields) if present[i, j]}
        assert set(request.get("properties", {})) == held
        declared = request.get("schema", {}).get("properties", {})
        assert declared == dict.fromkeys(held, "int")
