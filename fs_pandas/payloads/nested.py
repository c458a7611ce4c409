"""List and dict values: per-value normalisation to plain JSON, with row-level rule checks.

Lists and dicts are Python objects inside the frame, so this is the one place that walks values
one by one. It turns numpy scalars, Timestamps and dates into plain JSON values, refuses what the
contract forbids (arrays of objects, §3.3; NaN/inf), and reports the schema declarations the
value needs (ints and dates are otherwise misread, §3.4).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fs_pandas._types import TimeZone
from fs_pandas.payloads.rules import MAX_NAME_LENGTH, MAX_VALUE_BYTES, PROPERTY_NAME, Rule
from fs_pandas.payloads.types import PLURAL, encodable

__all__ = ["Normalised", "RowProblemError", "normalise_list", "normalise_object", "scalar"]


class RowProblemError(Exception):
    """A value breaks a rule: the row is rejected with ``rule`` and this message."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass
class Normalised:
    """A plain-JSON value, the schema declarations it needs (dotted path -> type), its size."""

    value: Any
    schema: dict[str, str] = field(default_factory=dict)
    n_properties: int = 0
    type: str = ""


def _is_null(v: object) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    return isinstance(v, float | np.floating) and math.isnan(v)


def scalar(v: object, *, path: str, naive_tz: TimeZone) -> tuple[Any, str]:
    """Plain JSON scalar and its Fullstory type for one non-null value."""
    if isinstance(v, bool | np.bool_):
        return bool(v), "bool"
    if isinstance(v, int | np.integer):
        if not -(2**63) <= int(v) < 2**63:
            raise RowProblemError(Rule.INT_OUT_OF_RANGE, f"{path}: {v} is outside the 64-bit range")
        return int(v), "int"
    if isinstance(v, float | np.floating):
        if not math.isfinite(v):
            raise RowProblemError(Rule.NON_FINITE, f"{path}: {v} is not a finite number")
        return float(v), "real"
    if isinstance(v, str):
        if not encodable(v):
            raise RowProblemError(
                Rule.INVALID_STRING, f"{path}: text that is not valid Unicode (a lone surrogate)"
            )
        return v, "str"
    if isinstance(v, dt.date | np.datetime64):
        return _iso(v, path=path, naive_tz=naive_tz), "date"
    raise RowProblemError(
        Rule.UNSUPPORTED_VALUE, f"{path}: a {type(v).__name__} has no Fullstory type"
    )


def _iso(v: dt.date | np.datetime64, *, path: str, naive_tz: TimeZone) -> str:
    # A date alone is the first instant of that day (midnight, or the end of a DST gap
    # that starts at midnight); a naive time in a gap or a repeated hour is refused.
    date_only = isinstance(v, dt.date) and not isinstance(v, dt.datetime)
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        v = dt.datetime(v.year, v.month, v.day)
    ts = pd.Timestamp(v)
    try:
        if ts.tzinfo is None and naive_tz is None:
            raise ValueError("a naive time, and naive_tz=None")
        if ts.tzinfo is None:
            assert naive_tz is not None
            gap, fold = ("shift_forward", True) if date_only else ("raise", "raise")
            ts = ts.tz_localize(naive_tz, ambiguous=fold, nonexistent=gap)  # type: ignore[call-overload]
        ts = ts.tz_convert("UTC")
    except (ValueError, OverflowError, NotImplementedError) as exc:
        raise RowProblemError(
            Rule.INVALID_DATE, f"{path}: {v} is not a valid time: {exc}"
        ) from None
    if not 1 <= ts.year <= 9999:
        raise RowProblemError(Rule.DATE_OUT_OF_RANGE, f"{path}: {v} is outside years 1..9999")
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    nanos = ts.microsecond * 1000 + ts.nanosecond
    if nanos:
        if nanos % 1_000_000 == 0:
            text += f".{nanos // 1_000_000:03d}"
        elif nanos % 1000 == 0:
            text += f".{nanos // 1000:06d}"
        else:
            text += f".{nanos:09d}"
    return text + "Z"


def normalise_list(v: object, *, path: str, naive_tz: TimeZone) -> Normalised:
    """A list/tuple/array value -> plain list of one element type (plural types, §3.4)."""
    items: list[Any] = v.tolist() if isinstance(v, np.ndarray) else list(v)  # type: ignore[call-overload]
    out: list[Any] = []
    types: set[str] = set()
    for item in items:
        if isinstance(item, Mapping):
            raise RowProblemError(
                Rule.ARRAY_OF_OBJECTS, f"{path}: arrays of objects are not allowed"
            )
        if _is_null(item) or isinstance(item, list | tuple | np.ndarray):
            raise RowProblemError(
                Rule.LIST_ELEMENT, f"{path}: lists may hold only non-null scalars"
            )
        value, kind = scalar(item, path=path, naive_tz=naive_tz)
        out.append(value)
        types.add(kind)
    if types == {"int", "real"}:
        types = {"real"}
    if len(types) > 1:
        raise RowProblemError(
            Rule.LIST_ELEMENT, f"{path}: a list mixes {', '.join(sorted(types))} values"
        )
    plural = PLURAL[types.pop()] if types else ""
    schema = {path: plural} if plural in ("ints", "dates") else {}
    return Normalised(out, schema, 1, plural)


def normalise_object(
    v: Mapping[Any, Any], *, path: str, keep_nulls: bool, naive_tz: TimeZone
) -> Normalised:
    """A dict value -> nested plain object; names and leaves checked like properties (§3.3)."""
    out: dict[str, Any] = {}
    result = Normalised(out, type="object")
    for key, item in v.items():
        sub = f"{path}.{key}"
        _check_key(key, sub)
        if _is_null(item):
            if keep_nulls:
                out[key] = None
                result.n_properties += 1
            continue
        child = _normalise_any(item, path=sub, keep_nulls=keep_nulls, naive_tz=naive_tz)
        out[key] = child.value
        result.schema.update(child.schema)
        result.n_properties += 1 + child.n_properties - (0 if isinstance(item, Mapping) else 1)
    return result


def _check_key(key: object, path: str) -> None:
    if not isinstance(key, str) or not PROPERTY_NAME.fullmatch(key):
        raise RowProblemError(Rule.PROPERTY_NAME, f"{path}: {key!r} is not a valid property name")
    if len(path) > MAX_NAME_LENGTH:
        raise RowProblemError(
            Rule.PROPERTY_NAME_TOO_LONG, f"{path[:60]}...: longer than {MAX_NAME_LENGTH} chars"
        )


def _normalise_any(item: object, *, path: str, keep_nulls: bool, naive_tz: TimeZone) -> Normalised:
    if isinstance(item, Mapping):
        return normalise_object(item, path=path, keep_nulls=keep_nulls, naive_tz=naive_tz)
    if isinstance(item, list | tuple | np.ndarray):
        result = normalise_list(item, path=path, naive_tz=naive_tz)
    else:
        value, kind = scalar(item, path=path, naive_tz=naive_tz)
        result = Normalised(value, {path: kind} if kind in ("int", "date") else {}, 1)
    check_size(result.value, path)
    return result


def check_size(value: Any, path: str) -> None:
    """Each value ≤ 8192 bytes (contract §3.3): a text in its UTF-8 bytes (not its escaped
    JSON, §11.5), a list as its JSON."""
    import orjson

    size = len(value.encode("utf-8")) if isinstance(value, str) else len(orjson.dumps(value))
    if size > MAX_VALUE_BYTES:
        raise RowProblemError(
            Rule.VALUE_TOO_LARGE, f"{path}: value is {size} bytes, over {MAX_VALUE_BYTES}"
        )
