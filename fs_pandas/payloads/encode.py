"""Column-wise JSON texts of canonical Arrow arrays: the values of request bodies.

A field's values for a slice of rows, in their canonical Arrow form (see ``types.canonical``
), become Arrow ``binary`` member texts (``"key":value`` with the
commas the object needs), nothing where the value is left out or ``"key":null`` under
``nulls="null"``, with vectorised kernels (Arrow, NumPy) instead of one Python object per
value. The request builder (``plan.py``) joins them row-wise into requests. Dates become
RFC 3339 text here, in one place.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.payloads.types import ValueKind

__all__ = ["Categories", "Members", "Part", "binary_scalar", "utc_iso"]


Part: TypeAlias = pa.Array | pa.Scalar  # binary texts joined row-wise into a request


class Members:
    """One field's values for a slice of rows, and the member texts they become.

    ``parts(before=..., after=...)`` gives what to join row-wise: per row
    ``before + "key":value + after`` (``before``/``after``: the comma on the side the object
    needs), nothing where the value is missing (or ``"key":null`` with ``keep_null``). When
    no value is missing, key and affixes are constant parts next to the raw values (one
    kernel less); otherwise one array of member texts, null where missing. Every kind costs
    one or two vectorised kernels (Arrow, NumPy, orjson for floats' shortest round-trip
    form); Python touches values one by one only for the rare strings that need JSON
    escapes.

    Categoricals: ``arr`` holds the codes and ``categories`` the field's
    :class:`Categories`, whose texts are made once for the whole frame.
    """

    def __init__(
        self,
        arr: pa.Array,
        kind: ValueKind,
        *,
        key: bytes,
        as_text: bool = False,
        keep_null: bool = False,
        raw: bool = False,
        categories: Categories | None = None,
    ) -> None:
        self._kind = kind
        self._as_text = as_text
        self._raw = raw  # values are JSON texts already (list/dict values)
        self._key = key  # '"name":'
        self._keep_null = keep_null
        self._categories = categories
        self._escape: npt.NDArray[np.bool_] | None = None
        if categories is None and kind is ValueKind.STR and not as_text and not raw:
            if arr.type != pa.string():
                arr = arr.cast(pa.string())
            self._escape = _needs_escape(arr)
        self._arr = arr

    def present(self) -> npt.NDArray[np.bool_]:
        """Where the rows have a value."""
        return np.asarray(self._arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)

    def always(self) -> bool:
        """Whether every row writes this member."""
        return self._keep_null or self._arr.null_count == 0

    def parts(self, *, before: bytes, after: bytes) -> list[Part]:
        """Parts to join row-wise (see the class docstring)."""
        head = before + self._key
        missing = self._arr.null_count > 0
        if self._categories is None and not (missing and self._keep_null):
            inline = self._inline()
            if inline is not None:
                opening, values, closing = inline
                if not missing:
                    return [_binary(head + opening), values, _binary(closing + after)]
                # What goes around each value is an array too, null where the value is:
                # the row join writes nothing there (no copy of the values to wrap them).
                present = self.present()
                parts = [_repeated(head + opening, present), values]
                return [*parts, _repeated(closing + after, present)] if closing + after else parts
        out = self._texts(before, after)
        if self._keep_null:
            out = pc.fill_null(out, _binary(head + b"null" + after))
        return [out]

    def _inline(self) -> tuple[bytes, pa.Array, bytes] | None:
        """Raw texts of the values (null where missing) and what goes around each, or None
        where a value's text is not its raw text (escapes, categories, bools, dates)."""
        arr = self._arr
        if self._raw:
            return b"", arr, b""
        if self._as_text:
            return b'"', _text(arr), b'"'
        if self._kind is ValueKind.STR:
            if self._escape is not None and self._escape.any():
                return None
            return b'"', _text(arr), b'"'
        if self._kind is ValueKind.INT:
            return b"", _text(arr), b""
        if self._kind is ValueKind.REAL:
            return b"", _real_texts(arr), b""
        return None

    def _texts(self, before: bytes, after: bytes) -> pa.BinaryArray:
        """One array of member texts, null where the value is missing."""
        arr, head = self._arr, before + self._key
        if self._categories is not None:
            return pc.take(self._categories.texts(before, after), arr)
        if self._raw:
            return _wrap(head, arr, after)
        if self._as_text:
            return _wrap(head + b'"', _text(arr), b'"' + after)
        if self._kind is ValueKind.STR:
            return _str_texts(head, arr, self._escape, after)
        if self._kind is ValueKind.INT:
            return _wrap(head, _text(arr), after)
        if self._kind is ValueKind.REAL:
            return _wrap(head, _real_texts(arr), after)
        if self._kind is ValueKind.BOOL:
            return pc.if_else(
                arr, _binary(head + b"true" + after), _binary(head + b"false" + after)
            )
        if self._kind is ValueKind.DATE:
            return _date_texts(head, arr, after)
        raise ValueError(f"no JSON texts for {self._kind}")


class Categories:
    """The categories of a categorical field: each becomes member text once per form
    (``before``/``after``), and rows gather their text by code.

    Shared by the slices of every chunk (threads may race to make the same form: the results
    are equal, either is kept).
    """

    def __init__(self, arr: pa.Array, kind: ValueKind, *, key: bytes, as_text: bool) -> None:
        self._members = Members(arr, kind, key=key, as_text=as_text)
        self._forms: dict[tuple[bytes, bytes], pa.BinaryArray] = {}

    def texts(self, before: bytes, after: bytes) -> pa.BinaryArray:
        """Member text of every category, in category order."""
        form = self._forms.get((before, after))
        if form is None:
            form = self._members._texts(before, after)
            self._forms[(before, after)] = form
        return form


@functools.lru_cache(maxsize=4096)
def binary_scalar(text: bytes) -> pa.Scalar:
    """The Arrow binary scalar of ``text``; the same few keys and commas recur in every slice,
    so they are made once (scalars are immutable: threads share them)."""
    return pa.scalar(text, pa.binary())


_binary = binary_scalar


def _repeated(text: bytes, present: npt.NDArray[np.bool_]) -> pa.BinaryArray:
    """``text`` in every row, null where ``present`` does not hold."""
    return _from_parts(np.frombuffer(text * len(present), dtype=np.uint8), len(text), present)


def _wrap(before: bytes, text: pa.Array, after: bytes) -> pa.BinaryArray:
    """``before + text + after`` per row (null stays null)."""
    return pc.binary_join_element_wise(_binary(before), _text(text), _binary(after), _binary(b""))


def _text(arr: pa.Array) -> pa.Array:
    """Values as UTF-8 ``binary`` text: strings are viewed as bytes (no copy, no kernel),
    anything else (ints) is cast to text first."""
    if arr.type == pa.binary():
        return arr
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    return arr.view(pa.binary())


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
    data: npt.NDArray[np.uint8],
    lengths: npt.NDArray[np.int64] | int,
    valid: npt.NDArray[np.bool_],
) -> pa.BinaryArray:
    """A binary array from back-to-back texts, their lengths (or the one length of them all)
    and where they are valid."""
    n = len(valid)
    if isinstance(lengths, int):
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(lengths)
    else:
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.binary(),
        n,
        [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=-1,
    )


def _real_texts(arr: pa.Array) -> pa.BinaryArray:
    """Floats in the shortest form that reads back to the same double (``0.1``, ``1e300``,
    ``2.0``): the column is encoded as one JSON list and cut at its commas.

    orjson encodes the NumPy array itself, three times faster than making a Python float of
    each value for msgspec. Its ``1e+300`` loses the ``+`` (JSON needs none), so the texts
    are msgspec's, byte for byte, as they were before.
    """
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.ascontiguousarray(pc.fill_null(arr, 0.0).to_numpy(zero_copy_only=False))
    listed = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    inner = np.frombuffer(listed, dtype=np.uint8)[1:-1]
    plus = inner == ord("+")
    if plus.any():
        inner = inner[~plus]
    comma = inner == ord(",")
    ends = np.append(np.flatnonzero(comma), len(inner))
    lengths = np.diff(ends, prepend=-1) - 1  # a null keeps its "0.0" behind the null bit
    return _from_parts(inner[~comma], lengths, valid)


def _date_texts(head: bytes, arr: pa.Array, after: bytes) -> pa.BinaryArray:
    """``head"<RFC 3339 UTC>"after`` of a UTC timestamp array (see :func:`utc_iso`), null
    where the value is missing.

    Every text of one precision class (whole, milli, micro, nano seconds: contract §9.12
    wants as few digits as represent the value) has the same width, so a class is one NumPy
    record array whose fields are filled column-wise: the date gathered from a calendar of
    the days the slice spans, the time of day from a table of the 86,400 ``HH:MM:SS`` texts,
    the fraction three digits at a time from a table of ``000`` to ``999``. With several
    classes, each is built for its own rows and the texts are put back in row order.
    """
    n = len(arr)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not valid.any():
        return pa.nulls(n, pa.binary())
    ticks = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n, offset=8 * arr.offset)
    if arr.null_count:
        # A missing value borrows a present one: its text (behind the null bit) then needs
        # no precision class or calendar day of its own.
        ticks = np.where(valid, ticks, ticks[int(valid.argmax())])
    moments = _Moments.of(ticks, arr.type.unit)
    groups = moments.fraction_groups()
    counts = [int(np.count_nonzero(groups == g)) for g in range(moments.per_second + 1)]
    usual = counts.index(max(counts))
    if counts[usual] == n:
        texts = moments.texts(head, after, usual)
        return _from_parts(texts.view(np.uint8), texts.dtype.itemsize, valid)
    if arr.null_count:  # missing values join the most common class: they break no run of it
        groups[~valid] = usual
    others = [g for g, count in enumerate(counts) if count and g != usual]
    return _mixed_classes(moments.texts, (head, after), groups, [usual, *others], valid)


@dataclasses.dataclass(frozen=True)
class _Moments:
    """Timestamps as whole seconds since the epoch and the ticks left of each, in a unit of
    ``per_second`` groups of three fraction digits (s: 0, ms: 1, us: 2, ns: 3)."""

    seconds: npt.NDArray[np.int64]
    left: npt.NDArray[np.uint32]  # below 10**9: 32-bit arithmetic is cheaper
    per_second: int

    @classmethod
    def of(cls, ticks: npt.NDArray[np.int64], unit: str) -> _Moments:
        per_second = {"s": 0, "ms": 1, "us": 2, "ns": 3}[unit]
        seconds, left = _divmod(ticks, 1000**per_second)
        return cls(seconds, left.astype(np.uint32), per_second)

    def fraction_groups(self) -> npt.NDArray[np.uint8]:
        """Groups of three fraction digits each value needs (0: whole seconds, 3: nanos):
        up to the last group that is not ``000``."""
        groups = np.zeros(len(self.left), dtype=np.uint8)
        for j in range(self.per_second):  # group j is needed unless it and those after are 000
            needed = _divmod(self.left, np.uint32(1000 ** (self.per_second - j)))[1] != 0
            np.add(groups, needed, out=groups, casting="unsafe")
        return groups

    def texts(
        self, head: bytes, after: bytes, groups: int, rows: npt.NDArray[np.intp] | None = None
    ) -> npt.NDArray[np.void]:
        """Texts with ``groups`` groups of fraction digits of every moment (or of those at
        ``rows``), each ``head"YYYY-MM-DDTHH:MM:SS[.f…]Z"after``: one record array (its
        bytes are the texts back to back)."""
        seconds = self.seconds if rows is None else self.seconds[rows]
        days, second_of_day = _divmod(seconds, 86_400)
        tail = b'Z"' + after
        layout = [("head", f"S{len(head) + 1}"), ("date", "S10"), ("t", "S1"), ("time", "S8")]
        if groups:
            layout += [("dot", "S1"), *((f"f{k}", "S3") for k in range(groups))]
        layout.append(("tail", f"S{len(tail)}"))
        template = np.zeros(1, dtype=np.dtype(layout))
        template["head"], template["t"], template["tail"] = head + b'"', b"T", tail
        if groups:
            template["dot"] = b"."
        # The constant fields of every row at once (field by field is four strided passes).
        texts = np.repeat(template, len(seconds))
        texts["date"] = _calendar(days)
        texts["time"] = _times_of_day()[second_of_day]
        if groups:
            left = self.left if rows is None else self.left[rows]
            fraction = left // np.uint32(1000 ** (self.per_second - groups))
            for k in range(groups):
                group = fraction // np.uint32(1000 ** (groups - 1 - k))
                texts[f"f{k}"] = _three_digits()[_divmod(group, np.uint32(1000))[1]]
        return texts


_Int = TypeVar("_Int", bound=np.integer[Any])


def _divmod(
    x: npt.NDArray[_Int], divisor: int | np.integer[Any]
) -> tuple[npt.NDArray[_Int], npt.NDArray[_Int]]:
    """``x // divisor`` and ``x % divisor``: NumPy divides by one number fast (libdivide),
    but its remainder and ``divmod`` divide value by value, four times slower."""
    quotient = x // divisor
    return quotient, x - quotient * divisor


_FEW_RUNS = 64  # up to this many runs of one class, texts are put in row order run by run


def _mixed_classes(
    texts_of: Callable[..., npt.NDArray[np.void]],
    affixes: tuple[bytes, bytes],
    groups: npt.NDArray[np.uint8],
    classes: list[int],
    valid: npt.NDArray[np.bool_],
) -> pa.BinaryArray:
    """Texts of rows of several precision classes (``groups``; ``classes``: the usual one
    first, then the others): the usual class made for every row by ``texts_of``
    (:meth:`_Moments.texts`), the others for their own rows, then put together in row order
    -- run by run when the classes come in few runs (a few values on a whole second: the
    usual case), else by one Arrow take."""
    usual, *others = classes
    texts = texts_of(*affixes, usual)
    pieces, widths = {usual: texts.view(np.uint8)}, np.zeros(4, dtype=np.int64)
    widths[usual] = texts.dtype.itemsize
    rows_of: dict[int, npt.NDArray[np.intp]] = {}
    for g in others:
        rows_of[g] = rows = np.flatnonzero(groups == g)
        texts = texts_of(*affixes, g, rows)
        pieces[g], widths[g] = texts.view(np.uint8), texts.dtype.itemsize
    lengths = widths[groups]
    runs = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    if len(runs) < _FEW_RUNS:
        spans, used = [], dict.fromkeys(rows_of, 0)
        for start, end in itertools.pairwise([0, *runs.tolist(), len(groups)]):
            g, width = int(groups[start]), int(widths[groups[start]])
            if g == usual:  # the usual class has a text for every row
                spans.append(pieces[g][start * width : end * width])
            else:
                first, used[g] = used[g], used[g] + width * (end - start)
                spans.append(pieces[g][first : used[g]])
        return _from_parts(np.concatenate(spans), lengths, valid)
    # Many runs: every class's texts end to end (the usual one first), then one take.
    back, base = np.arange(len(groups)), len(groups)
    ends, every = [np.full(len(groups), widths[usual])], [valid]
    for g, rows in rows_of.items():
        back[rows] = np.arange(base, base + len(rows))
        base += len(rows)
        ends.append(np.full(len(rows), widths[g]))
        every.append(np.ones(len(rows), dtype=bool))
    joined = _from_parts(
        np.concatenate(list(pieces.values())), np.concatenate(ends), np.concatenate(every)
    )
    return joined.take(pa.array(back))


def _calendar(days: npt.NDArray[np.int64]) -> npt.NDArray[np.bytes_]:
    """``YYYY-MM-DD`` of days since the epoch: gathered from a table of the days 1900–2099
    (made once), else computed once per day of the span when the days are few next to the
    rows, else once per row."""
    if not len(days):
        return np.empty(0, dtype="S10")
    first, last = int(days.min()), int(days.max())
    texts: npt.NDArray[np.bytes_]
    if _COMMON_DAYS[0] <= first and last < _COMMON_DAYS[1]:
        texts = np.take(_common_days(), days - _COMMON_DAYS[0])
    elif last - first + 1 > len(days):
        texts = _day_texts(days)
    else:
        texts = np.take(_day_texts(np.arange(first, last + 1, dtype=np.int64)), days - first)
    return texts


# Days since the epoch of 1900-01-01 and 2100-01-01: the table covers what most data holds.
_COMMON_DAYS = (-25_567, 47_482)
_COMMON: npt.NDArray[np.bytes_] | None = None


def _common_days() -> npt.NDArray[np.bytes_]:
    """``YYYY-MM-DD`` of every day of 1900–2099 (730 kB; threads that race to make it make
    equal tables)."""
    global _COMMON
    if _COMMON is None:
        _COMMON = _day_texts(np.arange(*_COMMON_DAYS, dtype=np.int64))
    return _COMMON


def _day_texts(days: npt.NDArray[np.int64]) -> npt.NDArray[np.bytes_]:
    year, month, day = _civil(days)
    text = np.empty((len(days), 10), dtype=np.uint8)
    _digits(text, 0, year, 4)
    _digits(text, 5, month, 2)
    _digits(text, 8, day, 2)
    text[:, 4] = ord("-")
    text[:, 7] = ord("-")
    out: npt.NDArray[np.bytes_] = text.view("S10").reshape(-1)
    return out


_THREE: npt.NDArray[np.bytes_] | None = None


def _three_digits() -> npt.NDArray[np.bytes_]:
    """The 1,000 texts ``000`` to ``999`` (made once; threads that race to make it make
    equal tables)."""
    global _THREE
    if _THREE is None:
        text = np.empty((1000, 3), dtype=np.uint8)
        _digits(text, 0, np.arange(1000, dtype=np.int64), 3)
        _THREE = text.view("S3").reshape(-1)
    return _THREE


_TIMES: npt.NDArray[np.bytes_] | None = None


def _times_of_day() -> npt.NDArray[np.bytes_]:
    """The 86,400 ``HH:MM:SS`` texts, indexed by second of the day (made once; threads
    that race to make it make equal tables)."""
    global _TIMES
    if _TIMES is None:
        second = np.arange(86_400, dtype=np.int64)
        text = np.empty((86_400, 8), dtype=np.uint8)
        _digits(text, 0, second // 3600, 2)
        _digits(text, 3, second // 60 % 60, 2)
        _digits(text, 6, second % 60, 2)
        text[:, 2] = ord(":")
        text[:, 5] = ord(":")
        _TIMES = text.view("S8").reshape(-1)
    return _TIMES


def utc_iso(arr: pa.Array) -> npt.NDArray[np.str_]:
    """RFC 3339 UTC text with ``Z`` (contract §9.12) of a UTC timestamp array (nulls: "").

    Fractional seconds appear only when present, in as few digit groups as represent the value
    exactly: ``.500`` (milliseconds), 6 digits (microseconds) or 9 (nanoseconds). The same
    texts the request bodies hold (:func:`_date_texts`), without the quotes.
    """
    texts = _date_texts(b"", arr, b"").to_pylist()
    return np.array(["" if t is None else t[1:-1].decode() for t in texts], dtype=str)


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
    """Write ``value`` as ``width`` ASCII decimal digits into columns ``at...`` of ``text``."""
    rest = value.astype(np.uint32)  # every field here is below 10**9
    for column in range(at + width - 1, at - 1, -1):
        rest, digit = np.divmod(rest, np.uint32(10))
        np.add(digit, ord("0"), out=text[:, column], casting="unsafe")
