"""The result frames built from the joins' arrays are the frames built row by row.

A job's join hands its outcomes over as arrays (positions, Arrow text for Fullstory ids) in
no particular order; the result sorts them into source order and builds its frames from
them. The oracle here builds the same frames the plain way -- Python lists in source order,
assigned as object columns, the dtype left to pandas -- so the frames' columns, dtypes, index
and row order are pinned whatever pandas version infers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fs_pandas.models import JobStatus
from fs_pandas.run.engine import ChunkRecord
from fs_pandas.run.join import JobJoin
from fs_pandas.run.result import BatchResult, _Run

TEXT = pd.Series(["text"]).dtype
Outcome = tuple[str, Any, Any]  # ("imported", fs id, None) | ("failed", code, message)


@st.composite
def runs(draw: st.DrawFn) -> tuple[pd.DataFrame, list[list[tuple[int, Outcome | None]]]]:
    n = draw(st.integers(0, 30))
    source = pd.DataFrame(
        {
            "uid": [f"u{i}" for i in range(n)],
            "n": np.arange(n, dtype=np.int64) * 2,
            "kind": pd.Categorical([("a", "b")[i % 2] for i in range(n)]),
        },
        index=pd.Index([f"row{i}" for i in range(n)][::-1]),
    )
    all_none = draw(st.booleans())  # a counts-only job: imported, no Fullstory id known
    outcome = st.one_of(
        st.none(),  # pending: its job unfinished
        st.tuples(
            st.just("imported"),
            st.none() if all_none else st.sampled_from([None, "fs-1", "fs-2", "é"]),
            st.none(),
        ),
        st.tuples(st.just("failed"), st.sampled_from(["c1", "c2"]), st.sampled_from(["m", ""])),
    )
    rows = [(p, draw(outcome)) for p in draw(st.permutations(range(n)))]
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    chunks = [rows[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    return source, [chunk for chunk in chunks if chunk]


def records(chunks: list[list[tuple[int, Outcome | None]]]) -> dict[int, ChunkRecord]:
    out = {}
    for number, chunk in enumerate(chunks):
        positions = np.asarray([p for p, _ in chunk], dtype=np.int64)
        done = [(p, o) for p, o in chunk if o is not None]
        finished = len(done) == len(chunk)  # a chunk is pending whole, or finished whole
        imported = [(p, o[1]) for p, o in done if o[0] == "imported"]
        failed = [(p, o[1], o[2]) for p, o in done if o[0] == "failed"]
        join = JobJoin(
            imported=[p for p, _ in imported],
            fullstory_ids=[i for _, i in imported],
            failed=[p for p, _, _ in failed],
            codes=[c for _, c, _ in failed],
            messages=[m for _, _, m in failed],
        )
        status = JobStatus.FAILED if failed else JobStatus.COMPLETED
        out[number] = ChunkRecord(
            number, positions, "", f"job-{number}", status, join if finished else None
        )
    return out


def expected(
    source: pd.DataFrame, rows: dict[int, tuple[Outcome, str]], outcome: str
) -> pd.DataFrame:
    """The frame of one outcome, row by row: source order, object columns, dtype inferred."""
    at = sorted(p for p, (o, _) in rows.items() if o[0] == outcome)
    frame = source.iloc[at].copy()
    details = ["fs_id"] if outcome == "imported" else ["fs_error_code", "fs_error_message"]
    for k, name in enumerate(details, start=1):
        frame[name] = objects([rows[p][0][k] for p in at])
    # Job ids are always text: pandas' text dtype, even for no rows.
    frame["fs_job_id"] = pd.array([rows[p][1] for p in at], dtype=TEXT)
    return frame


def objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@settings(max_examples=200, deadline=None)
@given(runs())
def test_frames_from_the_joins_arrays_are_the_frames_built_row_by_row(
    run: tuple[pd.DataFrame, list[list[tuple[int, Outcome | None]]]],
) -> None:
    source, chunks = run
    recs = records(chunks)
    result = BatchResult(_Run("users", source, _no_rejected(), recs, None, None, None))
    rows = {
        p: (o, f"job-{number}")
        for number, chunk in enumerate(chunks)
        if recs[number].join is not None
        for p, o in chunk
        if o is not None
    }
    pd.testing.assert_frame_equal(result.imports, expected(source, rows, "imported"))
    pd.testing.assert_frame_equal(result.errors, expected(source, rows, "failed"))
    fs_id = np.full(len(source), None, dtype=object)
    for p, (o, _) in rows.items():
        if o[0] == "imported":
            fs_id[p] = o[1]
    table = result.table()
    oracle = source.copy()
    oracle["fs_id"] = fs_id
    pd.testing.assert_series_equal(table["fs_id"], oracle["fs_id"])
    assert sum(result.counts.values()) == len(source)


def test_a_join_takes_lists_and_keeps_arrays() -> None:
    join = JobJoin(
        imported=[3, 1], fullstory_ids=["a", None], failed=[2], codes=["c"], messages=["m"]
    )
    assert join.imported.dtype == np.int64 and join.failed.dtype == np.int64
    assert join.fullstory_ids.to_pylist() == ["a", None]
    combined = JobJoin.combine([join, JobJoin.failing(np.asarray([7, 8]), "dup", "twice")])
    assert combined.failed.tolist() == [2, 7, 8]
    assert combined.codes == ["c", "dup", "dup"] and combined.messages == ["m", "twice", "twice"]


def _no_rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "position": pd.Series([], dtype=np.int64),
            "column": pd.Series([], dtype=object),
            "rule": pd.Series([], dtype=object),
            "message": pd.Series([], dtype=object),
        }
    )


def test_writing_into_a_result_frame_leaves_the_source_as_it_was() -> None:
    source = pd.DataFrame({"uid": ["u0", "u1"], "n": np.array([1, 2], dtype=np.int64)})
    join = JobJoin(imported=[0, 1], fullstory_ids=["a", "b"])
    record = ChunkRecord(0, np.asarray([0, 1]), "", "job-0", JobStatus.COMPLETED, join)
    result = BatchResult(_Run("users", source, _no_rejected(), {0: record}, None, None, None))
    imports = result.imports
    imports.loc[imports.index[0], "n"] = 99
    imports["n"] += 1
    assert source["n"].tolist() == [1, 2]
