"""Column-wise conversion of canonical Arrow arrays to plain Python values for the encoder.

A chunk's column is converted once (Arrow/numpy kernels, no per-row Python for scalar kinds);
slices of it then become Python lists for the encoder. The request builder decides, with the
null policy, whether a missing value is left out or written ``null``. Dates become RFC 3339
text here, in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.payloads.types import Kind

__all__ = ["Prepared", "prepare", "utc_iso"]

_UNITS = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class Prepared:
    """One column of a chunk, converted once, from which row slices become Python values.

    Values at missing rows are unspecified: the request builder overwrites them by mask.
    """

    def __init__(self, data: npt.NDArray[Any] | pa.Array, codes: npt.NDArray[Any] | None = None):
        self._data = data
        self._codes = codes

    def values(self, start: int, stop: int) -> list[Any]:
        """Plain Python values (never numpy scalars) of rows ``start:stop``."""
        if self._codes is not None:
            # Categoricals: each category converted once, gathered by code.
            assert isinstance(self._data, np.ndarray)
            return list(self._data[self._codes[start:stop]].tolist())
        if isinstance(self._data, np.ndarray):
            return list(self._data[start:stop].tolist())
        return list(self._data.slice(start, stop - start).to_pylist())


def prepare(arr: pa.Array, kind: Kind, *, as_text: bool = False) -> Prepared:
    """Convert a canonical array (see ``types.to_arrow``) once per chunk.

    Ints, floats and bools become numpy arrays (their ``tolist`` gives Python scalars); dates
    become RFC 3339 UTC text; ``as_text`` writes numbers as text (int uids become ``"123"``).
    """
    if isinstance(arr, pa.DictionaryArray):
        categories = np.empty(len(arr.dictionary) + 1, dtype=object)
        categories[:-1] = prepare(arr.dictionary, kind, as_text=as_text).values(
            0, len(arr.dictionary)
        )
        codes = pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False)
        return Prepared(categories, codes)
    if kind is Kind.DATE:
        return Prepared(utc_iso(arr))
    if as_text:
        return Prepared(pc.cast(arr, pa.string()))
    if kind in (Kind.INT, Kind.REAL, Kind.BOOL):
        filled = pc.fill_null(arr, False if kind is Kind.BOOL else 0)
        return Prepared(filled.to_numpy(zero_copy_only=False))
    return Prepared(arr)


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
