"""Shared planning steps: resolve options into fields, validate every row, build the Plan."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas._types import Nulls, Properties, TimeZone
from fs_pandas.errors import ColumnWarning, InvalidDataError
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
    RESULT_COLUMNS,
    RejectionLog,
    Rule,
    check_property_path,
)
from fs_pandas.payloads.types import (
    MAX_SECONDS,
    MIN_SECONDS,
    PLURAL,
    TYPE_NAMES,
    ValueKind,
    canonical,
    column_of,
    date_text_sample,
    infer_kind,
    source_missing,
    whole_with_missing,
)

__all__ = [
    "TIMESTAMP_NAMES",
    "column_index",
    "finish",
    "named_like_a_timestamp",
    "property_fields",
    "time_zone",
    "validate_options",
]

Arrays = Mapping[int, pa.Array]
_INT64_MAX = 2**63 - 1
_LENGTH_LIMITS = {
    "uid": (MAX_UID, Rule.UID_TOO_LONG),
    "user.uid": (MAX_UID, Rule.UID_TOO_LONG),
    "display_name": (MAX_DISPLAY_NAME, Rule.DISPLAY_NAME_TOO_LONG),
    "email": (MAX_EMAIL, Rule.EMAIL_TOO_LONG),
}


def validate_options(*, nulls: object, naive_tz: object, schema: object) -> None:
    """Refuse unknown option values up front, naming the option."""
    if not isinstance(nulls, str) or nulls not in ("omit", "null"):
        raise InvalidDataError(f"nulls must be 'omit' or 'null', got {nulls!r}", rule="option")
    _check_time_zone(naive_tz)
    if (isinstance(schema, str) and schema == "infer") or schema is None:
        return
    if not isinstance(schema, Mapping):
        raise InvalidDataError(
            f"schema must be 'infer', None or a mapping, got {schema!r}", rule="option"
        )
    for name, declared in schema.items():
        if not isinstance(name, str) or not isinstance(declared, str):
            raise InvalidDataError(
                f"schema maps property names to type names, got {name!r}: {declared!r}",
                rule="schema",
            )


def time_zone(naive_tz: TimeZone) -> TimeZone:
    """The zone naive times are read in, as planning uses it: a name becomes a
    ``zoneinfo.ZoneInfo`` once, so every pandas version reads it alike (pandas < 3 reads
    names through pytz, whose rules stop at 2037 and whose old offsets are rounded to the
    minute). Names zoneinfo does not know are left to pandas."""
    if naive_tz in _UTC_NAMES or naive_tz is dt.UTC:
        return "UTC"  # no rules to read, and pandas' own UTC is by far the fastest to localize
    if isinstance(naive_tz, str):
        try:
            return ZoneInfo(naive_tz)
        except (ZoneInfoNotFoundError, ValueError):
            return naive_tz
    return naive_tz


_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "utc", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})


def _check_time_zone(naive_tz: object) -> None:
    """An IANA name, a ``tzinfo`` (``ZoneInfo``, ``datetime.timezone.utc``...) or ``None``
    (naive datetimes are then refused, not guessed)."""
    if naive_tz is None:
        return
    if not isinstance(naive_tz, str | dt.tzinfo):
        raise InvalidDataError(
            f"naive_tz must be a time zone name, a tzinfo or None, got {naive_tz!r}",
            rule="option",
        )
    try:
        pd.Timestamp("2000-01-01").tz_localize(naive_tz)
    except Exception:
        raise InvalidDataError(
            f"naive_tz {naive_tz!r} is not a known time zone", rule="option"
        ) from None


def _did_you_mean(frame: pd.DataFrame, column: Hashable) -> str:
    """``; did you mean 'user_id'?`` when a label is close to the one asked for (case, ``_``,
    a letter or two), else ``""``."""
    labels = {_squeezed(c): c for c in frame.columns if isinstance(c, str)}
    asked = _squeezed(column) if isinstance(column, str) else str(column)
    close = difflib.get_close_matches(asked, list(labels), n=1, cutoff=0.8)
    return f"; did you mean {labels[close[0]]!r}?" if close else ""


def column_index(frame: pd.DataFrame, column: Hashable, option: str) -> int:
    """Position of ``column`` in the frame; refuse missing or repeated labels by name."""
    matches = [i for i, c in enumerate(frame.columns) if c == column]
    if not matches:
        raise InvalidDataError(
            f"{option}={column!r}: no such column{_did_you_mean(frame, column)} "
            f"(columns: {list(frame.columns)[:20]})",
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
    properties: Properties,
    used: Mapping[int, str],
    schema: object,
    nulls: Nulls,
    rename: Mapping[Hashable, str] | None = None,
) -> list[Field]:
    """Fields for the custom properties (contract §3.3, §3.4).

    ``used`` maps the positions of the columns that already feed a top-level field to the
    option that names them: those are not properties (a column has one role). ``rename``
    names the properties of some columns without choosing which columns are sent.
    """
    chosen = _renamed(frame, _choose(frame, properties, used, rename or {}), rename or {})
    if len(chosen) > MAX_PROPERTIES:
        raise InvalidDataError(
            f"{len(chosen)} property columns; Fullstory allows at most {MAX_PROPERTIES}",
            rule=Rule.TOO_MANY_PROPERTIES,
        )
    fields = []
    for index, column, name in chosen:
        parts = check_property_path(name, column=column)
        kind = infer_kind(column_of(frame, index), column)
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
    properties: Properties,
    used: Mapping[int, str],
    rename: Mapping[Hashable, str],
) -> list[tuple[int, Hashable, Hashable]]:
    """The property columns: (position, label, name), the name still a label where ``rename``
    will name it."""
    if properties is None:
        return [
            (i, c, c if c in rename else _label(c))  # a renamed label need not be text
            for i, c in enumerate(frame.columns)
            if i not in used and not _is_result_column(c)
        ]
    out: list[tuple[int, Hashable, Hashable]] = []
    for column, name in _property_pairs(frame, properties):
        index = column_index(frame, column, "properties")
        if _is_result_column(column):
            raise InvalidDataError(
                f"column {column!r} is a column of an fs_pandas result (an outcome, error or "
                "job id), never sent as a property: leave it out of properties=",
                column=str(column),
                rule="option",
            )
        if index in used:
            raise InvalidDataError(
                f"column {column!r} is already sent as {used[index]}; a column feeds one "
                f"field, so leave it out of properties= (or copy it to a new column to send "
                "it as a property too)",
                column=str(column),
                rule="option",
            )
        if not isinstance(name, str) and column not in rename:
            raise InvalidDataError(
                f"column {column!r} has a non-text label; name its property with "
                f"rename={{{column!r}: 'name'}}",
                column=str(column),
                rule=Rule.PROPERTY_NAME,
            )
        out.append((index, column, name))  # type: ignore[arg-type]  # checked just above
    return out


def _renamed(
    frame: pd.DataFrame, chosen: list[tuple[int, Hashable, Any]], rename: Mapping[Hashable, str]
) -> list[tuple[int, Hashable, str]]:
    """The chosen columns with ``rename``'s names; each renamed column must be one of them."""
    if not isinstance(rename, Mapping):
        raise InvalidDataError(
            f"rename maps columns to property names, not {type(rename).__name__} {rename!r}",
            rule="option",
        )
    sent = {index for index, _, _ in chosen}
    for column, name in rename.items():
        index = column_index(frame, column, "rename")
        if not isinstance(name, str):
            raise InvalidDataError(
                f"rename gives column {column!r} the name {name!r}; a property name is text",
                column=str(column),
                rule=Rule.PROPERTY_NAME,
            )
        if index not in sent:
            raise InvalidDataError(
                f"rename names column {column!r}, which is not sent as a property (it feeds "
                "a field, or properties= leaves it out)",
                column=str(column),
                rule="option",
            )
    return [(i, c, rename[c] if c in rename else str(name)) for i, c, name in chosen]


def _property_pairs(frame: pd.DataFrame, properties: object) -> list[tuple[Hashable, object]]:
    """``properties`` as (column, name) pairs: a mapping renames; any other collection of
    labels (list, tuple, Index, array, set: in the frame's column order) keeps the names."""
    if isinstance(properties, Mapping):
        return list(properties.items())
    if isinstance(properties, str | bytes) or not isinstance(properties, Iterable):
        raise InvalidDataError(
            "properties must be a list or a mapping of columns, not "
            f"{type(properties).__name__} {properties!r}",
            rule="option",
        )
    labels = list(properties)
    if isinstance(properties, set | frozenset):
        order = {c: i for i, c in enumerate(frame.columns)}
        labels.sort(key=lambda c: order.get(c, len(order)))
    return [(c, c) for c in labels]


def _is_result_column(column: Hashable) -> bool:
    return isinstance(column, str) and column in RESULT_COLUMNS


def _label(column: Hashable) -> str:
    if not isinstance(column, str):
        raise InvalidDataError(
            f"column {column!r} has a non-text label; name its property with "
            f"rename={{{column!r}: 'name'}} or leave it out",
            column=str(column),
            rule=Rule.PROPERTY_NAME,
        )
    return column


def _property(
    index: int,
    column: Hashable,
    parts: tuple[str, ...],
    kind: ValueKind,
    schema: object,
    null: bool,
) -> Field:
    name = ".".join(parts)
    declare: str | None = None
    if schema == "infer":
        # Fullstory reads every JSON number as real unless declared (§3.4), and a date string
        # as text: ints and dates are declared; str, real and bool are read right as they are.
        declare = {ValueKind.INT: "int", ValueKind.DATE: "date"}.get(kind)
    if schema is not None and kind in (ValueKind.LIST, ValueKind.OBJECT):
        declare = "*"
    if isinstance(schema, Mapping) and name in schema:
        kind, declare = _override(column, kind, schema[name])
    elif isinstance(schema, Mapping):
        declare = {
            ValueKind.INT: "int",
            ValueKind.DATE: "date",
            ValueKind.LIST: "*",
            ValueKind.OBJECT: "*",
        }.get(kind)
    return Field(column, index, ("properties", *parts), kind, "property", declare, null)


_COMPATIBLE = {
    "int": (ValueKind.INT, ValueKind.REAL),
    "real": (ValueKind.INT, ValueKind.REAL),
    "str": (ValueKind.STR,),
    "date": (ValueKind.DATE, ValueKind.STR),
    "bool": (ValueKind.BOOL,),
}


def _override(column: Hashable, kind: ValueKind, declared: object) -> tuple[ValueKind, str]:
    """A schema override: the declared type, and the encoding that makes the values match it."""
    if declared not in TYPE_NAMES:
        raise InvalidDataError(
            f"schema for column {column!r}: {declared!r} is not a Fullstory type "
            f"({', '.join(sorted(TYPE_NAMES))})",
            column=str(column),
            rule="schema",
        )
    assert isinstance(declared, str)
    if kind in (ValueKind.LIST, ValueKind.OBJECT):
        if kind is ValueKind.LIST and declared in PLURAL.values():
            return kind, declared
    elif kind in _COMPATIBLE.get(declared, ()):
        return {"int": ValueKind.INT, "date": ValueKind.DATE}.get(declared, kind), declared
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
                    f"{'.'.join(short[1:])!r}; rename one with rename={{column: 'name'}}",
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
    naive_tz: TimeZone,
    extra_checks: Callable[[RejectionLog, Arrays], None] | None = None,
) -> Plan:
    """Validate every field column-wise, run ``extra_checks(log, arrays)``, build the Plan.

    Each scalar column becomes its canonical Arrow array once (``types.canonical``): the
    rules read it, and so do the bodies, so what is checked is what is sent, and edits of
    the frame after planning change neither. Columns are converted and checked on threads
    (mostly Arrow kernels, which release the GIL); what each finds is added to ``log`` in
    field order, so the first rule a row broke does not depend on which thread finished first.
    """
    type_rows: list[dict[str, Any]] = []
    prebuilt: dict[int, Prebuilt] = {}
    arrays: dict[int, pa.Array] = {}
    counts = np.zeros(len(frame), dtype=np.int64)
    columns = {f.index: column_of(frame, f.index) for f in fields if f.constant is None}
    if len(columns) != sum(1 for f in fields if f.constant is None):
        raise AssertionError("a column feeds one field (checked when the fields are chosen)")
    scalar = [
        f for f in fields if f.index in columns and f.kind not in (ValueKind.LIST, ValueKind.OBJECT)
    ]
    untimed = kind == "events" and not any(f.role == "timestamp" for f in fields)
    with ThreadPoolExecutor(max_workers=_workers(len(frame), len(scalar))) as pool:
        checked = {
            f.index: pool.submit(_check_scalar, columns[f.index], f, naive_tz) for f in scalar
        }
        for f in fields:
            if f.index not in columns:
                continue
            missing = None
            if f.index in checked:
                findings = checked[f.index].result()
                findings.replay(log)
                nulls, missing = findings.nulls, findings.missing
                arrays[f.index] = findings.array
            else:
                built, per_row = _check_nested(columns[f.index], f, log, naive_tz)
                prebuilt[f.index] = built
                counts += per_row
                nulls = sum(1 for v in built.values if v is None)
            type_rows.append(
                _type_row(
                    f,
                    (columns[f.index], missing),
                    nulls=nulls,
                    built=prebuilt.get(f.index),
                    naive_tz=naive_tz,
                    untimed=untimed,
                )
            )
    if untimed:
        _warn_untimed(fields)
    type_rows += _left_out_rows(frame, fields)
    n_props = sum(1 for f in fields if f.role == "property")
    log.add(
        counts + n_props > MAX_PROPERTIES,
        column=None,
        rule=Rule.TOO_MANY_PROPERTIES,
        message=f"more than {MAX_PROPERTIES} properties (Fullstory's limit)",
    )
    if extra_checks is not None:
        extra_checks(log, arrays)
    accepted = np.flatnonzero(~log.is_rejected()).astype(np.int64)
    plan = Plan(
        kind=kind,
        n_rows=len(frame),
        arrays=arrays,
        fields=fields,
        rejected=log.frame(),
        accepted=accepted,
        type_rows=type_rows,
        prebuilt=prebuilt,
    )
    # Arrow's allocator keeps what the checks' temporaries freed (tens of MiB at a million
    # rows) for later Arrow use; the bodies built next are not Arrow's, so without this the
    # process would hold both at once. It takes about a millisecond.
    pa.default_memory_pool().release_unused()
    return plan


def _left_out_rows(frame: pd.DataFrame, fields: list[Field]) -> list[dict[str, Any]]:
    """Type-plan rows saying that the frame's fs_pandas result columns are not sent."""
    used = {f.index for f in fields}
    return [
        {
            "column": column,
            "property": None,
            "type": "not sent",
            "nulls": int(frame.iloc[:, i].isna().sum()),
            "note": "a column of an fs_pandas result (outcome, error, job id): never sent",
        }
        for i, column in enumerate(frame.columns)
        if i not in used and _is_result_column(column)
    ]


def _workers(rows: int, columns: int) -> int:
    """Threads for the column checks: one for small frames (a thread costs more than it
    saves there), else the cores the payload builder uses."""
    if rows < 20_000:
        return 1
    return max(1, min(columns, default_threads()))


class _Findings:
    """The rows one column's checks reject, kept to be added to the log in field order, and
    the column's canonical array."""

    def __init__(self, array: pa.Array, missing: npt.NDArray[np.bool_]) -> None:
        self.array = array
        self.missing = missing  # where the source has no value
        self.nulls = int(missing.sum())
        self._items: list[tuple[npt.NDArray[np.bool_], str | None, str, str | list[str]]] = []

    def add(
        self,
        mask: npt.NDArray[np.bool_],
        *,
        column: str | None,
        rule: str,
        message: str | list[str],
    ) -> None:
        if mask.any():  # a mask that rejects nothing is not kept (a byte a row, every check)
            self._items.append((mask, column, rule, message))

    def replay(self, log: RejectionLog) -> None:
        for mask, column, rule, message in self._items:
            log.add(mask, column=column, rule=rule, message=message)
        self._items.clear()


def _bad_times(
    series: pd.Series, lost: npt.NDArray[np.bool_], col: str, naive_tz: TimeZone
) -> list[str]:
    """Why each value of ``series`` where ``lost`` holds is not a time, quoting it: text that
    does not parse, or a local time that does not exist (or exists twice) in ``naive_tz``."""
    where = np.flatnonzero(lost)
    values: Iterable[object]
    try:
        values = series.iloc[where].to_numpy(dtype=object)
    except (pa.ArrowNotImplementedError, TypeError):  # string_view has no take kernel
        values = [series.iloc[i] for i in where]
    messages = []
    for value in values:
        text = repr(value if isinstance(value, str) else str(value))
        shown = text if len(text) <= 60 else text[:59] + "…"
        if isinstance(value, str):
            messages.append(f"{col}: {shown} is not a date or time that can be read")
        else:
            messages.append(
                f"{col}: {shown} does not exist or exists twice in naive_tz={str(naive_tz)!r} "
                "(a clock change)"
            )
    return messages


def _dense(arr: pa.Array) -> pa.Array:
    return arr.dictionary_decode() if isinstance(arr, pa.DictionaryArray) else arr


def _check_scalar(series: pd.Series, f: Field, naive_tz: TimeZone) -> _Findings:
    """The rules of one scalar column (runs on a worker thread: touches nothing shared)."""
    converted = canonical(series, f.kind, naive_tz=naive_tz, column=f.column, as_text=f.as_text)
    missing = source_missing(series) if converted.missing is None else converted.missing
    log = _Findings(converted.array, missing)
    col = str(f.column)
    for problem in converted.problems:
        log.add(problem.mask, column=col, rule=problem.rule, message=problem.message)
    arr = _dense(converted.array)
    lost = arr.is_null().to_numpy(zero_copy_only=False) & ~missing
    if f.kind is ValueKind.DATE:
        log.add(
            lost,
            column=col,
            rule=Rule.INVALID_DATE,
            # Quoting values costs a pass over them: only when some row is rejected.
            message=_bad_times(series, lost, col, naive_tz) if lost.any() else "",
        )
        seconds = pc.cast(arr, pa.timestamp("s", "UTC"), safe=False)
        ticks = pc.fill_null(pc.cast(seconds, pa.int64()), 0).to_numpy(zero_copy_only=False)
        log.add(
            (ticks < MIN_SECONDS) | (ticks > MAX_SECONDS),
            column=col,
            rule=Rule.DATE_OUT_OF_RANGE,
            message=f"{col}: outside the years 0001-9999",
        )
    elif f.kind is ValueKind.INT:
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
    elif f.kind is ValueKind.REAL:
        inf = pc.fill_null(pc.is_inf(arr), False).to_numpy(zero_copy_only=False)
        log.add(inf, column=col, rule=Rule.NON_FINITE, message=f"{col}: ±inf has no JSON form")
    if f.kind is ValueKind.STR or f.as_text:
        _check_text(arr, f, log, missing)
    return log


def _check_text(arr: pa.Array, f: Field, log: _Findings, missing: Any) -> None:
    col = str(f.column)
    is_text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
    text = arr if is_text else pc.cast(arr, pa.string())
    nbytes = _byte_lengths(text)
    if f.role in ("uid", "name"):
        rule = Rule.UID_MISSING if f.role == "uid" else Rule.NAME_MISSING
        log.add(
            (nbytes == 0) | missing,
            column=col,
            rule=rule,
            message=f"{col}: missing or empty {f.role}",
        )
    elif f.name == "user.uid":
        # A missing user is another identification form; an empty uid names no one.
        log.add(nbytes == 0, column=col, rule=Rule.UID_MISSING, message=f"{col}: empty user.uid")
    elif f.role in ("id", "user", "session"):
        log.add(nbytes == 0, column=col, rule=Rule.EMPTY_ID, message=f"{col}: empty {f.name}")
    if f.name in _LENGTH_LIMITS:
        limit, rule = _LENGTH_LIMITS[f.name]
        # A character is at least one byte: only values of more bytes can be too long.
        long = nbytes > limit
        if long.any():
            length = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
            long = length > limit
        log.add(
            long, column=col, rule=rule, message=f"{col}: {f.name} longer than {limit} characters"
        )
    # Counted in UTF-8 bytes of the value itself, not of its escaped JSON (contract §11.5:
    # "in bytes of the value").
    log.add(
        nbytes > MAX_VALUE_BYTES,
        column=col,
        rule=Rule.VALUE_TOO_LARGE,
        message=f"{col}: value over {MAX_VALUE_BYTES} bytes of UTF-8 (Fullstory's limit)",
    )


def _byte_lengths(text: pa.Array) -> npt.NDArray[np.int64]:
    """UTF-8 bytes of each value (``string`` or ``large_string``), -1 where it is null: read
    off the offsets."""
    if not len(text):
        return np.zeros(0, dtype=np.int64)
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    bounds = np.frombuffer(text.buffers()[1], dtype=width)
    nbytes = np.diff(bounds[text.offset : text.offset + len(text) + 1]).astype(np.int64)
    if text.null_count:  # a null may still span bytes (Arrow does not forbid it)
        nbytes[text.is_null().to_numpy(zero_copy_only=False)] = -1
    return nbytes


def _check_nested(
    series: pd.Series, f: Field, log: RejectionLog, naive_tz: TimeZone
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


def _normalise(v: object, f: Field, naive_tz: TimeZone) -> Normalised:
    if f.kind is ValueKind.LIST:
        norm = normalise_list(v, path=f.name, naive_tz=naive_tz)
        _check_declared_plural(norm, f)
        check_size(norm.value, f.name)
        return norm
    if not isinstance(v, Mapping):
        raise RowProblemError(Rule.UNSUPPORTED_VALUE, f"{f.name}: expected a dict")
    return normalise_object(v, path=f.name, keep_nulls=f.keep_null, naive_tz=naive_tz)


# What a list's elements may be for each declared plural type (ints are reals too).
_PLURAL_HOLDS = {
    "strs": {"strs"},
    "ints": {"ints"},
    "reals": {"reals", "ints"},
    "bools": {"bools"},
    "dates": {"dates"},
}


def _check_declared_plural(norm: Normalised, f: Field) -> None:
    """A list declared ``ints`` (etc.) in ``schema=`` must hold such values: Fullstory would
    otherwise store them as another type, or refuse the row."""
    if f.declare not in _PLURAL_HOLDS or not norm.type:
        return  # not a plural override, or an empty list
    if norm.type not in _PLURAL_HOLDS[f.declare]:
        raise RowProblemError(
            Rule.LIST_ELEMENT,
            f"{f.name}: declared {f.declare} in schema, but the list holds {norm.type}",
        )


def _declarations(f: Field, found: dict[str, str]) -> dict[str, str]:
    """``declare`` is ``None`` (schema=None), ``"*"`` (as found per value) or a plural override."""
    if f.declare is None:
        return {}
    if f.declare == "*":
        return found
    return {f.name: f.declare}


def _is_missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _type_row(
    f: Field,
    column: tuple[pd.Series, npt.NDArray[np.bool_] | None],
    *,
    nulls: int,
    built: Prebuilt | None,
    naive_tz: TimeZone,
    untimed: bool,
) -> dict[str, Any]:
    """The type-plan row of one field. ``column``: its series and where it is missing (if
    known); ``untimed``: events planned without timestamp_col."""
    series, missing = column
    if f.role == "property":
        type_ = f.kind.value
        if built is not None and f.kind is ValueKind.LIST:
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
        if f.kind is ValueKind.DATE:
            note += "; sent as UTC ISO-8601 with Z"
        note += "; missing values sent as null" if f.keep_null else "; missing values omitted"
        # What to do first: a display cuts a long note at its end (pandas: 50 characters).
        note = "; ".join([*_hints(f, series, missing, untimed=untimed), note])
    elif f.role == "timestamp":
        type_ = f.role
        note = ""
        if infer_kind(series, f.column) is ValueKind.STR:
            naive = (
                "refused (naive_tz=None)"
                if naive_tz is None
                else f"read in naive_tz={str(naive_tz)!r}"
            )
            note = (
                f"text parsed as ISO-8601 dates: an offset is kept, a time without one is {naive}; "
                "text that does not parse rejects its row (invalid_date)"
            )
    else:
        type_ = f.role
        note = "uid sent as text" if f.as_text else ""
    return {"column": f.column, "property": f.name, "type": type_, "nulls": nulls, "note": note}


# Column labels that look like an event's time, compared without case, "_", "-", "." or
# spaces ("Event Time", "eventTime" and "event_time" alike). Documented in docs/payloads.md.
TIMESTAMP_NAMES = frozenset(
    {
        "ts",
        "time",
        "timestamp",
        "datetime",
        "eventtime",
        "eventtimestamp",
        "eventts",
        "createdat",
        "occurredat",
    }
)


def named_like_a_timestamp(column: Hashable) -> bool:
    """Whether a column label is one of :data:`TIMESTAMP_NAMES`."""
    return isinstance(column, str) and _squeezed(column) in TIMESTAMP_NAMES


def _squeezed(label: str) -> str:
    return "".join(ch for ch in label.casefold() if ch not in "_-. ")


def _warn_untimed(fields: list[Field]) -> None:
    """Events planned without ``timestamp_col`` get Fullstory's time of receipt: a column
    named like a timestamp sent as a property instead is most likely a forgotten option, and
    the times it would put right cannot be changed once imported."""
    for f in fields:
        if f.role == "property" and named_like_a_timestamp(f.column):
            column = _literal(f.column)
            warnings.warn(
                f"column {column} is named like a timestamp but is sent as a property, so each "
                "event gets the time Fullstory receives it; pass "
                f"timestamp_col={column} to use it as the event's time",
                ColumnWarning,
                stacklevel=2,
            )


def _hints(
    f: Field, series: pd.Series, missing: npt.NDArray[np.bool_] | None, *, untimed: bool
) -> list[str]:
    """Type-plan hints for a property: a type it could be declared as (text of dates, whole
    numbers read as floats), a column that could be the event's time (``missing``: where
    the column has no value, if known). Notes only: what is sent does not change."""
    hints: list[str] = []
    name = _literal(f.name)
    timeish = untimed and f.kind in (ValueKind.STR, ValueKind.DATE)
    timeish = timeish and named_like_a_timestamp(f.column)
    sample = None
    if f.kind is ValueKind.STR and (f.declare is None or timeish):
        sample = date_text_sample(series, f.column, missing)
    if f.declare is None and sample is not None and sample.dates:
        checked = ""
        if sample.checked < sample.present:
            checked = f" (checked {sample.checked} of {sample.present} values)"
        hints.append(
            f'looks like dates{checked}: declare schema={{{name}: "date"}} to send them as dates'
        )
    if f.kind is ValueKind.REAL and f.declare is None and whole_with_missing(series):
        hints.append(
            f'whole numbers with missing values (read as float): declare schema={{{name}: "int"}}'
        )
    if timeish:
        column = _literal(f.column)
        # First: the event's time is the hint that matters most (it cannot be fixed later).
        if sample is not None and not sample.dates:
            hints.insert(
                0,
                "named like a timestamp, but some values are not ISO-8601 dates: convert them "
                f"with pd.to_datetime(...) and pass timestamp_col={column} to use it as the "
                "event's time",
            )
        else:
            hints.insert(
                0,
                f"named like a timestamp: pass timestamp_col={column} to use it as the "
                "event's time",
            )
    return hints


def _literal(label: Hashable) -> str:
    """A label as Python source, text in double quotes (``"seats"``), as the notes show it."""
    if isinstance(label, str):
        return json.dumps(label, ensure_ascii=False)
    return repr(label)
