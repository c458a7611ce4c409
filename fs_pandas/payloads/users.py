"""plan_users: a frame -> validated batch user import requests (contract §3.1)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas._types import Duplicates, Properties, TimeZone
from fs_pandas.errors import InvalidDataError
from fs_pandas.payloads.build import (
    Arrays,
    column_index,
    finish,
    property_fields,
    time_zone,
    validate_options,
)
from fs_pandas.payloads.plan import Field, Plan
from fs_pandas.payloads.rules import RejectionLog, Rule
from fs_pandas.payloads.types import ValueKind, column_of, infer_kind, source_missing

__all__ = ["plan_users"]


def plan_users(
    df: pd.DataFrame,
    *,
    uid_col: Hashable | None,
    id_col: Hashable | None = None,
    display_name_col: Hashable | None = None,
    email_col: Hashable | None = None,
    properties: Properties = None,
    rename: Mapping[Hashable, str] | None = None,
    schema: Literal["infer"] | Mapping[str, str] | None = "infer",
    nulls: Literal["omit", "null"] = "omit",
    naive_tz: TimeZone = "UTC",
    duplicates: Duplicates = "first",
) -> Plan:
    """Plan a batch user import: validate every row and prepare the request bodies.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per user.
    uid_col : column label or None
        Your application's user id (sent as text; int columns become ``"123"``). ``None``
        creates anonymous users.
    id_col, display_name_col, email_col : column label, optional
        Columns for the top-level ``id``, ``display_name`` and ``email`` fields.
    properties : None, list of columns, or mapping column -> property name
        ``None``: every column not used above. A list (or any collection of labels: tuple,
        ``Index``, array; a set is taken in the frame's column order) or a mapping names the
        columns; a column used above cannot be a property too. Dotted names
        (``"address.city"``) nest.
    rename : mapping column -> property name, optional
        Names the properties of some columns; unlike a ``properties`` mapping it does not
        choose the columns, so every other column is still sent under its own label.
    schema : "infer", None, or mapping property -> type
        ``"infer"`` declares ints and dates (see ``docs/payloads.md``); ``None`` declares
        nothing; a mapping overrides the type of the properties it names.
    nulls : {"omit", "null"}
        Missing values (NaN, None, NaT, pd.NA) are left out, or sent as JSON ``null``.
    naive_tz : str, tzinfo or None, default "UTC"
        Time zone of naive datetimes (an IANA name or a ``tzinfo``); ``None``: refuse
        columns of naive datetimes instead of assuming a zone.
    duplicates : {"first", "last", "reject", "allow"}
        Which rows with the same uid are sent; the others are rejected as ``duplicate_uid``.

    Returns
    -------
    Plan
        ``plan.rejected``, ``plan.type_plan()``, ``plan.chunks()``...

    Raises
    ------
    InvalidDataError
        An option is wrong or a column cannot be sent; the message names it.
    """
    _check_frame(df)
    validate_options(nulls=nulls, naive_tz=naive_tz, schema=schema)
    naive_tz = time_zone(naive_tz)
    if not isinstance(duplicates, str) or duplicates not in ("first", "last", "reject", "allow"):
        raise InvalidDataError(
            f"duplicates must be 'first', 'last', 'reject' or 'allow', got {duplicates!r}",
            rule="option",
        )
    fields = _top_fields(df, uid_col, id_col, display_name_col, email_col)
    used = {f.index: f"{f.name} ({option})" for f, option in fields}
    top = [f for f, _ in fields]
    props = property_fields(
        df, properties=properties, used=used, schema=schema, nulls=nulls, rename=rename
    )
    uid = next((f for f in top if f.role == "uid"), None)

    def duplicate_check(log: RejectionLog, arrays: Arrays) -> None:
        if uid is not None and duplicates != "allow":
            _reject_duplicates(df, uid, log, duplicates, arrays[uid.index])

    log = RejectionLog(len(df))
    return finish(
        kind="users",
        frame=df,
        fields=top + props,
        log=log,
        naive_tz=naive_tz,
        extra_checks=duplicate_check,
    )


def _check_frame(df: object) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")


def _top_fields(
    df: pd.DataFrame,
    uid_col: Hashable | None,
    id_col: Hashable | None,
    display_name_col: Hashable | None,
    email_col: Hashable | None,
) -> list[tuple[Field, str]]:
    """The top-level fields (not properties), in request order, with their option names."""
    fields = []
    for option, column, role in (
        ("uid_col", uid_col, "uid"),
        ("id_col", id_col, "id"),
        ("display_name_col", display_name_col, "display_name"),
        ("email_col", email_col, "email"),
    ):
        if column is not None:
            fields.append((text_field(df, column, option, (role,), role), option))
    indexes = [f.index for f, _ in fields]
    if len(set(indexes)) != len(indexes):
        raise InvalidDataError(
            "one column is given for two of uid/id/display_name/email", rule="option"
        )
    return fields


def text_field(
    df: pd.DataFrame, column: Hashable, option: str, path: tuple[str, ...], role: str
) -> Field:
    """A field whose values must be text: strings, or whole numbers written as text."""
    index = column_index(df, column, option)
    kind = infer_kind(column_of(df, index), column)
    if kind in (ValueKind.INT, ValueKind.REAL):
        return Field(column, index, path, ValueKind.INT, role, as_text=True)
    if kind is not ValueKind.STR:
        raise InvalidDataError(
            f"{option}={column!r} holds {kind.value} values; {role} must be text or whole numbers",
            column=str(column),
            rule="unsupported_dtype",
        )
    return Field(column, index, path, ValueKind.STR, role)


def _reject_duplicates(
    df: pd.DataFrame, f: Field, log: RejectionLog, policy: Duplicates, text: pa.Array
) -> None:
    """One uid per run (contract §3.1: rows are upserts keyed on uid, so later ones would
    silently overwrite earlier ones in an order the server does not promise). ``text``: the
    uids as sent (the column's canonical array)."""
    series = column_of(df, f.index)
    eligible = ~log.is_rejected() & ~source_missing(series)
    if not eligible.any() or _unique_integers(series, eligible):
        return
    if isinstance(text, pa.DictionaryArray):
        text = text.dictionary_decode()
    kept_text = text if eligible.all() else text.filter(pa.array(eligible))
    if _surely_distinct(kept_text):
        return  # every uid once (the usual case): nothing to group
    encoded = pc.dictionary_encode(kept_text)
    if len(encoded.dictionary) == len(kept_text):
        return  # distinct after all: two uids only shared a hash
    positions = np.flatnonzero(eligible)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.argsort(codes, kind="stable")  # rows grouped by uid, source order inside
    starts = np.searchsorted(codes[order], np.arange(codes.max() + 1))
    sizes = np.bincount(codes)
    first = positions[order[starts]]
    last = positions[order[starts + sizes - 1]]
    if policy == "reject":
        dup = sizes[codes] > 1
        message = [
            f"uid shared with the rows at positions {_group(positions, order, starts, sizes, c, p)}"
            for c, p in zip(codes[dup], positions[dup], strict=True)
        ]
    else:
        kept = first if policy == "first" else last
        dup = kept[codes] != positions
        # Analysts read index labels; the position is kept for df.iloc.
        uids = kept_text.filter(pa.array(dup)).to_pylist()
        message = [
            f"uid {str(uid)!r} repeats the row labelled {df.index[kept[c]]!r} "
            f"(position {kept[c]}), which is sent instead"
            for uid, c in zip(uids, codes[dup].tolist(), strict=True)
        ]
    mask = np.zeros(len(df), dtype=bool)
    mask[positions[dup]] = True
    log.add(mask, column=str(f.column), rule=Rule.DUPLICATE_UID, message=message)


def _surely_distinct(text: pa.Array) -> bool:
    """Whether no two values of ``text`` are equal, told by sorting 64-bit hashes of them
    (False: maybe some are; the caller then groups the texts themselves).

    Hashing the texts in Arrow (``dictionary_encode``) keeps a table of them and a copy:
    about 78 MiB for a million uids, the peak of planning. The hashes take 8 bytes a value,
    made 1 MiB of padded text at a time: each text padded to one width (its length is
    hashed too, so padding cannot make two texts equal), read as 64-bit words and mixed.
    """
    if text.null_count or len(text) < 2:
        return not text.null_count
    widest = int(pc.max(pc.binary_length(text)).as_py())
    if widest > _WIDEST_HASHED:
        return False
    width = max(8, -(-widest // 8) * 8)
    rows = max(1, _HASHED_BYTES // width)
    hashes = np.empty(len(text), dtype=np.uint64)
    for start in range(0, len(text), rows):
        part = text.slice(start, rows)
        padded = pc.ascii_rpad(part, width, " ")  # counts bytes: every text ``width`` long
        _, offsets, data = padded.buffers()
        large = pa.types.is_large_string(padded.type)
        first = int(np.frombuffer(offsets, dtype=np.int64 if large else np.int32)[padded.offset])
        words = np.frombuffer(data, dtype="<u8", count=len(part) * width // 8, offset=first)
        size = np.asarray(pc.binary_length(part).to_numpy(), dtype=np.uint64)
        hashes[start : start + len(part)] = _mix(size, words.reshape(len(part), width // 8))
    hashes.sort()
    return not bool((hashes[1:] == hashes[:-1]).any())


_WIDEST_HASHED = 256  # bytes: longer uids are grouped as texts straight away
_HASHED_BYTES = 1 << 20  # padded text hashed at once
_K1, _K2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xFF51AFD7ED558CCD)


def _mix(size: npt.NDArray[np.uint64], words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per row of ``words`` and its length (multiply-xor per word, then
    MurmurHash3's finaliser; NumPy's unsigned arithmetic wraps around)."""
    h = size * _K1
    for column in words.T:
        h ^= column
        h *= _K2
        h ^= h >> np.uint64(29)
    h ^= h >> np.uint64(33)
    h *= _K2
    h ^= h >> np.uint64(33)
    return h


def _unique_integers(series: pd.Series, eligible: npt.NDArray[np.bool_]) -> bool:
    """Whether an integer uid column is free of duplicates, by sorting (the usual case,
    several times cheaper than grouping the uids by hashing them)."""
    if not (isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu"):
        return False
    values = np.sort(series.to_numpy()[eligible])
    return not bool((values[1:] == values[:-1]).any())


def _group(
    positions: npt.NDArray[np.int64],
    order: npt.NDArray[np.intp],
    starts: npt.NDArray[np.intp],
    sizes: npt.NDArray[np.intp],
    code: int,
    me: int,
) -> str:
    members = positions[order[starts[code] : starts[code] + sizes[code]]]
    others = [str(p) for p in members[:11] if p != me][:10]
    return ", ".join(others) + (" ..." if sizes[code] > 11 else "")
