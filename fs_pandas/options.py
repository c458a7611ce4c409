"""Plan options as JSON, faithfully: the copy a run's ledger keeps so that resume replans the same.

A run is planned from options such as ``uid_col``, ``properties`` and ``naive_tz``; resume plans
again from the ledger's copy and must get the same chunks byte for byte (each chunk's
Idempotency-Key is a hash of its content). Plain JSON cannot carry what these options hold:
column labels of any hashable type (ints, the tuples of MultiIndex columns, numpy scalars),
mappings keyed by such labels, sets, time zone objects. :func:`encode_options` writes them as
JSON, with a one-key tag object where JSON has no equivalent; :func:`decode_options` reads them
back to equal values:

===============================  ==============================================  ==============
value                            stored as                                       read back as
===============================  ==============================================  ==============
str, bool, None, int, float      itself                                          itself
NaN, ±inf; ints past 64 bits     ``{"$float": "nan"}``; ``{"$int": "…"}``        float; int
numpy scalar                     its Python value (``np.int64(3)`` -> ``3``)     that value
tuple (a MultiIndex label)       ``{"$tuple": [...]}``                           tuple
list, Index, 1-d array, range…   ``[...]``, in iteration order                   list
set, frozenset                   ``{"$set": [...]}``, members in a fixed order   set, frozenset
mapping with text keys           ``{...}`` (unless a key starts with ``$``)      dict
any other mapping                ``{"$pairs": [[key, value], ...]}``             dict, in order
pd.Timestamp, datetime           ``{"$timestamp": [utc_iso, tz]}``               pd.Timestamp
date; bytes                      ``{"$date": iso}``; ``{"$bytes": hex}``         date; bytes
tzinfo                           ``{"$tz": "Europe/Paris" | "UTC" | "+05:30"}``  ZoneInfo /
                                                                                 timezone
===============================  ==============================================  ==============

A set's members are stored sorted by their stored JSON, so the same set always writes the same
ledger line; the planner orders them by the frame's column order, not by this order. A time zone
is stored as a name :meth:`pandas.Timestamp.tz_localize` accepts (its IANA key, ``"UTC"``, or a
fixed offset such as ``"+05:30"``) and read back as an equivalent ``ZoneInfo`` /
``datetime.timezone``. Anything else is refused with a :class:`TypeError` naming the option,
before the run plans or sends anything.

``payloads`` does not import this module: the planner takes ordinary Python values.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd

from fs_pandas.errors import LedgerError

__all__ = ["decode_options", "encode_options", "normalise_options"]

# orjson writes integers from -2**63 to 2**64 - 1; others go as text.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")
_SCALARS = (bool, int, float, str, bytes)


def encode_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as JSON-ready values (see the module docstring for the format).

    Parameters
    ----------
    options : mapping
        Option name -> value, as given to ``plan_users`` / ``plan_events``.

    Returns
    -------
    dict
        Option name -> a value made only of ``dict``, ``list``, ``str``, ``int``, finite
        ``float``, ``bool`` and ``None``.

    Raises
    ------
    TypeError
        A value (or a label inside it) has no faithful JSON form; the message names the option.
    """
    return {name: _encode(value, name) for name, value in options.items()}


def decode_options(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The options :func:`encode_options` stored, read back to equal values.

    Raises
    ------
    LedgerError
        A value is not in the format :func:`encode_options` writes.
    """
    decoded = {}
    for name, value in stored.items():
        try:
            decoded[name] = _decode(value)
        except (LookupError, TypeError, ValueError) as exc:
            raise LedgerError(
                f"the ledger's option {name}={value!r} cannot be read: {exc}"
            ) from None
    return decoded


def normalise_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options exactly as resume will read them back from the ledger.

    A run plans from these, not from the caller's objects, so the plan it sends is the plan
    resume rebuilds (a generator is read once, an Index becomes the list of its labels...).

    Raises
    ------
    TypeError
        As for :func:`encode_options`.
    """
    return decode_options(encode_options(options))


# -- encoding ---------------------------------------------------------------------------------


def _encode(value: Any, option: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.generic):
        return _encode(_python_scalar(value, option), option)
    if isinstance(value, str):
        return str(value)  # a str subclass (np.str_) is stored as plain text
    if isinstance(value, int):
        return int(value) if _INT_MIN <= value <= _INT_MAX else {"$int": str(int(value))}
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$float": repr(float(value))}
    encoder = _encoder_for(value)
    if encoder is None:
        raise _unstorable(value, option)
    return encoder(value, option)


def _encoder_for(value: Any) -> Callable[[Any, str], Any] | None:
    # Order matters: a Timestamp is a datetime is a date; a tuple and a Mapping are iterable.
    for kind, encoder in _ENCODERS:
        if isinstance(value, kind):
            return encoder
    return None


def _python_scalar(value: np.generic, option: str) -> Any:
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)  # .item() would give an int of nanoseconds
    item = value.item()
    if not isinstance(item, _SCALARS):
        raise _unstorable(value, option)
    return item


def _tuple(value: tuple[Any, ...], option: str) -> Any:
    return {"$tuple": [_encode(v, option) for v in value]}


def _set(value: set[Any] | frozenset[Any], option: str) -> Any:
    members = sorted((_encode(v, option) for v in value), key=_canonical)
    return {"$frozenset" if isinstance(value, frozenset) else "$set": members}


def _mapping(value: Mapping[Any, Any], option: str) -> Any:
    if all(isinstance(k, str) and not k.startswith("$") for k in value):
        return {str(k): _encode(v, option) for k, v in value.items()}
    # JSON object keys are text: other keys (2024, ("a", "b"), np.int64(3)) go as pairs.
    return {"$pairs": [[_encode(k, option), _encode(v, option)] for k, v in value.items()]}


def _array(value: np.ndarray[Any, Any], option: str) -> Any:
    if value.ndim != 1:
        raise TypeError(
            f"{option}: a {value.ndim}-d array cannot be used as a list of columns; "
            "pass a 1-d array or a list"
        )
    return [_encode(v, option) for v in value]


def _iterable(value: Iterable[Any], option: str) -> Any:
    return [_encode(v, option) for v in value]


def _timestamp(value: dt.datetime, option: str) -> Any:
    ts = pd.Timestamp(value)
    if ts.tz is None:
        return {"$timestamp": [ts.isoformat(), None]}
    # The UTC instant, not the wall time: a wall time can be ambiguous once a year.
    utc = ts.tz_convert("UTC").tz_localize(None)
    return {"$timestamp": [utc.isoformat(), _tz_text(ts.tz, option)]}


def _date(value: dt.date, option: str) -> Any:
    return {"$date": value.isoformat()}


def _bytes(value: bytes, option: str) -> Any:
    return {"$bytes": value.hex()}


def _tz(value: dt.tzinfo, option: str) -> Any:
    return {"$tz": _tz_text(value, option)}


def _tz_text(tz: dt.tzinfo, option: str) -> str:
    """An IANA key (zoneinfo, pytz), ``"UTC"`` or a fixed offset ``"+05:30"``."""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(key, str) and key:
        return key
    offset = tz.utcoffset(None)
    if offset is None:
        raise TypeError(
            f"{option}: the time zone {tz!r} has no IANA name to store in the run's ledger; "
            f"pass the name instead, e.g. {option}='Europe/Paris'"
        )
    seconds = int(offset.total_seconds())
    if seconds % 60 or offset.microseconds:
        raise TypeError(f"{option}: the offset {offset} is not a whole number of minutes")
    if seconds == 0:
        return "UTC"
    sign, minutes = ("-" if seconds < 0 else "+"), abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _canonical(encoded: Any) -> bytes:
    return orjson.dumps(encoded, option=orjson.OPT_SORT_KEYS)


def _unstorable(value: Any, option: str) -> TypeError:
    return TypeError(
        f"{option}: {type(value).__name__} {value!r} cannot be stored in the run's ledger, "
        "which resume needs; column labels must be str, int, float, bool, None, bytes, "
        "dates / timestamps (or their numpy counterparts), or tuples of these"
    )


_ENCODERS: tuple[tuple[type[Any] | tuple[type[Any], ...], Callable[[Any, str], Any]], ...] = (
    (tuple, _tuple),
    ((set, frozenset), _set),
    (Mapping, _mapping),
    (dt.datetime, _timestamp),
    (dt.date, _date),
    (bytes, _bytes),
    (dt.tzinfo, _tz),
    (np.ndarray, _array),
    (Iterable, _iterable),
)


# -- decoding ---------------------------------------------------------------------------------


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tags = [k for k in value if k.startswith("$")]
    if not tags:
        return {k: _decode(v) for k, v in value.items()}
    if len(value) != 1:
        raise ValueError(f"a tag object has exactly one key, got {sorted(value)}")
    tag = tags[0]
    if tag not in _DECODERS:
        raise ValueError(f"unknown tag {tag!r}")
    return _DECODERS[tag](value[tag])


def _decode_timestamp(stored: list[Any]) -> pd.Timestamp:
    text, tz = stored
    ts = pd.Timestamp(text)
    return ts if tz is None else ts.tz_localize("UTC").tz_convert(_decode_tz(tz))


def _decode_tz(text: str) -> dt.tzinfo:
    if text == "UTC":
        return dt.UTC
    offset = _OFFSET.match(text)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        return dt.timezone(-delta if sign == "-" else delta)
    return zoneinfo.ZoneInfo(text)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$tuple": lambda v: tuple(_decode(x) for x in v),
    "$set": lambda v: {_decode(x) for x in v},
    "$frozenset": lambda v: frozenset(_decode(x) for x in v),
    "$pairs": lambda v: {_decode(k): _decode(x) for k, x in v},
    "$int": int,
    "$float": float,
    "$timestamp": _decode_timestamp,
    "$date": dt.date.fromisoformat,
    "$bytes": bytes.fromhex,
    "$tz": _decode_tz,
}
