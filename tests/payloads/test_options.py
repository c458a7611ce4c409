"""Option-level mistakes raise InvalidDataError (a ValueError) naming the column and rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fs_pandas.errors import InvalidDataError
from fs_pandas.payloads import plan_events, plan_users


def users_error(df: pd.DataFrame, **options: object) -> InvalidDataError:
    with pytest.raises(InvalidDataError) as info:
        plan_users(df, **{"uid_col": "uid", **options})  # type: ignore[arg-type]
    return info.value


def test_invalid_data_error_is_a_value_error() -> None:
    assert issubclass(InvalidDataError, ValueError)


def test_missing_uid_column_is_named() -> None:
    err = users_error(pd.DataFrame({"x": [1]}))
    assert "uid_col='uid'" in str(err) and err.rule == "missing_column"


def test_bytes_column_is_refused_with_the_way_out() -> None:
    err = users_error(pd.DataFrame({"uid": ["a"], "blob": [b"\x00"]}))
    assert "'blob'" in str(err) and "bytes" in str(err) and "properties=[" in str(err)
    assert err.column == "blob"


def test_complex_column_is_refused() -> None:
    assert users_error(pd.DataFrame({"uid": ["a"], "z": [1 + 2j]})).column == "z"


def test_timedelta_column_is_refused() -> None:
    err = users_error(pd.DataFrame({"uid": ["a"], "d": pd.to_timedelta(["1s"])}))
    assert err.column == "d"


def test_mixed_object_column_is_refused() -> None:
    err = users_error(pd.DataFrame({"uid": ["a", "b"], "m": [1, "x"]}))
    assert "'m'" in str(err)


def test_bad_column_name_as_property_is_refused_with_rename_hint() -> None:
    err = users_error(pd.DataFrame({"uid": ["a"], "First Name": ["x"]}))
    assert err.rule == "property_name" and "rename={'First Name'" in str(err)


def test_non_text_column_label_needs_a_name() -> None:
    assert users_error(pd.DataFrame({"uid": ["a"], 0: ["x"]})).rule == "property_name"


def test_two_columns_feeding_one_property_are_refused() -> None:
    df = pd.DataFrame({"uid": ["a"], "address": [{"city": "x"}], "address.city": ["y"]})
    assert users_error(df).rule == "property_collision"


def test_more_than_500_property_columns_are_refused() -> None:
    df = pd.DataFrame({"uid": ["a"], **{f"p{i}": [i] for i in range(501)}})
    assert users_error(df).rule == "too_many_properties"


def test_unknown_nulls_option_is_refused() -> None:
    assert "nulls" in str(users_error(pd.DataFrame({"uid": ["a"]}), nulls="drop"))


def test_unknown_time_zone_is_refused() -> None:
    assert "naive_tz" in str(users_error(pd.DataFrame({"uid": ["a"]}), naive_tz="Mars/Base"))


def test_unknown_duplicates_policy_is_refused() -> None:
    assert "duplicates" in str(users_error(pd.DataFrame({"uid": ["a"]}), duplicates="merge"))


def test_schema_naming_an_unknown_property_is_refused() -> None:
    assert users_error(pd.DataFrame({"uid": ["a"]}), schema={"nope": "int"}).rule == "schema"


def test_schema_with_an_unknown_type_is_refused() -> None:
    df = pd.DataFrame({"uid": ["a"], "n": [1]})
    assert users_error(df, schema={"n": "integer"}).rule == "schema"


def test_schema_type_that_does_not_fit_the_values_is_refused() -> None:
    df = pd.DataFrame({"uid": ["a"], "n": [True]})
    assert users_error(df, schema={"n": "int"}).rule == "schema"


def test_uid_column_of_datetimes_is_refused() -> None:
    df = pd.DataFrame({"uid": pd.to_datetime(["2024-01-01"])})
    assert users_error(df).rule == "unsupported_dtype"


def test_duplicate_column_labels_are_refused() -> None:
    df = pd.DataFrame([[1, 2]], columns=["uid", "uid"])
    assert users_error(df).rule == "duplicate_column"


def test_event_name_and_name_col_together_are_refused() -> None:
    with pytest.raises(InvalidDataError, match="not both"):
        plan_events(pd.DataFrame({"n": ["x"]}), name="E", name_col="n")


def test_event_without_a_name_is_refused() -> None:
    with pytest.raises(InvalidDataError, match="non-empty name"):
        plan_events(pd.DataFrame({"n": ["x"]}))


def test_use_most_recent_with_session_id_col_is_refused() -> None:
    df = pd.DataFrame({"u": ["a"], "s": ["1:2"]})
    with pytest.raises(InvalidDataError, match="cannot go together"):
        plan_events(df, name="E", uid_col="u", session_id_col="s", use_most_recent=True)


def test_use_most_recent_without_a_user_column_is_refused() -> None:
    with pytest.raises(InvalidDataError, match="needs uid_col"):
        plan_events(pd.DataFrame({"x": [1]}), name="E", use_most_recent=True)


def test_unknown_context_key_is_refused() -> None:
    with pytest.raises(InvalidDataError, match=r"context key 'browser\.web'"):
        plan_events(pd.DataFrame({"u": ["x"]}), name="E", context={"browser.web": "u"})


def test_timestamp_column_of_text_is_read_as_dates_and_of_numbers_refused() -> None:
    text = pd.DataFrame({"t": ["2024-05-01T10:00:00+02:00", "yesterday"]})
    plan = plan_events(text, name="E", timestamp_col="t")
    assert plan.requests() == [{"name": "E", "timestamp": "2024-05-01T08:00:00Z"}]
    assert plan.rejected["rule"].tolist() == ["invalid_date"]  # never sent as text
    with pytest.raises(InvalidDataError, match=r"pd\.to_datetime"):
        plan_events(pd.DataFrame({"t": [1714550400]}), name="E", timestamp_col="t")


def test_numeric_context_field_needs_numbers() -> None:
    with pytest.raises(InvalidDataError, match="needs numbers"):
        plan_events(pd.DataFrame({"w": ["wide"]}), name="E", context={"device.screen_width": "w"})


def test_not_a_frame_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        plan_users(np.zeros(3), uid_col=None)  # type: ignore[arg-type]
