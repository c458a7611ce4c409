"""Validation rules: names, limits, and the log of rejected rows.

Every limit cites the contract (``docs/dev/contract.md``, as §n); rows that break a rule are
recorded here and never sent. Checks are vectorised: each rule is one boolean mask over the
rows, and a row keeps the *first* rule it broke.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from fs_pandas.errors import InvalidDataError

__all__ = [
    "MAX_DISPLAY_NAME",
    "MAX_EMAIL",
    "MAX_NAME_LENGTH",
    "MAX_PROPERTIES",
    "MAX_UID",
    "MAX_VALUE_BYTES",
    "PROPERTY_NAME",
    "RESULT_COLUMNS",
    "RejectionLog",
    "Rule",
    "check_property_path",
]

# Contract §3.3: names use A-Z a-z 0-9 _ and start with a letter. Used with ``fullmatch``
# (``$`` would also match before a trailing newline).
PROPERTY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME_LENGTH = 512  # §3.3: ≤ 512 characters, the full dotted path included
MAX_VALUE_BYTES = 8192  # §3.3: each value ≤ 8192 bytes
MAX_PROPERTIES = 500  # §3.1: maxProperties 500
MAX_UID = 256  # §3.1 / §3.2: uid ≤ 256 chars
MAX_DISPLAY_NAME = 256  # §3.1
MAX_EMAIL = 128  # §3.1
# The columns fs_pandas adds to its result frames (outcome, Fullstory id, error, job, rule):
# never sent as properties, so re-sending ``result.errors`` does not put error text into
# Fullstory.
RESULT_COLUMNS = frozenset(
    {
        "fs_outcome",
        "fs_id",
        "fs_job_id",
        "fs_error_code",
        "fs_error_message",
        "fs_rule",
        "fs_column",
        "fs_message",
    }
)


class Rule:
    """Short snake_case names of the row-level rules (the ``rule`` column of ``rejected``)."""

    PROPERTY_NAME = "property_name"
    PROPERTY_NAME_TOO_LONG = "property_name_too_long"
    TOO_MANY_PROPERTIES = "too_many_properties"
    VALUE_TOO_LARGE = "value_too_large"
    NON_FINITE = "non_finite"
    INT_OUT_OF_RANGE = "int_out_of_range"
    NOT_INTEGRAL = "not_integral"
    INVALID_DATE = "invalid_date"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    ARRAY_OF_OBJECTS = "array_of_objects"
    LIST_ELEMENT = "list_element"
    UNSUPPORTED_VALUE = "unsupported_value"
    INVALID_STRING = "invalid_string"
    UID_MISSING = "uid_missing"
    EMPTY_ID = "empty_id"
    UID_TOO_LONG = "uid_too_long"
    DISPLAY_NAME_TOO_LONG = "display_name_too_long"
    EMAIL_TOO_LONG = "email_too_long"
    DUPLICATE_UID = "duplicate_uid"
    NAME_MISSING = "name_missing"
    USER_MISSING = "user_missing"
    IDENTITY_CONFLICT = "identity_conflict"


@dataclass(frozen=True)
class _Entry:
    positions: npt.NDArray[np.int64]
    column: str | None
    rule: str
    messages: list[str]


class RejectionLog:
    """Collects rejected rows; a row keeps the first rule it broke.

    Parameters
    ----------
    n_rows : int
        Number of rows of the source frame.
    """

    def __init__(self, n_rows: int) -> None:
        self._rejected = np.zeros(n_rows, dtype=bool)
        self._entries: list[_Entry] = []

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """Rows rejected so far (a copy)."""
        return self._rejected.copy()

    def is_rejected(self) -> npt.NDArray[np.bool_]:
        """Rows rejected so far (the live array: do not write to it)."""
        return self._rejected

    def add(
        self,
        mask: npt.NDArray[np.bool_],
        *,
        column: str | None,
        rule: str,
        message: str | Sequence[str],
    ) -> None:
        """Reject the rows where ``mask`` holds and that no earlier rule rejected.

        ``message`` is one text for all rows or one text per row of ``mask`` that holds.
        """
        new = mask & ~self._rejected
        if not new.any():
            return
        if isinstance(message, str):
            texts = [message] * int(new.sum())
        else:
            keep = new[mask]
            texts = [m for m, k in zip(message, keep, strict=True) if k]
        self._rejected |= new
        positions = np.flatnonzero(new).astype(np.int64)
        self._entries.append(_Entry(positions, column, rule, texts))

    def frame(self) -> pd.DataFrame:
        """Rejected rows: ``position`` (int64), ``column``, ``rule``, ``message``; by position."""
        if not self._entries:
            positions = np.empty(0, dtype=np.int64)
            columns: list[str | None] = []
            rules: list[str] = []
            messages: list[str] = []
        else:
            positions = np.concatenate([e.positions for e in self._entries])
            columns = [e.column for e in self._entries for _ in range(len(e.positions))]
            rules = [e.rule for e in self._entries for _ in range(len(e.positions))]
            messages = [m for e in self._entries for m in e.messages]
        order = np.argsort(positions, kind="stable")
        return pd.DataFrame(
            {
                "position": pd.Series(positions[order], dtype="int64"),
                "column": pd.Series([columns[i] for i in order], dtype="object"),
                "rule": pd.Series([rules[i] for i in order], dtype="object"),
                "message": pd.Series([messages[i] for i in order], dtype="object"),
            }
        )


def check_property_path(path: str, *, column: object) -> tuple[str, ...]:
    """Split a (possibly dotted) property name and check it; raise naming the column if bad.

    Option-level check (contract §3.3): a bad *column* name would break every row, so it is
    refused up front, with the way out (``rename={column: name}``, which keeps every other
    column).
    """
    parts = tuple(path.split("."))
    bad = [p for p in parts if not PROPERTY_NAME.fullmatch(p)]
    if bad:
        raise InvalidDataError(
            f"column {column!r} gives property name {path!r}, which Fullstory refuses "
            "(each dotted part must start with a letter and use only A-Z a-z 0-9 _); "
            f"rename it with rename={{{column!r}: 'new_name'}} (the other columns are still "
            "sent) or leave it out",
            column=str(column),
            rule=Rule.PROPERTY_NAME,
        )
    if len(path) > MAX_NAME_LENGTH:
        raise InvalidDataError(
            f"column {column!r} gives property name of {len(path)} characters; "
            f"Fullstory allows at most {MAX_NAME_LENGTH} (dotted path included)",
            column=str(column),
            rule=Rule.PROPERTY_NAME_TOO_LONG,
        )
    return parts
