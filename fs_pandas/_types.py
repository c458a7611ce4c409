"""The small vocabulary every layer shares, each name defined once: what a job imports, how
options are spelled, the limits of a batch, the outcomes a row can have.

It imports nothing of fs_pandas, so any module may import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Mapping
from typing import Literal, TypeAlias

__all__ = [
    "MAX_CHUNK",
    "OUTCOMES",
    "Duplicates",
    "JobKind",
    "Nulls",
    "Properties",
    "Schema",
    "TimeZone",
]

#: What a batch job imports: Fullstory's ``/v2/users/batch`` or ``/v2/events/batch``.
JobKind: TypeAlias = Literal["users", "events"]

#: NaN / None / NaT / NA in a property: leave it out, or send JSON null.
Nulls: TypeAlias = Literal["omit", "null"]

#: Rows sharing a uid: send the first or the last, reject them all, or send them all.
Duplicates: TypeAlias = Literal["first", "last", "reject", "allow"]

#: The properties of a push: column labels (a list, tuple, Index, array, set), or a mapping
#: column -> property name; None means every column no field uses.
Properties: TypeAlias = Iterable[Hashable] | Mapping[Hashable, str] | None

#: Property types: inferred, declared per property name, or none declared.
Schema: TypeAlias = Literal["infer"] | Mapping[str, str] | None

#: The zone naive datetimes are read in: an IANA name, a tzinfo, or None (no assumption).
TimeZone: TypeAlias = str | dt.tzinfo | None

#: At most 50,000 request objects per batch request (Fullstory's "Create batch import" page).
MAX_CHUNK = 50_000

#: The four outcomes a row can have, in the order they are counted.
OUTCOMES = ("imported", "failed", "rejected", "pending")
