"""The dtype plan: which Fullstory type each pandas column becomes, and its canonical Arrow form.

``infer_kind`` looks at a column once and decides; ``canonical`` turns the whole column, once,
while planning, into one contiguous Arrow array per kind, which the validators and the body
builder both read. That array is the run's snapshot of the frame: it owns its memory (the
frame may change afterwards without changing what is sent), Arrow chunks are combined and
dictionaries decoded in one place, and text dates are parsed per column, never per slice.
Anything that has no faithful Fullstory type (bytes, complex, timedelta, mixed objects) is
refused here, with the column named, instead of being written as something else.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas._types import TimeZone
from fs_pandas.errors import InvalidDataError

__all__ = [
    "PLURAL",
    "TYPE_NAMES",
    "Canonical",
    "DateSample",
    "ValueKind",
    "canonical",
    "column_of",
    "date_text_sample",
    "encodable",
    "infer_kind",
    "source_missing",
    "whole_with_missing",
]


class ValueKind(enum.Enum):
    """How a column is encoded. The value is the Fullstory schema type where one applies."""

    STR = "str"
    INT = "int"
    REAL = "real"
    BOOL = "bool"
    DATE = "date"
    LIST = "list"  # plural types; the element type is found per column (types of §3.4)
    OBJECT = "object"  # dict values -> nested objects (§3.3)


# Contract §3.4: the schema type names.
TYPE_NAMES = frozenset(
    {"str", "strs", "int", "ints", "real", "reals", "bool", "bools", "date", "dates"}
)
PLURAL = {"str": "strs", "int": "ints", "real": "reals", "bool": "bools", "date": "dates"}

_REFUSED_OBJECTS = {
    "bytes": "bytes",
    "complex": "complex numbers",
    "decimal": "decimal.Decimal values (convert with .astype(float) if that precision is fine)",
    "timedelta": "timedeltas (convert to a number, e.g. .dt.total_seconds())",
    "timedelta64": "timedeltas (convert to a number, e.g. .dt.total_seconds())",
    "period": "periods (convert with .dt.to_timestamp())",
    "interval": "intervals",
    "mixed-integer": "a mix of integers and other values",
}
_INT64 = (-(2**63), 2**63 - 1)
_NAT = np.iinfo(np.int64).min
# RFC 3339 years 0001..9999, in seconds since the epoch (contract §9.12).
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class Problem:
    """Rows whose value could not be converted, and the rule they break."""

    mask: npt.NDArray[np.bool_]
    rule: str
    message: str


@dataclass(frozen=True)
class Canonical:
    """A column's values in canonical Arrow form, and the rows found broken on the way.

    Attributes
    ----------
    array : pyarrow.Array
        One contiguous array, missing values null: ``string`` (``large_string`` as Arrow
        text of the frame holds it, shared: Arrow data is immutable; a dictionary of
        strings for categoricals), ``int64``/``uint64``, ``float64``, ``bool``,
        ``timestamp[unit, UTC]``. It shares no memory that the frame can still write to.
    problems : tuple of Problem
        Rows whose value is null here though the source had one, with the rule they break
        (the validator also rejects every other such row, by kind).
    missing : numpy.ndarray of bool or None
        Rows whose source value is missing, when reading the column told it (Python objects
        read by Arrow); ``None``: ask :func:`source_missing`.
    """

    array: pa.Array
    problems: tuple[Problem, ...] = ()
    missing: npt.NDArray[np.bool_] | None = None


def _refuse(column: Hashable, what: str) -> InvalidDataError:
    return InvalidDataError(
        f"column {column!r} holds {what}, which Fullstory cannot store; convert it, or "
        "exclude it with properties=[...]",
        column=str(column),
        rule="unsupported_dtype",
    )


def column_of(frame: pd.DataFrame, index: int) -> pd.Series:
    """The column at ``index`` as the planner reads it (sparse columns made dense)."""
    series = frame.iloc[:, index]
    if isinstance(series.dtype, pd.SparseDtype):
        series = _densify(series)
    return series


def _densify(s: pd.Series) -> pd.Series:
    dense: pd.Series = s.sparse.to_dense()  # type: ignore[attr-defined]
    return dense


def _objects(s: pd.Series) -> npt.NDArray[np.object_]:
    """The values as Python objects, every kind of missing value as ``None``."""
    values: npt.NDArray[np.object_] = s.to_numpy(  # type: ignore[call-overload]
        dtype=object, na_value=None
    )
    return values


def infer_kind(s: pd.Series, column: Hashable) -> ValueKind:
    """Decide the kind of a column from its dtype (and, for ``object``, its values).

    Raises
    ------
    InvalidDataError
        The column's values have no faithful Fullstory type.
    """
    dtype = s.dtype
    if isinstance(dtype, pd.SparseDtype):
        return infer_kind(_densify(s), column)
    if isinstance(dtype, pd.CategoricalDtype):
        return infer_kind(pd.Series(dtype.categories), column)
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_kind(dtype.pyarrow_dtype, column)
    if pd.api.types.is_bool_dtype(dtype):
        return ValueKind.BOOL
    if pd.api.types.is_integer_dtype(dtype):
        return ValueKind.INT
    if pd.api.types.is_float_dtype(dtype):
        return ValueKind.REAL
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ValueKind.DATE
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return ValueKind.STR
    if pd.api.types.is_object_dtype(dtype):
        return _object_kind(s, column)
    raise _refuse(column, f"dtype {dtype}")


def _is_text_type(t: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or is_view(t))


def _arrow_kind(t: pa.DataType, column: Hashable) -> ValueKind:
    if pa.types.is_dictionary(t):
        return _arrow_kind(t.value_type, column)
    if _is_text_type(t) or pa.types.is_null(t):
        return ValueKind.STR  # an all-null column (parquet's empty columns) sends nothing
    if pa.types.is_boolean(t):
        return ValueKind.BOOL
    if pa.types.is_integer(t):
        return ValueKind.INT
    if pa.types.is_floating(t):
        return ValueKind.REAL
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return ValueKind.DATE
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return ValueKind.LIST
    if pa.types.is_struct(t):
        return ValueKind.OBJECT
    if pa.types.is_decimal(t):
        return _raise(column, _REFUSED_OBJECTS["decimal"])
    if pa.types.is_duration(t):
        return _raise(column, _REFUSED_OBJECTS["timedelta"])
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return _raise(column, "bytes")
    return _raise(column, f"Arrow type {t}")


def _raise(column: Hashable, what: str) -> ValueKind:
    raise _refuse(column, what)


def _object_kind(s: pd.Series, column: Hashable) -> ValueKind:
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred != "string":
        # infer_dtype's skipna does not skip NaT or pd.NA among other values: drop every
        # kind of missing value, so ["x", NaT] is a column of strings with one missing value.
        inferred = pd.api.types.infer_dtype(s[s.notna()], skipna=True)
    simple = {
        "string": ValueKind.STR,
        "empty": ValueKind.STR,
        "boolean": ValueKind.BOOL,
        "integer": ValueKind.INT,
        "floating": ValueKind.REAL,
        "mixed-integer-float": ValueKind.REAL,
        "datetime": ValueKind.DATE,
        "datetime64": ValueKind.DATE,
        "date": ValueKind.DATE,
    }
    if inferred in simple:
        return simple[inferred]
    if inferred in _REFUSED_OBJECTS:
        raise _refuse(column, _REFUSED_OBJECTS[inferred])
    return _container_kind(s, column)


def _container_kind(s: pd.Series, column: Hashable) -> ValueKind:
    """Columns of lists or of dicts; anything else mixed is refused with the types found."""
    values = s[s.notna()] if len(s) else s
    types = {type(v) for v in values}
    if types and all(issubclass(t, list | tuple | np.ndarray) for t in types):
        return ValueKind.LIST
    if types and all(issubclass(t, dict) for t in types):
        return ValueKind.OBJECT
    names = ", ".join(sorted(t.__name__ for t in types))
    raise _refuse(column, f"a mix of value types ({names}) that has no single Fullstory type")


def source_missing(series: pd.Series) -> npt.NDArray[np.bool_]:
    """Missing values under the one null policy: NaN, None, NaT and pd.NA alike."""
    missing = np.array(series.isna().to_numpy(dtype=bool, na_value=True), dtype=bool)
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_floating(dtype.pyarrow_dtype):
        # Arrow keeps NaN apart from null; under the one null policy both are missing.
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing |= np.isnan(values)
    return missing


# Type-plan hints (never change what is sent): how many present values of a text column are
# tried as dates, spread evenly over the column, so the check costs the same on any frame.
DATE_SAMPLE = 1_000
# What a hint calls dates: ISO-8601 text with the full date (``2024-05-01``, optionally a time
# and an offset). Shorter ISO forms (``2024``, ``20240501``) parse too when declared, but in a
# column they are more often years or codes than dates, so they are not pointed out.
_DATE_LIKE = re.compile(r"\s*\d{4}-\d{2}-\d{2}(?:[T ].*)?", re.DOTALL)


@dataclass(frozen=True)
class DateSample:
    """What :func:`date_text_sample` found: whether every value tried is a date that
    ``schema={...: "date"}`` would parse, and how many values were tried of those present."""

    dates: bool
    checked: int
    present: int


def date_text_sample(
    s: pd.Series, column: Hashable, missing: npt.NDArray[np.bool_] | None = None
) -> DateSample | None:
    """Whether a text column's values look like dates (``None``: no value present).

    At most :data:`DATE_SAMPLE` present values, spread evenly over the column, are tried
    with the parser of text declared ``date`` (naive ones read in UTC: whether they parse
    does not depend on the zone), after a full-date pattern (see ``_DATE_LIKE``).
    ``missing``: the column's missing values, if known (else :func:`source_missing`).
    """
    present = np.flatnonzero(~(source_missing(s) if missing is None else missing))
    if not len(present):
        return None
    total = len(present)
    if total > DATE_SAMPLE:
        present = present[np.linspace(0, total - 1, DATE_SAMPLE).round().astype(np.int64)]
    if isinstance(s.dtype, pd.ArrowDtype):  # string_view has no take kernel: cast first
        arrow = _single(pa.array(s.array))
        if _is_text_type(arrow.type):
            arrow = arrow.cast(pa.string())
        values = np.asarray(arrow.take(pa.array(present)).to_pylist(), dtype=object)
    else:
        values = _objects(s.iloc[present])
    checked = DateSample(False, len(values), total)
    if not all(isinstance(v, str) and _DATE_LIKE.fullmatch(v) for v in values):
        return checked
    try:
        parsed = _object_dates(pd.Series(values, dtype=object), naive_tz="UTC", column=column)
    except (InvalidDataError, ValueError, TypeError, OverflowError):
        return checked
    if parsed.problems or parsed.array.null_count:
        return checked
    return DateSample(True, len(values), total)


def whole_with_missing(s: pd.Series) -> bool:
    """A float column with a missing value whose present values are all whole numbers in the
    int64 range: what ``read_csv`` makes of a column of integers with an empty field."""
    if not pd.api.types.is_float_dtype(s.dtype):
        return False
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if not missing.any() or missing.all():
        return False
    present = values[~missing]
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(present) & (np.floor(present) == present)
        whole &= (present >= -(2.0**63)) & (present < 2.0**63)
    return bool(whole.all())


def canonical(
    s: pd.Series, kind: ValueKind, *, naive_tz: TimeZone, column: Hashable, as_text: bool = False
) -> Canonical:
    """The canonical Arrow array of a scalar-kind column (see :class:`Canonical`).

    STR -> string or large_string (a dictionary for categoricals), INT -> int64/uint64 (or
    their decimal text with ``as_text``: uids are text), REAL -> float64 (NaN -> null; float32
    values as the shortest decimal that reads back to the same float32, the number the user
    sees), BOOL -> bool, DATE -> timestamp in UTC (naive times read in ``naive_tz``).
    """
    if isinstance(s.dtype, pd.SparseDtype):
        s = _densify(s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _categorical(s, kind, naive_tz=naive_tz, column=column, as_text=as_text)
    if isinstance(s.dtype, pd.ArrowDtype) or isinstance(s.array, pd.arrays.ArrowStringArray):
        arrow = _single(pa.array(s.array))  # Arrow data is immutable: nothing to copy
        if pa.types.is_null(arrow.type) and kind is not ValueKind.DATE:
            return Canonical(pa.nulls(len(arrow), _NULL_TYPES[kind]))
        if kind is not ValueKind.DATE or not _is_text_type(arrow.type):
            return _from_arrow(arrow, kind, naive_tz=naive_tz, column=column, as_text=as_text)
        # Arrow text read as dates: as Python strings (string_view has few kernels).
        s = pd.Series(arrow.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    elif s.dtype != object:
        # The plan keeps these arrays until the last chunk is built, and NumPy -> Arrow
        # shares memory: copy first, so later edits of the frame cannot reach the bodies.
        # (Python objects always become new Arrow memory: nothing to copy.)
        s = s.copy(deep=True)
    if as_text:
        return _number_text(s, column)
    if kind is ValueKind.STR:
        return _strings(s, column)
    if kind is ValueKind.INT:
        return _ints(s, column)
    if kind is ValueKind.REAL:
        return Canonical(_reals(s))
    if kind is ValueKind.BOOL:
        if s.dtype == np.bool_:
            return Canonical(pa.array(s.to_numpy(), type=pa.bool_()))
        values = pd.array(_objects(s).tolist(), dtype="boolean")
        return Canonical(pa.array(values, type=pa.bool_()))
    if kind is ValueKind.DATE:
        return _dates(s, naive_tz=naive_tz, column=column)
    raise ValueError(f"canonical does not handle {kind}")


_NULL_TYPES = {
    ValueKind.STR: pa.string(),
    ValueKind.INT: pa.int64(),
    ValueKind.REAL: pa.float64(),
    ValueKind.BOOL: pa.bool_(),
}


def _single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array: chunks combined (files and ``pd.concat`` give several),
    dictionaries decoded (each chunk may have its own)."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    value_type = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    chunks = [c.dictionary_decode() if isinstance(c, pa.DictionaryArray) else c for c in chunks]
    if not chunks:
        return pa.array([], type=value_type)
    return chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)


def _categorical(
    s: pd.Series, kind: ValueKind, *, naive_tz: TimeZone, column: Hashable, as_text: bool
) -> Canonical:
    """Codes (copied) over the categories' canonical array; a category that breaks a rule
    breaks every row that uses it."""
    categories = canonical(
        pd.Series(s.cat.categories), kind, naive_tz=naive_tz, column=column, as_text=as_text
    )
    codes = np.array(s.cat.codes.to_numpy(), copy=True)  # int8 for up to 127 categories
    indices = pa.array(codes, mask=codes < 0)
    dictionary = categories.array
    if pa.types.is_dictionary(dictionary.type):
        dictionary = dictionary.dictionary_decode()
    problems = tuple(
        Problem((codes >= 0) & p.mask[np.maximum(codes, 0)], p.rule, p.message)
        for p in categories.problems
    )
    return Canonical(pa.DictionaryArray.from_arrays(indices, dictionary), problems)


def _from_arrow(
    arr: pa.Array, kind: ValueKind, *, naive_tz: TimeZone, column: Hashable, as_text: bool
) -> Canonical:
    """An Arrow-backed column (already one contiguous array) in its canonical form."""
    t = arr.type
    if as_text:
        if pa.types.is_floating(t):
            return _number_text(pd.Series(arr.to_numpy(zero_copy_only=False)), column)
        return Canonical(arr.cast(pa.string()))
    if kind is ValueKind.STR:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            # Kept as it is, shared with the frame (pandas' own text, parquet): Arrow data
            # is immutable. The bodies take it a slice at a time (``encode.Members``).
            return Canonical(arr)
        try:
            return Canonical(arr.cast(pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _refuse(column, f"Arrow type {t} (no conversion to text)") from None
    if kind is ValueKind.INT:
        if pa.types.is_floating(t):
            return _ints(pd.Series(arr.to_numpy(zero_copy_only=False)), column)
        return Canonical(arr.cast(pa.uint64() if pa.types.is_unsigned_integer(t) else pa.int64()))
    if kind is ValueKind.REAL:
        if pa.types.is_integer(t):
            return Canonical(arr.cast(pa.float64()))
        if t in (pa.float16(), pa.float32()):
            return Canonical(_reals(pd.Series(arr.to_numpy(zero_copy_only=False))))
        values = arr.cast(pa.float64())
        return Canonical(pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values))
    if kind is ValueKind.BOOL:
        return Canonical(arr.cast(pa.bool_()))
    if kind is ValueKind.DATE:
        return _arrow_dates(arr, naive_tz=naive_tz, column=column)
    raise ValueError(f"canonical does not handle {kind}")


def _strings(s: pd.Series, column: Hashable) -> Canonical:
    """Python strings -> Arrow; a string that is not valid Unicode (a lone surrogate) is a
    rejected row, not a refused column."""
    # from_pandas: None, NaN, NaT, pd.NA and Decimal NaN become null (the one null policy)
    # as Arrow reads them, without a pass of pandas over the objects first; a missing value
    # of NumPy's own (a float32 NaN, a datetime64 NaT) makes Arrow refuse, and then pandas
    # says what is missing.
    refused = (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError)
    try:
        arr = pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except refused:
        values = _objects(s)
    else:
        # Arrow read every missing value as null and every other as text: its nulls are what
        # is missing (pandas would take another pass over the objects, holding the GIL).
        return Canonical(arr, missing=arr.is_null().to_numpy(zero_copy_only=False))
    try:
        return Canonical(pa.array(values, type=pa.string(), from_pandas=True))
    except refused:
        pass
    bad = np.array([isinstance(v, str) and not encodable(v) for v in values], dtype=bool)
    kept = np.where(bad, np.array(None, dtype=object), values)
    message = f"{column}: text that is not valid Unicode (a lone surrogate)"
    arr = pa.array(kept, type=pa.string(), from_pandas=True)
    return Canonical(arr, (Problem(bad, "invalid_string", message),))


def encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (UTF-8 refuses lone surrogates, and so does JSON)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reals(s: pd.Series) -> pa.Array:
    """float64 with NaN -> null. A float32 value becomes the shortest decimal that reads back
    to the same float32 (``0.1``, not its widened double ``0.10000000149011612``)."""
    dtype = s.dtype
    narrow = getattr(dtype, "numpy_dtype", dtype)
    if isinstance(narrow, np.dtype) and narrow.kind == "f" and narrow.itemsize < 8:
        floats = s.to_numpy(dtype=narrow, na_value=np.nan)
        values = floats.astype(str).astype(np.float64)
    else:
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return pa.array(values, type=pa.float64(), from_pandas=True)


def _ints(s: pd.Series, column: Hashable) -> Canonical:
    if pd.api.types.is_float_dtype(s.dtype):
        # Floats declared int (uid columns with NaN, schema overrides, context ints): only
        # integral values convert; the others become null and the validator rejects them.
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (np.floor(values) == values)
            ok = whole & (values >= -(2.0**63)) & (values < 2.0**63)
        return Canonical(pa.array(np.where(ok, values, 0).astype(np.int64), mask=~ok))
    if pd.api.types.is_unsigned_integer_dtype(s.dtype):
        return Canonical(pa.array(s, type=pa.uint64(), from_pandas=True))
    if not pd.api.types.is_object_dtype(s.dtype):
        return Canonical(pa.array(s, type=pa.int64(), from_pandas=True))
    values = s.to_numpy(dtype=object)
    try:
        return Canonical(pa.array(pd.array(values, dtype="Int64"), type=pa.int64()))
    except (OverflowError, TypeError, ValueError):
        pass
    # Value by value: a Python int beyond 64 bits rejects its row (int_out_of_range), a
    # float with a fraction or beyond the range becomes null (rejected as not integral).
    big = np.array([_big_int(v) for v in values], dtype=bool)
    kept = pa.array([_whole(v) for v in values], type=pa.int64())
    message = f"{column}: an integer outside the 64-bit range Fullstory stores"
    return Canonical(kept, (Problem(big, "int_out_of_range", message),))


def _big_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not _INT64[0] <= int(v) <= _INT64[1]


def _whole(v: object) -> int | None:
    """A value of an object column declared int, if it is a whole number in the int64 range."""
    if isinstance(v, int | np.integer):
        return int(v) if _INT64[0] <= int(v) <= _INT64[1] else None
    if isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
        return int(v) if -(2.0**63) <= float(v) < 2.0**63 else None
    return None


def _number_text(s: pd.Series, column: Hashable) -> Canonical:
    """Whole numbers as decimal text (uids, ids): any size, since the text is what is sent;
    a value with a fraction becomes null (the validator rejects it as not integral)."""
    if pd.api.types.is_integer_dtype(s.dtype):
        return Canonical(pa.array(s, from_pandas=True).cast(pa.string()))
    if pd.api.types.is_float_dtype(s.dtype):
        ints = _ints(s, column).array
        return Canonical(ints.cast(pa.string()))
    texts = [_whole_text(v) for v in s.to_numpy(dtype=object)]
    return Canonical(pa.array(texts, type=pa.string()))


def _whole_text(v: object) -> str | None:
    if isinstance(v, bool | np.bool_) or v is None or v is pd.NA:
        return None
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return None if _whole(v) is None else str(int(v))  # floats: the int64 range, as above
    return None


def _arrow_dates(arr: pa.Array, *, naive_tz: TimeZone, column: Hashable) -> Canonical:
    t = arr.type
    if pa.types.is_null(t):
        return Canonical(pa.nulls(len(arr), pa.timestamp("s", "UTC")))
    if pa.types.is_timestamp(t) and t.tz is not None:
        return Canonical(arr.cast(pa.timestamp(t.unit, "UTC")))
    if pa.types.is_timestamp(t):
        naive = pd.Series(arr.to_numpy(zero_copy_only=False))
        return _localized(naive, np.zeros(len(arr), bool), naive_tz=naive_tz, column=column)
    if pa.types.is_date(t):
        naive = pd.Series(arr.cast(pa.timestamp("s")).to_numpy(zero_copy_only=False))
        return _localized(naive, np.ones(len(arr), bool), naive_tz=naive_tz, column=column)
    raise _refuse(column, f"Arrow type {t} as dates")


def _dates(s: pd.Series, *, naive_tz: TimeZone, column: Hashable) -> Canonical:
    """A datetime64 column, or an object/text column read as dates (per value: an offset or
    an aware datetime is an instant, a naive one a wall-clock time in ``naive_tz``)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return Canonical(pa.array(s.dt.tz_convert("UTC"), from_pandas=True))
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "M":
        return _localized(s, np.zeros(len(s), bool), naive_tz=naive_tz, column=column)
    return _object_dates(s, naive_tz=naive_tz, column=column)


# An offset after a time of day ("...T10:00+02:00", "... 10:00:00.5Z"); "2024-09-08" has none.
_OFFSET = r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)\s*$"
_DATE_ONLY = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


def _object_dates(s: pd.Series, *, naive_tz: TimeZone, column: Hashable) -> Canonical:
    """Datetimes, dates and ISO-8601 text held as objects (or Arrow text) -> UTC instants.

    Text that does not parse becomes null (the validator rejects the row as ``invalid_date``).
    Decided per value and parsed per column, so a value's instant never depends on the other
    rows of the column or of a chunk.
    """
    values = _objects(s)
    present = ~source_missing(s)
    text = present & np.array([isinstance(v, str) for v in values], dtype=bool)
    others = present & ~text
    aware_objects = others & np.array([_aware(v) for v in values], dtype=bool)
    naive_objects = others & ~aware_objects
    if aware_objects.any() and naive_objects.any():
        raise InvalidDataError(
            f"column {column!r} mixes naive and time-zone-aware datetimes; convert it with "
            "pd.to_datetime(..., utc=True) or localize it first",
            column=str(column),
            rule="unsupported_dtype",
        )
    strings = pd.Series(values[text], dtype=object)  # Python str: may hold lone surrogates
    with_offset = strings.str.contains(_OFFSET, regex=True).to_numpy(dtype=bool)
    aware_text = np.zeros(len(s), bool)
    aware_text[np.flatnonzero(text)[with_offset]] = True
    naive_text = text & ~aware_text
    date_only = np.zeros(len(s), bool)
    date_only[naive_text] = [bool(_DATE_ONLY.fullmatch(v)) for v in values[naive_text]]
    date_only[naive_objects] = [_is_date_only(v) for v in values[naive_objects]]
    parts: list[tuple[npt.NDArray[np.bool_], pa.Array]] = []
    far = np.zeros(len(s), bool)  # dates dropped: too far for the column's nanoseconds
    for rows in (aware_text, aware_objects):
        if rows.any():
            parsed, far[rows] = _parse(values[rows], utc=True)
            parts.append((rows, pa.array(parsed, from_pandas=True)))
    naive = naive_text | naive_objects
    if naive.any():
        midnight = np.array([_as_datetime(v) for v in values[naive]], dtype=object)
        wall, far[naive] = _parse(midnight, utc=False)
        local = _localized(wall, date_only[naive], naive_tz=naive_tz, column=column)
        parts.append((naive, local.array))
    bad = np.zeros(len(s), bool)
    bad[text] = [not encodable(v) for v in values[text]]
    problems: tuple[Problem, ...] = ()
    if bad.any():
        message = f"{column}: text that is not valid Unicode"
        problems += (Problem(bad, "invalid_string", message),)
    assembled, too_far = _assemble(len(s), parts)
    far |= too_far
    if far.any():
        message = (
            f"{column}: a date outside 1677-2262 in a column whose other dates carry "
            "nanoseconds (one column holds one precision): send it in a column of its own"
        )
        problems += (Problem(far, "date_out_of_range", message),)
    return Canonical(assembled, problems)


def _aware(v: object) -> bool:
    return getattr(v, "tzinfo", None) is not None


def _is_date_only(v: object) -> bool:
    return isinstance(v, dt.date) and not isinstance(v, dt.datetime)


def _as_datetime(v: object) -> object:
    """``datetime.date`` -> midnight (naive, so ``naive_tz`` applies like any naive time)."""
    if _is_date_only(v):
        assert isinstance(v, dt.date)
        return dt.datetime(v.year, v.month, v.day)
    return v


def _parse(
    values: npt.NDArray[np.object_], *, utc: bool
) -> tuple[pd.Series, npt.NDArray[np.bool_]]:
    """One group of values (all text, or all datetime objects) -> datetime64, and the values
    left NaT because their date lies beyond what the group's nanoseconds allow; text that does
    not parse -> NaT."""
    none = np.zeros(len(values), bool)
    options: dict[str, Any] = {"errors": "coerce", "utc": utc}
    if len(values) and isinstance(values[0], str):
        options["format"] = "ISO8601"
    try:
        parsed = pd.Series(pd.to_datetime(pd.Series(values, dtype=object), **options))
    except (ValueError, TypeError, OverflowError):
        parsed = None
    if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
        parsed = pd.Series(np.full(len(values), _NAT).view("M8[us]"))  # all again, below
        parsed = parsed.dt.tz_localize("UTC") if utc else parsed
    lost = parsed.isna().to_numpy(dtype=bool)
    if not lost.any():
        return parsed, none
    # Out of the range of the unit pandas chose (pandas < 3 parses into nanoseconds, so
    # 1677-2262, and coerces the rest to NaT): those values again, one by one, in microseconds.
    again = np.array([_micros(v, utc=utc) for v in values[lost]], dtype=np.int64)
    if (again == _NAT).all():
        return parsed, none
    ticks = _ticks(parsed)
    if parsed.dt.unit == "ns":
        if (ticks[~lost] % 1_000 != 0).any():
            # Nanosecond digits and dates beyond 1677-2262 cannot share one array: the far
            # dates are rejected, the others keep every digit.
            far = lost.copy()
            far[lost] = again != _NAT
            return parsed, far
        ticks = np.where(lost, _NAT, ticks // 1_000)
    elif parsed.dt.unit != "us":
        ticks = _ticks(parsed.astype(_UTC_US if utc else "datetime64[us]"))
    ticks[lost] = again
    out = pd.Series(ticks.view("M8[us]"))
    return (out.dt.tz_localize("UTC") if utc else out), none


_UTC_US = pd.DatetimeTZDtype("us", "UTC")


def _micros(v: Any, *, utc: bool) -> int:
    """One value as int64 microseconds since the epoch (UTC if ``utc``, else wall clock),
    ``_NAT`` if it is not a time; text must be ISO 8601 (``datetime.fromisoformat``, like
    ``format="ISO8601"`` above)."""
    try:
        ts = pd.Timestamp(dt.datetime.fromisoformat(v.strip()) if isinstance(v, str) else v)
    except (ValueError, TypeError, OverflowError):
        return _NAT
    if isinstance(v, str) and (ts.tzinfo is not None) != utc:
        return _NAT  # an offset the RFC 3339 pattern did not see (e.g. +05:21:10): not a time
    if pd.isna(ts):
        return _NAT
    if utc:
        ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
        ts = ts.tz_localize(None)
    return int(ts.as_unit("us").asm8.view("i8"))


def _assemble(
    n: int, arrays: list[tuple[npt.NDArray[np.bool_], pa.Array]]
) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """UTC timestamps of ``n`` rows from the parts that cover some of them (nulls elsewhere),
    in the finest unit that every part's values fit in, and the rows left null because no
    unit holds both their date and another part's nanoseconds."""
    units = [a.type.unit for _, a in arrays] or ["s"]
    for unit in sorted(set(units), key=lambda u: -_PER_SECOND[u]):
        try:
            cast = [(rows, a.cast(pa.timestamp(unit, "UTC"))) for rows, a in arrays]
        except pa.ArrowInvalid:  # a value too far from 1970, or too precise, for this unit
            continue
        return _merge(n, cast, unit), np.zeros(n, bool)
    # Nanosecond digits in one part, dates beyond 1677-2262 in another: nanoseconds are kept,
    # the far dates become null and are reported.
    far = np.zeros(n, bool)
    cast = []
    for rows, a in arrays:
        ticks = pc.fill_null(a.cast(pa.int64()), _NAT).to_numpy(zero_copy_only=False)
        scale = _PER_SECOND["ns"] // _PER_SECOND[a.type.unit]
        beyond = (ticks != _NAT) & (np.abs(ticks) > (2**63 - 1) // scale)
        missing = beyond | (ticks == _NAT)
        ticks = np.where(missing, _NAT, np.where(missing, 0, ticks) * scale)
        far[np.flatnonzero(rows)[beyond]] = True
        cast.append((rows, pa.array(ticks, type=pa.timestamp("ns", "UTC"), mask=ticks == _NAT)))
    return _merge(n, cast, "ns"), far


def _merge(n: int, parts: list[tuple[npt.NDArray[np.bool_], pa.Array]], unit: str) -> pa.Array:
    ticks = np.full(n, _NAT, dtype=np.int64)
    for rows, a in parts:
        ticks[rows] = pc.fill_null(a.cast(pa.int64()), _NAT).to_numpy(zero_copy_only=False)
    return pa.array(ticks, type=pa.timestamp(unit, "UTC"), mask=ticks == _NAT)


def _localized(
    wall: pd.Series, date_only: npt.NDArray[np.bool_], *, naive_tz: TimeZone, column: Hashable
) -> Canonical:
    """Naive wall-clock times in ``naive_tz`` -> UTC. A time that does not exist or is
    ambiguous there becomes null (rejected as ``invalid_date``), except a date alone, which
    means the first instant of that day (midnight, or the end of a gap that starts there)."""
    wall = pd.Series(wall.to_numpy(), dtype=wall.dtype)
    if naive_tz is None:
        if wall.notna().any():
            raise InvalidDataError(
                f"column {column!r} holds naive datetimes and naive_tz=None: say which time "
                "zone they are in (naive_tz='UTC', 'Europe/Paris', ...) or localize the column "
                "with .dt.tz_localize(...)",
                column=str(column),
                rule="naive_datetime",
            )
        return Canonical(pa.nulls(len(wall), pa.timestamp("s", "UTC")))
    local = _localize(wall, naive_tz, ambiguous="NaT", nonexistent="NaT")
    if date_only.any():
        days = wall[date_only]
        earliest = np.ones(len(days), bool)  # DST side: the first of a repeated midnight
        first = _localize(days, naive_tz, ambiguous=earliest, nonexistent="shift_forward")
        ticks = _ticks(local).copy()
        ticks[date_only] = _ticks(first)
        local = pd.Series(ticks.view(f"M8[{local.dt.unit}]")).dt.tz_localize("UTC")
    return Canonical(pa.array(local, from_pandas=True))


def _ticks(s: pd.Series) -> npt.NDArray[np.int64]:
    """int64 ticks of a datetime64 Series (naive or aware: the UTC instant), NaT as int64 min."""
    return np.asarray(pd.DatetimeIndex(s).asi8, dtype=np.int64)


def _localize(wall: pd.Series, tz: str | dt.tzinfo, **options: Any) -> pd.Series:
    """``wall.dt.tz_localize(tz, ...)`` in UTC; where pandas cannot (a local time within a day
    of the year 0001 or 9999, whose instant may lie beyond it), the zone's offset a day or two
    inside the range is used, and the range check rejects what lies beyond."""
    try:
        utc: pd.Series = wall.dt.tz_localize(tz, **options).dt.tz_convert("UTC")
        return utc
    except (NotImplementedError, OverflowError, pd.errors.OutOfBoundsDatetime):
        pass
    unit = wall.dt.unit
    ticks = _ticks(wall)
    nat = ticks == _NAT
    per_day = 86_400 * _PER_SECOND[unit]
    low = max(MIN_SECONDS * _PER_SECOND[unit], _NAT + 1) + 2 * per_day
    high = min(MAX_SECONDS * _PER_SECOND[unit], -(_NAT + 1)) - 2 * per_day
    clipped = np.where(nat, _NAT, np.clip(ticks, low, high))
    inside = pd.Series(clipped.view(f"M8[{unit}]"))
    instants = _ticks(inside.dt.tz_localize(tz, **options))
    offset = np.where(instants == _NAT, 0, clipped - instants)
    out = np.where((instants == _NAT) | nat, _NAT, ticks - offset)
    return pd.Series(out.view(f"M8[{unit}]")).dt.tz_localize("UTC")
