"""Frames as analysts get them (from files, ``pd.concat``, Arrow-backed dtypes, edits after the
call): what Fullstory stores is what the frame held when the run was started.

Each test goes through ``batch_update`` / ``batch_events`` and the emulator over HTTP where data
reaches Fullstory, and compares what the emulator stores with the frame's values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import InvalidDataError
from fs_pandas.payloads import plan_events, plan_users
from fs_pandas.run.result import BatchResult
from tests.payloads.payload_helpers import requests_of


def send(frame: pd.DataFrame, client: Client, tmp_path: Path, **options: Any) -> BatchResult:
    result = frame.fullstory.batch_update(
        client=client, poll_interval=0.01, progress=False, ledger_dir=tmp_path, **options
    )
    assert isinstance(result, BatchResult)
    return result


def stored(emu: Emulator) -> dict[str, dict[str, Any]]:
    return {u["uid"]: u["properties"] for u in emu.users()}


def chunks_of(series: pd.Series) -> int:
    """Arrow chunks holding the column's data (1 for NumPy-backed columns)."""
    arrow = pa.array(series.array) if hasattr(series.array, "__arrow_array__") else None
    return int(arrow.num_chunks) if isinstance(arrow, pa.ChunkedArray) else 1


# -- 1. Arrow columns in several chunks ---------------------------------------------------------


def test_concat_of_str_frames_is_sent_and_its_duplicate_uid_found(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = pd.DataFrame({"uid": ["a", "b"], "city": ["Paris", "Lyon"]}, dtype="string[pyarrow]")
    second = pd.DataFrame({"uid": ["c", "a"], "city": ["Nice", "Brest"]}, dtype="string[pyarrow]")
    frame = pd.concat([first, second], ignore_index=True)
    assert chunks_of(frame["uid"]) > 1
    result = send(frame, client, tmp_path, uid_col="uid")
    assert result.outcomes.tolist() == ["imported", "imported", "imported", "rejected"]
    assert stored(emu) == {"a": {"city": "Paris"}, "b": {"city": "Lyon"}, "c": {"city": "Nice"}}


def test_integer_arrow_uids_in_chunks_are_checked_for_duplicates() -> None:
    pieces = [pd.DataFrame({"uid": pd.array([1, 2], dtype="int64[pyarrow]")})] * 2
    plan = plan_users(pd.concat(pieces, ignore_index=True), uid_col="uid")
    assert plan.rejected["rule"].tolist() == ["duplicate_uid", "duplicate_uid"]
    assert [r["uid"] for r in plan.requests()] == ["1", "2"]


def test_categorical_over_arrow_categories_in_chunks(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.concat(
        [
            pd.DataFrame({"uid": ["a"], "tier": ["gold"]}),
            pd.DataFrame({"uid": ["b"], "tier": ["x"]}),
        ],
        ignore_index=True,
    )
    frame["tier"] = frame["tier"].astype("category")
    send(frame, client, tmp_path, uid_col="uid")
    assert stored(emu) == {"a": {"tier": "gold"}, "b": {"tier": "x"}}


def test_parquet_read_in_several_row_groups_round_trips(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    n = 3_000
    source = pd.DataFrame(
        {
            "uid": [f"u{i}" for i in range(n)],
            "visits": np.arange(n, dtype="int64"),
            "tier": pd.Categorical(["gold", "silver", "bronze"] * (n // 3)),
            "seen": pd.date_range("2024-01-01", periods=n, freq="min"),
        }
    )
    path = tmp_path / "users.parquet"
    pq.write_table(pa.Table.from_pandas(source, preserve_index=False), path, row_group_size=700)
    for backend in ("numpy_nullable", "pyarrow"):
        emu.reset()
        frame = pd.read_parquet(path, dtype_backend=backend)
        dtype = frame["uid"].dtype  # Arrow-backed text: pandas 3's str, or dtype_backend
        arrow_backed = (
            isinstance(dtype, pd.ArrowDtype) or getattr(dtype, "storage", "") == "pyarrow"
        )
        assert chunks_of(frame["uid"]) > 1 or not arrow_backed
        result = send(frame, client, tmp_path, uid_col="uid")
        assert result.counts["imported"] == n
        users = stored(emu)
        for i in (0, 699, 700, n - 1):
            assert users[f"u{i}"] == {
                "visits": i,
                "tier": source["tier"][i],
                "seen": source["seen"][i].strftime("%Y-%m-%dT%H:%M:%SZ"),
            }


# -- 2. One role per column ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "column"),
    [("uid_col", "id"), ("email_col", "mail"), ("display_name_col", "name")],
)
def test_a_top_level_column_listed_in_properties_is_refused(option: str, column: str) -> None:
    frame = pd.DataFrame({"id": ["a", None], "mail": ["m@x.io", "n@x.io"], "name": ["A", "B"]})
    options = {"uid_col": "id", option: column}
    listed = [c for c in frame.columns if c == column or option == "uid_col" or c != "id"]
    with pytest.raises(InvalidDataError, match=rf"{column!r} is already sent as") as info:
        plan_users(frame, properties=listed, **options)  # type: ignore[arg-type]
    assert info.value.column == column and option in str(info.value)


def test_an_event_timestamp_listed_in_properties_is_refused() -> None:
    frame = pd.DataFrame({"u": ["a"], "ts": pd.to_datetime(["2024-01-01"])})
    with pytest.raises(InvalidDataError, match="'ts' is already sent as timestamp"):
        plan_events(frame, name="E", uid_col="u", timestamp_col="ts", properties=["ts"])


def test_a_missing_uid_is_never_sent_as_an_anonymous_user(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", None], "plan": ["pro", "free"]})
    result = send(frame, client, tmp_path, uid_col="uid", properties=["plan"])
    assert result.outcomes.tolist() == ["imported", "rejected"]
    assert stored(emu) == {"a": {"plan": "pro"}}


# -- 3. wait=False sends the frame as it was at the call ----------------------------------------


def test_background_run_sends_the_frame_as_it_was_when_called(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=3)
    n = 12
    frame = pd.DataFrame(
        {
            "uid": [f"u{i}" for i in range(n)],
            "score": np.arange(n, dtype="float64"),
            "visits": pd.array(range(n), dtype="Int64"),
            "day": pd.date_range("2024-01-01", periods=n, freq="D"),
            "ok": np.ones(n, dtype=bool),
        }
    )
    original = frame.copy(deep=True)
    handle = frame.fullstory.batch_update(
        uid_col="uid",
        client=client,
        wait=False,
        chunk_size=2,
        max_jobs_in_flight=1,
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path,
    )
    # Edits after the call: a duplicate uid, an infinite score, other values everywhere.
    frame.loc[n - 1, "uid"] = "u0"
    frame.loc[:, "score"] = np.inf
    frame.loc[:, "visits"] = 99
    frame.loc[:, "day"] = pd.Timestamp("1999-01-01")
    frame.loc[:, "ok"] = False
    frame.loc[n] = ["extra", 0.0, 0, pd.Timestamp("2000-01-01"), True]  # a row added in place
    del frame["visits"]
    result = handle.wait()  # type: ignore[union-attr]
    assert result.counts["imported"] == n
    assert result.outcomes.index.equals(original.index)
    assert result.imports["score"].tolist() == original["score"].tolist()
    users = stored(emu)
    assert len(users) == n
    for i in range(n):
        assert users[f"u{i}"] == {
            "score": original["score"][i],
            "visits": i,
            "day": original["day"][i].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ok": True,
        }


# -- 4. Text dates are read per column, the same wherever a value sits ---------------------------


def test_text_dates_with_and_without_offsets_read_per_value(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {
            "uid": ["a", "b", "c", "d"],
            "d": ["2024-01-01 10:00", "2024-01-01T10:00:00+00:00", "2024-07-01 10:00", None],
        }
    )
    send(frame, client, tmp_path, uid_col="uid", schema={"d": "date"}, naive_tz="Europe/Paris")
    assert stored(emu) == {
        "a": {"d": "2024-01-01T09:00:00Z"},
        "b": {"d": "2024-01-01T10:00:00Z"},
        "c": {"d": "2024-07-01T08:00:00Z"},
        "d": {},
    }


def test_a_naive_text_date_is_the_same_instant_in_every_slice_and_thread_count() -> None:
    n = 25_000
    texts = np.array(["2024-03-01 12:00"] * n, dtype=object)
    texts[20_000] = "2024-03-01T12:00:00+05:00"  # one offset, in a later slice
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(n)], "d": texts})
    plan = plan_users(frame, uid_col="uid", schema={"d": "date"}, naive_tz="America/New_York")
    bodies = {t: [c.body for c in plan.chunks(7_001, threads=t)] for t in (1, 2)}
    assert bodies[1] == bodies[2]
    dates = [r["properties"]["d"] for r in requests_of(plan)]
    assert dates.count("2024-03-01T17:00:00Z") == n - 1
    assert dates[20_000] == "2024-03-01T07:00:00Z"


# -- 5. What a user expects to work --------------------------------------------------------------


def test_arrow_dictionary_and_null_columns_from_parquet(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    source = pd.DataFrame(
        {"uid": ["a", "b"], "tier": pd.Categorical(["gold", None]), "empty": [None, None]}
    )
    path = tmp_path / "f.parquet"
    source.to_parquet(path)
    frame = pd.read_parquet(path, dtype_backend="pyarrow")
    assert pa.types.is_dictionary(frame["tier"].dtype.pyarrow_dtype)
    assert pa.types.is_null(frame["empty"].dtype.pyarrow_dtype)
    send(frame, client, tmp_path, uid_col="uid")
    assert stored(emu) == {"a": {"tier": "gold"}, "b": {}}


def test_sparse_and_string_view_columns_are_sent(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    if not hasattr(pa, "string_view"):
        pytest.skip("this pyarrow has no string_view")
    frame = pd.DataFrame(
        {
            "uid": ["a", "b"],
            "s": pd.arrays.SparseArray([1.5, np.nan]),
            "v": pd.Series(["x", None], dtype=pd.ArrowDtype(pa.string_view())),
        }
    )
    send(frame, client, tmp_path, uid_col="uid")
    assert stored(emu) == {"a": {"s": 1.5, "v": "x"}, "b": {}}


def test_zone_names_follow_the_zone_database_in_every_pandas_version() -> None:
    # pandas < 3 read zone names through pytz: no summer time after 2037, offsets before
    # 1911 rounded to the minute. Names are read as zoneinfo zones whatever the version.
    frame = pd.DataFrame(
        {"uid": ["a", "b"], "t": np.array(["2088-07-01T12:00", "1900-06-01T12:00"], "M8[us]")}
    )
    plan = plan_users(frame, uid_col="uid", naive_tz="Europe/Paris")
    assert [r["properties"]["t"] for r in plan.requests()] == [
        "2088-07-01T10:00:00Z",
        "1900-06-01T11:50:39Z",
    ]


@pytest.mark.parametrize("as_text", [True, False])
def test_dates_beyond_the_nanosecond_range_are_sent(as_text: bool) -> None:
    # pandas < 3 parses text and objects into nanoseconds (1677-2262) and coerced the rest
    # to NaT, so those rows were rejected as invalid_date.
    values = ["1500-01-01T00:00:00", "9999-12-31T23:59:59Z", "2024-05-01"]
    objects = [dt.datetime(1500, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59), dt.date(2024, 5, 1)]
    column = pd.Series(values if as_text else objects, dtype=object)
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "d": column})
    plan = plan_users(frame, uid_col="uid", schema={"d": "date"})
    assert plan.rejected.empty
    assert [r["properties"]["d"] for r in plan.requests()] == [
        "1500-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2024-05-01T00:00:00Z",
    ]


def test_a_far_date_next_to_nanosecond_digits_is_rejected_not_truncated() -> None:
    # One column, one precision: nanoseconds cannot hold the year 1500, microseconds cannot
    # hold the digit. Neither value is altered: the far date's row is rejected, saying why.
    texts = ["1500-06-01 12:00:00", "2024-05-01T10:00:00.000000001Z", "1500-06-01T12:00:00Z"]
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "d": texts})
    plan = plan_users(frame, uid_col="uid", schema={"d": "date"}, naive_tz="Europe/Paris")
    assert plan.rejected[["position", "rule"]].values.tolist() == [
        [0, "date_out_of_range"],
        [2, "date_out_of_range"],
    ]
    assert "nanoseconds" in plan.rejected["message"][0]
    assert plan.requests() == [
        {
            "uid": "b",
            "properties": {"d": "2024-05-01T10:00:00.000000001Z"},
            "schema": {"properties": {"d": "date"}},
        }
    ]


def test_time_zone_objects_and_none_as_naive_tz(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    naive = pd.DataFrame({"uid": ["a"], "t": pd.to_datetime(["2024-06-01 12:00"])})
    send(naive, client, tmp_path, uid_col="uid", naive_tz=ZoneInfo("Europe/Paris"))
    assert stored(emu) == {"a": {"t": "2024-06-01T10:00:00Z"}}
    with pytest.raises(InvalidDataError, match="naive_tz=None") as info:
        plan_users(naive, uid_col="uid", naive_tz=None)
    assert info.value.column == "t"
    aware = naive.assign(t=naive["t"].dt.tz_localize("Asia/Tokyo"))
    assert plan_users(aware, uid_col="uid", naive_tz=None).requests()[0]["properties"] == {
        "t": "2024-06-01T03:00:00Z"
    }


def test_naive_times_near_year_9999_west_of_utc_are_rejected_or_sent() -> None:
    frame = pd.DataFrame(
        {
            "uid": ["late", "fits", "usual"],
            "t": np.array(
                ["9999-12-31T20:00", "9999-12-31T10:00", "2000-01-01T00:00"], dtype="datetime64[us]"
            ),
        }
    )
    plan = plan_users(frame, uid_col="uid", naive_tz="America/New_York")
    assert plan.rejected[["position", "rule"]].values.tolist() == [[0, "date_out_of_range"]]
    assert [r["properties"]["t"] for r in plan.requests()] == [
        "9999-12-31T15:00:00Z",
        "2000-01-01T05:00:00Z",
    ]


# -- 6. Rules that let bad rows through or refused good ones -------------------------------------


def test_property_name_with_a_trailing_newline_is_refused() -> None:
    frame = pd.DataFrame({"uid": ["a"], "x": [1]})
    with pytest.raises(InvalidDataError, match="property name"):
        plan_users(frame, uid_col="uid", properties={"x": "x\n"})
    with_newline_key = frame.assign(d=[{"k\n": 1}])
    assert plan_users(with_newline_key, uid_col="uid").rejected["rule"].tolist() == [
        "property_name"
    ]


def test_lone_surrogates_reject_the_row_not_the_frame() -> None:
    frame = pd.DataFrame(
        {
            "uid": ["a", "b", "c", "d"],
            "text": pd.Series(["\ud800", "ok", None, "fine"], dtype=object),
            "nested": [None, {"k": "\udfff"}, None, None],
            "listed": [None, None, ["\ud800"], None],
        }
    )
    plan = plan_users(frame, uid_col="uid")
    assert plan.rejected[["position", "rule"]].values.tolist() == [
        [0, "invalid_string"],
        [1, "invalid_string"],
        [2, "invalid_string"],
    ]
    assert [r["uid"] for r in plan.requests()] == ["d"]


def test_an_event_name_with_a_lone_surrogate_is_refused_up_front() -> None:
    with pytest.raises(InvalidDataError, match="not valid Unicode"):
        plan_events(pd.DataFrame({"u": ["a"]}), name="Bought\ud800", uid_col="u")


def test_an_event_with_an_empty_uid_or_id_is_rejected_locally() -> None:
    frame = pd.DataFrame({"u": ["", "a", None], "s": [None, None, ""]})
    plan = plan_events(frame, name="E", uid_col="u", session_id_col="s")
    assert plan.rejected[["position", "rule"]].values.tolist() == [
        [0, "uid_missing"],
        [2, "empty_id"],
    ]


def test_uids_beyond_the_int64_range_are_sent_as_text(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    unsigned = pd.DataFrame({"uid": np.array([2**64 - 1, 5], dtype=np.uint64)})
    send(unsigned, client, tmp_path, uid_col="uid")
    huge = pd.DataFrame({"uid": pd.Series([2**70, 7], dtype=object)})
    send(huge, client, tmp_path, uid_col="uid")
    assert set(stored(emu)) == {"18446744073709551615", "5", str(2**70), "7"}


def test_an_integer_beyond_64_bits_rejects_its_row_only() -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "n": pd.Series([2**70, 1], dtype=object)})
    plan = plan_users(frame, uid_col="uid")
    assert plan.rejected[["position", "rule"]].values.tolist() == [[0, "int_out_of_range"]]
    assert plan.requests() == [
        {"uid": "b", "properties": {"n": 1}, "schema": {"properties": {"n": "int"}}}
    ]


def test_plural_schema_override_is_checked_against_the_values() -> None:
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "l": [["x"], [1, 2], []]})
    plan = plan_users(frame, uid_col="uid", schema={"l": "ints"})
    assert plan.rejected[["position", "rule"]].values.tolist() == [[0, "list_element"]]
    assert "declared ints" in plan.rejected["message"][0]


@pytest.mark.parametrize(
    "value", [dt.date(2024, 9, 8), "2024-09-08", pd.Timestamp("2024-09-08").date()]
)
def test_a_date_whose_midnight_does_not_exist_is_the_first_instant_of_that_day(
    value: object,
) -> None:
    # America/Santiago moved its clocks from 00:00 to 01:00 on 2024-09-08 (UTC-4 -> UTC-3).
    frame = pd.DataFrame({"uid": ["a"], "d": pd.Series([value], dtype=object)})
    plan = plan_users(frame, uid_col="uid", schema={"d": "date"}, naive_tz="America/Santiago")
    assert plan.requests()[0]["properties"]["d"] == "2024-09-08T04:00:00Z"
    nested = plan_users(
        frame.assign(d=[[dt.date(2024, 9, 8)]]), uid_col="uid", naive_tz="America/Santiago"
    )
    assert nested.requests()[0]["properties"]["d"] == ["2024-09-08T04:00:00Z"]


def test_a_naive_time_inside_a_gap_is_still_rejected() -> None:
    frame = pd.DataFrame({"uid": ["a"], "t": pd.to_datetime(["2024-09-08 00:30"])})
    plan = plan_users(frame, uid_col="uid", naive_tz="America/Santiago")
    assert plan.rejected["rule"].tolist() == ["invalid_date"]


@pytest.mark.parametrize("dtype", ["float32", "Float32", "float[pyarrow]", "float16"])
def test_float32_values_are_sent_as_the_number_the_user_sees(
    dtype: str, emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "f": pd.Series([0.1, 3.3], dtype=dtype)})
    send(frame, client, tmp_path, uid_col="uid")
    narrow = np.float16 if dtype == "float16" else np.float32
    shown = [float(str(narrow(v))) for v in (0.1, 3.3)]
    assert stored(emu) == {"a": {"f": shown[0]}, "b": {"f": shown[1]}}
    if dtype != "float16":
        assert shown == [0.1, 3.3]


# -- Option values as analysts pass them ---------------------------------------------------------


def test_numpy_scalars_arrays_and_sets_as_option_values() -> None:
    frame = pd.DataFrame({"u": ["a"], "x": [1], "y": ["p"], 2024: [1.5]})
    plan = plan_users(
        frame,
        uid_col=np.str_("u"),
        properties=np.array(["y", "x"]),
        nulls=np.str_("omit"),  # type: ignore[arg-type]
        duplicates=np.str_("first"),  # type: ignore[arg-type]
    )
    assert plan.requests()[0]["properties"] == {"y": "p", "x": 1}
    as_set = plan_users(frame, uid_col="u", properties={"y", "x"})
    assert list(as_set.requests()[0]["properties"]) == ["x", "y"]  # the frame's column order
    renamed = plan_users(frame, uid_col="u", properties={np.int64(2024): "y2024"})
    assert renamed.requests()[0]["properties"] == {"y2024": 1.5}
    events = plan_events(
        frame, name=np.str_("E"), uid_col="u", use_most_recent=np.bool_(True), properties=["x"]
    )
    assert events.requests()[0]["session"] == {"use_most_recent": True}
