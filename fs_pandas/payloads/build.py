"""Shared planning steps: resolve options into fields, validate every row, build the Plan."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.errors import InvalidDataError
from fs_pandas.payloads.nested import (
    Normalised,
    RowProblemError,
    check_size,
    normalise_list,
    normalise_object,
)
from fs_pandas.payloads.plan import Field, Plan, Prebuilt, default_threads
from fs_pandas.payloads.rules import (
    MAX_DISPLAY_NAME,
    MAX_EMAIL,
    MAX_PROPERTIES,
    MAX_UID,
    MAX_VALUE_BYTES,
    RejectionLog,
    Rule,
    check_property_path,
)
from fs_pandas.payloads.types import PLURAL, TYPE_NAMES, Kind, infer_kind, source_missing, to_arrow

__all__ = ["column_index", "finish", "property_fields", "validate_options"]

Nulls = Literal["omit", "null"]
_INT64_MAX = 2**63 - 1
# RFC 3339 years 0001..9999, in seconds since the epoch (contract §9.12).
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
_LENGTH_LIMITS = {
    "uid": (MAX_UID, Rule.UID_TOO_LONG),
    "user.uid": (MAX_UID, Rule.UID_TOO_LONG),
    "display_name": (MAX_DISPLAY_NAME, Rule.DISPLAY_NAME_TOO_LONG),
    "email": (MAX_EMAIL, Rule.EMAIL_TOO_LONG),
}


def validate_options(*, nulls: str, naive_tz: str, schema: object) -> None:
    """Refuse unknown option values up front, naming the option."""
    if nulls not in ("omit", "null"):
        raise InvalidDataError(f"nulls must be 'omit' or 'null', got {nulls!r}", rule="option")
    try:
        pd.Timestamp("2000-01-01").tz_localize(naive_tz)
    except Exception:
        raise InvalidDataError(
            f"naive_tz {naive_tz!r} is not a known time zone", rule="option"
        ) from None
    if not (schema is None or schema == "infer" or isinstance(schema, Mapping)):
        raise InvalidDataError(
            f"schema must be 'infer', None or a mapping, got {schema!r}", rule="option"
        )


def column_index(frame: pd.DataFrame, column: Hashable, option: str) -> int:
    """Position of ``column`` in the frame; refuse missing or repeated labels by name."""
    matches = [i for i, c in enumerate(frame.columns) if c == column]
    if not matches:
        raise InvalidDataError(
            f"{option}={column!r}: no such column (columns: {list(frame.columns)[:20]})",
            column=str(column),
            rule="missing_column",
        )
    if len(matches) > 1:
        raise InvalidDataError(
            f"{option}={column!r}: the frame has {len(matches)} columns with that label",
            column=str(column),
            rule="duplicate_column",
        )
    return matches[0]


def property_fields(
    frame: pd.DataFrame,
    *,
    properties: Sequence[Hashable] | Mapping[Hashable, str] | None,
    used: set[int],
    schema: object,
    nulls: Nulls,
) -> list[Field]:
    """Fields for the custom properties (contract §3.3, §3.4)."""
    chosen = _choose(frame, properties, used)
    if len(chosen) > MAX_PROPERTIES:
        raise InvalidDataError(
            f"{len(chosen)} property columns; Fullstory allows at most {MAX_PROPERTIES}",
            rule=Rule.TOO_MANY_PROPERTIES,
        )
    fields = []
    for index, column, name in chosen:
        parts = check_property_path(name, column=column)
        kind = infer_kind(frame.iloc[:, index], column)
        fields.append(_property(index, column, parts, kind, schema, nulls == "null"))
    _check_collisions(fields)
    overrides = schema if isinstance(schema, Mapping) else {}
    unknown = set(overrides) - {f.name for f in fields}
    if unknown:
        raise InvalidDataError(
            f"schema names properties that no column feeds: {sorted(unknown)}", rule="schema"
        )
    return fields


def _choose(
    frame: pd.DataFrame,
    properties: Sequence[Hashable] | Mapping[Hashable, str] | None,
    used: set[int],
) -> list[tuple[int, Hashable, str]]:
    if properties is None:
        return [(i, c, _label(c)) for i, c in enumerate(frame.columns) if i not in used]
    if isinstance(properties, str):
        raise InvalidDataError(
            f"properties must be a list or a mapping of columns, not the string {properties!r}",
            rule="option",
        )
    if isinstance(properties, Mapping):
        pairs: list[tuple[Hashable, object]] = list(properties.items())
    else:
        pairs = [(c, c) for c in properties]
    out = []
    for column, name in pairs:
        index = column_index(frame, column, "properties")
        if not isinstance(name, str):
            raise InvalidDataError(
                f"column {column!r} has a non-text label; name its property with "
                f"properties={{{column!r}: 'name'}}",
                column=str(column),
                rule=Rule.PROPERTY_NAME,
            )
        out.append((index, column, name))
    return out


def _label(column: Hashable) -> str:
    if not isinstance(column, str):
        raise InvalidDataError(
            f"column {column!r} has a non-text label; name its property with "
            f"properties={{{column!r}: 'name'}} or leave it out",
            column=str(column),
            rule=Rule.PROPERTY_NAME,
        )
    return column


def _property(
    index: int, column: Hashable, parts: tuple[str, ...], kind: Kind, schema: object, null: bool
) -> Field:
    name = ".".join(parts)
    declare: str | None = None
    if schema == "infer":
        # Fullstory reads every JSON number as real unless declared (§3.4), and a date string
        # as text: ints and dates are declared; str, real and bool are read right as they are.
        declare = {Kind.INT: "int", Kind.DATE: "date"}.get(kind)
    if schema is not None and kind in (Kind.LIST, Kind.OBJECT):
        declare = "*"
    if isinstance(schema, Mapping) and name in schema:
        kind, declare = _override(column, kind, schema[name])
    elif isinstance(schema, Mapping):
        declare = {Kind.INT: "int", Kind.DATE: "date", Kind.LIST: "*", Kind.OBJECT: "*"}.get(kind)
    return Field(column, index, ("properties", *parts), kind, "property", declare, null)


_COMPATIBLE = {
    "int": (Kind.INT, Kind.REAL),
    "real": (Kind.INT, Kind.REAL),
    "str": (Kind.STR,),
    "date": (Kind.DATE, Kind.STR),
    "bool": (Kind.BOOL,),
}


def _override(column: Hashable, kind: Kind, declared: object) -> tuple[Kind, str]:
    """A schema override: the declared type, and the encoding that makes the values match it."""
    if declared not in TYPE_NAMES:
        raise InvalidDataError(
            f"schema for column {column!r}: {declared!r} is not a Fullstory type "
            f"({', '.join(sorted(TYPE_NAMES))})",
            column=str(column),
            rule="schema",
        )
    assert isinstance(declared, str)
    if kind in (Kind.LIST, Kind.OBJECT):
        if kind is Kind.LIST and declared in PLURAL.values():
            return kind, declared
    elif kind in _COMPATIBLE.get(declared, ()):
        return {"int": Kind.INT, "date": Kind.DATE}.get(declared, kind), declared
    raise InvalidDataError(
        f"schema declares {declared!r} for column {column!r}, whose values are {kind.value}",
        column=str(column),
        rule="schema",
    )


def _check_collisions(fields: list[Field]) -> None:
    """Two columns may not feed one property, nor a property and its own children."""
    seen: dict[tuple[str, ...], Field] = {}
    for f in fields:
        for other_path, other in seen.items():
            short, long_ = sorted((f.path, other_path), key=len)
            if long_[: len(short)] == short:
                raise InvalidDataError(
                    f"columns {other.column!r} and {f.column!r} both feed property "
                    f"{'.'.join(short[1:])!r}; rename one through properties={{...}}",
                    column=str(f.column),
                    rule="property_collision",
                )
        seen[f.path] = f


def finish(
    *,
    kind: Literal["users", "events"],
    frame: pd.DataFrame,
    fields: list[Field],
    log: RejectionLog,
    naive_tz: str,
    extra_checks: Any = None,
) -> Plan:
    """Validate every field column-wise, run ``extra_checks(log)``, and build the Plan.

    Scalar columns are checked on threads (mostly Arrow kernels, which release the GIL);
    what each finds is added to ``log`` in field order, so the first rule a row broke does
    not depend on which thread finished first.
    """
    type_rows: list[dict[str, Any]] = []
    prebuilt: dict[int, Prebuilt] = {}
    counts = np.zeros(len(frame), dtype=np.int64)
    columns = {f.index: frame.iloc[:, f.index] for f in fields if f.constant is None}
    scalar = [f for f in fields if f.index in columns and f.kind not in (Kind.LIST, Kind.OBJECT)]
    with ThreadPoolExecutor(max_workers=_workers(len(frame), len(scalar))) as pool:
        checked = {
            f.index: pool.submit(_check_scalar, columns[f.index], f, naive_tz) for f in scalar
        }
        for f in fields:
            if f.index not in columns:
                continue
            if f.index in checked:
                findings = checked[f.index].result()
                findings.replay(log)
                nulls = findings.nulls
            else:
                built, per_row = _check_nested(columns[f.index], f, log, naive_tz)
                prebuilt[f.index] = built
                counts += per_row
                nulls = sum(1 for v in built.values if v is None)
            type_rows.append(
                _type_row(f, columns[f.index], nulls=nulls, built=prebuilt.get(f.index))
            )
    n_props = sum(1 for f in fields if f.role == "property")
    log.add(
        counts + n_props > MAX_PROPERTIES,
        column=None,
        rule=Rule.TOO_MANY_PROPERTIES,
        message=f"more than {MAX_PROPERTIES} properties (contract §3.3)",
    )
    if extra_checks is not None:
        extra_checks(log)
    accepted = np.flatnonzero(~log.is_rejected()).astype(np.int64)
    return Plan(
        kind=kind,
        frame=frame,
        fields=fields,
        rejected=log.frame(),
        accepted=accepted,
        naive_tz=naive_tz,
        type_rows=type_rows,
        prebuilt=prebuilt,
    )


def _workers(rows: int, columns: int) -> int:
    """Threads for the column checks: one for small frames (a thread costs more than it
    saves there), else the cores the payload builder uses."""
    if rows < 20_000:
        return 1
    return max(1, min(columns, default_threads()))


class _Findings:
    """The rows one column's checks reject, kept to be added to the log in field order."""

    def __init__(self) -> None:
        self.nulls = 0
        self._items: list[tuple[npt.NDArray[np.bool_], str | None, str, str]] = []

    def add(
        self, mask: npt.NDArray[np.bool_], *, column: str | None, rule: str, message: str
    ) -> None:
        self._items.append((mask, column, rule, message))

    def replay(self, log: RejectionLog) -> None:
        for mask, column, rule, message in self._items:
            log.add(mask, column=column, rule=rule, message=message)


def _dense(arr: pa.Array) -> pa.Array:
    return arr.dictionary_decode() if isinstance(arr, pa.DictionaryArray) else arr


def _check_scalar(series: pd.Series, f: Field, naive_tz: str) -> _Findings:
    """The rules of one scalar column (runs on a worker thread: touches nothing shared)."""
    log = _Findings()
    arr = _dense(to_arrow(series, f.kind, naive_tz=naive_tz, column=f.column))
    missing = source_missing(series)
    log.nulls = int(missing.sum())
    lost = arr.is_null().to_numpy(zero_copy_only=False) & ~missing
    col = str(f.column)
    if f.kind is Kind.DATE:
        log.add(
            lost,
            column=col,
            rule=Rule.INVALID_DATE,
            message=f"{col}: not a valid time (unparseable, or a local time that does not "
            f"exist or is ambiguous in naive_tz={naive_tz!r})",
        )
        seconds = pc.cast(arr, pa.timestamp("s", "UTC"), safe=False)
        ticks = pc.fill_null(pc.cast(seconds, pa.int64()), 0).to_numpy(zero_copy_only=False)
        log.add(
            (ticks < _MIN_SECONDS) | (ticks > _MAX_SECONDS),
            column=col,
            rule=Rule.DATE_OUT_OF_RANGE,
            message=f"{col}: outside the years 0001-9999",
        )
    elif f.kind is Kind.INT:
        log.add(
            lost,
            column=col,
            rule=Rule.NOT_INTEGRAL,
            message=f"{col}: not a whole number in the 64-bit range (declared int)",
        )
        if pa.types.is_unsigned_integer(arr.type):
            over = pc.greater(arr, pa.scalar(_INT64_MAX, pa.uint64()))
            big = pc.fill_null(over, False).to_numpy(zero_copy_only=False)
            log.add(
                big,
                column=col,
                rule=Rule.INT_OUT_OF_RANGE,
                message=f"{col}: larger than the 64-bit signed range",
            )
    elif f.kind is Kind.REAL:
        inf = pc.fill_null(pc.is_inf(arr), False).to_numpy(zero_copy_only=False)
        log.add(inf, column=col, rule=Rule.NON_FINITE, message=f"{col}: ±inf has no JSON form")
    if f.kind is Kind.STR or f.as_text:
        _check_text(arr, f, log, missing)
    return log


def _check_text(arr: pa.Array, f: Field, log: _Findings, missing: Any) -> None:
    col = str(f.column)
    text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
    if f.role in ("uid", "name"):
        empty = missing | pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
        rule = Rule.UID_MISSING if f.role == "uid" else Rule.NAME_MISSING
        log.add(empty, column=col, rule=rule, message=f"{col}: missing or empty {f.role}")
    if f.name in _LENGTH_LIMITS:
        limit, rule = _LENGTH_LIMITS[f.name]
        length = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
        log.add(
            length > limit,
            column=col,
            rule=rule,
            message=f"{col}: {f.name} longer than {limit} characters",
        )
    log.add(
        _too_large(text),
        column=col,
        rule=Rule.VALUE_TOO_LARGE,
        message=f"{col}: value over {MAX_VALUE_BYTES} bytes once serialised (contract §3.3)",
    )


def _too_large(text: pa.Array) -> npt.NDArray[np.bool_]:
    """Serialised size > 8192 bytes; exact sizes only for strings long enough to be in doubt."""
    nbytes = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False)
    out = np.zeros(len(text), dtype=bool)
    # Escaping grows a byte to at most 6 ("\u001f"); with quotes, below this it cannot exceed.
    for i in np.flatnonzero(nbytes * 6 + 2 > MAX_VALUE_BYTES):
        out[i] = len(orjson.dumps(text[int(i)].as_py())) > MAX_VALUE_BYTES
    return out


def _check_nested(
    series: pd.Series, f: Field, log: RejectionLog, naive_tz: str
) -> tuple[Prebuilt, npt.NDArray[np.int64]]:
    """Normalise each list/dict value once, reject bad rows, keep the JSON texts."""
    n = len(series)
    values: list[Any] = [None] * n
    schemas: list[dict[str, str] | None] = [None] * n
    extra = np.zeros(n, dtype=np.int64)
    problems: dict[str, tuple[list[int], list[str]]] = {}
    found: set[str] = set()
    for i, v in enumerate(series.tolist()):
        if _is_missing(v):
            continue
        try:
            norm = _normalise(v, f, naive_tz)
        except RowProblemError as problem:
            rows, msgs = problems.setdefault(problem.rule, ([], []))
            rows.append(i)
            msgs.append(problem.message)
            continue
        values[i] = norm.value
        extra[i] = norm.n_properties
        found.add(norm.type)
        schemas[i] = _declarations(f, norm.schema) or None
    for rule, (rows, msgs) in problems.items():
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        log.add(mask, column=str(f.column), rule=rule, message=msgs)
    types = tuple(sorted(t for t in found if t))
    return Prebuilt(values, schemas if f.declare is not None else None, types), extra


def _normalise(v: object, f: Field, naive_tz: str) -> Normalised:
    if f.kind is Kind.LIST:
        norm = normalise_list(v, path=f.name, naive_tz=naive_tz)
        check_size(norm.value, f.name)
        return norm
    if not isinstance(v, Mapping):
        raise RowProblemError(Rule.UNSUPPORTED_VALUE, f"{f.name}: expected a dict")
    return normalise_object(v, path=f.name, keep_nulls=f.keep_null, naive_tz=naive_tz)


def _declarations(f: Field, found: dict[str, str]) -> dict[str, str]:
    """``declare`` is ``None`` (schema=None), ``"*"`` (as found per value) or a plural override."""
    if f.declare is None:
        return {}
    if f.declare == "*":
        return found
    return {f.name: f.declare}


def _is_missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _type_row(f: Field, series: pd.Series, *, nulls: int, built: Prebuilt | None) -> dict[str, Any]:
    if f.role == "property":
        type_ = f.kind.value
        if built is not None and f.kind is Kind.LIST:
            type_ = "|".join(built.types) or "list"
        if f.declare == "*":
            note = "ints and dates declared in schema per value"
        elif f.declare:
            type_ = f.declare
            note = f"declared {f.declare} in schema"
        else:
            note = "not declared (Fullstory infers it)"
        if isinstance(series.dtype, pd.CategoricalDtype):
            note += "; categorical"
        if f.kind is Kind.DATE:
            note += "; sent as UTC ISO-8601 with Z"
        note += "; missing values sent as null" if f.keep_null else "; missing values omitted"
    else:
        type_ = f.role
        note = "uid sent as text" if f.as_text else ""
    return {"column": f.column, "property": f.name, "type": type_, "nulls": nulls, "note": note}
