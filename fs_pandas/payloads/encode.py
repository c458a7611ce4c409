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

__all__ = ["Prepared", "iso_text", "prepare", "utc_iso"]

_DATE_BLOCK = 10_000  # rows of date text formatted at once
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class Prepared:
    """One column of a chunk, converted once, from which row slices become Python values.

    Values at missing rows are unspecified: the request builder overwrites them by mask.
    """

    def __init__(
        self,
        data: npt.NDArray[Any] | pa.Array,
        codes: npt.NDArray[Any] | None = None,
        *,
        date_unit: str | None = None,
    ):
        self._data = data
        self._codes = codes
        self._date_unit = date_unit  # data holds int64 ticks: text made per block
        self._block: tuple[int, npt.NDArray[np.str_]] = (0, np.empty(0, dtype="<U30"))

    def values(self, start: int, stop: int) -> list[Any]:
        """Plain Python values (never numpy scalars) of rows ``start:stop``."""
        if self._codes is not None:
            # Categoricals: each category converted once, gathered by code.
            assert isinstance(self._data, np.ndarray)
            return list(self._data[self._codes[start:stop]].tolist())
        if self._date_unit is not None:
            return list(self._dates(start, stop).tolist())
        if isinstance(self._data, np.ndarray):
            return list(self._data[start:stop].tolist())
        return list(self._data.slice(start, stop - start).to_pylist())

    def _dates(self, start: int, stop: int) -> npt.NDArray[np.str_]:
        """Date text of rows ``start:stop``, formatted ``_DATE_BLOCK`` rows at a time (the
        per-call cost of NumPy is amortised; only one block of text is alive at once)."""
        assert isinstance(self._data, np.ndarray) and self._date_unit is not None
        first, text = self._block
        if not first <= start or stop > first + len(text):
            end = max(stop, start + _DATE_BLOCK)
            text = iso_text(self._data[start:end], self._date_unit)
            first, self._block = start, (start, text)
        return text[start - first : stop - first]


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
        # Text is made slice by slice: a chunk's worth of it would be ~6 bytes/char x 30.
        ticks = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
        return Prepared(ticks, date_unit=arr.type.unit)
    if as_text:
        return Prepared(pc.cast(arr, pa.string()))
    if kind in (Kind.INT, Kind.REAL, Kind.BOOL):
        filled = pc.fill_null(arr, False if kind is Kind.BOOL else 0)
        return Prepared(filled.to_numpy(zero_copy_only=False))
    return Prepared(arr)


def utc_iso(arr: pa.Array) -> npt.NDArray[np.str_]:
    """RFC 3339 UTC text with ``Z`` (contract §9.12) of a UTC timestamp array (nulls: "").

    Fractional seconds appear only when present, in as few digit groups as represent the value
    exactly: ``.500`` (milliseconds), 6 digits (microseconds) or 9 (nanoseconds). The text is
    composed with integer arithmetic over whole columns (a fixed-width byte matrix), because
    formatting through Arrow or Python costs about ten times more per value.
    """
    ticks = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
    out = iso_text(ticks, arr.type.unit)
    out[~arr.is_valid().to_numpy(zero_copy_only=False)] = ""
    return out


def iso_text(ticks: npt.NDArray[np.int64], unit: str) -> npt.NDArray[np.str_]:
    """RFC 3339 UTC text of epoch ``ticks`` in ``unit`` (see :func:`utc_iso`)."""
    per_second = _PER_SECOND[unit]
    seconds = np.floor_divide(ticks, per_second)
    nanos = (ticks - seconds * per_second) * (1_000_000_000 // per_second)
    days, second_of_day = np.divmod(seconds, 86_400)
    year, month, day = _civil(days)
    # One row of UCS-4 code points per value, viewed in place as NumPy "U30" strings.
    text = np.zeros((len(ticks), 30), dtype=np.uint32)
    _digits(text, 0, year, 4)
    _digits(text, 5, month, 2)
    _digits(text, 8, day, 2)
    _digits(text, 11, second_of_day // 3600, 2)
    _digits(text, 14, second_of_day // 60 % 60, 2)
    _digits(text, 17, second_of_day % 60, 2)
    text[:, [4, 7]] = ord("-")
    text[:, 10] = ord("T")
    text[:, [13, 16]] = ord(":")
    _fraction(text, nanos)
    # Rows are NUL-padded; NumPy drops trailing NULs when it turns them into str.
    out: npt.NDArray[np.str_] = text.view("<U30").reshape(-1)
    return out


def _civil(days: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Proleptic Gregorian (year, month, day) of days since 1970-01-01 (H. Hinnant's
    ``civil_from_days``, exact for every date, negative days included)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _digits(
    text: npt.NDArray[np.uint32], at: int, value: npt.NDArray[np.int64], width: int
) -> None:
    """Write ``value`` as ``width`` decimal digits (code points) into columns ``at...``."""
    rest = value.astype(np.uint32)  # every field here is below 10**9
    for column in range(at + width - 1, at - 1, -1):
        rest, digit = np.divmod(rest, np.uint32(10))
        np.add(digit, np.uint32(ord("0")), out=text[:, column])


def _fraction(text: npt.NDArray[np.uint32], nanos: npt.NDArray[np.int64]) -> None:
    """``Z``, or ``.fff``/``.ffffff``/``.fffffffff`` then ``Z``, from column 19 on."""
    whole = nanos == 0
    if whole.all():
        text[:, 19] = ord("Z")
        return
    _digits(text, 20, nanos, 9)
    text[:, 19] = ord(".")
    milli = nanos % 1_000_000 == 0
    micro = ~milli & (nanos % 1_000 == 0)
    text[~milli & ~micro, 29] = ord("Z")
    text[micro, 26] = ord("Z")
    text[micro, 27:] = 0
    text[milli, 23] = ord("Z")
    text[milli, 24:] = 0
    text[whole, 19] = ord("Z")
    text[whole, 20:] = 0
