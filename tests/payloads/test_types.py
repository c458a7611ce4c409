"""The dtype plan: each pandas dtype becomes one explicit Fullstory type (one behaviour each)."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fs_pandas.payloads import plan_users
from tests.payloads.payload_helpers import only, parse, requests_of


def one(values: list[object], dtype: object = None, **options: object) -> dict[str, object]:
    """The request of a one-row frame with uid "u" and one property column ``p``."""
    df = pd.DataFrame({"uid": ["u"] * len(values), "p": pd.Series(values, dtype=dtype)})
    return only(plan_users(df.iloc[:1], uid_col="uid", **options))  # type: ignore[arg-type]


def test_numpy_ints_are_json_integers_declared_int() -> None:
    req = one([7], dtype="int64")
    assert req["properties"] == {"p": 7}
    assert req["schema"] == {"properties": {"p": "int"}}


def test_nullable_int_missing_value_is_omitted() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "p": pd.array([None, 3], dtype="Int64")})
    reqs = requests_of(plan_users(df, uid_col="uid"))
    assert "properties" not in reqs[0] and "schema" not in reqs[0]
    assert reqs[1]["properties"] == {"p": 3}


def test_floats_are_real_and_not_declared() -> None:
    req = one([0.1])
    assert req["properties"] == {"p": 0.1}
    assert "schema" not in req


def test_float_nan_is_omitted_by_default() -> None:
    assert "properties" not in one([np.nan])


def test_float_nan_is_json_null_with_nulls_null() -> None:
    assert one([np.nan], nulls="null")["properties"] == {"p": None}


def test_float_values_round_trip_exactly() -> None:
    values = [0.1, 1e300, 5e-324, -0.0, 123456789.123456789, 2.0]
    df = pd.DataFrame({"uid": [str(i) for i in range(len(values))], "p": values})
    got = [r["properties"]["p"] for r in requests_of(plan_users(df, uid_col="uid"))]
    assert got == values


def test_bools_are_json_booleans() -> None:
    assert one([True])["properties"] == {"p": True}


def test_nullable_boolean_na_is_omitted() -> None:
    assert "properties" not in one([None], dtype="boolean")


def test_tz_aware_datetimes_become_utc_z_declared_date() -> None:
    ts = pd.Timestamp("2024-05-01 14:00", tz="Europe/Paris")
    req = one([ts])
    assert req["properties"] == {"p": "2024-05-01T12:00:00Z"}
    assert req["schema"] == {"properties": {"p": "date"}}


def test_naive_datetimes_are_read_as_utc_by_default() -> None:
    assert one([pd.Timestamp("2024-05-01 12:00")])["properties"] == {"p": "2024-05-01T12:00:00Z"}


def test_naive_datetimes_use_naive_tz_when_given() -> None:
    req = one([pd.Timestamp("2024-05-01 12:00")], naive_tz="America/New_York")
    assert req["properties"] == {"p": "2024-05-01T16:00:00Z"}


def test_fractional_seconds_only_when_present() -> None:
    values = [
        pd.Timestamp("2024-05-01 12:00:00.5"),
        pd.Timestamp("2024-05-01 12:00:00.000001"),
        pd.Timestamp("2024-05-01 12:00:00.000000001"),
        pd.Timestamp("2024-05-01 12:00"),
    ]
    df = pd.DataFrame({"uid": list("abcd"), "p": values})
    got = [r["properties"]["p"] for r in requests_of(plan_users(df, uid_col="uid"))]
    assert got == [
        "2024-05-01T12:00:00.500Z",
        "2024-05-01T12:00:00.000001Z",
        "2024-05-01T12:00:00.000000001Z",
        "2024-05-01T12:00:00Z",
    ]


def test_dates_before_1970_with_fractions_are_exact() -> None:
    req = one([pd.Timestamp("1969-12-31 23:59:59.25")])
    assert req["properties"] == {"p": "1969-12-31T23:59:59.250Z"}


def test_nat_is_omitted() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "p": [pd.NaT, pd.Timestamp("2024-01-01")]})
    reqs = requests_of(plan_users(df, uid_col="uid"))
    assert "properties" not in reqs[0]


def test_python_dates_become_midnight_utc() -> None:
    assert one([dt.date(2024, 5, 1)])["properties"] == {"p": "2024-05-01T00:00:00Z"}


def test_categoricals_are_strings() -> None:
    assert one(["gold"], dtype="category")["properties"] == {"p": "gold"}


def test_categorical_missing_is_omitted() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "p": pd.Categorical([None, "x"])})
    assert "properties" not in requests_of(plan_users(df, uid_col="uid"))[0]


def test_pyarrow_strings_are_strings() -> None:
    assert one(['héllo "q" \n'], dtype="string[pyarrow]")["properties"] == {"p": 'héllo "q" \n'}


def test_object_strings_with_none_are_omitted() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "p": pd.Series([None, "x"], dtype=object)})
    assert "properties" not in requests_of(plan_users(df, uid_col="uid"))[0]


@pytest.mark.parametrize(
    "missing",
    [None, np.nan, pd.NA, pd.NaT, np.float32("nan"), np.datetime64("NaT"), decimal.Decimal("NaN")],
    ids=repr,
)
def test_every_missing_value_in_object_text_is_read_as_missing(missing: object) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "p": pd.Series(["x", missing], dtype=object)})
    plan = plan_users(df, nulls="null", uid_col="uid")
    assert plan.rejected.empty
    assert requests_of(plan) == [
        {"uid": "a", "properties": {"p": "x"}},
        {"uid": "b", "properties": {"p": None}},
    ]


def test_list_of_strings_is_strs_and_not_declared() -> None:
    req = one([["a", "b"]])
    assert req["properties"] == {"p": ["a", "b"]}
    assert "schema" not in req


def test_list_of_ints_is_declared_ints() -> None:
    assert one([[1, 2]])["schema"] == {"properties": {"p": "ints"}}


def test_list_of_datetimes_is_declared_dates() -> None:
    req = one([[pd.Timestamp("2024-01-01", tz="UTC")]])
    assert req["properties"] == {"p": ["2024-01-01T00:00:00Z"]}
    assert req["schema"] == {"properties": {"p": "dates"}}


def test_numpy_array_values_are_lists() -> None:
    assert one([np.array([1.5, 2.5])])["properties"] == {"p": [1.5, 2.5]}


def test_dict_column_becomes_nested_object() -> None:
    req = one([{"city": "Paris", "zip": 75001}])
    assert req["properties"] == {"p": {"city": "Paris", "zip": 75001}}
    assert req["schema"] == {"properties": {"p.zip": "int"}}


def test_dotted_column_names_become_nested_objects() -> None:
    df = pd.DataFrame({"uid": ["a"], "address.city": ["Paris"], "address.zip": [75001]})
    req = only(plan_users(df, uid_col="uid"))
    assert req["properties"] == {"address": {"city": "Paris", "zip": 75001}}
    assert req["schema"] == {"properties": {"address.zip": "int"}}


def test_nested_object_is_left_out_when_all_its_members_are_missing() -> None:
    df = pd.DataFrame({"uid": ["a"], "address.city": [None], "n": [1]})
    assert only(plan_users(df, uid_col="uid"))["properties"] == {"n": 1}


def test_numpy_scalars_never_leak_into_json() -> None:
    df = pd.DataFrame(
        {
            "uid": [np.int64(5)],
            "i": [np.int32(3)],
            "f": [np.float32(0.5)],
            "b": [np.bool_(True)],
            "o": pd.Series([np.int64(9)], dtype=object),
        }
    )
    plan = plan_users(df, uid_col="uid")
    body = next(plan.chunks()).body
    assert parse(body)["requests"][0]["properties"] == {"i": 3, "f": 0.5, "b": True, "o": 9}


def test_int_uids_become_strings() -> None:
    df = pd.DataFrame({"uid": [123]})
    assert only(plan_users(df, uid_col="uid")) == {"uid": "123"}


def test_float_uids_with_nan_become_whole_number_strings() -> None:
    df = pd.DataFrame({"uid": [123.0, np.nan]})
    plan = plan_users(df, uid_col="uid")
    assert requests_of(plan) == [{"uid": "123"}]
    assert plan.rejected["rule"].tolist() == ["uid_missing"]


def test_uid_email_display_name_are_top_level_fields() -> None:
    df = pd.DataFrame({"u": ["x"], "e": ["x@example.com"], "n": ["X"], "id": ["42"]})
    req = only(plan_users(df, uid_col="u", email_col="e", display_name_col="n", id_col="id"))
    assert req == {"uid": "x", "id": "42", "display_name": "X", "email": "x@example.com"}


def test_properties_mapping_renames_columns() -> None:
    df = pd.DataFrame({"uid": ["a"], "First Name": ["Ann"]})
    req = only(plan_users(df, uid_col="uid", properties={"First Name": "first_name"}))
    assert req["properties"] == {"first_name": "Ann"}


def test_schema_none_declares_nothing() -> None:
    assert "schema" not in one([7], schema=None)


def test_schema_override_declares_float_column_int() -> None:
    req = one([3.0], schema={"p": "int"})
    assert req["properties"] == {"p": 3}
    assert req["schema"] == {"properties": {"p": "int"}}


def test_schema_override_parses_strings_declared_date() -> None:
    req = one(["2024-05-01T12:00:00+02:00"], schema={"p": "date"})
    assert req["properties"] == {"p": "2024-05-01T10:00:00Z"}


@pytest.mark.parametrize("nulls", ["omit", "null"])
def test_type_plan_lists_each_used_column(nulls: str) -> None:
    df = pd.DataFrame(
        {
            "uid": ["a", "b"],
            "n": pd.array([1, None], dtype="Int64"),
            "when": pd.to_datetime(["2024-01-01", None]),
        }
    )
    tp = plan_users(df, uid_col="uid", nulls=nulls).type_plan()  # type: ignore[arg-type]
    assert tp.columns.tolist() == ["column", "property", "type", "nulls", "note"]
    assert tp.set_index("column")["type"].to_dict() == {"uid": "uid", "n": "int", "when": "date"}
    assert tp.set_index("column")["nulls"].to_dict() == {"uid": 0, "n": 1, "when": 1}


def test_null_policy_null_does_not_declare_a_type_for_a_null_value() -> None:
    req = one([None], dtype="Int64", nulls="null")
    assert req["properties"] == {"p": None}
    assert "schema" not in req


@pytest.mark.parametrize(
    ("series", "expected", "declared"),
    [
        (pd.Series([1], dtype="int64[pyarrow]"), 1, "int"),
        (pd.Series([1.5], dtype="double[pyarrow]"), 1.5, None),
        (pd.Series([True], dtype="bool[pyarrow]"), True, None),
        (pd.Series(["x"], dtype=pd.ArrowDtype(pa.string())), "x", None),
        (
            pd.Series([dt.date(2024, 1, 2)], dtype=pd.ArrowDtype(pa.date32())),
            "2024-01-02T00:00:00Z",
            "date",
        ),
        (
            pd.Series([pd.Timestamp("2024-01-01 12:00")], dtype=pd.ArrowDtype(pa.timestamp("ns"))),
            "2024-01-01T12:00:00Z",
            "date",
        ),
        (pd.Series([[1, 2]], dtype=pd.ArrowDtype(pa.list_(pa.int64()))), [1, 2], "ints"),
        (
            pd.Series([{"a": 1}], dtype=pd.ArrowDtype(pa.struct([("a", pa.int64())]))),
            {"a": 1},
            None,
        ),
    ],
)
def test_pyarrow_backed_dtypes_follow_the_same_plan(
    series: pd.Series, expected: object, declared: str | None
) -> None:
    req = only(plan_users(pd.DataFrame({"uid": ["u"], "p": series}), uid_col="uid"))
    assert req["properties"] == {"p": expected}
    if declared is not None:
        assert req["schema"]["properties"]["p"] == declared
