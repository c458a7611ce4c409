"""The dtype plan: which Fullstory type each pandas column becomes, and its canonical Arrow form.

``infer_kind`` looks at a column once and decides; ``to_arrow`` turns (a slice of) it into one
canonical Arrow array per kind, which the validators and the encoder both read. Anything that
has no faithful Fullstory type (bytes, complex, timedelta, mixed objects) is refused here, with
the column named, instead of being written as something else.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from fs_pandas.errors import InvalidDataError

__all__ = [
    "PLURAL",
    "TYPE_NAMES",
    "Kind",
    "column_taker",
    "infer_kind",
    "source_missing",
    "to_arrow",
]


class Kind(enum.Enum):
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


def _refuse(column: Hashable, what: str) -> InvalidDataError:
    return InvalidDataError(
        f"column {column!r} holds {what}, which Fullstory cannot store; convert it, or "
        "exclude it with properties=[...]",
        column=str(column),
        rule="unsupported_dtype",
    )


def infer_kind(s: pd.Series, column: Hashable) -> Kind:
    """Decide the kind of a column from its dtype (and, for ``object``, its values).

    Raises
    ------
    InvalidDataError
        The column's values have no faithful Fullstory type.
    """
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return infer_kind(pd.Series(dtype.categories), column)
    if pd.api.types.is_bool_dtype(dtype):
        return Kind.BOOL
    if pd.api.types.is_integer_dtype(dtype):
        return Kind.INT
    if pd.api.types.is_float_dtype(dtype):
        return Kind.REAL
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return Kind.DATE
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return Kind.STR
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_kind(dtype.pyarrow_dtype, column)
    if pd.api.types.is_object_dtype(dtype):
        return _object_kind(s, column)
    raise _refuse(column, f"dtype {dtype}")


def _arrow_kind(t: pa.DataType, column: Hashable) -> Kind:
    if pa.types.is_date(t):
        return Kind.DATE
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return Kind.LIST
    if pa.types.is_struct(t):
        return Kind.OBJECT
    raise _refuse(column, f"Arrow type {t}")


def _object_kind(s: pd.Series, column: Hashable) -> Kind:
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred != "string":
        # infer_dtype's skipna does not skip NaT or pd.NA among other values: drop every
        # kind of missing value, so ["x", NaT] is a column of strings with one missing value.
        inferred = pd.api.types.infer_dtype(s[s.notna()], skipna=True)
    simple = {
        "string": Kind.STR,
        "empty": Kind.STR,
        "boolean": Kind.BOOL,
        "integer": Kind.INT,
        "floating": Kind.REAL,
        "mixed-integer-float": Kind.REAL,
        "datetime": Kind.DATE,
        "datetime64": Kind.DATE,
        "date": Kind.DATE,
    }
    if inferred in simple:
        return simple[inferred]
    if inferred in _REFUSED_OBJECTS:
        raise _refuse(column, _REFUSED_OBJECTS[inferred])
    return _container_kind(s, column)


def _container_kind(s: pd.Series, column: Hashable) -> Kind:
    """Columns of lists or of dicts; anything else mixed is refused with the types found."""
    values = s[s.notna()] if len(s) else s
    types = {type(v) for v in values}
    if types and all(issubclass(t, list | tuple | np.ndarray) for t in types):
        return Kind.LIST
    if types and all(issubclass(t, dict) for t in types):
        return Kind.OBJECT
    names = ", ".join(sorted(t.__name__ for t in types))
    raise _refuse(column, f"a mix of value types ({names}) that has no single Fullstory type")


def source_missing(series: pd.Series) -> npt.NDArray[np.bool_]:
    """Missing values under the one null policy: NaN, None, NaT and pd.NA alike."""
    return np.asarray(series.isna().to_numpy(dtype=bool, na_value=True))


def to_arrow(s: pd.Series, kind: Kind, *, naive_tz: str, column: Hashable) -> pa.Array:
    """The canonical Arrow array of a scalar-kind column (or slice); missing values are null.

    STR -> string (or dictionary of strings), INT -> int64/uint64, REAL -> float64 (NaN -> null),
    BOOL -> bool, DATE -> timestamp in UTC (a naive time that does not exist or is ambiguous in
    ``naive_tz`` becomes null: the validator compares with the source to reject it).
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        categories = to_arrow(pd.Series(s.dtype.categories), kind, naive_tz=naive_tz, column=column)
        codes = s.cat.codes.to_numpy()
        indices = pa.array(codes, mask=codes < 0, type=pa.int32())
        return pa.DictionaryArray.from_arrays(indices, categories)
    if kind is Kind.STR:
        return _str_arrow(s, column)
    if kind is Kind.INT:
        return _int_arrow(s, column)
    if kind is Kind.REAL:
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return pa.array(values, type=pa.float64(), from_pandas=True)
    if kind is Kind.BOOL:
        if s.dtype == np.bool_:
            return pa.array(s.to_numpy(), type=pa.bool_())
        return pa.array(pd.array(s.to_numpy(dtype=object), dtype="boolean"), type=pa.bool_())
    if kind is Kind.DATE:
        return _date_arrow(s, naive_tz=naive_tz, column=column)
    raise ValueError(f"to_arrow does not handle {kind}")


def column_taker(
    s: pd.Series, kind: Kind, *, naive_tz: str, column: Hashable
) -> Callable[[npt.NDArray[np.int64]], pa.Array]:
    """A function from row positions to ``to_arrow`` of those rows of ``s``.

    Request bodies convert a column a slice of rows at a time; for the common dtypes the
    rows are taken from the column's NumPy values and handed to Arrow directly (no Series
    per slice, no index taken along), the same arrays ``to_arrow`` gives. Other dtypes go
    through ``to_arrow``.
    """
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        values = s.to_numpy()
        arrow_type = {Kind.INT: pa.int64(), Kind.REAL: pa.float64(), Kind.BOOL: pa.bool_()}
        if kind in arrow_type and dtype.kind == {Kind.INT: "i", Kind.REAL: "f"}.get(kind, "b"):
            target = arrow_type[kind]
            return lambda at: pa.array(values.take(at), type=target, from_pandas=True)
        if kind is Kind.STR and dtype.kind == "O":
            return lambda at: _str_arrow(values.take(at), column)
    array = s.array
    if kind is Kind.INT and isinstance(array, pd.arrays.IntegerArray) and dtype.kind == "i":
        return lambda at: pa.array(array.take(at), type=pa.int64())
    if kind is Kind.STR and isinstance(array, pd.arrays.ArrowStringArray):
        return lambda at: pa.array(array.take(at)).cast(pa.string())
    if kind is Kind.DATE:
        aware = isinstance(dtype, pd.DatetimeTZDtype)
        naive = isinstance(dtype, np.dtype) and dtype.kind == "M"
        if aware or (naive and naive_tz == "UTC"):
            # datetime64 ticks are UTC already (tz-aware), or assumed UTC (naive).
            ticks = s.array.asi8
            utc = pa.timestamp(s.dt.unit, "UTC")
            return lambda at: _utc_ticks(ticks.take(at), utc)
    return lambda at: to_arrow(
        pd.Series(s.array.take(at), dtype=dtype, copy=False),
        kind,
        naive_tz=naive_tz,
        column=column,
    )


def _utc_ticks(ticks: npt.NDArray[np.int64], utc: pa.DataType) -> pa.Array:
    return pa.array(ticks, type=utc, mask=ticks == _NAT)


_NAT = np.iinfo(np.int64).min


def _str_arrow(s: pd.Series | npt.NDArray[np.object_], column: Hashable) -> pa.Array:
    try:
        # from_pandas: None, NaN, NaT and pd.NA all become null (the one null policy).
        arr = pa.array(s, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as exc:
        raise InvalidDataError(
            f"column {column!r} has text that is not valid Unicode (e.g. lone surrogates): {exc}",
            column=str(column),
            rule="invalid_string",
        ) from None
    return arr


def _int_arrow(s: pd.Series, column: Hashable) -> pa.Array:
    if pd.api.types.is_float_dtype(s.dtype):
        # Floats declared int (uid columns with NaN, schema overrides, context ints): only
        # integral values convert; the others become null and the validator rejects them.
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2.0**63)
        return pa.array(np.where(ok, values, 0).astype(np.int64), mask=~ok)
    if pd.api.types.is_unsigned_integer_dtype(s.dtype):
        return pa.array(s, type=pa.uint64(), from_pandas=True)
    if not pd.api.types.is_object_dtype(s.dtype):
        return pa.array(s, type=pa.int64(), from_pandas=True)
    try:
        return pa.array(pd.array(s.to_numpy(dtype=object), dtype="Int64"), type=pa.int64())
    except (OverflowError, TypeError, ValueError):
        raise InvalidDataError(
            f"column {column!r} holds integers outside the 64-bit range Fullstory stores",
            column=str(column),
            rule="int_out_of_range",
        ) from None


def _date_arrow(s: pd.Series, *, naive_tz: str, column: Hashable) -> pa.Array:
    if isinstance(s.dtype, pd.ArrowDtype) or not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = _parse_datetimes(s, column)
    if s.dt.tz is None:
        # The documented assumption: naive times are wall-clock times in ``naive_tz``.
        s = s.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="NaT")
    return pa.array(s.dt.tz_convert("UTC"), from_pandas=True)


def _parse_datetimes(s: pd.Series, column: Hashable) -> pd.Series:
    """Object/Arrow columns of datetimes, dates or ISO-8601 text -> a datetime64 Series.

    Text that does not parse becomes NaT (the validator rejects the row as ``invalid_date``).
    """
    values = s.astype(object).where(s.notna(), None).map(_as_datetime)
    text = pd.api.types.infer_dtype(values, skipna=True) == "string"
    options: dict[str, Any] = {"format": "ISO8601", "errors": "coerce"} if text else {}
    try:
        return pd.Series(pd.to_datetime(values, **options), index=s.index)
    except (ValueError, TypeError):
        pass
    aware = {getattr(v, "tzinfo", None) is not None for v in values if v is not None}
    if text or aware == {True}:
        # Several UTC offsets (all explicit): the instants are what matter.
        return pd.Series(pd.to_datetime(values, utc=True, **options), index=s.index)
    raise InvalidDataError(
        f"column {column!r} mixes naive and time-zone-aware datetimes; convert it with "
        "pd.to_datetime(..., utc=True) or localize it first",
        column=str(column),
        rule="unsupported_dtype",
    )


def _as_datetime(v: object) -> object:
    """``datetime.date`` -> midnight (naive, so ``naive_tz`` applies like any naive time)."""
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v
