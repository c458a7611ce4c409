"""Row-level rules: a row that breaks one is in ``plan.rejected`` with the rule, never sent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs_pandas.payloads import Plan, plan_events, plan_users
from fs_pandas.payloads import users as users_module
from tests.payloads.payload_helpers import requests_of


def rules(plan: Plan) -> dict[int, str]:
    return dict(
        zip(plan.rejected["position"].tolist(), plan.rejected["rule"].tolist(), strict=True)
    )


def users(**columns: object) -> Plan:
    df = pd.DataFrame(columns)
    return plan_users(df, uid_col="uid" if "uid" in columns else None)


def test_rejected_frame_has_exactly_the_documented_columns() -> None:
    rejected = users(uid=["a"], p=[1.0]).rejected
    assert rejected.columns.tolist() == ["position", "column", "rule", "message"]
    assert rejected["position"].dtype == np.int64


def test_infinite_values_are_rejected_as_non_finite() -> None:
    plan = users(uid=["a", "b", "c"], p=[1.0, np.inf, -np.inf])
    assert rules(plan) == {1: "non_finite", 2: "non_finite"}
    assert plan.rejected["column"].tolist() == ["p", "p"]


def test_missing_uid_is_rejected() -> None:
    assert rules(users(uid=["a", None, np.nan])) == {1: "uid_missing", 2: "uid_missing"}


def test_empty_uid_is_rejected() -> None:
    assert rules(users(uid=["a", ""])) == {1: "uid_missing"}


def test_uid_over_256_characters_is_rejected() -> None:
    assert rules(users(uid=["a" * 256, "é" * 257])) == {1: "uid_too_long"}


TEXT_DTYPES = [object, "string[pyarrow]", pd.ArrowDtype(pa.large_string())]


@pytest.mark.parametrize("dtype", TEXT_DTYPES, ids=str)
def test_lengths_count_characters_not_bytes(dtype: object) -> None:
    # 256 "é" are 512 bytes but 256 characters: allowed (the limit is in characters).
    uid = pd.Series(["é" * 256, "é" * 257, "a" * 257], dtype=dtype)
    assert rules(users(uid=uid)) == {1: "uid_too_long", 2: "uid_too_long"}


def arrow_text_with_bytes_behind_a_null(large: bool) -> pd.Series:
    """["", <null over 9,000 bytes>, "a"], sliced from a longer array (Arrow allows a null
    slot to span bytes; files and other libraries may write them)."""
    data = b"z" + b"q" * 9000 + b"a"
    width = np.int64 if large else np.int32
    offsets = np.array([0, 1, 1, 9001, 9002], dtype=width)
    validity = np.packbits([True, True, False, True], bitorder="little")
    kind = pa.large_string() if large else pa.string()
    arr = pa.Array.from_buffers(
        kind, 4, [pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pd.Series(arr.slice(1), dtype=pd.ArrowDtype(kind))


@pytest.mark.parametrize("large", [False, True])
def test_a_null_that_spans_bytes_is_missing_not_long_or_empty(large: bool) -> None:
    text = arrow_text_with_bytes_behind_a_null(large)
    assert rules(users(uid=["a", "b", "c"], p=text)) == {}
    assert rules(users(uid=text)) == {0: "uid_missing", 1: "uid_missing"}
    df = pd.DataFrame({"uid": ["a", "b", "c"], "e": text})
    plan = plan_users(df, uid_col="uid", email_col="e")
    assert rules(plan) == {}
    assert [r.get("email") for r in requests_of(plan)] == ["", None, "a"]


def test_display_name_over_256_characters_is_rejected() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": ["x" * 256, "x" * 257]})
    assert rules(plan_users(df, uid_col="uid", display_name_col="n")) == {
        1: "display_name_too_long"
    }


def test_email_over_128_characters_is_rejected() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "e": ["x" * 128, "x" * 129]})
    assert rules(plan_users(df, uid_col="uid", email_col="e")) == {1: "email_too_long"}


def test_value_over_8192_bytes_is_rejected() -> None:
    assert rules(users(uid=["a", "b"], p=["x" * 8192, "x" * 8193])) == {1: "value_too_large"}


def test_value_size_counts_utf8_bytes_of_the_value_not_its_json_escapes() -> None:
    # Contract §11.5: "in bytes of the value". 4096 "é" are 8192 UTF-8 bytes: allowed; a
    # 4097th is not. 8192 quotes escape to 16386 JSON bytes, but are 8192 bytes: allowed.
    assert rules(users(uid=["a", "b"], p=["é" * 4096, "é" * 4097])) == {1: "value_too_large"}
    assert rules(users(uid=["a", "b"], p=['"' * 8192, '"' * 8193])) == {1: "value_too_large"}
    nested = users(uid=["a", "b"], p=[{"k": "é" * 4096}, {"k": "é" * 4097}])
    assert rules(nested) == {1: "value_too_large"}


def test_list_value_over_8192_bytes_is_rejected() -> None:
    plan = users(uid=["a", "b"], p=[["x"] * 10, ["x" * 100] * 100])
    assert rules(plan) == {1: "value_too_large"}


def test_arrays_of_objects_are_rejected() -> None:
    assert rules(users(uid=["a", "b"], p=[[1], [{"k": 1}]])) == {1: "array_of_objects"}


def test_lists_mixing_types_are_rejected() -> None:
    assert rules(users(uid=["a", "b"], p=[[1, 2.5], [1, "x"]])) == {1: "list_element"}


def test_null_inside_a_list_is_rejected() -> None:
    assert rules(users(uid=["a", "b"], p=[[1], [1, None]])) == {1: "list_element"}


def test_bad_nested_property_name_is_rejected() -> None:
    plan = users(uid=["a", "b"], p=[{"ok": 1}, {"not ok": 1}])
    assert rules(plan) == {1: "property_name"}


def test_nested_dotted_path_over_512_characters_is_rejected() -> None:
    plan = users(uid=["a", "b"], p=[{"k": 1}, {"k" * 511: 1}])
    assert rules(plan) == {1: "property_name_too_long"}


def test_more_than_500_properties_in_a_row_is_rejected() -> None:
    many = {f"k{i}": i for i in range(500)}
    plan = users(uid=["a", "b"], q=[1, 1], p=[{"k": 1}, many])
    assert rules(plan) == {1: "too_many_properties"}


def test_nan_inside_a_dict_is_rejected_only_when_infinite() -> None:
    plan = users(uid=["a", "b"], p=[{"x": float("nan")}, {"x": float("inf")}])
    assert rules(plan) == {1: "non_finite"}


def test_naive_time_that_does_not_exist_in_naive_tz_is_rejected() -> None:
    df = pd.DataFrame(
        {"uid": ["a", "b"], "t": pd.to_datetime(["2024-03-31 01:30", "2024-03-31 02:30"])}
    )
    plan = plan_users(df, uid_col="uid", naive_tz="Europe/Paris")
    assert rules(plan) == {1: "invalid_date"}


def test_ambiguous_naive_time_is_rejected() -> None:
    df = pd.DataFrame({"uid": ["a"], "t": pd.to_datetime(["2024-10-27 02:30"])})
    assert rules(plan_users(df, uid_col="uid", naive_tz="Europe/Paris")) == {0: "invalid_date"}


def test_unparseable_date_string_declared_date_is_rejected() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "t": ["2024-01-01", "not a date"]})
    assert rules(plan_users(df, uid_col="uid", schema={"t": "date"})) == {1: "invalid_date"}


def test_non_integral_float_declared_int_is_rejected() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1.0, 1.5]})
    assert rules(plan_users(df, uid_col="uid", schema={"n": "int"})) == {1: "not_integral"}


def test_uint64_above_int64_range_is_rejected() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": np.array([1, 2**63], dtype=np.uint64)})
    assert rules(plan_users(df, uid_col="uid")) == {1: "int_out_of_range"}


def test_a_row_breaking_two_rules_keeps_the_first_found() -> None:
    plan = users(uid=[None], p=[np.inf])
    assert len(plan.rejected) == 1
    assert plan.rejected["rule"].tolist() == ["uid_missing"]


def test_duplicate_uid_first_policy_sends_the_first_row() -> None:
    plan = users(uid=["a", "b", "a", "a"])
    assert rules(plan) == {2: "duplicate_uid", 3: "duplicate_uid"}
    assert "position 0" in plan.rejected["message"].iloc[0]


def test_duplicate_uid_message_names_the_index_label_of_the_row_sent() -> None:
    df = pd.DataFrame({"uid": ["a", "b", "a"]}, index=["cust-1", "cust-2", "cust-3"])
    plan = plan_users(df, uid_col="uid")
    message = plan.rejected["message"].iloc[0]
    assert (
        message == "uid 'a' repeats the row labelled 'cust-1' (position 0), which is sent instead"
    )


def test_duplicate_integer_uids_are_found_too() -> None:
    plan = plan_users(pd.DataFrame({"uid": [7, 8, 7, 9, 8]}), uid_col="uid")
    assert rules(plan) == {2: "duplicate_uid", 4: "duplicate_uid"}


def test_integer_uids_repeated_only_in_rejected_rows_are_not_duplicates() -> None:
    plan = users(uid=[7, 7, 8], p=[np.inf, 1.0, 2.0])
    assert rules(plan) == {0: "non_finite"}


def test_duplicate_uid_last_policy_sends_the_last_row() -> None:
    plan = plan_users(pd.DataFrame({"uid": ["a", "b", "a"]}), uid_col="uid", duplicates="last")
    assert rules(plan) == {0: "duplicate_uid"}
    assert "position 2" in plan.rejected["message"].iloc[0]


def test_duplicate_uid_reject_policy_rejects_every_copy() -> None:
    plan = plan_users(pd.DataFrame({"uid": ["a", "b", "a"]}), uid_col="uid", duplicates="reject")
    assert rules(plan) == {0: "duplicate_uid", 2: "duplicate_uid"}


def test_duplicate_uid_allow_policy_sends_all() -> None:
    plan = plan_users(pd.DataFrame({"uid": ["a", "a"]}), uid_col="uid", duplicates="allow")
    assert len(requests_of(plan)) == 2


def test_duplicates_ignore_rows_rejected_for_another_rule() -> None:
    plan = users(uid=["a", "a"], p=[np.inf, 1.0])
    assert rules(plan) == {0: "non_finite"}


def test_int_and_text_uids_compare_as_sent() -> None:
    plan = plan_users(pd.DataFrame({"uid": [7, 7]}), uid_col="uid")
    assert rules(plan) == {1: "duplicate_uid"}


# The usual case (every uid once) is told from 64-bit hashes of the uids, made a few at a
# time; texts that pad, hash or chunk alike must still be found equal or told apart.
uid_texts = st.lists(
    st.one_of(
        st.sampled_from(["a", "a ", " a", "ab", "é", "e", "", "x" * 8, "x" * 9, "y" * 300]),
        st.text(max_size=20),
    ),
    max_size=40,
)


@given(uid_texts, st.sampled_from([pa.string(), pa.large_string()]), st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_hashed_check_never_calls_equal_uids_distinct(
    texts: list[str], arrow_type: pa.DataType, skip: int
) -> None:
    values = pa.array(["skipped"] * skip + texts, type=arrow_type).slice(skip)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users_module, "_HASHED_BYTES", 64)  # several pieces, even for few rows
        distinct = users_module._surely_distinct(values)
    if len(set(texts)) < len(texts):
        assert not distinct
    elif all(len(t.encode()) <= 256 for t in texts):
        assert distinct  # the hashes of a few distinct texts do not collide


DUPLICATE = "duplicate_uid"


@given(uid_texts)
@settings(max_examples=200, deadline=None)
def test_duplicate_uids_found_are_those_of_the_texts(texts: list[str]) -> None:
    for dtype in (object, "str"):
        plan = plan_users(pd.DataFrame({"uid": pd.Series(texts, dtype=dtype)}), uid_col="uid")
        found = rules(plan)
        eligible = [i for i in range(len(texts)) if found.get(i, DUPLICATE) == DUPLICATE]
        expected = {i for i in eligible if texts[i] in {texts[j] for j in eligible if j < i}}
        assert {p for p, r in found.items() if r == DUPLICATE} == expected


def test_event_row_with_empty_name_is_rejected() -> None:
    df = pd.DataFrame({"n": ["Signed Up", "", None]})
    assert rules(plan_events(df, name_col="n")) == {1: "name_missing", 2: "name_missing"}


def test_event_row_with_uid_and_user_id_is_rejected() -> None:
    df = pd.DataFrame({"u": ["a", "b", None], "i": [None, "9", "9"]})
    plan = plan_events(df, name="E", uid_col="u", user_id_col="i")
    assert rules(plan) == {1: "identity_conflict"}


def test_event_row_with_session_id_and_user_is_rejected() -> None:
    df = pd.DataFrame({"u": ["a", None], "s": ["1:2", "1:2"]})
    plan = plan_events(df, name="E", uid_col="u", session_id_col="s")
    assert rules(plan) == {0: "identity_conflict"}


def test_use_most_recent_row_without_user_is_rejected() -> None:
    df = pd.DataFrame({"u": ["a", None]})
    plan = plan_events(df, name="E", uid_col="u", use_most_recent=True)
    assert rules(plan) == {1: "user_missing"}


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_rejected_rows_are_not_in_any_body(bad: float) -> None:
    plan = users(uid=["a", "b"], p=[bad, 1.0])
    assert [r["uid"] for r in requests_of(plan)] == ["b"]
    assert plan.accepted_positions.tolist() == [1]
