"""Frames written to parquet and CSV, read back every supported way, sent through
``df.fullstory.batch_update`` / ``batch_events`` to the emulator over HTTP: what Fullstory
stores is what the SOURCE frame held, converted by the reference rules
(``tests/payloads/reference.py``).

Files lose types (CSV keeps text; a parquet file without pandas metadata read with NumPy
dtypes turns nullable ints into floats), so each way of reading passes the schema overrides an
analyst would (``READ_WAYS``): text dates declared ``date``, whole floats declared ``int``.
Everything else -- values, declared types, rejected rows -- must come out as from the source.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.run.result import BatchResult
from tests.payloads.reference import Reference, reference_events, reference_users, typed
from tests.payloads.strategies import (
    CSV_ORIGINS,
    FAMILIES,
    HAS_STRING_VIEW,
    PARQUET_ORIGINS,
    Recipe,
    frames,
    read_csv,
    read_parquet,
    realise,
    write_parquet,
)

FAST = {"poll_interval": 0.01, "progress": False}
TZ = "Europe/Paris"


def loose(value: Any) -> Any:
    """A JSON value with numbers compared exactly as numbers (``1 == 1.0``), bools apart."""
    if isinstance(value, dict):
        return {k: loose(v) for k, v in value.items()}
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", Fraction(value))
    return value


def source_users(n: int = 30) -> pd.DataFrame:
    """A frame of the dtypes analysts hold, with rows that must be rejected."""
    rng = np.random.default_rng(5)
    uids: list[Any] = [f"user-{i}" for i in range(n)]
    uids[4] = None  # uid_missing
    uids[12] = uids[3]  # duplicate_uid
    seen = pd.Series(
        pd.to_datetime("2024-03-30 23:00") + pd.to_timedelta(np.arange(n) * 1901.5, unit="s")
    )
    seen[6] = pd.NaT
    seen[8] = pd.Timestamp("2024-03-31 02:30")  # does not exist in Paris: invalid_date
    seen[9] = pd.Timestamp("2024-05-01 12:00:00.123456789")
    score = rng.standard_normal(n) * 100
    score[2] = np.nan
    score[10] = np.inf  # non_finite
    score[11] = 0.1
    visits = pd.array(rng.integers(0, 1000, n), dtype="Int64")
    visits[[1, 5]] = None
    visits[7] = 2**53 + 1  # exact only as an int
    plans = np.array(["free", "pro", "team", "é", 'say "hi"'], dtype=object)[rng.integers(0, 5, n)]
    days = pd.Series(
        [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 400, n)],
        dtype=object,
    )
    days[3] = None
    return pd.DataFrame(
        {
            "uid": pd.Series(uids, dtype=object),
            "plan": pd.Series(plans, dtype="str").where(rng.random(n) > 0.2),
            "tier": pd.Categorical(plans),
            "visits": visits,
            "seats": rng.integers(1, 50, n),
            "score": score,
            "ratio": pd.Series(np.round(rng.random(n), 3), dtype="float32").where(
                rng.random(n) > 0.2
            ),
            "active": pd.Series(
                [None if r < 0.2 else bool(r > 0.6) for r in rng.random(n)], dtype="boolean"
            ),
            "flag": rng.random(n) > 0.5,
            "seen": seen,
            "seen_tz": seen.dt.tz_localize("UTC").dt.tz_convert(TZ),
            "day": days,
            "geo.city": pd.Series(plans, dtype="string[pyarrow]"),
            "geo.zip": rng.integers(10_000, 99_999, n),
        }
    )


# way -> (write the file, read it back, schema overrides the analyst passes)
TEXT_DATES = {"seen": "date", "seen_tz": "date", "day": "date"}
READ_WAYS: dict[str, dict[str, str]] = {
    "parquet": {},
    "parquet_pyarrow": {},
    "parquet_nullable": {},
    "parquet_plain": {"visits": "int"},  # Int64 with missing values read as float64
    "parquet_plain_pyarrow": {},
    "csv_c": {**TEXT_DATES, "visits": "int"},
    "csv_c_pyarrow": TEXT_DATES,
    "csv_pyarrow": {"visits": "int"},
    "csv_pyarrow_pyarrow": {},
}
assert set(READ_WAYS) == set(PARQUET_ORIGINS) | set(CSV_ORIGINS)


def through_file(df: pd.DataFrame, way: str, tmp: Path, **read: Any) -> pd.DataFrame:
    if way in PARQUET_ORIGINS:
        path = tmp / "frame.parquet"
        write_parquet(df, path, plain="plain" in way, row_group_size=7)
        return read_parquet(path, way)
    path = tmp / "frame.csv"
    df.to_csv(path, index=False)
    return read_csv(path, way, **read)


def expected_schema(request: dict[str, Any]) -> dict[str, str]:
    """What Fullstory reports for a stored user: declared types, else the JSON type (§3.4:
    an undeclared number is a real)."""
    declared = request.get("schema", {}).get("properties", {})
    out = {}

    def walk(obj: dict[str, Any], prefix: str) -> None:
        for key, value in obj.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
                continue
            path = prefix + key
            if path in declared:
                out[path] = declared[path]
            elif isinstance(value, bool):
                out[path] = "bool"
            elif isinstance(value, int | float):
                out[path] = "real"
            else:
                out[path] = "str"

    walk(request.get("properties", {}), "")
    return out


def check_stored_users(emu: Emulator, result: BatchResult, expected: Reference) -> None:
    stored = {u["uid"]: u for u in emu.users()}
    wanted = {r["uid"]: r for r in expected.requests}
    assert sorted(stored) == sorted(wanted)
    for uid, request in wanted.items():
        user = stored[uid]
        assert typed(user["properties"]) == typed(request.get("properties", {})), uid
        assert user["schema"]["properties"] == expected_schema(request), uid
    assert result.counts["imported"] == len(expected.requests)
    assert sorted(result.rejected.index.tolist()) == sorted(expected.rejected)


@pytest.mark.parametrize("way", list(READ_WAYS))
def test_users_read_back_from_a_file_are_stored_as_the_source_held_them(
    way: str, emu: Emulator, client: Client, tmp_path: Path
) -> None:
    source = source_users()
    expected = reference_users(source, uid_col="uid", naive_tz=TZ)
    assert set(expected.rejected.values()) == {
        "uid_missing",
        "duplicate_uid",
        "invalid_date",
        "non_finite",
    }
    df = through_file(source, way, tmp_path)
    result = df.fullstory.batch_update(
        uid_col="uid",
        naive_tz=TZ,
        schema=READ_WAYS[way] or "infer",
        client=client,
        chunk_size=7,
        ledger_dir=tmp_path / "ledger",
        **FAST,
    )
    assert isinstance(result, BatchResult)
    check_stored_users(emu, result, expected)


def source_events(n: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    at = pd.Series(
        pd.to_datetime("2024-10-26 23:00") + pd.to_timedelta(np.arange(n) * 1500.25, unit="s")
    )
    at[3] = pd.NaT  # left out: the server's time
    at[5] = pd.Timestamp("2024-10-27 02:30")  # twice in Paris: invalid_date
    return pd.DataFrame(
        {
            "uid": [f"user-{i}" for i in range(n)],
            "at": at,
            "amount": np.round(rng.random(n) * 100, 2),
            "items": pd.array(rng.integers(1, 9, n), dtype="Int64"),
            "sku": pd.Series(rng.choice(["a-1", "b-2", "é"], n), dtype="str"),
            "gift": rng.random(n) > 0.7,
        }
    )


@pytest.mark.parametrize("way", list(READ_WAYS))
def test_events_read_back_from_a_file_are_stored_as_the_source_held_them(
    way: str, emu: Emulator, client: Client, tmp_path: Path
) -> None:
    source = source_events()
    options: dict[str, Any] = {"name": "Bought", "uid_col": "uid", "timestamp_col": "at"}
    expected = reference_events(source, naive_tz=TZ, **options)
    assert set(expected.rejected.values()) == {"invalid_date"}
    read = {"parse_dates": ["at"]} if way.startswith("csv_c") else {}  # timestamps need it
    df = through_file(source, way, tmp_path, **read)
    schema = {"items": "int"} if way in ("parquet_plain", "csv_c", "csv_pyarrow") else "infer"
    result = df.fullstory.batch_events(
        **options,
        naive_tz=TZ,
        schema=schema,
        client=client,
        chunk_size=7,
        ledger_dir=tmp_path / "ledger",
        **FAST,
    )
    assert isinstance(result, BatchResult)
    stored = {e["user"]["uid"]: e for e in emu.events()}
    wanted = {r["user"]["uid"]: r for r in expected.requests}
    assert sorted(stored) == sorted(wanted)
    for uid, request in wanted.items():
        event = stored[uid]
        assert event["name"] == "Bought"
        assert typed(event["properties"]) == typed(request.get("properties", {})), uid
        if "timestamp" in request:
            assert event["timestamp"] == request["timestamp"], uid
    assert result.counts["imported"] == len(expected.requests)


# ---------------------------------------------------------------------------------------------
# Generated frames: parquet keeps every family's values (with pandas metadata, or read into
# Arrow types), so what is stored must be what the reference makes of the source frame.
# ---------------------------------------------------------------------------------------------

KEEPING_WAYS = ["parquet", "parquet_pyarrow", "parquet_nullable", "parquet_plain_pyarrow"]
UID = FAMILIES["object_str"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the emulator is reset in each example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_generated_frames_through_parquet_are_stored_as_the_source_held_them(
    data: st.DataObject, emu: Emulator, client: Client
) -> None:
    way = data.draw(st.sampled_from(KEEPING_WAYS), label="way")
    recipe: Recipe = data.draw(frames(specials={"uid": [UID]}, origins=[way], max_rows=8))
    source = recipe.source.copy()
    source["uid"] = pd.Series([f"user-{i}" for i in range(len(source))], dtype=object)
    naive_tz = data.draw(st.sampled_from(["UTC", TZ, "America/Havana"]), label="naive_tz")
    schema = {
        c: "date" for c, f in recipe.families.items() if FAMILIES.get(f, UID).kind == "date_text"
    }
    options = {"uid_col": "uid", "naive_tz": naive_tz, "schema": schema or "infer"}
    note(f"{source.dtypes.to_dict()}")
    from_source = reference_users(source, **options)
    emu.reset()
    with tempfile.TemporaryDirectory() as tmp:
        df = realise(Recipe(source, origin=way), Path(tmp))
        note(f"read back: {df.dtypes.to_dict()}")
        result = df.fullstory.batch_update(
            **options, client=client, chunk_size=3, ledger_dir=Path(tmp) / "ledger", **FAST
        )
    assert isinstance(result, BatchResult)
    # Exactly what the reference makes of the frame as read (types and declarations too)...
    check_stored_users(emu, result, reference_users(df, **options))
    # ... and the values the source held (the file may turn an object column of ints with
    # missing values into floats: numbers are compared as numbers there).
    stored = {u["uid"]: loose(u["properties"]) for u in emu.users()}
    assert stored == {r["uid"]: loose(r.get("properties", {})) for r in from_source.requests}


def test_a_csv_text_date_is_read_in_naive_tz_unless_it_has_an_offset(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    """A text date without offset is a wall time in naive_tz, one with an offset is that
    instant, a date alone is the day's first instant there -- whatever the other rows hold."""
    source = pd.DataFrame(
        {
            "uid": ["a", "b", "c", "d"],
            "d": [
                "2024-05-01 12:00:00",
                "2024-05-01T12:00:00+05:30",
                "2024-05-01",
                "2024-05-01T12:00:00Z",
            ],
        }
    )
    path = tmp_path / "dates.csv"
    source.to_csv(path, index=False)
    df = pd.read_csv(path)
    df.fullstory.batch_update(
        uid_col="uid",
        schema={"d": "date"},
        naive_tz=TZ,
        client=client,
        ledger_dir=tmp_path / "ledger",
        **FAST,
    )
    assert {u["uid"]: u["properties"]["d"] for u in emu.users()} == {
        "a": "2024-05-01T10:00:00Z",
        "b": "2024-05-01T06:30:00Z",
        "c": "2024-04-30T22:00:00Z",
        "d": "2024-05-01T12:00:00Z",
    }


@pytest.mark.skipif(not HAS_STRING_VIEW, reason="pyarrow < 16 has no string_view")
def test_a_string_view_column_from_parquet_is_sent_and_the_result_joins_back(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    """Arrow string_view survives parquet (pandas metadata); the rows are sent, and the
    result's frames (rows joined back to the frame) can be read."""
    view = pd.arrays.ArrowExtensionArray(pa.array(["x", "y", None], type=pa.string_view()))
    source = pd.DataFrame({"uid": ["", "a", "b"], "tag": pd.Series(view)})
    path = tmp_path / "view.parquet"
    source.to_parquet(path)
    df = pd.read_parquet(path)
    expected = reference_users(source, uid_col="uid")
    result = df.fullstory.batch_update(
        uid_col="uid", client=client, ledger_dir=tmp_path / "ledger", **FAST
    )
    assert isinstance(result, BatchResult)
    check_stored_users(emu, result, expected)
    assert result.imports["uid"].tolist() == ["a", "b"]
    assert len(result.errors) == 0
