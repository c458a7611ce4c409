"""The columnar users join gives the reference join's answer, row for row.

``join_users`` matches most rows by uid alone and hands the rest to ``join_job``; the
reference, ``join_job`` over whole objects, is the oracle. Hypothesis draws jobs of every kind
the rules distinguish: uids shared by several rows or empty, rows named by Fullstory id alone,
anonymous rows, errors echoed raw or re-rendered or naming another id, duplicate and stray
imports, results missing, any order, any page size.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fs_pandas.models import ImportIds
from fs_pandas.run.join import JobJoin, compact_ids, join_job, join_users, slim_import

UIDS = [None, "", "a", "b", "c", "d"]
IDS = [None, "", "x", "y"]


def request(uid: str | None, user_id: str | None, value: int) -> dict[str, Any]:
    row: dict[str, Any] = {"properties": {"n": float(value)}}
    if uid is not None:
        row["uid"] = uid
    if user_id is not None:
        row["id"] = user_id
    return row


def echo(row: dict[str, Any], form: str) -> dict[str, Any]:
    """An error's echo of ``row``: as sent, re-rendered (1.0 printed 1, nulls added), or
    naming another Fullstory id."""
    if form == "raw":
        return dict(row)
    if form == "rerendered":
        out = {k: v for k, v in row.items() if k != "properties"}
        out["properties"] = {k: int(v) for k, v in row["properties"].items()}
        out.update(schema=None, type_conflicts=None)
        return out
    return {**row, "id": "other"}


def imported(row: dict[str, Any], n: int) -> dict[str, Any]:
    """The stored user an import returns: the uid sent, a Fullstory id, the content."""
    out = {k: v for k, v in row.items() if k != "id"}
    out["id"] = row.get("id") or f"fs-{n}"
    return out


@st.composite
def jobs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any], int]:
    n = draw(st.integers(0, 12))
    rows = [
        request(draw(st.sampled_from(UIDS)), draw(st.sampled_from(IDS)), draw(st.integers(0, 2)))
        for _ in range(n)
    ]
    imports: list[dict[str, Any]] = []
    errors: list[Any] = []
    for i, row in enumerate(rows):
        outcome = draw(
            st.sampled_from(["import", "import", "error", "none", "twice", "two errors"])
        )
        if outcome in ("import", "twice"):
            imports.append(imported(row, i))
        if outcome == "twice":
            imports.append(imported(row, i + 100))
        for k in range({"error": 1, "two errors": 2}.get(outcome, 0)):
            # Two errors for a row: which takes it (the first naming it as sent) matters.
            form = draw(st.sampled_from(["raw", "rerendered", "other id"]))
            error = {"code": f"c{i}.{k}", "message": f"m{i}", "user": echo(row, form)}
            errors.append(error)
    for k in range(draw(st.integers(0, 2))):  # strays: results for rows never sent
        imports.append({"uid": draw(st.sampled_from(["a", "z", ""])), "id": f"s{k}"})
    if draw(st.booleans()):
        errors.append({"code": "x", "message": "no echo"})
    seed = draw(st.integers(0, 2**16))
    random.Random(seed).shuffle(imports)
    random.Random(seed + 1).shuffle(errors)
    return rows, imports, errors, draw(st.integers(1, 4))


def pages(imports: list[dict[str, Any]], size: int) -> list[ImportIds]:
    out = []
    for start in range(0, len(imports), size):
        part = imports[start : start + size]
        out.append(
            ImportIds(
                uids=[r.get("uid") for r in part],
                ids=[r.get("id") for r in part],
                anonymous=[(i, r) for i, r in enumerate(part) if not r.get("uid")],
            )
        )
    return out


def outcomes(join: JobJoin) -> dict[str, Any]:
    rows: dict[int, tuple[Any, ...]] = {}
    imported = zip(join.imported.tolist(), join.fullstory_ids.to_pylist(), strict=True)
    for position, fs_id in imported:
        rows[position] = ("imported", fs_id)
    failed = zip(join.failed.tolist(), join.codes, join.messages, strict=True)
    for position, code, message in failed:
        assert position not in rows, "a row with two outcomes"
        rows[position] = ("failed", code, message)
    return {
        "rows": rows,
        "unmatched": join.unmatched_results,
        "loose": join.loose_matches,
    }


@settings(max_examples=400, deadline=None)
@given(jobs(), st.booleans())
def test_the_columnar_users_join_answers_as_the_reference_join(
    job: tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any], int],
    as_a_run_keeps_them: bool,
) -> None:
    # Pages as read, or as a run keeps them (Arrow text, pages with a number left as read).
    rows, imports, errors, page_size = job
    positions = np.arange(len(rows), dtype=np.int64) * 3 + 7  # positions are not 0..n-1
    by_position = dict(zip(positions.tolist(), rows, strict=True))
    read = pages(imports, page_size)
    reference = join_job(
        "users", positions, rows, [slim_import("users", r) for r in imports], errors
    )
    columnar = join_users(
        positions,
        [r.get("uid") for r in rows],
        [r.get("id") for r in rows],
        [compact_ids(p) for p in read] if as_a_run_keeps_them else read,
        errors,
        lambda at: [by_position[p] for p in at.tolist()],
    )
    assert outcomes(columnar) == outcomes(reference)
    assert len(outcomes(columnar)["rows"]) == len(rows)  # every row, exactly one outcome


def test_rows_with_a_uid_of_their_own_never_rebuild_their_requests() -> None:
    # The point of the columnar join: unique uids decide alone, no request object is built.
    positions = np.arange(3, dtype=np.int64)
    asked: list[list[int]] = []

    def requests_at(at: np.ndarray) -> list[dict[str, Any]]:
        asked.append(at.tolist())
        return []

    imports = [{"uid": "b", "id": "1"}, {"uid": "a", "id": "2"}]
    errors = [{"code": "c", "message": "m", "user": {"uid": "c", "properties": {}}}]
    join = join_users(
        positions, ["a", "b", "c"], [None] * 3, pages(imports, 1), errors, requests_at
    )
    assert asked == []
    assert outcomes(join)["rows"] == {
        0: ("imported", "2"),
        1: ("imported", "1"),
        2: ("failed", "c", "m"),
    }


def test_only_the_rows_a_uid_cannot_decide_are_rebuilt() -> None:
    positions = np.arange(4, dtype=np.int64)
    rows = [request("a", None, 0), request(None, None, 1), request("b", None, 2)]
    rows.append(request("b", None, 3))
    asked: list[list[int]] = []

    def requests_at(at: np.ndarray) -> list[dict[str, Any]]:
        asked.append(at.tolist())
        return [rows[p] for p in at.tolist()]

    imports = [imported(r, i) for i, r in enumerate(rows)]
    uids = [r.get("uid") for r in rows]
    join = join_users(positions, uids, [None] * 4, pages(imports, 10), [], requests_at)
    assert asked == [[1]]  # the anonymous row; "b", shared but named by no error, by uid
    # The imports of a shared uid take its rows in request order, as the reference's queue.
    assert outcomes(join)["rows"] == {
        0: ("imported", "fs-0"),
        1: ("imported", "fs-1"),
        2: ("imported", "fs-2"),
        3: ("imported", "fs-3"),
    }
    asked.clear()
    errors = [{"code": "c", "message": "m", "user": echo(rows[3], "raw")}]
    join = join_users(positions, uids, [None] * 4, pages(imports[:3], 10), errors, requests_at)
    assert asked == [[1, 2, 3]]  # an error names "b": its content decides which row failed
    assert outcomes(join)["rows"][3] == ("failed", "c", "m")
