"""Hypothesis strategies for frames the way analysts get them.

A :class:`Recipe` is drawn (the source frame, where it comes from, which rows and which index
it ends up with) and :func:`realise` turns it into the frame under test:

* columns of many dtype families (``FAMILIES``): NumPy, nullable, ``str``/``string[pyarrow]``,
  Arrow-backed (``large_string``, ``int64``, ``double``, ``bool``, ``timestamp``,
  ``dictionary<int32, string>``, ``date32``, ``null``), datetimes naive and tz-aware,
  categoricals, all-null columns, object columns of dates, ISO text dates;
* origins (``ORIGINS``): built directly; ``pd.concat`` of 2-3 pieces (multi-chunk Arrow
  arrays); parquet written with small row groups (multi-chunk on read) and read back with
  pandas metadata or without (as from other tools), with the default, ``pyarrow`` and
  ``numpy_nullable`` backends; CSV read back with the C and pyarrow engines, with and
  without ``dtype_backend="pyarrow"``;
* row selections (``iloc`` slices and views, reversed, boolean masks, takes) and indexes
  (default, repeated labels, text labels, MultiIndex).

Families hold Python values (``None`` for missing); the frame is built from them, so a
failing example shows the values.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

__all__ = [
    "CSV_ORIGINS",
    "FAMILIES",
    "HAS_STRING_VIEW",
    "ORIGINS",
    "PANDAS_3",
    "PARQUET_ORIGINS",
    "Family",
    "Recipe",
    "arrow_backed",
    "arrow_chunks",
    "build",
    "frames",
    "read_csv",
    "read_parquet",
    "realise",
    "show",
    "write_parquet",
]

UTC = dt.UTC
# pandas 3 changed how files are read (Arrow-backed default strings, ...): see read_csv.
PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3

# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

_SPECIAL_TEXT = ["", "é", 'say "hi"', "back\\slash", "tab\tnew\nline", "\u2028", "😀", "NA"]
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(_SPECIAL_TEXT),
)
# Python strings may hold lone surrogates (not valid Unicode: Arrow refuses them).
SURROGATES = st.sampled_from(["\ud800", "a\udfff"])
PYTHON_TEXT = st.one_of(ANY_TEXT, ANY_TEXT, ANY_TEXT, SURROGATES)


def has_surrogate(v: object) -> bool:
    return isinstance(v, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in v)


# Text that survives a CSV file as itself (no control characters, no line separators).
CSV_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=8
)

_INT64 = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([-(2**63), 2**63 - 1, 2**53 + 1]),
)
_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_FLOATS = st.one_of(
    _FINITE,
    _FINITE,
    st.sampled_from([0.1, 1e16, 1e300, 5e-324, -0.0, 2.0, 1e-7, 123456.789]),
)
_FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
_FLOATS32 = st.one_of(
    _FINITE32,
    _FINITE32,
    st.sampled_from([0.1, 1.1, 3.4e38, 1e-45, 16777217.0, 0.3]),
)
_INFINITE = st.sampled_from([math.inf, -math.inf])

# Naive wall times at DST changes of the zones the tests use: skipped and repeated ones.
DST_EDGES = [
    dt.datetime(2024, 3, 31, 2, 30),  # Paris: skipped
    dt.datetime(2024, 10, 27, 2, 30),  # Paris: repeated
    dt.datetime(2024, 3, 31, 1, 59, 59, 999_999),
    dt.datetime(2024, 3, 31, 3, 0),
    dt.datetime(2018, 11, 4, 0, 30),  # Sao Paulo: skipped
    dt.datetime(2019, 2, 16, 23, 30),  # Sao Paulo: repeated
    dt.datetime(2024, 3, 10, 0, 0),  # Havana: midnight skipped
    dt.datetime(2024, 11, 3, 0, 30),  # Havana: midnight repeated
]
# Days whose midnight is skipped or repeated somewhere (Sao Paulo 2018, Havana 2024).
DATE_EDGES = [
    dt.date(2018, 11, 4),
    dt.date(2024, 3, 10),
    dt.date(2024, 11, 3),
    dt.date(2024, 3, 31),
    dt.date(1970, 1, 1),
]
NAIVE_TZ: list[Any] = [
    "UTC",
    "Europe/Paris",
    "America/Sao_Paulo",
    "America/Havana",
    ZoneInfo("Europe/Paris"),
    dt.timezone(dt.timedelta(hours=-3)),
]

_MICROS = st.sampled_from([0, 0, 500_000, 1, 123_000, 999_999])
_ANY_WALL = st.builds(
    lambda d, us: d.replace(microsecond=us),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    _MICROS,
)
_WALL = st.one_of(_ANY_WALL, _ANY_WALL, _ANY_WALL, st.sampled_from(DST_EDGES))
_NANOS = st.sampled_from([0, 0, 0, 1, 500, 999])
# Any RFC 3339 year (outside the nanosecond range of datetime64[ns], 1677-2262).
_WIDE_WALL = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59)),
    st.sampled_from(
        [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(1500, 6, 1)]
    ),
)
_ANY_DATE = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))
_DATES = st.one_of(_ANY_DATE, _ANY_DATE, st.sampled_from(DATE_EDGES))


def _iso(moment: dt.datetime, sep: str, digits: int) -> str:
    text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}{0:03d}"[:digits]
    return text


_DATE_TEXT = st.one_of(
    # wall time, no offset
    st.builds(_iso, _WALL, st.sampled_from(["T", " "]), st.sampled_from([0, 3, 6, 9])),
    # an instant: wall time with an offset
    st.builds(
        lambda m, sep, off: _iso(m, sep, 6 if m.microsecond else 0) + off,
        _WALL,
        st.sampled_from(["T", " "]),
        st.sampled_from(["Z", "+02:00", "-03:00", "+05:30", "+00:00"]),
    ),
    # date only
    _DATES.map(lambda d: d.isoformat()),
    # any year
    st.builds(_iso, _WIDE_WALL, st.just("T"), st.just(0)),
    # not a date
    st.sampled_from(["not a date", "2024-13-01", "2024-02-30", "05/01/2024"]),
)


@dataclass(frozen=True)
class Family:
    """A dtype family: its present values, whether it holds missing ones, how it is built."""

    name: str
    values: st.SearchStrategy[Any]
    make: Callable[[list[Any]], pd.Series]
    missing: bool = True
    kind: str = ""  # what the column holds: str/int/real/bool/date/date_text/whole/null
    unwritable: tuple[str, ...] = ()  # "csv", "parquet": files pandas cannot write it to
    takes: bool = True  # whether pandas can take rows of it (Arrow has no string_view take)


def _typed(dtype: Any) -> Callable[[list[Any]], pd.Series]:
    return lambda values: pd.Series(values, dtype=dtype)


def _arrow(arrow_type: pa.DataType) -> Callable[[list[Any]], pd.Series]:
    """An Arrow-backed column; NaN stays a NaN value (as Arrow arithmetic leaves it)."""

    def make(values: list[Any]) -> pd.Series:
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=arrow_type)))

    return make


def _dictionary(values: list[Any]) -> pd.Series:
    encoded = pa.array(values, type=pa.string()).dictionary_encode()
    return pd.Series(pd.arrays.ArrowExtensionArray(encoded))


def _datetimes(unit: str, tz: str | None = None) -> Callable[[list[Any]], pd.Series]:
    """datetime64[unit] (values: (wall time, nanoseconds) pairs), localised from UTC."""

    def make(values: list[Any]) -> pd.Series:
        stamps = [
            pd.NaT if v is None else pd.Timestamp(v[0]) + pd.Timedelta(nanoseconds=v[1])
            for v in values
        ]
        s = pd.Series(pd.DatetimeIndex(stamps, dtype="datetime64[ns]")).astype(
            f"datetime64[{unit}]"
        )
        return s if tz is None else s.dt.tz_localize("UTC").dt.tz_convert(tz)

    return make


_CATEGORIES = ["free", "pro", "team", "é"]
_INT_CATEGORIES = [3, -1, 2**40]
_DATE_CATEGORIES = [pd.Timestamp("2024-05-01 12:00"), pd.Timestamp("2024-03-31 02:30")]
# Texts around the 8,192-byte limit (UTF-8 bytes of the text, escapes not counted).
_LONG_TEXT = st.sampled_from(
    ["x" * 8192, "x" * 8193, '"' * 8192, '"' * 8193, "é" * 4096, "é" * 4097, "\x01" * 8192]
)
_OFFSETS = st.sampled_from([0, 2, -3, 5.5, 9])


def _aware(moment: dt.datetime, hours: float) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=hours)))


HAS_STRING_VIEW = hasattr(pa, "string_view")  # pyarrow >= 16
_STAMPS = st.tuples(_WALL, _NANOS)
_STAMPS_US = st.tuples(_WALL, st.just(0))

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("int64", _INT64, _typed("int64"), missing=False, kind="int"),
        Family("Int64", _INT64, _typed("Int64"), kind="int"),
        Family(
            "uint64",
            st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1])),
            _typed("uint64"),
            missing=False,
            kind="int",
        ),
        Family("int64_pyarrow", _INT64, _typed("int64[pyarrow]"), kind="int"),
        Family(
            "int32", st.integers(-(2**31), 2**31 - 1), _typed("int32"), missing=False, kind="int"
        ),
        Family("uint8", st.integers(0, 255), _typed("uint8"), missing=False, kind="int"),
        Family("UInt64", st.integers(0, 2**64 - 1), _typed("UInt64"), kind="int"),
        Family("object_int", st.integers(-(2**40), 2**40), _typed(object), kind="int"),
        Family("float64", _FLOATS, lambda v: pd.Series(v, dtype="float64"), kind="real"),
        Family("float64_inf", st.one_of(_FLOATS, _INFINITE), _typed("float64"), kind="real"),
        Family("float32", _FLOATS32, _typed("float32"), kind="real"),
        Family("Float32", _FLOATS32, _typed("Float32"), kind="real"),
        Family("float32_inf", st.one_of(_FLOATS32, _INFINITE), _typed("float32"), kind="real"),
        Family("Float64", _FLOATS, _typed("Float64"), kind="real"),
        Family(
            "float16",
            st.floats(width=16, allow_infinity=False, allow_nan=False),
            _typed("float16"),
            kind="real",
        ),
        Family(
            "object_num",
            st.one_of(st.integers(-(2**40), 2**40), _FLOATS),
            _typed(object),
            kind="real",
        ),
        Family(
            "double_pyarrow",
            st.one_of(_FLOATS, st.just(math.nan)),
            _arrow(pa.float64()),
            kind="real",
        ),
        Family(
            "whole_float",
            st.integers(-(2**53), 2**53).map(float),
            lambda v: pd.Series(v, dtype="float64"),
            kind="whole",
        ),
        Family("bool", st.booleans(), _typed("bool"), missing=False, kind="bool"),
        Family("boolean", st.booleans(), _typed("boolean"), kind="bool"),
        Family("bool_pyarrow", st.booleans(), _typed("bool[pyarrow]"), kind="bool"),
        Family("object_bool", st.booleans(), _typed(object), kind="bool"),
        Family("object_str", PYTHON_TEXT, _typed(object), kind="str"),
        Family("str", ANY_TEXT, _typed("str"), kind="str"),
        Family("string_pyarrow", ANY_TEXT, _typed("string[pyarrow]"), kind="str"),
        Family("large_string", ANY_TEXT, _arrow(pa.large_string()), kind="str"),
        Family("string_python", PYTHON_TEXT, _typed("string[python]"), kind="str"),
        # Arrow's string_view came with pyarrow 16: the oldest declared pyarrow (15) lacks it.
        *(
            [
                Family(
                    "string_view",
                    ANY_TEXT,
                    _arrow(pa.string_view()),
                    kind="str",
                    unwritable=("csv",),
                    takes=False,
                )
            ]
            if HAS_STRING_VIEW
            else []
        ),
        Family(
            "sparse_float",
            _FLOATS,
            _typed("Sparse[float64]"),
            kind="real",
            unwritable=("parquet",),
        ),
        Family(
            "sparse_int",
            st.integers(-5, 5),
            _typed("Sparse[int64]"),
            missing=False,
            kind="int",
            unwritable=("parquet",),
        ),
        Family("long_str", _LONG_TEXT, _typed(object), kind="long_str"),
        Family(
            "category",
            st.sampled_from(_CATEGORIES),
            lambda v: pd.Series(v, dtype=pd.CategoricalDtype(_CATEGORIES)),
            kind="str",
        ),
        Family("dictionary", st.sampled_from(_CATEGORIES), _dictionary, kind="str"),
        Family(
            "category_int",
            st.sampled_from(_INT_CATEGORIES),
            lambda v: pd.Series(v, dtype=pd.CategoricalDtype(_INT_CATEGORIES)),
            kind="int",
        ),
        Family(
            "category_datetime",
            st.sampled_from(_DATE_CATEGORIES),
            lambda v: pd.Series(v, dtype=pd.CategoricalDtype(_DATE_CATEGORIES)),
            kind="date",
        ),
        Family("datetime_ns", _STAMPS, _datetimes("ns"), kind="date"),
        Family("datetime_us", _STAMPS_US, _datetimes("us"), kind="date"),
        Family("datetime_paris", _STAMPS, _datetimes("ns", "Europe/Paris"), kind="date"),
        Family("datetime_kolkata_us", _STAMPS_US, _datetimes("us", "Asia/Kolkata"), kind="date"),
        Family("timestamp_pyarrow", _WALL, _arrow(pa.timestamp("us")), kind="date"),
        Family("timestamp_utc_pyarrow", _WALL, _arrow(pa.timestamp("us", "UTC")), kind="date"),
        Family(
            "timestamp_tz_pyarrow",
            _WALL,
            _arrow(pa.timestamp("ns", "America/New_York")),
            kind="date",
        ),
        Family("timestamp_wide_pyarrow", _WIDE_WALL, _arrow(pa.timestamp("us")), kind="date"),
        Family("datetime_s", _STAMPS_US, _datetimes("s"), kind="date"),
        Family("object_datetime", _WIDE_WALL, _typed(object), kind="date"),
        Family(
            "object_aware",
            st.builds(_aware, _ANY_WALL, _OFFSETS),
            _typed(object),
            kind="date",
        ),
        Family("date_object", _DATES, _typed(object), kind="date"),
        Family("date32", _DATES, _arrow(pa.date32()), kind="date"),
        Family("date_text", _DATE_TEXT, _typed(object), kind="date_text"),
        Family("null_object", st.nothing(), _typed(object), kind="null"),
        Family("null_float", st.nothing(), _typed("float64"), kind="null"),
        Family("null_str", st.nothing(), _typed("str"), kind="null"),
        Family("null_arrow", st.nothing(), _arrow(pa.null()), kind="null"),
        Family("null_datetime", st.nothing(), _typed("datetime64[ns]"), kind="null"),
    ]
}

# uid columns: a few values that recur (duplicates), and others that do not.
_UID_TEXT = st.one_of(
    st.sampled_from(["a", "b", "c", "é", "x" * 257, "", "u 1", "\udc00"]),
    st.integers(0, 10**9).map(lambda i: f"user-{i}"),
    st.integers(0, 10**9).map(lambda i: f"user-{i}"),
)
_UID_INT = st.one_of(st.integers(-2, 4), st.integers(-(2**63), 2**63 - 1))
UID_FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("object_str", _UID_TEXT, _typed(object)),
        Family("str", _UID_TEXT.filter(lambda v: not has_surrogate(v)), _typed("str")),
        Family(
            "string_pyarrow",
            _UID_TEXT.filter(lambda v: not has_surrogate(v)),
            _typed("string[pyarrow]"),
        ),
        Family(
            "large_string",
            _UID_TEXT.filter(lambda v: not has_surrogate(v)),
            _arrow(pa.large_string()),
        ),
        Family("dictionary", _UID_TEXT.filter(lambda v: not has_surrogate(v)), _dictionary),
        Family(
            "category",
            st.sampled_from(["a", "b", "c"]),
            lambda v: pd.Series(v, dtype=pd.CategoricalDtype(["a", "b", "c", "d"])),
        ),
        Family("int64", _UID_INT, _typed("int64"), missing=False),
        Family("Int64", _UID_INT, _typed("Int64")),
        Family("int64_pyarrow", _UID_INT, _typed("int64[pyarrow]")),
        Family(
            "uint64",
            st.one_of(
                st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**63 + 5, 2**64 - 1]),
                st.integers(0, 2**64 - 1),
            ),
            _typed("uint64"),
            missing=False,
        ),
        Family(
            "float64",
            st.one_of(
                st.sampled_from([1.0, 2.0, -3.0, 2.5, 2.0**60, 2.0**63]),
                st.integers(-(2**53), 2**53).map(float),
            ),
            _typed("float64"),
        ),
    ]
}
NAME_FAMILY = Family(
    "object_str", st.sampled_from(["Bought", "Signed Up", "é", ""]), _typed(object)
)
TIMESTAMP_FAMILIES = [
    "datetime_ns",
    "datetime_paris",
    "datetime_kolkata_us",
    "timestamp_pyarrow",
    "timestamp_utc_pyarrow",
    "date_object",
    "date32",
]

# ---------------------------------------------------------------------------------------------
# Origins
# ---------------------------------------------------------------------------------------------

PARQUET_ORIGINS = [
    "parquet",  # df.to_parquet (pandas metadata), pd.read_parquet
    "parquet_pyarrow",  # ... dtype_backend="pyarrow"
    "parquet_nullable",  # ... dtype_backend="numpy_nullable"
    "parquet_plain",  # a file without pandas metadata (other tools), pd.read_parquet
    "parquet_plain_pyarrow",  # ... dtype_backend="pyarrow"
]
CSV_ORIGINS = ["csv_c", "csv_c_pyarrow", "csv_pyarrow", "csv_pyarrow_pyarrow"]
ORIGINS = ["direct", "concat", *PARQUET_ORIGINS, *CSV_ORIGINS]
ROW_STEPS = ["all", "tail", "step", "reverse", "mask", "take"]
INDEXES = ["default", "repeated", "labels", "multi"]


@dataclass
class Recipe:
    """How the frame under test is made (``realise``)."""

    source: pd.DataFrame
    origin: str = "direct"
    cuts: list[int] = field(default_factory=list)  # concat: where the pieces start
    rows: str = "all"
    selection: list[Any] = field(default_factory=list)  # mask / take: the rows
    index: str = "default"
    families: dict[str, str] = field(default_factory=dict)  # column -> family name

    def __repr__(self) -> str:
        return (
            f"Recipe(origin={self.origin!r}, cuts={self.cuts}, rows={self.rows!r}, "
            f"selection={self.selection}, index={self.index!r}, families={self.families},"
            f"\nsource=\n{show(self.source)}\ndtypes={self.source.dtypes.to_dict()})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints dataclasses field by field otherwise


def show(df: pd.DataFrame) -> str:
    """The frame as text (pandas cannot print every Arrow type: then its values)."""
    with (
        pd.option_context("display.max_columns", None, "display.width", 200),
        np.errstate(all="ignore"),  # pandas' repr of float16 columns overflows a comparison
    ):
        try:
            return repr(df)
        except Exception:
            return repr({c: df[c].tolist() for c in df})


def arrow_backed(s: pd.Series) -> bool:
    """Whether the column's values are held in Arrow arrays (``ArrowDtype``, or a
    ``StringDtype`` with pyarrow storage: pandas 3's default ``str``, not pandas 2's)."""
    dtype = s.dtype
    return isinstance(dtype, pd.ArrowDtype) or getattr(dtype, "storage", "") == "pyarrow"


def arrow_chunks(s: pd.Series) -> int:
    """Chunks of an Arrow-backed column's array (0 for other columns)."""
    arr = getattr(s.array, "_pa_array", None)
    return arr.num_chunks if isinstance(arr, pa.ChunkedArray) else 0


def write_parquet(df: pd.DataFrame, path: Path, *, plain: bool, row_group_size: int) -> None:
    """Several row groups, so reads give multi-chunk Arrow arrays. ``plain``: no pandas
    metadata (a file from another tool; Arrow dictionary columns can only go this way:
    pandas cannot read back its own metadata for them)."""
    has_dictionary = any(
        isinstance(t, pd.ArrowDtype) and pa.types.is_dictionary(t.pyarrow_dtype) for t in df.dtypes
    )
    if plain or has_dictionary:
        table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path, row_group_size=row_group_size)
    else:
        df.to_parquet(path, row_group_size=row_group_size)


def read_parquet(path: Path, origin: str) -> pd.DataFrame:
    backend = {"parquet_pyarrow": "pyarrow", "parquet_plain_pyarrow": "pyarrow"}.get(origin)
    if origin == "parquet_nullable":
        backend = "numpy_nullable"
    if backend is None:
        return pd.read_parquet(path)
    return pd.read_parquet(path, dtype_backend=backend)  # type: ignore[arg-type]


def read_csv(path: Path, origin: str, **options: Any) -> pd.DataFrame:
    engine = "pyarrow" if origin.startswith("csv_pyarrow") else "c"
    if origin.endswith("_pyarrow") and origin != "csv_pyarrow":
        options["dtype_backend"] = "pyarrow"
    if PANDAS_3 or engine != "c":
        return pd.read_csv(path, engine=engine, **options)
    # pandas < 3, C engine: how pandas 2 reads the file is made pandas 3's.
    # * Its default float parser can be one ulp off; pandas 3's is exact (and deprecates
    #   the option).
    options.setdefault("float_precision", "round_trip")
    # * With dtype_backend="pyarrow", a parse_dates column with an empty field is left as
    #   text, the empty field written "<NA>": parse the dates after reading instead.
    dates = options.pop("parse_dates", None) if "dtype_backend" in options else None
    df = pd.read_csv(path, engine=engine, **options)
    for column in dates or []:
        df[column] = pd.to_datetime(df[column])
    return df


def realise(recipe: Recipe, tmp: Path) -> pd.DataFrame:
    """The frame under test (files go to ``tmp``)."""
    df = recipe.source
    origin = recipe.origin
    if origin == "concat":
        bounds = [0, *recipe.cuts, len(df)]
        pieces = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)]
        df = pd.concat(pieces)
    elif origin in PARQUET_ORIGINS:
        path = tmp / "frame.parquet"
        write_parquet(df, path, plain="plain" in origin, row_group_size=max(1, len(df) // 3))
        df = read_parquet(path, origin)
    elif origin in CSV_ORIGINS:
        path = tmp / "frame.csv"
        df.to_csv(path, index=False)
        df = read_csv(path, origin)
    df = _rows(df, recipe.rows, recipe.selection)
    return _index(df, recipe.index)


def _rows(df: pd.DataFrame, rows: str, selection: list[Any]) -> pd.DataFrame:
    if rows == "tail":
        return df.iloc[1:]  # a view: arrays sliced at an offset
    if rows == "step":
        return df.iloc[::2]
    if rows == "reverse":
        return df.iloc[::-1]
    if rows == "mask":
        return df.loc[np.array(selection, dtype=bool)]
    if rows == "take":
        return df.iloc[selection]
    return df


def _index(df: pd.DataFrame, index: str) -> pd.DataFrame:
    n = len(df)
    if index == "repeated":
        return df.set_axis([7] * n, axis=0)
    if index == "labels":
        return df.set_axis([f"row{i % 3}" for i in range(n)], axis=0)
    if index == "multi":
        return df.set_axis(pd.MultiIndex.from_arrays([[i % 2 for i in range(n)], range(n)]))
    return df


# ---------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------


def _values(draw: st.DrawFn, family: Family, n: int, origin: str) -> list[Any]:
    if family.kind == "null":
        return [None] * n
    present = family.values
    if origin in CSV_ORIGINS and family.kind == "str" and family.name in _CSV_TEXT_FAMILIES:
        present = CSV_TEXT  # text that a CSV file gives back as itself
    elif origin in CSV_ORIGINS or origin in PARQUET_ORIGINS:
        present = present.filter(lambda v: not has_surrogate(v))  # files hold UTF-8
    options = st.one_of(present, st.none()) if family.missing else present
    return draw(st.lists(options, min_size=n, max_size=n))


_CSV_TEXT_FAMILIES = {"object_str", "str", "string_pyarrow", "large_string", "string_python"}


def _writable(family: Family, origin: str) -> bool:
    if origin in CSV_ORIGINS:
        return "csv" not in family.unwritable
    if origin in PARQUET_ORIGINS:
        return "parquet" not in family.unwritable
    return True


def build(columns: dict[str, tuple[Family, list[Any]]]) -> pd.DataFrame:
    """A frame of the given columns (name -> family and its values)."""
    data = {name: family.make(values) for name, (family, values) in columns.items()}
    n = len(next(iter(columns.values()))[1]) if columns else 0
    return pd.DataFrame(data, index=pd.RangeIndex(n))


@st.composite
def frames(
    draw: st.DrawFn,
    *,
    specials: dict[str, list[Family]],
    families: list[str] | None = None,
    origins: list[str] | None = None,
    max_rows: int = 9,
    max_properties: int = 5,
) -> Recipe:
    """Recipes of frames with the ``specials`` columns (name -> families to choose from)
    first, then up to ``max_properties`` property columns named ``c<i>`` or ``g<j>.c<i>``
    (dotted names nest)."""
    origin = draw(st.sampled_from(origins or ORIGINS))
    n = draw(st.integers(0, max_rows))
    columns: dict[str, tuple[Family, list[Any]]] = {}
    for name, choices in specials.items():
        family = draw(st.sampled_from([f for f in choices if _writable(f, origin)]))
        columns[name] = (family, _values(draw, family, n, origin))
    usable = [f for f in families or list(FAMILIES) if _writable(FAMILIES[f], origin)]
    for i in range(draw(st.integers(0, max_properties))):
        family = FAMILIES[draw(st.sampled_from(usable))]
        name = draw(st.sampled_from([f"c{i}", f"g0.c{i}", f"g1.c{i}", f"g1.n.c{i}"]))
        columns[name] = (family, _values(draw, family, n, origin))
    recipe = Recipe(
        build(columns),
        origin=origin,
        families={name: family.name for name, (family, _) in columns.items()},
    )
    if origin == "concat" and n >= 2:
        recipe.cuts = sorted(draw(st.sets(st.integers(1, n - 1), min_size=1, max_size=2)))
    elif origin == "concat":
        recipe.origin = "direct"
    takes = all(family.takes for family, _ in columns.values())
    recipe.rows = draw(st.sampled_from(ROW_STEPS if takes else ["all", "tail"]))
    if recipe.rows == "mask":
        recipe.selection = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif recipe.rows == "take":
        recipe.selection = draw(st.permutations(range(n)))
    recipe.index = draw(st.sampled_from(INDEXES))
    return recipe
