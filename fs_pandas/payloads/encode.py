"""Column-wise JSON encoding: one canonical Arrow array in, one array of JSON texts out.

Every function here works on whole columns with Arrow compute kernels (which run in C++ and
release the GIL), so no per-row Python runs for scalar columns. Missing values stay null: the
request assembler decides, with the null policy, whether a null is omitted or written ``null``.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.payloads.types import Kind

__all__ = ["encode", "json_string", "utc_iso"]

# JSON needs these escaped inside strings (RFC 8259 §7); everything else goes through as UTF-8.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def encode(arr: pa.Array, kind: Kind) -> pa.Array:
    """JSON text of every value of a canonical array (see ``types.to_arrow``); null stays null."""
    if isinstance(arr, pa.DictionaryArray):
        # Categoricals: encode each category once, then gather by code.
        return pc.take(encode(arr.dictionary, kind), arr.indices)
    if kind is Kind.STR:
        return json_string(arr)
    if kind in (Kind.INT, Kind.REAL, Kind.BOOL):
        # Arrow prints floats in the shortest form that reads back to the same double
        # ("0.1", "1e+300"), valid JSON numbers; ±inf never gets here (rule non_finite).
        return pc.cast(arr, pa.string())
    if kind is Kind.DATE:
        return json_string(utc_iso(arr))
    raise ValueError(f"encode does not handle {kind}")


def json_string(arr: pa.Array) -> pa.Array:
    """Quote strings as JSON; the rare ones needing escapes go through orjson."""
    quoted = pc.binary_join_element_wise('"', arr, '"', "")
    needs = pc.fill_null(pc.match_substring_regex(arr, _NEEDS_ESCAPE), False)
    if not pc.any(needs).as_py():
        return quoted
    where = np.flatnonzero(needs.to_numpy(zero_copy_only=False))
    escaped = pa.array([orjson.dumps(arr[int(i)].as_py()).decode() for i in where], pa.string())
    return pc.replace_with_mask(quoted, needs, escaped)


def utc_iso(arr: pa.Array) -> pa.Array:
    """RFC 3339 UTC text with ``Z`` (contract §9.12) of a UTC timestamp array.

    Fractional seconds appear only when present, with as few digit groups as represent the value
    exactly (``.5`` -> ``.500``, microseconds -> 6 digits, nanoseconds -> 9).
    """
    unit = arr.type.unit
    per_second = _PER_SECOND[unit]
    ticks = pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    ticks = np.where(valid, ticks, 0)
    seconds = np.floor_divide(ticks, per_second)
    base = pc.cast(pa.array(seconds, type=pa.timestamp("s"), mask=~valid), pa.string())
    base = pc.utf8_replace_slice(base, start=10, stop=11, replacement="T")
    nanos = (ticks - seconds * per_second) * (1_000_000_000 // per_second)
    if not nanos.any():
        return pc.binary_join_element_wise(base, "Z", "")
    fraction = pc.fill_null(_fraction(nanos), "")
    return pc.binary_join_element_wise(base, fraction, "Z", "")


def _fraction(nanos: np.ndarray) -> pa.Array:
    """``.fff`` / ``.ffffff`` / ``.fffffffff`` where there is a fraction, null elsewhere."""
    millis = nanos % 1_000_000 == 0
    micros = ~millis & (nanos % 1_000 == 0)
    digits = np.where(millis, nanos // 1_000_000, np.where(micros, nanos // 1_000, nanos))
    text = pc.cast(pa.array(digits), pa.string())
    three = pc.utf8_lpad(text, width=3, padding="0")
    six = pc.utf8_lpad(text, width=6, padding="0")
    nine = pc.utf8_lpad(text, width=9, padding="0")
    padded = pc.if_else(pa.array(millis), three, pc.if_else(pa.array(micros), six, nine))
    dotted = pc.binary_join_element_wise(".", padded, "")
    return pc.if_else(pa.array(nanos != 0), dotted, pa.scalar(None, pa.string()))
