"""Property-based: over generated frames, every row is sent as valid JSON or rejected with a
rule; nothing crashes, nothing vanishes, and every request satisfies the contract's rules."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs_pandas.payloads import plan_events, plan_users
from fs_pandas.payloads.encode import utc_iso
from tests.payloads.payload_helpers import parse

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?Z$")
RULES = {
    "property_name",
    "property_name_too_long",
    "too_many_properties",
    "value_too_large",
    "non_finite",
    "int_out_of_range",
    "not_integral",
    "invalid_date",
    "date_out_of_range",
    "array_of_objects",
    "list_element",
    "unsupported_value",
    "uid_missing",
    "uid_too_long",
    "display_name_too_long",
    "email_too_long",
    "duplicate_uid",
    "name_missing",
    "user_missing",
    "identity_conflict",
}

text = st.text(max_size=12)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
stamps = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1))
scalars = st.one_of(st.integers(-(2**70), 2**70), floats, text, st.booleans(), st.none())
keys = st.one_of(st.from_regex(NAME, fullmatch=True).filter(lambda k: len(k) < 20), text)
nested = st.recursive(
    scalars,
    lambda inner: st.dictionaries(keys, inner, max_size=3) | st.lists(inner, max_size=3),
    max_leaves=6,
)


def column(n: int) -> st.SearchStrategy[pd.Series]:
    """One property column of n rows, of one of the dtypes the type plan knows."""

    def series(values: list[Any], dtype: Any = None) -> pd.Series:
        return pd.Series(values, dtype=dtype)

    return st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: series(v, "int64")
        ),
        st.lists(
            st.one_of(st.integers(-(2**63), 2**63 - 1), st.none()), min_size=n, max_size=n
        ).map(lambda v: series(v, "Int64")),
        st.lists(floats, min_size=n, max_size=n).map(lambda v: series(v, "float64")),
        st.lists(st.one_of(st.booleans(), st.none()), min_size=n, max_size=n).map(
            lambda v: series(v, "boolean")
        ),
        st.lists(st.one_of(text, st.none()), min_size=n, max_size=n).map(
            lambda v: series(v, object)
        ),
        st.lists(st.one_of(text, st.none()), min_size=n, max_size=n).map(
            lambda v: series(v, "string[pyarrow]")
        ),
        st.lists(
            st.one_of(st.sampled_from(["a", "b", "c"]), st.none()), min_size=n, max_size=n
        ).map(lambda v: series(v, "category")),
        st.lists(st.one_of(stamps, st.none()), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.to_datetime(v))
        ),
        st.lists(st.one_of(stamps, st.none()), min_size=n, max_size=n).map(
            lambda v: (
                pd.Series(pd.to_datetime(v)).dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata")
            )
        ),
        st.lists(
            st.one_of(st.lists(st.integers(-5, 5), max_size=3), st.none()), min_size=n, max_size=n
        ).map(lambda v: series(v, object)),
        st.lists(
            st.one_of(st.dictionaries(keys, nested, max_size=3), st.none()), min_size=n, max_size=n
        ).map(lambda v: series(v, object)),
    )


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    uid = draw(
        st.lists(
            st.one_of(st.sampled_from(["a", "b", "", "x" * 257]), text, st.none()),
            min_size=n,
            max_size=n,
        )
    )
    data: dict[str, pd.Series] = {"uid": pd.Series(uid, dtype=object)}
    for i in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from([f"p{i}", f"grp.p{i}", f"P_{i}"]))
        data[name] = draw(column(n))
    df = pd.DataFrame(data)
    if draw(st.booleans()):
        df.index = [0] * n  # non-unique labels: positions must still be exact
    return df


def check_value(value: Any, path: str) -> None:
    """Contract §3.3 on a value as sent: finite numbers, no arrays of objects, valid names."""
    if isinstance(value, float):
        assert math.isfinite(value), path
    elif isinstance(value, list):
        assert not any(isinstance(v, dict | list) for v in value), path
    elif isinstance(value, dict):
        for key, inner in value.items():
            assert NAME.match(key) and len(f"{path}.{key}") <= 512, (path, key)
            check_value(inner, f"{path}.{key}")


def check_request(req: dict[str, Any]) -> None:
    if "uid" in req:
        assert isinstance(req["uid"], str) and 0 < len(req["uid"]) <= 256
    props = req.get("properties", {})
    for key, value in props.items():
        assert NAME.match(key), key
        check_value(value, key)
    declared = req.get("schema", {}).get("properties", {})
    for path, type_ in declared.items():
        node: Any = props
        for part in path.split("."):
            node = node[part]  # every declaration names a property that is present
        if type_ == "int":
            assert isinstance(node, int) and not isinstance(node, bool)
        if type_ == "date":
            assert ISO_Z.match(node), node


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from(["omit", "null"]), st.sampled_from(["first", "reject", "allow"]))
def test_every_row_is_sent_valid_or_rejected_with_a_rule(
    df: pd.DataFrame, nulls: str, duplicates: str
) -> None:
    plan = plan_users(df, uid_col="uid", nulls=nulls, duplicates=duplicates)  # type: ignore[arg-type]
    sent: list[int] = []
    for chunk in plan.chunks(4):
        requests = parse(chunk.body)["requests"]
        assert len(requests) == len(chunk)
        for position, req in zip(chunk.positions.tolist(), requests, strict=True):
            check_request(req)
            assert req["uid"] == df.iloc[position, 0]
        sent.extend(chunk.positions.tolist())
    rejected = plan.rejected["position"].tolist()
    assert sorted(sent + rejected) == list(range(len(df)))  # nothing vanishes, nothing twice
    assert set(plan.rejected["rule"]) <= RULES
    assert sent == plan.accepted_positions.tolist()
    if duplicates != "allow":
        uids = [df.iloc[p, 0] for p in sent]
        assert len(uids) == len(set(uids))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(text, st.none()), st.one_of(text, st.none()), st.one_of(floats, st.none())
        ),
        max_size=6,
    )
)
def test_events_rows_are_sent_with_one_identity_or_rejected(
    rows: list[tuple[str | None, str | None, float | None]],
) -> None:
    df = (
        pd.DataFrame(rows, columns=["u", "s", "v"])
        if rows
        else pd.DataFrame({"u": [], "s": [], "v": []})
    )
    df["u"] = df["u"].astype(object)
    df["s"] = df["s"].astype(object)
    plan = plan_events(df, name="E", uid_col="u", session_id_col="s", properties=["v"])
    sent = []
    for chunk in plan.chunks():
        for req in parse(chunk.body)["requests"]:
            assert req["name"] == "E"
            assert not ("user" in req and "session" in req)
            check_request(req)
        sent.extend(chunk.positions.tolist())
    assert sorted(sent + plan.rejected["position"].tolist()) == list(range(len(df)))


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_float_round_trips_exactly(value: float) -> None:
    df = pd.DataFrame({"uid": ["a"], "p": np.array([value], dtype=np.float64)})
    body = next(plan_users(df, uid_col="uid").chunks()).body
    assert parse(body)["requests"][0]["properties"]["p"] == value


def expected_iso(moment: dt.datetime) -> str:
    """The documented form, written the slow obvious way."""
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    micros = moment.microsecond
    if micros and micros % 1000 == 0:
        text += f".{micros // 1000:03d}"
    elif micros:
        text += f".{micros:06d}"
    return text + "Z"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.datetimes(
            min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
        ),
        min_size=1,
        max_size=20,
    )
)
def test_utc_iso_matches_the_calendar_for_any_date(moments: list[dt.datetime]) -> None:
    arr = pa.array(moments, type=pa.timestamp("us", "UTC"))
    assert utc_iso(arr).tolist() == [expected_iso(m) for m in moments]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.datetimes(
            min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
        ),
        min_size=1,
        max_size=20,
    )
)
def test_body_dates_match_the_calendar_for_any_date(moments: list[dt.datetime]) -> None:
    column = pd.Series(np.array(moments, dtype="datetime64[us]"))
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(len(moments))], "t": column})
    body = next(plan_users(df, uid_col="uid").chunks()).body
    sent = [r["properties"]["t"] for r in parse(body)["requests"]]
    assert sent == [expected_iso(m) for m in moments]
