"""Round trips: for every dtype of the type plan, what Fullstory (the emulator) stores after
``batch_update`` is what the frame held, with the type declared where Fullstory cannot infer it.

These go through the whole pipeline over HTTP, so they check our JSON against the emulator's
reading of the contract, not against our own JSON.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.run.result import BatchResult

STAMP = pd.Timestamp("2024-01-02 03:04:05.5")

# column values (one row) -> (stored property value, declared schema type or None)
CASES: dict[str, tuple[Any, Any, str | None]] = {
    "int64": (pd.Series([7], dtype="int64"), 7, "int"),
    "nullable_int": (pd.array([7], dtype="Int64"), 7, "int"),
    "uint8": (pd.Series([200], dtype="uint8"), 200, "int"),
    "float": (pd.Series([0.1]), 0.1, None),
    "bool": (pd.Series([True]), True, None),
    "nullable_boolean": (pd.array([False], dtype="boolean"), False, None),
    "str": (pd.Series(["plain"]), "plain", None),
    "pyarrow_string": (pd.array(["arrow"], dtype="string[pyarrow]"), "arrow", None),
    "categorical": (pd.Categorical(["gold"]), "gold", None),
    "datetime_tz": (
        pd.Series([STAMP.tz_localize("Europe/Paris")]),
        "2024-01-02T02:04:05.500Z",
        "date",
    ),
    "datetime_naive_is_utc": (pd.Series([STAMP]), "2024-01-02T03:04:05.500Z", "date"),
    "python_date": (pd.Series([dt.date(2024, 5, 1)], dtype=object), "2024-05-01T00:00:00Z", "date"),
    "list_of_str": (pd.Series([["a", "b"]]), ["a", "b"], None),
    "list_of_int": (pd.Series([[1, 2]]), [1, 2], "ints"),
    "dict": (
        pd.Series([{"city": "Atlanta", "zip": 30301}]),
        {"city": "Atlanta", "zip": 30301},
        None,
    ),
}


def send(frame: pd.DataFrame, client: Client, tmp_path: Path) -> BatchResult:
    result = frame.fullstory.batch_update(
        uid_col="uid", client=client, poll_interval=0.01, progress=False, ledger_dir=tmp_path
    )
    assert isinstance(result, BatchResult)
    assert result.counts["imported"] == len(frame), result.rejected
    return result


def stored_user(client: Client, result: BatchResult) -> dict[str, Any]:
    return client.get_user(str(result.imports["fs_id"].iloc[0]), include_schema=True)


@pytest.mark.parametrize("case", list(CASES))
def test_each_dtype_is_stored_as_the_frame_held_it(
    case: str, client: Client, tmp_path: Path
) -> None:
    values, expected, declared = CASES[case]
    frame = pd.DataFrame({"uid": ["u1"]})
    frame["value"] = values
    user = stored_user(client, send(frame, client, tmp_path))
    assert user["properties"] == {"value": expected}
    if declared is not None:
        assert user["schema"]["properties"]["value"] == declared


def test_dotted_column_names_become_nested_objects(client: Client, tmp_path: Path) -> None:
    frame = pd.DataFrame({"uid": ["u1"], "address.city": ["Atlanta"], "address.zip": [30301]})
    user = stored_user(client, send(frame, client, tmp_path))
    assert user["properties"] == {"address": {"city": "Atlanta", "zip": 30301}}
    assert user["schema"]["properties"]["address.zip"] == "int"


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NaT, pd.NA])
def test_every_kind_of_missing_value_is_left_out(
    missing: Any, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["u1", "u2"], "value": pd.Series(["x", missing], dtype=object)})
    send(frame, client, tmp_path)
    users = {u["uid"]: u["properties"] for u in client.list_users()}
    assert users == {"u1": {"value": "x"}, "u2": {}}


def test_nulls_null_sends_json_null_which_fullstory_ignores(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["u1"], "value": [float("nan")], "other": ["x"]})
    result = frame.fullstory.batch_update(
        uid_col="uid",
        client=client,
        nulls="null",
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path,
    )
    assert isinstance(result, BatchResult)
    assert frame.fullstory.to_requests(uid_col="uid", nulls="null")[0]["properties"] == {
        "value": None,
        "other": "x",
    }
    assert emu.users()[0]["properties"] == {"other": "x"}
