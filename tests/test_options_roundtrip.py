"""Plan options that are not plain JSON survive the ledger: resume replans exactly the same run.

The first half checks the codec (``fs_pandas.options``) on its own; the second half sends each
kind of option through the emulator, cuts the run short, resumes it from its ledger, and
compares with the same run made in one go.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fs_pandas
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ConfigurationError, LedgerError, RunInterrupted
from fs_pandas.options import decode_options, encode_options, normalise_options
from fs_pandas.run.result import BatchResult

FAST = {"poll_interval": 0.01, "progress": False}
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def through_json(options: dict[str, Any]) -> dict[str, Any]:
    """Encode, write as strict JSON (no NaN), read back, decode: what resume gets."""
    text = json.dumps(encode_options(options), allow_nan=False)
    return decode_options(json.loads(text))


def typed(value: Any) -> Any:
    """``value`` with every scalar paired with its type, so ``True`` and ``1`` differ."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted(repr(typed(v)) for v in value))
    if isinstance(value, dt.datetime):
        return ("datetime", pd.Timestamp(value))
    return (type(value).__name__, value)


# -- the codec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {2024: "y2024", "plan": "plan"},
        {("p", "seats"): "seats", ("p", "plan"): "plan"},
        [("a", 1), ("b", 2)],
        ("a", 1),
        {"$tuple": "a column whose label looks like a tag"},
        {1.5: "real", None: "none", True: "yes", b"raw": "bytes"},
        {pd.Timestamp("2024-05-01"): "may", dt.date(2024, 6, 1): "june"},
        {pd.Timestamp("2024-05-01 12:00", tz="Europe/Paris"): "noon in Paris"},
        [2**70, -(2**70)],
        frozenset({"a", ("b", 2)}),
        "UTC",
        None,
    ],
    ids=repr,
)
def test_labels_of_every_hashable_kind_come_back_equal_and_of_the_same_type(value: Any) -> None:
    back = through_json({"properties": value})["properties"]
    assert back == value
    assert typed(back) == typed(value)


def test_numpy_scalars_come_back_as_their_python_values() -> None:
    options = {
        "uid_col": np.str_("id"),
        "properties": {np.int64(1): "one", np.float64(2.5): "two and a half", np.bool_(False): "f"},
    }
    back = through_json(options)
    assert back == {"uid_col": "id", "properties": {1: "one", 2.5: "two and a half", False: "f"}}
    assert type(back["uid_col"]) is str
    assert [type(k) for k in back["properties"]] == [int, float, bool]


def test_nan_and_infinite_labels_are_not_written_as_invalid_json() -> None:
    back = through_json({"properties": [float("nan"), float("inf"), -float("inf")]})["properties"]
    assert math.isnan(back[0])
    assert back[1:] == [float("inf"), -float("inf")]


def test_an_index_or_array_of_labels_comes_back_as_the_list_of_its_labels() -> None:
    columns = pd.MultiIndex.from_tuples([("p", "plan"), ("p", "seats")])
    assert through_json({"properties": columns}) == {"properties": list(columns)}
    labels = np.array([3, 4])
    back = through_json({"properties": labels})["properties"]
    assert back == [3, 4]
    assert all(type(label) is int for label in back)


def test_a_mapping_keeps_its_order() -> None:
    mapping = {3: "c", 1: "a", 2: "b"}
    assert list(through_json({"properties": mapping})["properties"]) == [3, 1, 2]


def test_a_set_is_stored_the_same_whatever_order_it_was_built_in() -> None:
    one = encode_options({"properties": {"b", "a", ("c", 1), 7}})
    other = encode_options({"properties": {7, ("c", 1), "a", "b"}})
    assert json.dumps(one) == json.dumps(other)
    assert through_json({"properties": {"b", "a", 7}}) == {"properties": {"a", "b", 7}}


@pytest.mark.parametrize(
    ("tz", "stored"),
    [(PARIS, "Europe/Paris"), (dt.UTC, "UTC"), (IST, "+05:30"), (zoneinfo.ZoneInfo("UTC"), "UTC")],
    ids=repr,
)
def test_a_time_zone_is_stored_as_a_name_pandas_accepts(tz: dt.tzinfo, stored: str) -> None:
    assert encode_options({"naive_tz": tz}) == {"naive_tz": {"$tz": stored}}
    back = through_json({"naive_tz": tz})["naive_tz"]
    assert isinstance(back, dt.tzinfo)
    when = pd.Timestamp("2024-07-01 12:00")
    assert when.tz_localize(stored) == when.tz_localize(back) == when.tz_localize(tz)


def test_naive_tz_none_and_text_stay_as_they_are() -> None:
    assert through_json({"naive_tz": None}) == {"naive_tz": None}
    assert through_json({"naive_tz": "Europe/Paris"}) == {"naive_tz": "Europe/Paris"}


class Opaque:
    """A hashable column label the codec knows nothing about."""

    def __repr__(self) -> str:
        return "Opaque()"


class NamelessZone(dt.tzinfo):
    """A time zone with neither an IANA key nor a fixed offset."""

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta | None:
        return None if when is None else dt.timedelta(hours=when.month % 2)

    def dst(self, when: dt.datetime | None) -> dt.timedelta | None:
        return dt.timedelta(0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("properties", {Opaque(): "x"}, "properties: Opaque"),
        ("uid_col", Opaque(), "uid_col: Opaque"),
        ("context", {"browser.url": (1, Opaque())}, "context: Opaque"),
        ("properties", np.array([["a", "b"]]), "properties: a 2-d array"),
        ("naive_tz", NamelessZone(), "naive_tz: the time zone .* has no IANA name"),
        ("naive_tz", dt.timezone(dt.timedelta(seconds=30)), "naive_tz: .* whole number"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_what_cannot_be_stored_is_refused_naming_the_option(
    option: str, value: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        encode_options({option: value})


@pytest.mark.parametrize(
    "stored",
    [{"$nope": 1}, {"$tuple": [1], "other": 2}, {"$tz": "Not/AZone"}, {"$int": "x"}],
    ids=repr,
)
def test_a_damaged_ledger_value_is_a_ledger_error(stored: Any) -> None:
    with pytest.raises(LedgerError, match="properties"):
        decode_options({"properties": stored})


def test_normalising_reads_a_generator_once_into_a_list() -> None:
    assert normalise_options({"properties": (c for c in "ab")}) == {"properties": ["a", "b"]}


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=8)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.timezones())
)
_labels = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)
_options = (
    _labels
    | st.lists(_labels, max_size=4)
    | st.frozensets(_labels, max_size=4)
    | st.dictionaries(_labels, st.text(), max_size=4)
    | st.dictionaries(st.text(), _labels, max_size=4)
)


@given(_options)
def test_any_option_made_of_labels_round_trips(value: Any) -> None:
    back = through_json({"properties": value})["properties"]
    assert typed(back) == typed(value)


# -- through the emulator: cut short, resumed, same run ----------------------------------------


def send(kind: str, frame: pd.DataFrame, **options: Any) -> BatchResult:
    method = frame.fullstory.batch_update if kind == "users" else frame.fullstory.batch_events
    result = method(chunk_size=1, **FAST, **options)
    assert isinstance(result, BatchResult)
    return result


def stored(emu: Emulator, kind: str) -> list[Any]:
    """What Fullstory holds, without the ids it made up."""
    if kind == "users":
        found = [(u["uid"], u["properties"], u["schema"]) for u in emu.users()]
    else:
        found = [
            (e["user"]["uid"], e["name"], e["timestamp"], e["properties"]) for e in emu.events()
        ]
    return sorted(found, key=repr)


def assert_clean_ledger(path: Path, emu: Emulator) -> None:
    """Strict JSON on every line (no NaN, no Infinity) and no API key anywhere."""
    text = path.read_text()
    assert emu.api_key not in text
    assert emu.standard_key not in text
    for line in text.splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the ledger"))


def same_run_when_resumed(
    emu: Emulator,
    make_client: Callable[..., Client],
    tmp_path: Path,
    kind: str,
    frame: pd.DataFrame,
    **options: Any,
) -> BatchResult:
    """Run once straight; then again from scratch, cut short after the first job, and resumed
    from its ledger: same chunks (same Idempotency-Keys), same data at Fullstory, same counts."""
    client = make_client()
    straight = send(kind, frame, client=client, ledger_dir=tmp_path / "straight", **options)
    keys = sorted(job["idempotency_key"] for job in emu.jobs())
    data = stored(emu, kind)
    emu.reset()

    # Jobs that never finish while one job at a time is allowed: the run stops at its timeout
    # with its first job created and journalled.
    emu.configure(processing_polls=10**6)
    with pytest.raises(RunInterrupted):
        send(
            kind,
            frame,
            client=client,
            ledger_dir=tmp_path / "cut",
            max_jobs_in_flight=1,
            timeout=0.3,
            **options,
        )
    emu.configure(processing_polls=1)
    assert 1 <= len(emu.jobs()) < len(keys), "the run was not cut short"
    (ledger,) = fs_pandas.runs(tmp_path / "cut")
    assert_clean_ledger(ledger, emu)

    resumed = fs_pandas.resume(ledger, frame, client=client, progress=False)
    assert sorted(job["idempotency_key"] for job in emu.jobs()) == keys  # each chunk sent once
    assert stored(emu, kind) == data
    assert resumed.counts == straight.counts
    assert resumed.outcomes.equals(straight.outcomes)
    assert_clean_ledger(ledger, emu)
    return resumed


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {"uid": ["a", "b", "c"], "plan": ["free", "team", "free"], "seats": [1, 5, 2]}
    )


def test_a_non_text_column_named_through_a_mapping(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = people().assign(**{"2024": [10, 20, 30]}).rename(columns={"2024": 2024})
    result = same_run_when_resumed(
        emu, make_client, tmp_path, "users", frame, uid_col="uid", properties={2024: "y2024"}
    )
    assert result.counts["imported"] == 3
    assert {u["uid"]: u["properties"] for u in emu.users()}["b"] == {"y2024": 20}


def test_numpy_scalar_labels(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b", "c"], 1: [1.5, 2.5, 3.5], 2: [True, False, True]})
    same_run_when_resumed(
        emu,
        make_client,
        tmp_path,
        "users",
        frame,
        uid_col=np.str_("uid"),
        properties={np.int64(1): "one", np.int64(2): "two"},
    )
    assert {u["uid"]: u["properties"] for u in emu.users()}["a"] == {"one": 1.5, "two": True}


def test_properties_as_a_set(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    same_run_when_resumed(
        emu, make_client, tmp_path, "users", people(), uid_col="uid", properties={"seats", "plan"}
    )


def test_properties_as_part_of_the_frames_columns(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = people()
    same_run_when_resumed(
        emu, make_client, tmp_path, "users", frame, uid_col="uid", properties=frame.columns[1:]
    )


def test_properties_as_a_numpy_array(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    same_run_when_resumed(
        emu,
        make_client,
        tmp_path,
        "users",
        people(),
        uid_col="uid",
        properties=np.array(["seats", "plan"]),
    )


def test_multiindex_columns_named_by_their_tuples(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = people()
    frame.columns = pd.MultiIndex.from_tuples([("id", "uid"), ("p", "plan"), ("p", "seats")])
    same_run_when_resumed(
        emu,
        make_client,
        tmp_path,
        "users",
        frame,
        uid_col=("id", "uid"),
        properties={("p", "plan"): "plan", ("p", "seats"): "seats"},
    )
    assert {u["uid"]: u["properties"] for u in emu.users()}["b"] == {"plan": "team", "seats": 5}


def signups(**tz: Any) -> pd.DataFrame:
    since = pd.to_datetime(["2024-01-15 10:00", "2024-07-15 10:00", "2024-12-01 23:30"])
    return pd.DataFrame({"uid": ["a", "b", "c"], "since": since.tz_localize(**tz) if tz else since})


@pytest.mark.parametrize(
    ("naive_tz", "winter_utc"),
    [(PARIS, "09:00"), (dt.UTC, "10:00"), (IST, "04:30")],
    ids=["zoneinfo", "timezone.utc", "fixed offset"],
)
def test_naive_tz_as_a_time_zone_object(
    emu: Emulator,
    make_client: Callable[..., Client],
    tmp_path: Path,
    naive_tz: dt.tzinfo,
    winter_utc: str,
) -> None:
    same_run_when_resumed(
        emu, make_client, tmp_path, "users", signups(), uid_col="uid", naive_tz=naive_tz
    )
    since = {u["uid"]: u["properties"]["since"] for u in emu.users()}
    assert since["a"] == f"2024-01-15T{winter_utc}:00Z"


def test_naive_tz_none(emu: Emulator, make_client: Callable[..., Client], tmp_path: Path) -> None:
    frame = signups(tz="UTC")  # aware datetimes need no naive_tz
    same_run_when_resumed(emu, make_client, tmp_path, "users", frame, uid_col="uid", naive_tz=None)
    assert {u["uid"]: u["properties"]["since"] for u in emu.users()}["a"] == "2024-01-15T10:00:00Z"


def test_events_with_multiindex_columns_a_context_and_a_time_zone(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {
            ("who", "uid"): ["a", "b", "c"],
            ("what", "event"): ["Click", "View", "Click"],
            ("what", "when"): pd.to_datetime(
                ["2024-01-15 10:00", "2024-01-15 11:00", "2024-07-01 08:00"]
            ),
            ("where", "url"): ["https://x/1", "https://x/2", "https://x/3"],
            ("what", 3): [1, 2, 3],
        }
    )
    same_run_when_resumed(
        emu,
        make_client,
        tmp_path,
        "events",
        frame,
        uid_col=("who", "uid"),
        name_col=("what", "event"),
        timestamp_col=("what", "when"),
        context={"browser.url": ("where", "url")},
        properties={("what", np.int64(3)): "clicks"},
        naive_tz=PARIS,
    )
    first = next(e for e in emu.events() if e["user"]["uid"] == "a")
    assert first["timestamp"] == "2024-01-15T09:00:00Z"
    assert first["properties"] == {"clicks": 1}


def test_an_option_that_cannot_be_stored_is_refused_before_anything_is_sent(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    label = Opaque()
    frame = pd.DataFrame({"uid": ["a"], label: [1]})
    with pytest.raises(TypeError, match="properties: Opaque"):
        frame.fullstory.batch_update(
            uid_col="uid", properties={label: "x"}, client=client, ledger_dir=tmp_path, **FAST
        )
    assert emu.jobs() == []
    assert fs_pandas.runs(tmp_path) == []


def test_a_client_timeout_that_is_not_a_finite_number_is_refused() -> None:
    for timeout in (float("nan"), float("inf"), True, (5.0, float("nan"))):
        with pytest.raises(ConfigurationError, match="timeout"):
            Client("key", timeout=timeout)  # type: ignore[arg-type]
    assert Client("key", timeout=np.float64(3.0))._timeout == (3.0, 3.0)
