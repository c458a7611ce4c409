"""Date texts of request bodies, against the slow obvious writing of the documented form:
any unit, missing values, every mix of precisions, in few runs and in many."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import msgspec
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs_pandas.payloads import encode

PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
# Seconds of 0001-01-01 and 9999-12-31 23:59:59; nanoseconds reach only 1677 to 2262.
SECONDS = {"s": (-62_135_596_800, 253_402_300_799), "ns": (-9_223_372_035, 9_223_372_035)}
SECONDS["ms"] = SECONDS["us"] = SECONDS["s"]


def reference(ticks: int, unit: str) -> str:
    """RFC 3339 UTC with as few fraction digits as are exact (0, 3, 6 or 9), by datetime."""
    seconds, left = divmod(ticks, PER_SECOND[unit])
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    nanos = left * (10**9 // PER_SECOND[unit])
    for digits in (3, 6, 9):
        if nanos % 10 ** (9 - digits) == 0:
            return text + (f".{nanos // 10 ** (9 - digits):0{digits}d}Z" if nanos else "Z")
    raise AssertionError("unreachable")


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[str, list[int | None]]:
    """A unit and up to 300 ticks, some missing; fractions of each precision the unit holds,
    drawn from a few kinds so that rows of one precision come in runs or alternate."""
    unit = draw(st.sampled_from(list(PER_SECOND)))
    per = PER_SECOND[unit]
    low, high = SECONDS[unit]
    steps = [step for step in (per, per // 1000, per // 10**6, 1) if step >= 1]
    second = st.integers(low, high - 1)
    fraction = st.sampled_from(sorted(set(steps))).flatmap(
        lambda step: st.integers(0, per // step - 1).map(lambda k: k * step)
    )
    tick = st.builds(lambda s, f: s * per + f, second, fraction)
    ticks = draw(st.lists(st.none() | tick, min_size=1, max_size=300))
    return unit, ticks


@pytest.mark.parametrize("few_runs", [0, 3, 64])
@settings(max_examples=150, deadline=None)
@given(timestamps())
def test_date_texts_are_the_documented_form_in_any_unit(
    few_runs: int, case: tuple[str, list[int | None]]
) -> None:
    unit, ticks = case
    arr = pa.array(ticks, type=pa.int64()).view(pa.timestamp(unit, "UTC"))
    with mock.patch.object(encode, "_FEW_RUNS", few_runs):
        texts = encode._date_texts(b',"t":', arr, b",").to_pylist()
    expected = [None if t is None else f',"t":"{reference(t, unit)}",'.encode() for t in ticks]
    assert texts == expected


def test_a_slice_of_an_array_starts_at_its_own_first_value() -> None:
    ticks = [0, 1_500, None, 86_400_000, 1_000]
    arr = pa.array(ticks, type=pa.int64()).view(pa.timestamp("ms", "UTC")).slice(1, 3)
    assert encode.utc_iso(arr).tolist() == [
        "1970-01-01T00:00:01.500Z",
        "",
        "1970-01-02T00:00:00Z",
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.floats(allow_nan=False, allow_infinity=False), min_size=1))
def test_float_texts_are_the_shortest_that_read_back_the_same(values: list[float | None]) -> None:
    # msgspec writes each float on its own (the form the bodies have always had): 0.1,
    # 2.0, 1e300, -0.0, 5e-324.
    texts = encode._real_texts(pa.array(values, type=pa.float64())).to_pylist()
    assert texts == [None if v is None else msgspec.json.encode(v) for v in values]
    assert all(t is None or float(t) == v for t, v in zip(texts, values, strict=True))


def test_floats_with_exponents_are_written_without_a_plus() -> None:
    texts = encode._real_texts(pa.array([1e300, 1e16, 1e-7, 1.5e-300, -2e21])).to_pylist()
    assert texts == [b"1e300", b"1e16", b"1e-7", b"1.5e-300", b"-2e21"]
