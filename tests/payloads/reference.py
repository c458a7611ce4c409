"""A reference encoder, used as a test oracle for ``plan_users`` / ``plan_events``.

Deliberately slow and plain: every value is a Python value (``Series.tolist()``), every rule
of ``docs/payloads.md`` is written out once, and ``orjson`` serialises the result. It shares
no code with ``fs_pandas.payloads``.

Covered (the subset of options the generators of ``strategies.py`` use):

* ``reference_users(df, uid_col=..., properties=None, schema="infer", nulls="omit",
  naive_tz="UTC", duplicates="first")`` -- only ``duplicates="first"``; no ``id_col``,
  ``email_col``, ``display_name_col``.
* ``reference_events(df, name=None, name_col=None, uid_col=None, timestamp_col=None,
  properties=None, schema="infer", nulls="omit", naive_tz="UTC")`` -- no ``user_id_col``,
  ``session_id_col``, ``use_most_recent``, ``context``.
* Scalar columns only (no list or dict values); ``schema`` mappings with ``int``, ``real``,
  ``str``, ``bool`` and ``date``; text declared ``date`` in the forms ``YYYY-MM-DD`` and
  ``YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|+HH:MM]`` (anything else is unparseable).

The rules, as the docs state them:

* uid: strings as they are; ints (and floats holding whole numbers in the int64 range) as their
  decimal text (``123`` -> ``"123"``, a uint64 above 2**63-1 too). Missing or ``""`` ->
  ``uid_missing``; over 256 characters -> ``uid_too_long``; a float with a fraction ->
  ``not_integral``.
* Missing: ``None``, ``NaN`` (even inside an Arrow double column), ``NaT``, ``pd.NA``.
  ``nulls="omit"`` leaves the property out (and an object left empty), ``nulls="null"``
  writes ``null`` (never declared).
* ints -> JSON integers (outside the int64 range: ``int_out_of_range``), declared ``int``;
  floats -> the shortest text that reads back to the same double (float32 sources: the
  number the user sees, ``float(str(np.float32(v)))``; float16 alike); ±inf ->
  ``non_finite``; bools; strings (over 8,192 UTF-8 bytes -> ``value_too_large``);
  categoricals as their category values.
* dates -> RFC 3339 UTC text with ``Z`` and 0/3/6/9 fraction digits, declared ``date``.
  Naive values are wall-clock times in ``naive_tz``: one that does not exist or is
  ambiguous there -> ``invalid_date``. A date-only value (``datetime.date``, Arrow
  ``date32``, ``YYYY-MM-DD`` text) is the first instant of that day in ``naive_tz`` (its
  midnight if that exists, the earlier one if it is ambiguous, the end of the gap when the
  clocks skip it). Unparseable text declared ``date`` -> ``invalid_date``.
* Text that is not valid Unicode (a lone surrogate) -> ``invalid_string``.
* Properties: every column not used for a top-level field (``properties=None``), or the
  list / mapping given, in that order (a column used for a top-level field listed there is
  refused: one role per column); dotted names nest. ``Sparse`` columns are read dense.
* ``naive_tz``: an IANA name or a ``tzinfo``.
* Events: an empty ``user.uid`` -> ``uid_missing``; missing -> no ``user``.
* A row breaking several rules gets the first found: top-level fields first, then the
  properties in order; then ``duplicate_uid`` (users, ``duplicates="first"``: a later row
  whose uid text an accepted earlier row already has).

Key order of a request (what :func:`dumps` writes and the bodies are compared with): the
top-level fields (users: ``uid``; events: ``name``, ``timestamp``, ``user``), then
``properties`` in the order of the property columns (a nested object where its first column
is), then ``schema`` (``{"properties": {dotted name: type}}`` in the same order). Floats are
written in their shortest round-trip form without a ``+`` in the exponent (``1e16``, as the
docs show ``1e300``), which is orjson's text with ``e+`` turned into ``e``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

__all__ = [
    "Reference",
    "RefusedError",
    "column_kind",
    "dumps",
    "is_missing",
    "reference_events",
    "reference_users",
    "typed",
    "utc_text",
]

UTC = dt.UTC
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_UID = 256
MAX_VALUE_BYTES = 8192


def _is_string_view(t: pa.DataType) -> bool:
    """Arrow ``string_view`` (pyarrow >= 16; older pyarrow has no such type)."""
    test = getattr(pa.types, "is_string_view", None)
    return test is not None and test(t)


class RefusedError(Exception):
    """The whole column cannot be sent (``plan_*`` raises ``InvalidDataError``)."""


class RowProblemError(Exception):
    """One row breaks a rule; ``rule`` is the documented rule name."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a value left out of the request


@dataclass
class Reference:
    """What the reference encoder makes of a frame."""

    requests: list[dict[str, Any]] = field(default_factory=list)  # accepted, source order
    positions: list[int] = field(default_factory=list)  # their source positions
    rejected: dict[int, str] = field(default_factory=dict)  # position -> rule

    def request_at(self, position: int) -> dict[str, Any]:
        return self.requests[self.positions.index(position)]

    def body(self, positions: Sequence[int]) -> bytes:
        """The ``{"requests":[...]}`` bytes of the requests at ``positions``, in that order."""
        by_position = dict(zip(self.positions, self.requests, strict=True))
        inner = b",".join(dumps(by_position[p]) for p in positions)
        return b'{"requests":[' + inner + b"]}"


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def is_missing(v: Any) -> bool:
    """``None``, ``NaN``, ``NaT`` and ``pd.NA`` are one thing: missing."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating) and math.isnan(v):
        return True
    return isinstance(v, np.datetime64) and np.isnat(v)


def column_kind(s: pd.Series) -> str:
    """``str``, ``int``, ``real``, ``bool``, ``date`` or ``null`` (nothing but missing values:
    every row writes nothing, or ``null``). Raises :class:`RefusedError` for anything else."""
    dtype = s.dtype
    if isinstance(dtype, pd.SparseDtype):
        return column_kind(s.sparse.to_dense())
    if isinstance(dtype, pd.CategoricalDtype):
        return column_kind(pd.Series(dtype.categories))
    if isinstance(dtype, pd.ArrowDtype):
        t = dtype.pyarrow_dtype
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_null(t):
            return "null"
        if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t):
            return "str"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_integer(t):
            return "int"
        if pa.types.is_floating(t):
            return "real"
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return "date"
        raise RefusedError(f"Arrow type {t}")
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "real"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if isinstance(dtype, pd.StringDtype):
        return "str"
    if pd.api.types.is_object_dtype(dtype):
        return _object_kind([v for v in s.tolist() if not is_missing(v)])
    raise RefusedError(f"dtype {dtype}")


def _object_kind(values: list[Any]) -> str:
    if not values:
        return "null"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, bool | np.bool_) for v in values):
        return "bool"
    if any(isinstance(v, bool | np.bool_) for v in values):
        raise RefusedError("bools mixed with other values")
    if all(isinstance(v, int | np.integer) for v in values):
        return "int"
    if all(isinstance(v, int | float | np.integer | np.floating) for v in values):
        return "real"
    if all(isinstance(v, dt.date) for v in values):
        aware = {isinstance(v, dt.datetime) and v.tzinfo is not None for v in values}
        if len(aware) > 1:
            raise RefusedError("naive and aware datetimes mixed")
        return "date"
    raise RefusedError(f"object values of types {sorted({type(v).__name__ for v in values})}")


def narrow_float(s: pd.Series) -> type | None:
    """The NumPy scalar type of a float16/float32 column (its values are written as the
    number the user sees: the shortest text of that precision), else ``None``."""
    dtype = s.dtype
    if isinstance(dtype, pd.SparseDtype):
        dtype = dtype.subtype
    if isinstance(dtype, pd.CategoricalDtype):
        return None
    if isinstance(dtype, pd.ArrowDtype):
        dtype = dtype.numpy_dtype
    if not pd.api.types.is_float_dtype(dtype):
        return None
    numpy_dtype = np.dtype(getattr(dtype, "numpy_dtype", dtype))  # Float32 -> float32
    return numpy_dtype.type if numpy_dtype.itemsize < 8 else None


def _int(v: Any) -> int:
    value = int(v)
    if not INT64_MIN <= value <= INT64_MAX:
        raise RowProblemError("int_out_of_range")
    return value


def _whole(v: Any) -> int:
    """A float (or int) sent as an integer: whole numbers in the int64 range only."""
    if isinstance(v, int | np.integer):
        return _int(v)
    x = float(v)
    if not (math.isfinite(x) and x == math.floor(x) and -(2.0**63) <= x < 2.0**63):
        raise RowProblemError("not_integral")
    return int(x)


def _real(v: Any, narrow: type | None) -> float:
    x = float(v)
    if math.isinf(x):
        raise RowProblemError("non_finite")
    if narrow is not None:
        x = float(str(narrow(x)))  # the float32's shortest text, e.g. 0.1
    return x


def _valid(v: Any) -> str:
    if not isinstance(v, str):
        raise RefusedError(f"expected text, got {type(v).__name__}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        raise RowProblemError("invalid_string") from None
    return v


def _text(v: Any) -> str:
    _valid(v)
    if len(v.encode("utf-8")) > MAX_VALUE_BYTES:  # bytes of the value, not its JSON (§11.5)
        raise RowProblemError("value_too_large")
    return v


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?"
)


def _parse_text(text: str) -> tuple[dt.date, int]:
    """ISO-8601 text -> (``datetime.date`` for date-only text, else ``datetime``; nanoseconds
    beyond the microseconds). Unparseable -> ``invalid_date``."""
    m = _ISO.fullmatch(text)
    if m is None:
        raise RowProblemError("invalid_date")
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        if hour is None:
            return dt.date(int(year), int(month), int(day)), 0
        digits = (fraction or "").ljust(9, "0")
        tz: dt.tzinfo | None = None
        if offset == "Z":
            tz = UTC
        elif offset:
            sign = -1 if offset[0] == "-" else 1
            delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            tz = dt.timezone(sign * delta)
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int(digits[:6]),
            tzinfo=tz,
        )
    except ValueError:
        raise RowProblemError("invalid_date") from None
    return moment, int(digits[6:])


def _localise(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """A naive wall-clock time in ``tz`` -> the UTC instant; ``invalid_date`` if the wall
    time is skipped (spring forward) or occurs twice (fall back): then the two readings of
    PEP 495 (``fold=0``/``fold=1``) are different instants."""
    early = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    late = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early != late:
        raise RowProblemError("invalid_date")
    return early


def _exists(wall: dt.datetime, tz: dt.tzinfo) -> bool:
    moment = wall.replace(tzinfo=tz, fold=0)
    return moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def _first_instant(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of ``day`` in ``tz`` (a date-only value)."""
    midnight = dt.datetime(day.year, day.month, day.day)
    readings = [midnight.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)]
    if _exists(midnight, tz):
        return min(readings)  # an ambiguous midnight: the earlier one
    # Midnight is skipped: the day starts when the clocks jump. The earlier reading is still
    # the day before there, the later one is in the day; find the jump, to the second.
    lo, hi = (int(r.timestamp()) for r in sorted(readings))
    assert (
        dt.datetime.fromtimestamp(lo, tz).date() < day <= dt.datetime.fromtimestamp(hi, tz).date()
    )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, tz).date() < day:
            lo = mid
        else:
            hi = mid
    return dt.datetime.fromtimestamp(hi, UTC)


def utc_text(v: Any, naive_tz: str | dt.tzinfo) -> str:
    """A date value (Timestamp, datetime, date, or ISO text) -> RFC 3339 UTC text with ``Z``."""
    tz = ZoneInfo(naive_tz) if isinstance(naive_tz, str) else naive_tz
    nanos = 0
    if isinstance(v, str):
        v, nanos = _parse_text(_valid(v))
    if isinstance(v, pd.Timestamp):
        nanos = v.nanosecond
        v = v.to_pydatetime(warn=False)
    try:
        if isinstance(v, dt.datetime):
            moment = v.astimezone(UTC) if v.tzinfo is not None else _localise(v, tz)
        elif isinstance(v, dt.date):
            moment = _first_instant(v, tz)
        else:
            raise RefusedError(f"not a date: {type(v).__name__}")
    except OverflowError:
        raise RowProblemError("date_out_of_range") from None
    if not 1 <= moment.year <= 9999:
        raise RowProblemError("date_out_of_range")
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    fraction = moment.microsecond * 1000 + nanos  # nanoseconds into the second
    if fraction % 1_000_000_000 == 0:
        pass
    elif fraction % 1_000_000 == 0:
        text += f".{fraction // 1_000_000:03d}"
    elif fraction % 1_000 == 0:
        text += f".{fraction // 1_000:06d}"
    else:
        text += f".{fraction:09d}"
    return text + "Z"


# ---------------------------------------------------------------------------------------------
# Columns -> fields
# ---------------------------------------------------------------------------------------------

_COMPATIBLE = {
    "int": ("int", "real"),
    "real": ("int", "real"),
    "str": ("str",),
    "bool": ("bool",),
    "date": ("date", "str"),
}


@dataclass
class _Property:
    position: int
    path: tuple[str, ...]  # ("a", "b") for the property "a.b"
    kind: str  # how values are written: str / int / whole / real / bool / date / null
    declare: str | None  # schema type declared when the value is present
    narrow: type | None  # float16/float32 columns


def _series(df: pd.DataFrame, position: int) -> pd.Series:
    """The column at ``position`` (a Sparse column as its dense values)."""
    s = df.iloc[:, position]
    return s.sparse.to_dense() if isinstance(s.dtype, pd.SparseDtype) else s


def _position(df: pd.DataFrame, column: Hashable) -> int:
    matches = [i for i, c in enumerate(df.columns) if c == column]
    if len(matches) != 1:
        raise RefusedError(f"column {column!r} found {len(matches)} times")
    return matches[0]


def _properties(
    df: pd.DataFrame,
    properties: Sequence[Hashable] | Mapping[Hashable, str] | None,
    used: set[int],
    schema: str | Mapping[str, str] | None,
) -> list[_Property]:
    if properties is None:
        pairs = [(c, c) for i, c in enumerate(df.columns) if i not in used]
    elif isinstance(properties, Mapping):
        pairs = list(properties.items())
    else:
        pairs = [(c, c) for c in properties]
    out = []
    for column, name in pairs:
        position = _position(df, column)
        if position in used:
            raise RefusedError(f"column {column!r} already feeds a top-level field")
        series = _series(df, position)
        kind = column_kind(series)
        assert isinstance(name, str) and all(
            re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", part) for part in name.split(".")
        ), name
        declare = {"int": "int", "date": "date"}.get(kind) if schema is not None else None
        if isinstance(schema, Mapping) and name in schema:
            declare = schema[name]
            if kind != "null" and kind not in _COMPATIBLE.get(declare, ()):
                raise RefusedError(f"schema {declare!r} on {kind} column {column!r}")
            if declare == "int" and kind == "real":
                kind = "whole"
            elif declare == "date" and kind != "null":
                kind = "date"
        out.append(_Property(position, tuple(name.split(".")), kind, declare, narrow_float(series)))
    return out


def _value(kind: str, v: Any, naive_tz: str | dt.tzinfo, narrow: type | None) -> Any:
    """A present value as written in the request (or :class:`RowProblemError`)."""
    if kind == "str":
        return _text(v)
    if kind == "int":
        return _int(v)
    if kind == "whole":
        return _whole(v)
    if kind == "real":
        return _real(v, narrow)
    if kind == "bool":
        return bool(v)
    if kind == "date":
        return utc_text(v, naive_tz)
    raise AssertionError(kind)


def _uid_text(v: Any, kind: str) -> str:
    """A uid (or event name) as sent: text, or the decimal text of a whole number."""
    if kind == "str":
        return _valid(v)
    if kind == "int":
        return str(int(v))
    if kind == "real":
        return str(_whole(v))
    raise RefusedError(f"a {kind} column cannot give text")


def _text_kind(series: pd.Series) -> str:
    kind = column_kind(series)
    if kind == "null":
        return "str"
    if kind not in ("str", "int", "real"):
        raise RefusedError(f"{kind} values cannot be sent as text")
    return kind


def _nest(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _prune(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop MISSING leaves, then objects left empty."""
    out = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            value = _prune(value)
            if not value:
                continue
        if value is MISSING:
            continue
        out[key] = value
    return out


def _row_properties(
    props: list[_Property],
    columns: list[list[Any]],
    row: int,
    nulls: str,
    naive_tz: str | dt.tzinfo,
) -> tuple[dict[str, Any], dict[str, str]]:
    """``properties`` and the schema declarations of one row (RowProblemError if it breaks a rule).
    Every path is placed first (column order decides key order), missing ones pruned after."""
    values: dict[str, Any] = {}
    declared: dict[str, str] = {}
    for prop, column in zip(props, columns, strict=True):
        v = column[row]
        if is_missing(v) or prop.kind == "null":
            _nest(values, prop.path, None if nulls == "null" else MISSING)
            continue
        _nest(values, prop.path, _value(prop.kind, v, naive_tz, prop.narrow))
        if prop.declare is not None:
            declared[".".join(prop.path)] = prop.declare
    return _prune(values), declared


def _with_properties(
    request: dict[str, Any], values: dict[str, Any], declared: dict[str, str]
) -> dict[str, Any]:
    if values:
        request["properties"] = values
    if declared:
        request["schema"] = {"properties": declared}
    return request


def _check_options(nulls: str, naive_tz: str | dt.tzinfo, schema: object) -> None:
    assert nulls in ("omit", "null"), nulls
    assert isinstance(naive_tz, dt.tzinfo) or ZoneInfo(naive_tz), naive_tz
    assert schema is None or schema == "infer" or isinstance(schema, Mapping), schema


def reference_users(
    df: pd.DataFrame,
    *,
    uid_col: Hashable,
    properties: Sequence[Hashable] | Mapping[Hashable, str] | None = None,
    schema: str | Mapping[str, str] | None = "infer",
    nulls: str = "omit",
    naive_tz: str | dt.tzinfo = "UTC",
    duplicates: str = "first",
) -> Reference:
    """The user import requests of ``df`` (see the module docstring for what is covered)."""
    assert duplicates == "first", "the reference knows duplicates='first' only"
    _check_options(nulls, naive_tz, schema)
    uid_position = _position(df, uid_col)
    uid_kind = _text_kind(_series(df, uid_position))
    props = _properties(df, properties, {uid_position}, schema)
    uids = _series(df, uid_position).tolist()
    columns = [_series(df, p.position).tolist() for p in props]
    out = Reference()
    seen: set[str] = set()
    for row in range(len(df)):
        try:
            if is_missing(uids[row]):
                raise RowProblemError("uid_missing")
            uid = _uid_text(uids[row], uid_kind)
            if uid == "":
                raise RowProblemError("uid_missing")
            if len(uid) > MAX_UID:
                raise RowProblemError("uid_too_long")
            values, declared = _row_properties(props, columns, row, nulls, naive_tz)
            if uid in seen:
                raise RowProblemError("duplicate_uid")
        except RowProblemError as problem:
            out.rejected[row] = problem.rule
            continue
        seen.add(uid)
        out.requests.append(_with_properties({"uid": uid}, values, declared))
        out.positions.append(row)
    return out


def reference_events(
    df: pd.DataFrame,
    *,
    name: str | None = None,
    name_col: Hashable | None = None,
    uid_col: Hashable | None = None,
    timestamp_col: Hashable | None = None,
    properties: Sequence[Hashable] | Mapping[Hashable, str] | None = None,
    schema: str | Mapping[str, str] | None = "infer",
    nulls: str = "omit",
    naive_tz: str | dt.tzinfo = "UTC",
) -> Reference:
    """The event import requests of ``df`` (see the module docstring for what is covered)."""
    assert (name is None) != (name_col is None), "one of name / name_col"
    _check_options(nulls, naive_tz, schema)
    used: set[int] = set()
    names: list[Any] = [name] * len(df)
    name_kind = "str"
    if name_col is not None:
        position = _position(df, name_col)
        used.add(position)
        names = _series(df, position).tolist()
        name_kind = _text_kind(_series(df, position))
    stamps: list[Any] = [None] * len(df)
    if timestamp_col is not None:
        position = _position(df, timestamp_col)
        used.add(position)
        # Datetimes, or text read as dates value by value (offsets kept, naive text in
        # naive_tz; text that is no date rejects its row), or nothing at all.
        if column_kind(_series(df, position)) not in ("date", "str", "null"):
            raise RefusedError(f"timestamp_col {timestamp_col!r} holds no datetimes")
        stamps = _series(df, position).tolist()
    uids: list[Any] = [None] * len(df)
    uid_kind = "str"
    if uid_col is not None:
        position = _position(df, uid_col)
        used.add(position)
        uids = _series(df, position).tolist()
        uid_kind = _text_kind(_series(df, position))
    props = _properties(df, properties, used, schema)
    columns = [_series(df, p.position).tolist() for p in props]
    out = Reference()
    for row in range(len(df)):
        request: dict[str, Any] = {}
        try:
            if is_missing(names[row]):
                raise RowProblemError("name_missing")
            request["name"] = _uid_text(names[row], name_kind)
            if request["name"] == "":
                raise RowProblemError("name_missing")
            if not is_missing(stamps[row]):
                request["timestamp"] = utc_text(stamps[row], naive_tz)
            if not is_missing(uids[row]):
                uid = _uid_text(uids[row], uid_kind)
                if uid == "":
                    raise RowProblemError("uid_missing")
                if len(uid) > MAX_UID:
                    raise RowProblemError("uid_too_long")
                request["user"] = {"uid": uid}
            values, declared = _row_properties(props, columns, row, nulls, naive_tz)
        except RowProblemError as problem:
            out.rejected[row] = problem.rule
            continue
        out.requests.append(_with_properties(request, values, declared))
        out.positions.append(row)
    return out


# ---------------------------------------------------------------------------------------------
# Bytes
# ---------------------------------------------------------------------------------------------


def typed(value: Any) -> Any:
    """A JSON value with its scalar types made explicit (``1 == 1.0 == True`` in Python)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", repr(value))
    return value


def _fragments(value: Any) -> Any:
    """Floats as orjson fragments of their documented text (``1e16``, not ``1e+16``)."""
    if isinstance(value, float):
        return orjson.Fragment(orjson.dumps(value).replace(b"e+", b"e"))
    if isinstance(value, dict):
        return {k: _fragments(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fragments(v) for v in value]
    return value


def dumps(request: dict[str, Any]) -> bytes:
    """The compact JSON bytes of a reference request, keys in the order they were built."""
    return orjson.dumps(_fragments(request))
