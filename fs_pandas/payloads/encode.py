"""Column-wise JSON texts of canonical Arrow arrays: the values of request bodies.

A chunk's column is converted once (see ``types.to_arrow``); slices of it then become Arrow
``binary`` member texts (``"key":value`` with the commas the object needs), nothing where the
value is left out or ``"key":null`` under ``nulls="null"``, with vectorised kernels (Arrow,
NumPy) instead of one Python object per value. The request builder (``plan.py``) joins them
row-wise into requests. Dates become RFC 3339 text here, in one place.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.payloads.types import Kind

__all__ = ["Members", "Part", "iso_text", "utc_iso"]

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


Part: TypeAlias = pa.Array | pa.Scalar  # binary texts joined row-wise into a request


class Members:
    """One field of a chunk, converted once, whose row slices become member texts.

    ``parts(start, stop, before=..., after=...)`` gives what to join row-wise for the rows
    ``start:stop``: per row ``before + "key":value + after`` (``before``/``after``: the comma
    on the side the object needs), nothing where the value is missing (or ``"key":null``
    with ``keep_null``). When no value of the slice is missing, key and affixes are constant
    parts next to the raw values (one kernel less); otherwise one array of member texts,
    null where missing. Every kind costs one or two vectorised kernels (Arrow, NumPy) per
    slice; Python touches values one by one only for floats (msgspec's shortest round-trip
    form, encoded as one list) and for the rare strings that need JSON escapes.
    """

    def __init__(
        self,
        arr: pa.Array,
        kind: Kind,
        *,
        key: bytes,
        as_text: bool = False,
        keep_null: bool = False,
        raw: bool = False,
    ) -> None:
        self._kind = kind
        self._as_text = as_text
        self._raw = raw  # values are JSON texts already (list/dict values)
        self._key = key  # '"name":'
        self._keep_null = keep_null
        self._categories: Members | None = None
        self._escape: npt.NDArray[np.bool_] | None = None
        if isinstance(arr, pa.DictionaryArray):
            # Categoricals: each category becomes text once per form, rows gather it by code.
            self._categories = Members(arr.dictionary, kind, key=key, as_text=as_text)
            self._forms: dict[tuple[bytes, bytes], pa.BinaryArray] = {}
            arr = arr.indices
        elif kind is Kind.STR and not as_text and not raw:
            arr = arr.cast(pa.string())
            self._escape = _needs_escape(arr)
        self._arr = arr

    def present(self, start: int, stop: int) -> npt.NDArray[np.bool_]:
        """Where rows ``start:stop`` have a value."""
        valid = self._arr.slice(start, stop - start).is_valid()
        return np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)

    def always(self, start: int, stop: int) -> bool:
        """Whether every row of ``start:stop`` writes this member."""
        return self._keep_null or self._arr.slice(start, stop - start).null_count == 0

    def parts(self, start: int, stop: int, *, before: bytes, after: bytes) -> list[Part]:
        """Parts to join row-wise for rows ``start:stop`` (see the class docstring)."""
        arr = self._arr.slice(start, stop - start)
        head = before + self._key
        if arr.null_count == 0 and self._categories is None:
            inline = self._inline(arr, start, stop)
            if inline is not None:
                opening, values, closing = inline
                return [_binary(head + opening), values, _binary(closing + after)]
        out = self._texts(arr, start, stop, before, after)
        if self._keep_null:
            out = pc.fill_null(out, _binary(head + b"null" + after))
        return [out]

    def _inline(self, arr: pa.Array, start: int, stop: int) -> tuple[bytes, pa.Array, bytes] | None:
        """Raw texts of a slice with no missing value, and what goes around each."""
        if self._raw:
            return b"", arr, b""
        if self._as_text:
            return b'"', pc.cast(pc.cast(arr, pa.string()), pa.binary()), b'"'
        if self._kind is Kind.STR:
            if self._escape is not None and self._escape[start:stop].any():
                return None
            return b'"', pc.cast(arr, pa.binary()), b'"'
        if self._kind is Kind.INT:
            return b"", pc.cast(pc.cast(arr, pa.string()), pa.binary()), b""
        if self._kind is Kind.REAL:
            return b"", _real_texts(arr), b""
        return None

    def _texts(
        self, arr: pa.Array, start: int, stop: int, before: bytes, after: bytes
    ) -> pa.BinaryArray:
        """One array of member texts, null where the value is missing."""
        head = before + self._key
        if self._categories is not None:
            return pc.take(self._category_texts(before, after), arr)
        if self._raw:
            return _wrap(head, arr, after)
        if self._as_text:
            return _wrap(head + b'"', pc.cast(arr, pa.string()), b'"' + after)
        if self._kind is Kind.STR:
            escape = None if self._escape is None else self._escape[start:stop]
            return _str_texts(head, arr, escape, after)
        if self._kind is Kind.INT:
            return _wrap(head, pc.cast(arr, pa.string()), after)
        if self._kind is Kind.REAL:
            return _wrap(head, _real_texts(arr), after)
        if self._kind is Kind.BOOL:
            return pc.if_else(
                arr, _binary(head + b"true" + after), _binary(head + b"false" + after)
            )
        if self._kind is Kind.DATE:
            return _date_texts(head, arr, after)
        raise ValueError(f"no JSON texts for {self._kind}")

    def _category_texts(self, before: bytes, after: bytes) -> pa.BinaryArray:
        """Member texts of every category, made once per form (threads may race to make the
        same form: both results are equal, either is kept)."""
        assert self._categories is not None
        form = self._forms.get((before, after))
        if form is None:
            size = len(self._categories._arr)
            form = self._categories._texts(self._categories._arr, 0, size, before, after)
            self._forms[(before, after)] = form
        return form


def _binary(text: bytes) -> pa.Scalar:
    return pa.scalar(text, pa.binary())


def _wrap(before: bytes, text: pa.Array, after: bytes) -> pa.BinaryArray:
    """``before + text + after`` per row (null stays null)."""
    return pc.binary_join_element_wise(
        _binary(before), pc.cast(text, pa.binary()), _binary(after), _binary(b"")
    )


def _needs_escape(arr: pa.Array) -> npt.NDArray[np.bool_] | None:
    """Rows whose text needs a JSON escape (``"``, ``\\``, control characters), or ``None``
    when none does: one pass over the bytes, a regex only for a column that has some."""
    data = arr.buffers()[2]
    if data is None or len(arr) == 0:
        return None
    bounds = np.frombuffer(arr.buffers()[1], dtype=np.int32)
    offsets = bounds[arr.offset : arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    if not ((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)).any():
        return None
    found = pc.match_substring_regex(arr, r'[\x00-\x1f"\\]')
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def _str_texts(
    head: bytes, arr: pa.Array, escape: npt.NDArray[np.bool_] | None, after: bytes
) -> pa.BinaryArray:
    """Quoted strings; the few that need escapes are encoded one by one by msgspec."""
    out = _wrap(head + b'"', arr, b'"' + after)
    if escape is None or not escape.any():
        return out
    mask = pa.array(escape)
    encoded = [head + msgspec.json.encode(s) + after for s in arr.filter(mask).to_pylist()]
    return pc.replace_with_mask(out, mask, pa.array(encoded, type=pa.binary()))


def _from_parts(
    data: npt.NDArray[np.uint8], lengths: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_]
) -> pa.BinaryArray:
    """A binary array from back-to-back texts, their lengths and where they are valid."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.binary(),
        len(lengths),
        [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=-1,
    )


def _real_texts(arr: pa.Array) -> pa.BinaryArray:
    """Floats in msgspec's shortest form that reads back to the same double (``0.1``,
    ``1e300``, ``2.0``): the column is encoded as one JSON list and cut at its commas."""
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    values = pc.fill_null(arr, 0.0).to_numpy(zero_copy_only=False).tolist()
    inner = np.frombuffer(msgspec.json.encode(values), dtype=np.uint8)[1:-1]
    comma = inner == ord(",")
    ends = np.append(np.flatnonzero(comma), len(inner))
    lengths = np.diff(ends, prepend=-1) - 1  # a null keeps its "0.0" behind the null bit
    return _from_parts(inner[~comma], lengths, valid)


_TEXT_WIDTH = {"s": 19, "ms": 23, "us": 26, "ns": 29}  # Arrow's timestamp -> string


def _date_texts(head: bytes, arr: pa.Array, after: bytes) -> pa.BinaryArray:
    """``head"<RFC 3339 UTC>"after`` of a UTC timestamp array (see :func:`utc_iso`).

    Arrow's cast to string writes ``YYYY-MM-DD HH:MM:SS`` and every fraction digit of the
    unit at a fixed width; the rows are laid in a byte matrix next to ``head``, the space
    becomes ``T``, and per precision class (whole, milli, micro, nano seconds: contract
    §9.12 wants as few digits as represent the value) ``Z"`` and ``after`` are written at
    their column. The usual class is taken as it lies (no compaction); the others are
    put in their place.
    """
    unit = arr.type.unit
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    ticks = pc.fill_null(pc.cast(arr, pa.int64()), 0)
    text = pc.cast(pc.cast(ticks, pa.timestamp(unit)), pa.string())
    n, width, k = len(ticks), _TEXT_WIDTH[unit], len(head) + 1
    _, offsets, data = text.buffers()
    if n == 0 or np.frombuffer(offsets, dtype=np.int32)[n] != n * width:
        return _date_texts_numpy(head, arr, after)  # not Arrow's usual layout: compose it
    matrix = np.zeros((n, k + width + 2 + len(after)), dtype=np.uint8)
    matrix[:, :k] = np.frombuffer(head + b'"', dtype=np.uint8)
    matrix[:, k : k + width] = np.frombuffer(data, dtype=np.uint8)[: n * width].reshape(n, width)
    matrix[:, k + 10] = ord("T")
    ends = _zulu_columns(ticks.to_numpy(zero_copy_only=False), unit)
    classes, counts = np.unique(ends[valid], return_counts=True)
    usual = int(classes[np.argmax(counts)]) if len(classes) else 19
    others = []  # (copied apart first: the usual class writes over their digits)
    for end in classes.tolist():
        if end != usual:
            rows = valid & (ends == end)
            texts = _date_class(matrix[rows], k + end, after, np.ones(int(rows.sum()), bool))
            others.append((rows, texts))
    out = _date_class(matrix, k + usual, after, valid & (ends == usual))
    for rows, texts in others:
        out = pc.replace_with_mask(out, pa.array(rows), texts)
    return out


def _zulu_columns(ticks: npt.NDArray[np.int64], unit: str) -> npt.NDArray[np.int64]:
    """Column of the ``Z`` in each text: 19, or after 3, 6 or 9 fraction digits."""
    per_second = _PER_SECOND[unit]
    nanos = (ticks % per_second) * (1_000_000_000 // per_second)
    return np.where(
        nanos == 0,
        19,
        np.where(nanos % 1_000_000 == 0, 23, np.where(nanos % 1_000 == 0, 26, 29)),
    )


def _date_class(
    matrix: npt.NDArray[np.uint8], end: int, after: bytes, valid: npt.NDArray[np.bool_]
) -> pa.BinaryArray:
    """Rows of one precision class: ``Z"`` + ``after`` written at column ``end``, then each
    row's first bytes taken back to back."""
    tail = b'Z"' + after
    matrix[:, end : end + len(tail)] = np.frombuffer(tail, dtype=np.uint8)
    size = end + len(tail)
    data = np.ascontiguousarray(matrix[:, :size]).reshape(-1)
    return _from_parts(data, np.full(len(matrix), size, dtype=np.int64), valid)


def _date_texts_numpy(head: bytes, arr: pa.Array, after: bytes) -> pa.BinaryArray:
    """The same texts composed with integer arithmetic (see :func:`iso_text`)."""
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    ticks = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
    texts = iso_text(ticks, arr.type.unit).astype(object)
    encoded = [
        head + b'"' + t.encode() + b'"' + after if ok else None
        for t, ok in zip(texts.tolist(), valid.tolist(), strict=True)
    ]
    return pa.array(encoded, type=pa.binary())


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
    # One row of UCS-4 code points per value, viewed in place as NumPy "U30" strings.
    text = np.zeros((len(ticks), 30), dtype=np.uint32)
    _iso_codes(text, ticks, unit)
    # Rows are NUL-padded; NumPy drops trailing NULs when it turns them into str.
    out: npt.NDArray[np.str_] = text.view("<U30").reshape(-1)
    return out


def _iso_codes(text: npt.NDArray[Any], ticks: npt.NDArray[np.int64], unit: str) -> None:
    """Write the RFC 3339 text of ``ticks`` as code points into the NUL-filled rows of
    ``text`` (30 columns; ASCII, so the same code serves UCS-4 and UTF-8 matrices).

    Everything is written column by column (NumPy is fast along a column and slow at
    gathering small row blocks); each distinct day is converted once.
    """
    if not len(ticks):
        return
    per_second = _PER_SECOND[unit]
    seconds = np.floor_divide(ticks, per_second)
    nanos = (ticks - seconds * per_second) * (1_000_000_000 // per_second)
    days, second_of_day = np.divmod(seconds, 86_400)
    _calendar(text, days)
    _digits(text, 11, second_of_day // 3600, 2)
    _digits(text, 14, second_of_day // 60 % 60, 2)
    _digits(text, 17, second_of_day % 60, 2)
    text[:, 10] = ord("T")
    text[:, 13] = ord(":")
    text[:, 16] = ord(":")
    _fraction(text, nanos)


def _calendar(text: npt.NDArray[Any], days: npt.NDArray[np.int64]) -> None:
    """``YYYY-MM-DD`` of days since the epoch in columns 0..9: the calendar is computed once
    per distinct day (a chunk spans few days next to its rows), then spread to the rows."""
    first = int(days.min())
    span = int(days.max()) - first + 1
    if span > len(days):
        _day_text(text, days)
        return
    # The date as one number YYYYMMDD per distinct day, gathered per row, then digits.
    year, month, day = _civil(np.arange(first, first + span, dtype=np.int64))
    number = (year * 10_000 + month * 100 + day)[days - first]
    _digits(text, 8, number % 100, 2)
    _digits(text, 5, number // 100 % 100, 2)
    _digits(text, 0, number // 10_000, 4)
    text[:, 4] = ord("-")
    text[:, 7] = ord("-")


def _day_text(text: npt.NDArray[Any], days: npt.NDArray[np.int64]) -> None:
    year, month, day = _civil(days)
    _digits(text, 0, year, 4)
    _digits(text, 5, month, 2)
    _digits(text, 8, day, 2)
    text[:, 4] = ord("-")
    text[:, 7] = ord("-")


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


def _digits(text: npt.NDArray[Any], at: int, value: npt.NDArray[np.int64], width: int) -> None:
    """Write ``value`` as ``width`` decimal digits (code points) into columns ``at...``."""
    rest = value.astype(np.uint32)  # every field here is below 10**9
    for column in range(at + width - 1, at - 1, -1):
        rest, digit = np.divmod(rest, np.uint32(10))
        np.add(digit, np.uint32(ord("0")), out=text[:, column])


def _fraction(text: npt.NDArray[Any], nanos: npt.NDArray[np.int64]) -> None:
    """``Z``, or ``.fff``/``.ffffff``/``.fffffffff`` then ``Z``, from column 19 on."""
    if not nanos.any():
        text[:, 19] = ord("Z")
        return
    _digits(text, 20, nanos, 9)
    text[:, 19] = ord(".")
    # Where the Z goes: after as few digit groups as represent the value exactly.
    z = np.where(
        nanos == 0,
        19,
        np.where(nanos % 1_000_000 == 0, 23, np.where(nanos % 1_000 == 0, 26, 29)),
    )
    for column in range(19, 30):
        at = z == column
        text[:, column] = np.where(at, ord("Z"), np.where(z < column, 0, text[:, column]))
