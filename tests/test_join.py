"""Joining a job's results back to source rows: by content, as a multiset, order-free."""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from fs_pandas.run import join
from fs_pandas.run.join import JobJoin, normalise


@dataclass
class Joined:
    """A JobJoin's outcomes as Python lists, to compare with literals."""

    imported: list[int]
    fullstory_ids: list[str | None]
    failed: list[int]
    codes: list[str]
    messages: list[str]
    unmatched_results: int
    loose_matches: int


def as_lists(joined: JobJoin) -> Joined:
    return Joined(
        joined.imported.tolist(),
        joined.fullstory_ids.to_pylist(),
        joined.failed.tolist(),
        list(joined.codes),
        list(joined.messages),
        joined.unmatched_results,
        joined.loose_matches,
    )


def join_job(*args: Any) -> Joined:
    return as_lists(join.join_job(*args))


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


# -- echoes that are not byte for byte what was sent (contract §11.4) --------------------------


def rerendered_user(request: dict[str, Any]) -> dict[str, Any]:
    """What a protobuf server echoes of a user row: numbers re-rendered, unknown fields gone,
    ``schema`` and ``type_conflicts`` null when absent (the spec's FailedUserImport example)."""
    known = {"uid", "id", "display_name", "email", "properties", "schema"}
    echo = {k: renumber(v) for k, v in request.items() if k in known}
    echo.setdefault("schema", None)
    echo["type_conflicts"] = None
    return echo


def renumber(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: renumber(v) for k, v in value.items()}
    if isinstance(value, list):
        return [renumber(v) for v in value]
    return value


def error(echo_field: str, echo: dict[str, Any], code: str = "bad", message: str = "m") -> Any:
    return {"code": code, "message": message, echo_field: echo}


def test_a_rerendered_user_echo_is_matched_by_uid_with_its_code_and_message() -> None:
    requests = [
        {"uid": "a", "properties": {"score": 1.0, "ratio": 0.5}, "schema": {"properties": {}}},
        {"uid": "b", "properties": {"score": 2.0}, "nickname": "x"},
    ]
    errors = [error("user", rerendered_user(requests[1]), "invalid_argument", "no nickname")]
    imports = [{"id": "1", "uid": "a"}]
    joined = join_job("users", positions(7, 8), requests, imports, errors)
    assert (joined.failed, joined.codes, joined.messages) == (
        [8],
        ["invalid_argument"],
        ["no nickname"],
    )
    assert joined.imported == [7] and joined.unmatched_results == joined.loose_matches == 0


def test_a_uid_sent_twice_is_told_apart_by_normalised_content() -> None:
    requests = [
        {"uid": "a", "properties": {"plan": "free", "n": 1.0}},
        {"uid": "a", "properties": {"plan": "team", "n": 2.0, "gone": None}},
    ]
    errors = [error("user", rerendered_user({"uid": "a", "properties": {"plan": "team", "n": 2}}))]
    joined = join_job("users", positions(0, 1), requests, [{"id": "9", "uid": "a"}], errors)
    assert (joined.failed, joined.imported, joined.fullstory_ids) == ([1], [0], ["9"])


def test_anonymous_users_match_by_content_whatever_nulls_and_number_forms() -> None:
    requests: list[dict[str, Any]] = [
        {"properties": {"n": 1.0, "tag": "x", "none": None}},
        {"properties": {"n": 2.0, "tag": "x"}, "display_name": None},
        {"properties": {"n": 3.0, "tag": "x"}},
    ]
    errors = [error("user", rerendered_user(requests[1]))]
    # The import is the stored user: its new id, nulls gone, maybe "schema": null added.
    imports: list[dict[str, Any]] = [
        {"id": "30", "properties": {"tag": "x", "n": 3}, "schema": None, "type_conflicts": None},
        {"id": "10", "properties": {"n": 1, "tag": "x"}},
    ]
    joined = join_job("users", positions(0, 1, 2), requests, imports, errors)
    assert joined.failed == [1]
    assert dict(zip(joined.imported, joined.fullstory_ids, strict=True)) == {0: "10", 2: "30"}
    assert joined.loose_matches == 0


def test_an_empty_uid_is_not_taken_for_an_anonymous_row() -> None:
    # Contract §11.1: uid "" fails; an omitted uid is a new anonymous user.
    requests: list[dict[str, Any]] = [{"properties": {"p": 1}}, {"uid": "", "properties": {"p": 1}}]
    errors = [
        error("user", {"uid": "", "properties": {"p": 1}, "schema": None}, "invalid_parameter")
    ]
    imports = [{"id": "5", "properties": {"p": 1}}]
    joined = join_job("users", positions(0, 1), requests, imports, errors)
    assert (joined.failed, joined.codes, joined.imported) == ([1], ["invalid_parameter"], [0])


def test_a_row_naming_its_user_by_id_matches_the_import_of_that_user() -> None:
    requests: list[dict[str, Any]] = [{"id": "42", "properties": {"a": 1}}, {"uid": "b"}]
    imports = [{"id": "77", "uid": "b"}, {"id": "42", "uid": "known-uid"}]
    joined = join_job("users", positions(0, 1), requests, imports, [])
    assert dict(zip(joined.imported, joined.fullstory_ids, strict=True)) == {0: "42", 1: "77"}
    assert joined.unmatched_results == 0


def test_a_uid_held_by_one_row_is_enough_whatever_else_the_echo_rewrote() -> None:
    requests = [{"uid": "a", "email": "A@X.IO"}, {"uid": "b"}]
    errors = [error("user", {"uid": "a", "email": "a@x.io"}, "bad_email", "lower")]
    joined = join_job("users", positions(0, 1), requests, [{"id": "2", "uid": "b"}], errors)
    assert (joined.failed, joined.codes, joined.imported) == ([0], ["bad_email"], [1])
    assert joined.loose_matches == 0


def test_a_uid_sent_twice_whose_echo_matches_neither_content_falls_back_to_the_uid() -> None:
    requests = [{"uid": "a", "email": "A@X.IO"}, {"uid": "a", "email": "B@X.IO"}]
    errors = [error("user", {"uid": "a", "email": "b@x.io"}, "bad_email", "lower")]
    joined = join_job("users", positions(0, 1), requests, [{"id": "2", "uid": "a"}], errors)
    assert sorted(joined.failed + joined.imported) == [0, 1] and joined.codes == ["bad_email"]
    assert joined.loose_matches == 1 and joined.unmatched_results == 0


def test_an_event_echo_rewritten_beyond_normalisation_matches_loosely_by_name_and_user() -> None:
    requests = [
        {"name": "A", "user": {"uid": "u"}, "properties": {"s": "Text"}},
        {"name": "A", "user": {"uid": "v"}, "properties": {"s": "Text"}},
    ]
    errors = [error("event", {"name": "A", "user": {"uid": "v"}, "properties": {"s": "text"}})]
    imports = [dict(requests[0], user={"uid": "u", "id": "1"})]
    joined = join_job("events", positions(0, 1), requests, imports, errors)
    assert (joined.failed, joined.imported, joined.loose_matches) == ([1], [0], 1)


def test_identical_rerendered_user_echoes_are_counted() -> None:
    request = {"properties": {"n": 1.0}}
    requests = [dict(request) for _ in range(4)]
    errors = [error("user", rerendered_user(request)) for _ in range(3)]
    joined = join_job(
        "users", positions(0, 1, 2, 3), requests, [{"id": "1", "properties": {"n": 1}}], errors
    )
    assert len(joined.failed) == 3 and len(joined.imported) == 1
    assert sorted(joined.failed + joined.imported) == [0, 1, 2, 3]


def test_a_rerendered_event_echo_is_matched_by_its_normalised_content() -> None:
    sent = {
        "name": "Buy",
        "user": {"uid": "u"},
        "timestamp": "2024-01-01T00:00:00.000Z",
        "properties": {"amount": 3.0, "note": None, "tags": [1.0, None]},
    }
    other = dict(sent, properties={"amount": 4.0})
    echo = {
        "name": "Buy",
        "user": {"uid": "u"},
        "timestamp": "2024-01-01T00:00:00Z",
        "properties": {"amount": 3, "tags": [1, None]},
    }
    imported = dict(other, user={"uid": "u", "id": "9"}, properties={"amount": 4})
    joined = join_job(
        "events",
        positions(0, 1),
        [sent, other],
        [imported],
        [error("event", echo, "user_not_found", "who")],
    )
    assert (joined.failed, joined.codes, joined.imported, joined.fullstory_ids) == (
        [0],
        ["user_not_found"],
        [1],
        ["9"],
    )
    assert joined.loose_matches == 0


def test_identical_rerendered_event_echoes_are_counted_not_guessed() -> None:
    event = {"name": "Click", "user": {"uid": "u"}, "properties": {"n": 1.0}}
    requests = [dict(event) for _ in range(5)]
    errors = [error("event", renumber(event)) for _ in range(2)]
    imports = [dict(event, user={"uid": "u", "id": "7"}, timestamp="2025-01-01T00:00:00Z")] * 3
    joined = join_job("events", positions(0, 1, 2, 3, 4), requests, imports, errors)
    assert (len(joined.failed), len(joined.imported), joined.unmatched_results) == (2, 3, 0)


def test_an_echo_that_matches_no_row_leaves_the_row_unreconciled() -> None:
    requests = [{"name": "A", "user": {"uid": "u"}}]
    errors = [error("event", {"name": "B", "user": {"uid": "u"}})]
    joined = join_job("events", positions(0), requests, [], errors)
    assert (joined.failed, joined.codes, joined.unmatched_results) == ([0], ["unreconciled"], 1)


def test_an_error_without_an_echo_matches_no_row() -> None:
    joined = join_job("users", positions(0), [{"uid": "a"}], [], [{"code": "x", "message": "y"}])
    assert (joined.codes, joined.unmatched_results) == (["unreconciled"], 1)


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ({"a": 1.0}, {"a": 1}, True),
        ({"a": None, "b": 2}, {"b": 2}, True),
        ({"b": 2, "a": [1, None]}, {"a": [1.0, None], "b": 2.0}, True),
        ({"a": {"x": None}}, {"a": {}}, True),
        ({"a": 2**60 + 1}, {"a": float(2**60)}, True),  # a double cannot tell them apart
        ({"a": True}, {"a": 1}, False),
        ({"a": [None]}, {"a": []}, False),  # in a list a null holds a place
        ({"a": [["k", 1]]}, {"a": {"k": 1}}, False),
        ({"a": "1"}, {"a": 1}, False),
        ({"a": 0.5}, {"a": 0.25}, False),
    ],
)
def test_normalise(left: Any, right: Any, equal: bool) -> None:
    assert (normalise(left) == normalise(right)) is equal
    if equal:
        assert hash(normalise(left)) == hash(normalise(right))


def test_the_join_stays_linear_on_a_large_job_of_identical_anonymous_rows() -> None:
    # The worst case for buckets: every row shares every key. Quadratic would take minutes.
    n = 20_000
    request = {"properties": {"n": 1.0, "tag": "x"}}
    requests = [dict(request) for _ in range(n)]
    errors = [error("user", rerendered_user(request)) for _ in range(n // 2)]
    imports = [{"id": str(i), "properties": {"n": 1, "tag": "x"}} for i in range(n // 2)]
    started = time.perf_counter()
    joined = join_job("users", np.arange(n, dtype=np.int64), requests, imports, errors)
    assert time.perf_counter() - started < 20
    assert (len(joined.failed), len(joined.imported), joined.unmatched_results) == (
        n // 2,
        n // 2,
        0,
    )
