"""CSV data typed weakly: type-plan notes for text dates and whole numbers read as floats,
text timestamps parsed, columns named like a timestamp pointed out.

Frames are read back from real CSV files with both ``read_csv`` engines (and both dtype
backends) where the way a file is read changes the dtypes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fs_pandas  # noqa: F401  (registers the .fullstory accessor)
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ColumnWarning, InvalidDataError
from fs_pandas.payloads import plan_events, plan_users
from tests.payloads.payload_helpers import only, requests_of

READS: dict[str, dict[str, Any]] = {
    "c": {"engine": "c"},
    "c_arrow": {"engine": "c", "dtype_backend": "pyarrow"},
    "pyarrow": {"engine": "pyarrow"},
    "pyarrow_arrow": {"engine": "pyarrow", "dtype_backend": "pyarrow"},
}
HAS_STRING_VIEW = hasattr(pa, "string_view")


def read(text: str, tmp: Path, how: str, **options: Any) -> pd.DataFrame:
    path = tmp / "data.csv"
    path.write_text(text, encoding="utf-8")
    df: pd.DataFrame = pd.read_csv(path, **READS[how], **options)
    return df


def notes(plan_frame: pd.DataFrame) -> dict[Any, str]:
    return dict(zip(plan_frame["column"], plan_frame["note"], strict=True))


# ---------------------------------------------------------------------------------------------
# 1. Notes: text that looks like dates, whole numbers read as floats
# ---------------------------------------------------------------------------------------------

USERS_CSV = (
    "uid,seats,signup,city\n"
    "a,1,2024-01-05,Paris\n"
    "b,,2024-02-01T10:30:00+02:00,\n"
    "c,3,,Lyon\n"
    "d,40,2024-03-01 08:00,Nice\n"
)


@pytest.mark.parametrize("how", list(READS))
def test_csv_columns_get_notes_saying_how_to_declare_them(how: str, tmp_path: Path) -> None:
    df = read(USERS_CSV, tmp_path, how)
    plan = df.fullstory.type_plan(uid_col="uid")
    got = notes(plan)
    types = dict(zip(plan["column"], plan["type"], strict=True))
    if types["signup"] == "str":  # left as text by this reader (mixed offsets)
        assert got["signup"].startswith(  # what to do first: displays cut long notes
            'looks like dates: declare schema={"signup": "date"} to send them as dates'
        )
    else:
        assert types["signup"] == "date" and "looks like" not in got["signup"]
    if types["seats"] == "real":  # integers with an empty field: float64
        assert got["seats"].startswith(
            'whole numbers with missing values (read as float): declare schema={"seats": "int"}'
        )
    else:
        assert types["seats"] == "int" and "whole numbers" not in got["seats"]
    assert "looks like" not in got["city"] and "whole" not in got["city"]
    assert got["uid"] == ""


@pytest.mark.parametrize("how", list(READS))
def test_following_the_notes_sends_the_same_typed_values_whatever_the_reader(
    how: str, tmp_path: Path
) -> None:
    df = read(USERS_CSV, tmp_path, how)
    reqs = requests_of(plan_users(df, uid_col="uid", schema={"seats": "int", "signup": "date"}))
    by_uid = {r["uid"]: r for r in reqs}
    assert by_uid["a"]["properties"] == {
        "seats": 1,
        "signup": "2024-01-05T00:00:00Z",
        "city": "Paris",
    }
    assert type(by_uid["a"]["properties"]["seats"]) is int
    assert by_uid["a"]["schema"] == {"properties": {"seats": "int", "signup": "date"}}
    # The missing seat is left out (nulls="omit") and not declared; the offset is kept.
    assert by_uid["b"]["properties"] == {"signup": "2024-02-01T08:30:00Z"}
    assert by_uid["b"]["schema"] == {"properties": {"signup": "date"}}
    assert by_uid["c"]["properties"] == {"seats": 3, "city": "Lyon"}
    assert by_uid["c"]["schema"] == {"properties": {"seats": "int"}}
    assert by_uid["d"]["properties"]["signup"] == "2024-03-01T08:00:00Z"


def test_declared_int_on_floats_with_nan_and_nulls_null() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "seats": [2.0, np.nan]})
    reqs = requests_of(plan_users(df, uid_col="uid", schema={"seats": "int"}, nulls="null"))
    assert reqs[0] == {
        "uid": "a",
        "properties": {"seats": 2},
        "schema": {"properties": {"seats": "int"}},
    }
    assert reqs[1] == {"uid": "b", "properties": {"seats": None}}


def test_declared_int_on_floats_with_a_fraction_rejects_that_row() -> None:
    df = pd.DataFrame({"uid": ["a", "b", "c"], "seats": [2.0, np.nan, 2.5]})
    plan = plan_users(df, uid_col="uid", schema={"seats": "int"})
    assert plan.rejected[["position", "column", "rule"]].values.tolist() == [
        [2, "seats", "not_integral"]
    ]
    assert plan.accepted_positions.tolist() == [0, 1]


def test_notes_do_not_change_what_is_sent() -> None:
    df = pd.DataFrame(
        {"uid": ["a", "b"], "seats": [1.0, np.nan], "signup": ["2024-01-05", "2024-01-06"]}
    )
    assert "declare" in notes(plan_users(df, uid_col="uid").type_plan())["seats"]
    reqs = requests_of(plan_users(df, uid_col="uid"))
    assert reqs == [
        {"uid": "a", "properties": {"seats": 1.0, "signup": "2024-01-05"}},
        {"uid": "b", "properties": {"signup": "2024-01-06"}},
    ]
    body = next(plan_users(df, uid_col="uid").chunks()).body
    assert b'"seats":1.0' in body and b'"signup":"2024-01-05"' in body and b"schema" not in body


# Every way a text column reaches the planner (read_csv's engines and dtype backends included).
TEXT_DTYPES: list[Any] = [
    object,
    "str",
    "string[python]",
    "string[pyarrow]",
    pd.ArrowDtype(pa.large_string()),
    "category",
    *([pd.ArrowDtype(pa.string_view())] if HAS_STRING_VIEW else []),
]


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_text_dates_are_noted_in_every_text_dtype(dtype: Any) -> None:
    values = ["2024-05-01", None, "2024-05-01T10:00:00Z", "2024-05-02 23:59:59.5"]
    df = pd.DataFrame({"uid": list("abcd"), "d": pd.Series(values, dtype=dtype)})
    assert "looks like dates: declare" in notes(plan_users(df, uid_col="uid").type_plan())["d"]


@pytest.mark.parametrize(
    "values",
    [
        ["2024", "2025"],  # years (ISO 8601 would parse them: too often not dates)
        ["20240501", "20240502"],  # codes
        ["2024-05-01", "soon"],  # one value that is not a date
        ["2024-13-01", "2024-05-01"],  # a month that does not exist
        ["05/01/2024", "06/01/2024"],  # not ISO 8601: declaring date would reject them
        ["Paris", "Lyon"],
        [None, None],
    ],
)
def test_text_that_is_not_all_iso_dates_gets_no_date_note(values: list[Any]) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "d": pd.Series(values, dtype=object)})
    assert "looks like dates" not in notes(plan_users(df, uid_col="uid").type_plan())["d"]


def test_date_note_on_a_large_column_says_it_checked_a_sample() -> None:
    days = pd.date_range("2020-01-01", periods=5_000, freq="h").strftime("%Y-%m-%d %H:%M")
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(5_000)], "seen": days})
    note = notes(plan_users(df, uid_col="uid").type_plan())["seen"]
    assert 'looks like dates (checked 1000 of 5000 values): declare schema={"seen": "date"}' in note


def test_date_note_uses_the_property_name_and_is_left_out_once_declared() -> None:
    df = pd.DataFrame({"uid": ["a"], "Signed Up": ["2024-01-05"]})
    plan = plan_users(df, uid_col="uid", rename={"Signed Up": "signed_up"})
    assert 'declare schema={"signed_up": "date"}' in notes(plan.type_plan())["Signed Up"]
    for declared in ("str", "date"):
        options: dict[str, Any] = {"rename": {"Signed Up": "signed_up"}}
        plan = plan_users(df, uid_col="uid", schema={"signed_up": declared}, **options)
        assert "looks like" not in notes(plan.type_plan())["Signed Up"]


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1.0, np.nan, 3.0]),
        pd.Series([1.0, np.nan, -3.0], dtype="float32"),
        pd.Series([1.0, None, 3.0], dtype="Float64"),
        pd.Series([1.0, None, 3.0], dtype="double[pyarrow]"),
        pd.Series([1.0, np.nan, 3.0], dtype="Sparse[float64]"),
    ],
)
def test_whole_floats_with_missing_values_are_noted(series: pd.Series) -> None:
    df = pd.DataFrame({"uid": list("abc"), "n": series})
    note = notes(plan_users(df, uid_col="uid").type_plan())["n"]
    assert 'whole numbers with missing values (read as float): declare schema={"n": "int"}' in note
    sent = requests_of(plan_users(df, uid_col="uid", schema={"n": "int"}))
    assert [r.get("properties", {}).get("n") for r in sent] == [1, None, series.iloc[2]]
    assert all(type(r["properties"]["n"]) is int for r in sent if "properties" in r)


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1.0, 2.0, 3.0]),  # no missing value: nothing says these were ints
        pd.Series([1.0, np.nan, 2.5]),
        pd.Series([np.nan, np.nan, np.nan]),
        pd.Series([1.0, np.nan, np.inf]),
        pd.Series([1.0, np.nan, 2.0**64]),  # beyond int64
        pd.Series([1, None, 3], dtype="Int64"),  # already ints
        pd.Series([1, 2, 3]),
    ],
)
def test_other_numbers_get_no_whole_number_note(series: pd.Series) -> None:
    df = pd.DataFrame({"uid": list("abc"), "n": series})
    assert "whole numbers" not in notes(plan_users(df, uid_col="uid").type_plan())["n"]


def test_whole_number_note_is_left_out_once_declared() -> None:
    df = pd.DataFrame({"uid": list("ab"), "n": [1.0, np.nan]})
    for declared in ("int", "real"):
        plan = plan_users(df, uid_col="uid", schema={"n": declared})
        assert "whole numbers" not in notes(plan.type_plan())["n"]


def test_declared_int_from_csv_is_stored_as_an_integer(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    df = read(USERS_CSV, tmp_path, "c")
    assert df["seats"].dtype == np.float64
    df.fullstory.batch_update(
        uid_col="uid",
        schema={"seats": "int", "signup": "date"},
        client=client,
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path / "ledger",
    )
    stored = {u["uid"]: u["properties"] for u in emu.users()}
    assert stored["a"]["seats"] == 1 and type(stored["a"]["seats"]) is int
    assert "seats" not in stored["b"]
    assert stored["b"]["signup"] == "2024-02-01T08:30:00Z"


# ---------------------------------------------------------------------------------------------
# 2. Events: text timestamps are parsed (naming the column timestamp_col declares it a date)
# ---------------------------------------------------------------------------------------------

EVENTS_CSV = (
    "uid,ts,amount\n"
    "a,2024-05-01T10:00:00+02:00,1\n"  # an offset: that instant
    "b,2024-05-01 10:00,2\n"  # naive: naive_tz
    "c,,3\n"  # missing: left out (the server's time)
    "d,yesterday,4\n"  # not a date: rejected
    "e,2024-03-31 02:30,5\n"  # a time that does not exist in Paris: rejected
    "f,2024-05-01,6\n"  # a date alone: the first instant of that day
    "g,2024-05-01T08:00:00.250Z,7\n"
)
EXPECTED_TIMES = {
    "a": "2024-05-01T08:00:00Z",
    "b": "2024-05-01T08:00:00Z",
    "c": None,
    "f": "2024-04-30T22:00:00Z",
    "g": "2024-05-01T08:00:00.250Z",
}


@pytest.mark.parametrize("how", list(READS))
def test_text_timestamps_from_csv_are_parsed_and_bad_ones_rejected(
    how: str, tmp_path: Path
) -> None:
    df = read(EVENTS_CSV, tmp_path, how)
    assert not pd.api.types.is_datetime64_any_dtype(df["ts"].dtype)  # left as text
    plan = plan_events(df, name="Paid", uid_col="uid", timestamp_col="ts", naive_tz="Europe/Paris")
    rejected = plan.rejected.set_index("position")
    assert rejected["rule"].to_dict() == {3: "invalid_date", 4: "invalid_date"}
    assert set(rejected["column"]) == {"ts"}
    assert all(m.startswith("ts: ") for m in rejected["message"])
    # Nothing dropped silently: every row is sent or rejected.
    assert sorted([*plan.accepted_positions.tolist(), *rejected.index]) == list(range(len(df)))
    reqs = requests_of(plan)
    assert {r["user"]["uid"]: r.get("timestamp") for r in reqs} == EXPECTED_TIMES
    assert all("ts" not in r.get("properties", {}) for r in reqs)


@pytest.mark.parametrize("how", list(READS))
def test_text_timestamps_match_pre_parsed_ones(how: str, tmp_path: Path) -> None:
    """Differential: the file read as text and timestamp_col, against the same file read
    with the dates parsed by pandas first (offsets of different rows kept apart: UTC)."""
    text = "uid,ts\n" + "".join(
        f"u{i},{stamp}\n"
        for i, stamp in enumerate(
            ["2024-05-01T10:00:00+02:00", "2023-12-31T23:59:59.123456-05:00", "2024-02-29T00:00Z"]
        )
    )
    df = read(text, tmp_path, how)
    parsed = df.assign(ts=pd.to_datetime(df["ts"].astype(object), utc=True, format="ISO8601"))
    options: dict[str, Any] = {"name": "E", "uid_col": "uid", "timestamp_col": "ts"}
    assert requests_of(plan_events(df, **options)) == requests_of(plan_events(parsed, **options))


def test_text_timestamps_are_parsed_like_text_declared_date() -> None:
    """The same per-value parsing as a property declared ``date``, in any naive_tz."""
    texts = [
        "2024-05-01T10:00:00+02:00",
        "2024-05-01 10:00",
        "2024-09-08",  # Santiago: clocks jump at midnight; the day starts at 01:00
        "1900-01-01T00:00:00",
        "9999-12-30T12:00:00Z",
        "2024-05-01T10:00:00.123456+05:30",
        None,
        "not a date",
    ]
    for tz in ("UTC", "Europe/Paris", "America/Santiago", "Asia/Kolkata"):
        df = pd.DataFrame({"uid": [f"u{i}" for i in range(len(texts))], "ts": texts})
        df["copy"] = df["ts"]
        events = plan_events(
            df, name="E", uid_col="uid", timestamp_col="ts", properties=[], naive_tz=tz
        )
        users = plan_users(
            df, uid_col="uid", properties=["copy"], schema={"copy": "date"}, naive_tz=tz
        )
        assert events.accepted_positions.tolist() == users.accepted_positions.tolist(), tz
        assert (
            events.rejected["rule"].tolist() == users.rejected["rule"].tolist() == ["invalid_date"]
        )
        times = [r.get("timestamp") for r in requests_of(events)]
        copies = [r.get("properties", {}).get("copy") for r in requests_of(users)]
        assert times == copies, tz
        assert times[0] == "2024-05-01T08:00:00Z"


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_text_timestamps_in_every_text_dtype(dtype: Any) -> None:
    texts = ["2024-05-01T10:00:00+02:00", None, "2024-05-01 10:00", "nope", "2024-05-01 10:00"]
    df = pd.DataFrame({"uid": list("abcde"), "ts": pd.Series(texts, dtype=dtype)})
    plan = plan_events(df, name="E", uid_col="uid", timestamp_col="ts", naive_tz="Europe/Paris")
    assert plan.rejected[["position", "column", "rule"]].values.tolist() == [
        [3, "ts", "invalid_date"]
    ]
    assert [r.get("timestamp") for r in requests_of(plan)] == [
        "2024-05-01T08:00:00Z",
        None,
        "2024-05-01T08:00:00Z",
        "2024-05-01T08:00:00Z",
    ]


def test_text_timestamp_bodies_do_not_depend_on_threads_or_chunks() -> None:
    n = 25_000
    stamps = pd.date_range("2024-03-30", periods=n, freq="37s")
    texts = np.where(
        np.arange(n) % 3 == 0,
        stamps.strftime("%Y-%m-%dT%H:%M:%S+01:00"),
        stamps.strftime("%Y-%m-%d %H:%M:%S"),
    ).astype(object)
    texts[::1000] = "garbage"
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(n)], "ts": texts})
    plan = plan_events(df, name="E", uid_col="uid", timestamp_col="ts", naive_tz="Europe/Paris")
    assert set(plan.rejected["rule"]) == {"invalid_date"}  # garbage, and the spring gap
    one = b"".join(c.body for c in plan.chunks(7_000, threads=1))
    two = b"".join(c.body for c in plan.chunks(7_000, threads=2))
    assert one == two


def test_type_plan_says_how_text_timestamps_are_read() -> None:
    df = pd.DataFrame({"uid": ["a"], "ts": ["2024-05-01 10:00"]})
    plan = df.fullstory.type_plan(
        kind="events", name="E", uid_col="uid", timestamp_col="ts", naive_tz="Europe/Paris"
    )
    note = notes(plan)["ts"]
    assert note.startswith("text parsed as ISO-8601 dates: an offset is kept")
    assert "naive_tz='Europe/Paris'" in note and "invalid_date" in note
    dated = df.assign(ts=pd.to_datetime(df["ts"]))
    plan = dated.fullstory.type_plan(kind="events", name="E", uid_col="uid", timestamp_col="ts")
    assert notes(plan)["ts"] == ""


def test_naive_text_timestamps_with_naive_tz_none_are_refused() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "ts": ["2024-05-01T10:00:00Z", "2024-05-01 10:00"]})
    with pytest.raises(InvalidDataError, match="naive_tz=None") as caught:
        plan_events(df, name="E", uid_col="uid", timestamp_col="ts", naive_tz=None)
    assert caught.value.rule == "naive_datetime" and caught.value.column == "ts"
    aware = df.iloc[:1]
    req = only(plan_events(aware, name="E", uid_col="uid", timestamp_col="ts", naive_tz=None))
    assert req["timestamp"] == "2024-05-01T10:00:00Z"


def test_accessor_sends_parsed_text_timestamps() -> None:
    df = pd.DataFrame({"uid": ["a"], "ts": ["2024-05-01T10:00:00+02:00"], "n": [1]})
    assert df.fullstory.to_event_requests(name="E", uid_col="uid", timestamp_col="ts") == [
        {
            "name": "E",
            "timestamp": "2024-05-01T08:00:00Z",
            "user": {"uid": "a"},
            "properties": {"n": 1},
            "schema": {"properties": {"n": "int"}},
        }
    ]


@pytest.mark.parametrize(
    ("values", "hint"),
    [
        ([1714550400, 1714550401], "unit='s'"),
        ([1.5, 2.5], "unit='s'"),
        ([True, False], "pd.to_datetime(...)"),
    ],
)
def test_timestamp_columns_of_other_types_are_still_refused(values: list[Any], hint: str) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "ts": values})
    with pytest.raises(InvalidDataError, match="not datetimes or date text") as caught:
        plan_events(df, name="E", uid_col="uid", timestamp_col="ts")
    assert hint in str(caught.value) and caught.value.column == "ts"


def test_text_timestamps_are_stored_by_the_emulator(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    df = read(EVENTS_CSV, tmp_path, "c")
    result = df.fullstory.batch_events(
        name="Paid",
        uid_col="uid",
        timestamp_col="ts",
        naive_tz="Europe/Paris",
        client=client,
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path / "ledger",
    )
    assert result.counts["imported"] == 5
    stored = {e["user"]["uid"]: e.get("timestamp") for e in emu.events()}
    assert {k: v for k, v in stored.items() if k != "c"} == {
        k: v for k, v in EXPECTED_TIMES.items() if k != "c"
    }


# ---------------------------------------------------------------------------------------------
# 3. A column named like a timestamp that is not used as one
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    ["ts", "TS", "timestamp", "Time", "event_time", "eventTime", "createdAt", "created_at"],
)
def test_text_column_named_like_a_timestamp_is_pointed_out(label: str) -> None:
    df = pd.DataFrame({"uid": ["a", "b"], label: ["2024-05-01 10:00", None]})
    with pytest.warns(ColumnWarning, match=f'column "{label}" is named like a timestamp'):
        plan = df.fullstory.type_plan(kind="events", name="E", uid_col="uid")
    note = notes(plan)[label]
    wanted = f'named like a timestamp: pass timestamp_col="{label}" to use it as the event\'s time'
    assert note.startswith(wanted)
    with pytest.warns(ColumnWarning, match=f'timestamp_col="{label}"'):
        requests = df.fullstory.to_event_requests(name="E", uid_col="uid")
    assert requests[0]["properties"] == {label: "2024-05-01 10:00"}  # still sent as text


@pytest.mark.filterwarnings("ignore::fs_pandas.errors.ColumnWarning")  # notes tested here
def test_timestamp_name_note_for_text_that_does_not_parse_says_to_convert() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "time": ["morning", "2024-05-01"]})
    note = notes(plan_events(df, name="E", uid_col="uid").type_plan())["time"]
    assert 'convert them with pd.to_datetime(...) and pass timestamp_col="time"' in note


@pytest.mark.filterwarnings("ignore::fs_pandas.errors.ColumnWarning")  # notes tested here
def test_timestamp_name_note_for_a_date_property() -> None:
    df = pd.DataFrame({"uid": ["a"], "created_at": pd.to_datetime(["2024-05-01"])})
    note = notes(plan_events(df, name="E", uid_col="uid").type_plan())["created_at"]
    assert 'pass timestamp_col="created_at"' in note


@pytest.mark.filterwarnings("ignore::fs_pandas.errors.ColumnWarning")  # notes tested here
@pytest.mark.parametrize(
    ("frame", "options", "kind"),
    [
        # a timestamp_col is given: the other column is a property on purpose
        (
            {"uid": ["a"], "ts": ["2024-05-01"], "created_at": ["2024-04-01"]},
            {"name": "E", "uid_col": "uid", "timestamp_col": "ts"},
            "events",
        ),
        # users have no event time
        ({"uid": ["a"], "ts": ["2024-05-01"]}, {"uid_col": "uid"}, "users"),
        # numbers are not a text property
        ({"uid": ["a"], "ts": [1714550400]}, {"name": "E", "uid_col": "uid"}, "events"),
        # names that merely contain a timestamp word
        (
            {"uid": ["a"], "timezone": ["UTC"], "last_time_seen": ["x"], "stamp": ["x"]},
            {"name": "E", "uid_col": "uid"},
            "events",
        ),
    ],
)
def test_timestamp_name_note_only_where_it_applies(
    frame: dict[str, Any], options: dict[str, Any], kind: str
) -> None:
    plan = pd.DataFrame(frame).fullstory.type_plan(kind=kind, **options)
    assert not any("named like a timestamp" in n for n in plan["note"])


@pytest.mark.filterwarnings("ignore::fs_pandas.errors.ColumnWarning")  # notes tested here
def test_timestamp_name_note_on_a_csv_file_and_following_it(tmp_path: Path) -> None:
    for how in READS:
        df = read(EVENTS_CSV, tmp_path, how)
        plan = plan_events(df, name="Paid", uid_col="uid")
        assert 'timestamp_col="ts"' in notes(plan.type_plan())["ts"], how
        followed = plan_events(
            df, name="Paid", uid_col="uid", timestamp_col="ts", naive_tz="Europe/Paris"
        )
        assert {r["user"]["uid"]: r.get("timestamp") for r in requests_of(followed)} == (
            EXPECTED_TIMES
        ), how


def test_dates_alone_as_a_timestamp() -> None:
    df = pd.DataFrame({"uid": ["a"], "day": [dt.date(2024, 5, 1).isoformat()]})
    req = only(plan_events(df, name="E", uid_col="uid", timestamp_col="day", naive_tz="Asia/Tokyo"))
    assert req["timestamp"] == "2024-04-30T15:00:00Z"
