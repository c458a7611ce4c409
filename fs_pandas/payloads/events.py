"""plan_events: a frame -> validated batch event import requests (contract §3.2)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Literal

import numpy as np
import orjson
import pandas as pd

from fs_pandas._types import Properties, TimeZone
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
from fs_pandas.payloads.types import (
    ValueKind,
    column_of,
    encodable,
    infer_kind,
    source_missing,
)
from fs_pandas.payloads.users import text_field

__all__ = ["CONTEXT_FIELDS", "plan_events"]

# Contract §3.2, context sub-objects: text unless listed as a number here.
CONTEXT_FIELDS: Mapping[str, ValueKind] = {
    "browser.url": ValueKind.STR,
    "browser.user_agent": ValueKind.STR,
    "browser.initial_referrer": ValueKind.STR,
    "mobile.app_id": ValueKind.STR,
    "mobile.app_version": ValueKind.STR,
    "mobile.app_name": ValueKind.STR,
    "mobile.build_variant": ValueKind.STR,
    "device.manufacturer": ValueKind.STR,
    "device.model": ValueKind.STR,
    "device.screen_width": ValueKind.INT,
    "device.screen_height": ValueKind.INT,
    "device.viewport_width": ValueKind.INT,
    "device.viewport_height": ValueKind.INT,
    "location.country": ValueKind.STR,
    "location.region": ValueKind.STR,
    "location.city": ValueKind.STR,
    "location.latitude": ValueKind.REAL,
    "location.longitude": ValueKind.REAL,
    "location.ip_address": ValueKind.STR,
}


def plan_events(
    df: pd.DataFrame,
    *,
    name: str | None = None,
    name_col: Hashable | None = None,
    timestamp_col: Hashable | None = None,
    uid_col: Hashable | None = None,
    user_id_col: Hashable | None = None,
    session_id_col: Hashable | None = None,
    use_most_recent: bool = False,
    context: Mapping[str, Hashable] | None = None,
    properties: Properties = None,
    rename: Mapping[Hashable, str] | None = None,
    schema: Literal["infer"] | Mapping[str, str] | None = "infer",
    nulls: Literal["omit", "null"] = "omit",
    naive_tz: TimeZone = "UTC",
) -> Plan:
    """Plan a batch event import: validate every row and prepare the request bodies.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per event.
    name, name_col : str / column label
        One event name for every row, or a column of names (exactly one of the two).
    timestamp_col : column label, optional
        Datetimes, sent as ISO-8601 UTC with ``Z``; a missing one is left out (server time).
        Text (as ``read_csv`` gives) is parsed per value as ISO 8601: an offset is kept, a
        time without one is in ``naive_tz``; text that does not parse rejects its row
        (``invalid_date``).
    uid_col, user_id_col : column label, optional
        ``user.uid`` / ``user.id`` (a row may carry one of them, not both).
    session_id_col : column label, optional
        ``session.id``; a row with a session id must not also carry a user (contract §3.2).
    use_most_recent : bool
        Send ``session.use_most_recent: true``; needs ``uid_col`` or ``user_id_col``.
    context : mapping "browser.url" -> column, ..., optional
        Context fields (see ``CONTEXT_FIELDS``).
    properties, rename, schema, nulls, naive_tz
        As for :func:`plan_users`.

    Returns
    -------
    Plan

    Raises
    ------
    InvalidDataError
        An option is wrong or a column cannot be sent; the message names it.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    validate_options(nulls=nulls, naive_tz=naive_tz, schema=schema)
    naive_tz = time_zone(naive_tz)
    if isinstance(use_most_recent, np.bool_):  # a value read from a frame or an array
        use_most_recent = bool(use_most_recent)
    _check_identity_options(uid_col, user_id_col, session_id_col, use_most_recent)
    fields = [_name_field(df, name, name_col)]
    if timestamp_col is not None:
        fields.append(_timestamp_field(df, timestamp_col))
    fields += _identity_fields(df, uid_col, user_id_col, session_id_col, use_most_recent)
    fields += _context_fields(df, context or {})
    used = {f.index: f.name for f in fields if f.constant is None}
    if len(used) != sum(1 for f in fields if f.constant is None):
        raise InvalidDataError("one column is given for two event fields", rule="option")
    fields += property_fields(
        df, properties=properties, used=used, schema=schema, nulls=nulls, rename=rename
    )

    def identity_check(log: RejectionLog, arrays: Arrays) -> None:
        _reject_identity_conflicts(df, fields, log, use_most_recent)

    return finish(
        kind="events",
        frame=df,
        fields=fields,
        log=RejectionLog(len(df)),
        naive_tz=naive_tz,
        extra_checks=identity_check,
    )


def _check_identity_options(
    uid_col: Hashable | None,
    user_id_col: Hashable | None,
    session_id_col: Hashable | None,
    use_most_recent: bool,
) -> None:
    """Option-level contradictions of the one-identification-form rule (contract §3.2)."""
    if not isinstance(use_most_recent, bool):
        raise InvalidDataError("use_most_recent must be True or False", rule="option")
    if use_most_recent and session_id_col is not None:
        raise InvalidDataError(
            "use_most_recent=True and session_id_col cannot go together: an event names its "
            "session or asks for the user's most recent one, not both",
            column=str(session_id_col),
            rule="identity_conflict",
        )
    if use_most_recent and uid_col is None and user_id_col is None:
        raise InvalidDataError(
            "use_most_recent=True needs uid_col or user_id_col (the user whose session to use)",
            rule="user_missing",
        )


def _name_field(df: pd.DataFrame, name: str | None, name_col: Hashable | None) -> Field:
    if name is not None and name_col is not None:
        raise InvalidDataError("give name or name_col, not both", rule="option")
    if name_col is not None:
        f = text_field(df, name_col, "name_col", ("name",), "name")
        return f
    if not isinstance(name, str) or not name:
        raise InvalidDataError(
            "events need a non-empty name: pass name='...' or name_col='column'",
            rule=Rule.NAME_MISSING,
        )
    if not encodable(name):
        raise InvalidDataError(
            f"name {name!r} is not valid Unicode text (it holds a lone surrogate)",
            rule=Rule.INVALID_STRING,
        )
    return Field(None, -1, ("name",), ValueKind.STR, "name", constant=orjson.dumps(name).decode())


def _timestamp_field(df: pd.DataFrame, column: Hashable) -> Field:
    """The event's time. Naming a column ``timestamp_col`` declares it a date (the field has
    no other type), so text (a CSV file's) is parsed per value like text declared ``date``:
    an offset is kept, a time without one is in ``naive_tz``, and text that does not parse
    rejects its row (``invalid_date``, naming the column); it is never sent as text."""
    index = column_index(df, column, "timestamp_col")
    kind = infer_kind(column_of(df, index), column)
    if kind not in (ValueKind.DATE, ValueKind.STR):
        hint = ", unit='s'" if kind in (ValueKind.INT, ValueKind.REAL) else ""
        raise InvalidDataError(
            f"timestamp_col={column!r} holds {kind.value} values, not datetimes or date "
            f"text; convert it with pd.to_datetime(...{hint}) first",
            column=str(column),
            rule="unsupported_dtype",
        )
    return Field(column, index, ("timestamp",), ValueKind.DATE, "timestamp")


def _identity_fields(
    df: pd.DataFrame,
    uid_col: Hashable | None,
    user_id_col: Hashable | None,
    session_id_col: Hashable | None,
    use_most_recent: bool,
) -> list[Field]:
    fields = []
    if uid_col is not None:
        fields.append(text_field(df, uid_col, "uid_col", ("user", "uid"), "user"))
    if user_id_col is not None:
        fields.append(text_field(df, user_id_col, "user_id_col", ("user", "id"), "user"))
    if session_id_col is not None:
        fields.append(
            text_field(df, session_id_col, "session_id_col", ("session", "id"), "session")
        )
    if use_most_recent:
        fields.append(
            Field(
                None, -2, ("session", "use_most_recent"), ValueKind.BOOL, "session", constant="true"
            )
        )
    return fields


def _context_fields(df: pd.DataFrame, context: Mapping[str, Hashable]) -> list[Field]:
    if not isinstance(context, Mapping):
        raise InvalidDataError(
            "context must map 'browser.url'-style keys to columns", rule="option"
        )
    fields = []
    for key, column in context.items():
        if key not in CONTEXT_FIELDS:
            raise InvalidDataError(
                f"context key {key!r} is not a Fullstory context field "
                f"({', '.join(CONTEXT_FIELDS)})",
                column=str(column),
                rule="context",
            )
        path = ("context", *key.split("."))
        if CONTEXT_FIELDS[key] is ValueKind.STR:
            fields.append(text_field(df, column, f"context[{key!r}]", path, "context"))
        else:
            fields.append(_number_field(df, column, key, path))
    return fields


def _number_field(df: pd.DataFrame, column: Hashable, key: str, path: tuple[str, ...]) -> Field:
    index = column_index(df, column, f"context[{key!r}]")
    kind = infer_kind(column_of(df, index), column)
    if kind not in (ValueKind.INT, ValueKind.REAL):
        raise InvalidDataError(
            f"context[{key!r}]={column!r} holds {kind.value} values; it needs numbers",
            column=str(column),
            rule="unsupported_dtype",
        )
    # Screen sizes are int32 in the spec: whole numbers only; coordinates are doubles.
    wanted = CONTEXT_FIELDS[key] if CONTEXT_FIELDS[key] is ValueKind.INT else kind
    return Field(column, index, path, wanted, "context")


def _reject_identity_conflicts(
    df: pd.DataFrame, fields: list[Field], log: RejectionLog, use_most_recent: bool
) -> None:
    """Row-level form of §3.2: exactly one identification form per event."""
    present = {
        f.path: ~source_missing(column_of(df, f.index))
        for f in fields
        if f.constant is None and f.path[0] in ("user", "session")
    }
    none = np.zeros(len(df), dtype=bool)
    uid, uid_id = present.get(("user", "uid"), none), present.get(("user", "id"), none)
    session = present.get(("session", "id"), none)
    log.add(
        uid & uid_id,
        column=None,
        rule=Rule.IDENTITY_CONFLICT,
        message="row has both user.uid and user.id; give one identification form",
    )
    log.add(
        session & (uid | uid_id),
        column=None,
        rule=Rule.IDENTITY_CONFLICT,
        message="row has a session.id and a user; session.id must stand alone",
    )
    if use_most_recent:
        log.add(
            ~(uid | uid_id),
            column=None,
            rule=Rule.USER_MISSING,
            message="use_most_recent needs a user.uid or user.id on every row",
        )
