"""Joining a job's results back to source rows: by content, as a multiset, order-free."""

import numpy as np

from fs_pandas.join import join_job


def positions(*values: int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def test_user_imports_are_matched_by_uid_whatever_their_order() -> None:
    requests = [{"uid": "a"}, {"uid": "b"}, {"uid": "c"}]
    imports = [{"id": "3", "uid": "c"}, {"id": "1", "uid": "a"}, {"id": "2", "uid": "b"}]
    joined = join_job("users", positions(10, 11, 12), requests, imports, [])
    assert dict(zip(joined.imported, joined.fullstory_ids, strict=True)) == {
        10: "1",
        11: "2",
        12: "3",
    }
    assert joined.failed == []


def test_errors_are_matched_by_the_echoed_request_even_without_uid() -> None:
    requests = [
        {"display_name": "x", "properties": {"n": 1}},
        {"display_name": "y", "properties": {"n": 2}},
    ]
    errors = [
        {"code": "bad", "message": "no", "user": {"properties": {"n": 2}, "display_name": "y"}}
    ]
    imports = [{"id": "9", "display_name": "x", "properties": {"n": 1}}]
    joined = join_job("users", positions(0, 1), requests, imports, errors)
    assert joined.failed == [1]
    assert joined.codes == ["bad"]
    assert joined.imported == [0]


def test_identical_event_rows_are_counted_not_guessed() -> None:
    event = {"name": "Click", "user": {"uid": "u"}, "timestamp": "2024-01-01T00:00:00Z"}
    requests = [dict(event), dict(event), dict(event)]
    imports = [dict(event, user={"uid": "u", "id": "7"})] * 2
    errors = [{"code": "boom", "message": "m", "event": dict(event)}]
    joined = join_job("events", positions(5, 6, 7), requests, imports, errors)
    assert len(joined.imported) == 2
    assert len(joined.failed) == 1
    assert sorted(joined.imported + joined.failed) == [5, 6, 7]


def test_event_imports_match_when_the_server_rewrites_the_timestamp_form() -> None:
    requests = [{"name": "A", "user": {"uid": "u"}, "timestamp": "2024-01-01T00:00:00Z"}]
    imports = [
        {"name": "A", "user": {"uid": "u", "id": "1"}, "timestamp": "2024-01-01T00:00:00.000Z"}
    ]
    joined = join_job("events", positions(3), requests, imports, [])
    assert joined.imported == [3]
    assert joined.fullstory_ids == ["1"]


def test_event_without_timestamp_matches_the_server_filled_one() -> None:
    requests = [{"name": "A", "user": {"id": "42"}}]
    imports = [{"name": "A", "user": {"id": "42", "uid": "z"}, "timestamp": "2025-02-02T10:00:00Z"}]
    joined = join_job("events", positions(0), requests, imports, [])
    assert joined.imported == [0]


def test_rows_without_any_result_are_failed_as_unreconciled_not_dropped() -> None:
    requests = [{"uid": "a"}, {"uid": "b"}]
    joined = join_job("users", positions(0, 1), requests, [{"id": "1", "uid": "a"}], [])
    assert joined.imported == [0]
    assert joined.failed == [1]
    assert joined.codes == ["unreconciled"]


def test_results_that_match_no_row_are_counted() -> None:
    requests = [{"uid": "a"}]
    imports = [{"id": "1", "uid": "a"}, {"id": "2", "uid": "stranger"}]
    joined = join_job("users", positions(0), requests, imports, [])
    assert joined.unmatched_results == 1
