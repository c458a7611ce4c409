"""Column-wise conversion of canonical Arrow arrays to plain Python values for the encoder.

Each function works on a whole column (Arrow/numpy kernels, no per-row Python for scalar
kinds) and returns a Python list plus the mask of missing rows; the request builder decides,
with the null policy, whether a missing value is left out or written ``null``. Dates become
RFC 3339 text here, in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.payloads.types import Kind

__all__ = ["python_values", "utc_iso"]

_UNITS = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def python_values(arr: pa.Array, kind: Kind, *, as_text: bool = False) -> list[Any]:
    """Plain Python values of a canonical array (see ``types.to_arrow``); null -> ``None``.

    Ints, floats and bools come out as Python scalars (never numpy scalars); dates as RFC 3339
    UTC text; ``as_text`` writes numbers as text (uids of int columns become ``"123"``).
    """
    if isinstance(arr, pa.DictionaryArray):
        # Categoricals: convert each category once, then gather by code.
        categories = np.empty(len(arr.dictionary) + 1, dtype=object)
        categories[:-1] = python_values(arr.dictionary, kind, as_text=as_text)
        codes = pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False)
        return list(categories[codes].tolist())
    if kind is Kind.DATE:
        return list(utc_iso(arr).to_pylist())
    if as_text:
        return list(pc.cast(arr, pa.string()).to_pylist())
    if kind in (Kind.INT, Kind.REAL, Kind.BOOL) and arr.null_count:
        filled = pc.fill_null(arr, False if kind is Kind.BOOL else 0)
        values = list(filled.to_numpy(zero_copy_only=False).tolist())
        for i in np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False)):
            values[i] = None
        return values
    if kind in (Kind.INT, Kind.REAL, Kind.BOOL):
        return list(arr.to_numpy(zero_copy_only=False).tolist())
    return list(arr.to_pylist())


def utc_iso(arr: pa.Array) -> pa.Array:
    """RFC 3339 UTC text with ``Z`` (contract §9.12) of a UTC timestamp array.

    Fractional seconds appear only when present, in as few digit groups as represent the value
    exactly: ``.500`` (milliseconds), 6 digits (microseconds) or 9 (nanoseconds).
    """
    unit = arr.type.unit
    per_second = _PER_SECOND[unit]
    ticks = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
    text = _cast_text(arr, "s")
    if unit == "s":
        return text
    nanos = (ticks % per_second) * (1_000_000_000 // per_second)
    # 0: whole seconds, 1: milliseconds, 2: microseconds, 3: nanoseconds.
    level_of = np.select(
        [nanos == 0, nanos % 1_000_000 == 0, nanos % 1_000 == 0], [0, 1, 2], default=3
    )
    for level in range(1, len(_UNITS)):
        mask = level_of == level
        if mask.any():
            finer = _cast_text(arr, _UNITS[level])
            text = pc.replace_with_mask(text, pa.array(mask), pc.filter(finer, pa.array(mask)))
    return text


def _cast_text(arr: pa.Array, unit: str) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS[.f]Z`` with Arrow's own formatting at ``unit`` precision."""
    # Formatting a zone-aware timestamp looks the zone up per value (slow): format the same
    # instants as naive UTC wall times and append the Z.
    naive = pc.cast(pc.cast(arr, pa.int64()), pa.timestamp(arr.type.unit))
    at_unit = pc.cast(naive, pa.timestamp(unit), safe=False)
    text = pc.utf8_replace_slice(pc.cast(at_unit, pa.string()), start=10, stop=11, replacement="T")
    return pc.utf8_replace_slice(text, start=1 << 20, stop=1 << 20, replacement="Z")
