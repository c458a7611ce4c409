"""In-memory state and rules of one emulated Fullstory org (no HTTP here).

Everything the emulator knows about the API is restated here from ``fullstory-api.md`` (cited as
``§n``); nothing is imported from the client side of fs_pandas, so one misunderstanding cannot
pass on both sides.

* :class:`EmulatorConfig` — every setting (processing time, paging, caps, keys, clock, faults).
* :class:`OrgState` — users, events, batch jobs, idempotency store; one re-entrant lock.
* :class:`ApiError` / :class:`Reply` — what an operation answers, turned into HTTP by ``app.py``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, get_args

import orjson

from fs_pandas.emulator.faults import FaultInjector, Faults

JsonDict = dict[str, Any]

PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"

# §3.3 property rules.
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
MAX_PATH_CHARS = 512
MAX_VALUE_BYTES = 8192
MAX_PROPERTIES = 500
# A str of this many chars cannot exceed 8192 bytes of UTF-8 (at most 4 bytes a character).
_SAFE_STR_CHARS = MAX_VALUE_BYTES // 4
# §3.1 field lengths.
MAX_UID = 256
MAX_DISPLAY_NAME = 256
MAX_EMAIL = 128
# §3.4 type names.
TYPE_NAMES = frozenset(
    {"str", "strs", "int", "ints", "real", "reals", "bool", "bools", "date", "dates"}
)
_USER_FIELDS = frozenset({"uid", "display_name", "email", "properties", "schema"})
_BATCH_USER_FIELDS = _USER_FIELDS | {"id"}
_EVENT_FIELDS = frozenset(
    {"name", "timestamp", "properties", "schema", "user", "session", "context"}
)
_CONTEXT_FIELDS = frozenset({"browser", "mobile", "device", "location"})

# §7 bodies.
MSG_401 = "access is unauthorized"
MSG_403 = "insufficient permissions"
MSG_404 = "Requested resource does not exist"
MSG_429 = "Too many requests. Client has exceeded the rate limit for this endpoint."
MSG_500 = "Server error was encountered"
# The seed's errors example (asynchronous workflows page), word for word.
MSG_EMPTY_UID = "The provided uid parameter can not be empty"
MSG_CONFLICT = (
    "A request with this Idempotency-Key is still being processed; nothing was saved. "
    "Retry once it has finished."
)

# Readings of ambiguous parts of the API (docs/emulator.md, "Readings"); the first is the default.
ErrorEcho = Literal["raw", "rerendered"]
RowErrorStatus = Literal["FAILED", "COMPLETED"]
FinishedWhileProcessing = Literal["null", "omit"]
LastPageToken = Literal["null", "empty", "omit"]
ImportNulls = Literal["omit", "null"]
OversizeValue = Literal["drop_property", "fail_row"]


class ApiError(Exception):
    """A non-2xx answer: HTTP status, §7 body ``{"message", "code"}`` and extra headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def reply(self) -> Reply:
        """The error as a :class:`Reply`."""
        return Reply(self.status, {"message": self.message, "code": self.code}, self.headers)


@dataclass(frozen=True)
class Reply:
    """A finished answer: status, JSON body (``None`` = empty body) and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class RowError(Exception):
    """One row failed: its ``code`` and ``message`` go to ``/errors`` (§5.4)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Every setting of the emulator; change them with ``Emulator.configure(**settings)``.

    Parameters
    ----------
    processing_seconds : float
        How long a job stays PROCESSING once it has a running slot (ignored when
        ``processing_polls`` is set).
    processing_polls : int or None
        When set, a running job answers PROCESSING to exactly this many status polls; the next
        status poll and every later one see the terminal status.
    page_size : int
        Rows per page of ``/imports``, ``/errors`` and list users.
    max_running : int
        Jobs that run at once (§4: 100); later jobs wait, still PROCESSING.
    max_in_progress : int
        At this many jobs in progress a batch create answers 429 (§4: 200).
    max_rows_in_progress : int
        At this many rows in progress a batch create answers 429 (§4: 500,000).
    max_batch_requests : int
        Most rows accepted in one batch create (§4: 50,000).
    retry_after : int
        Seconds sent in ``Retry-After`` on every 429.
    idempotency_ttl_seconds : float
        How long an ``Idempotency-Key`` answer is replayed (§6: 24 h).
    fail_uids : frozenset of str
        User rows with these uids, and events whose ``user.uid`` is one of them, fail with
        ``faults.row_error_code``.
    faults : Faults
        Seeded fault rates.
    seed : int
        Seed for ids and for faults whose own seed is ``None``.
    api_key, standard_key : str
        The Admin and the Standard API keys.
    clock : callable
        Returns the current time in epoch seconds; inject a fake one to test expiry.
    create_delay_seconds : float
        Each of the four create POSTs waits this long, in flight, before it executes (an
        ``asyncio.sleep``: other requests go on). A second request with the same
        ``Idempotency-Key`` arriving meanwhile answers 409 ``idempotency_conflict``.
    create_hold : threading.Event or None
        When set, each create POST waits, in flight, until this event is set (or the setting
        changes): the deterministic way to hold a request in flight in tests.
    error_echo : {"raw", "rerendered"}
        ``raw`` (default): error rows echo the request row as sent (the seed's errors
        example). ``rerendered``: as a protobuf server would re-render it (the spec's
        ``FailedUserImport`` example): unknown fields dropped, integral numbers without
        ``.0``, users with ``schema``/``type_conflicts`` ``null`` when absent.
    shuffle_results : bool
        Serve imports and errors in a seeded random order (stable per job) instead of request
        order.
    row_error_status : {"FAILED", "COMPLETED"}
        Status of a finished job with row errors: ``FAILED`` (the spec's ``JobStatus``) or
        ``COMPLETED`` with ``"errors": N`` (the seed's status example).
    finished_while_processing : {"null", "omit"}
        ``finished`` in a status answer while PROCESSING: ``null`` (the seed) or absent.
    last_page_token : {"null", "empty", "omit"}
        ``next_page_token`` on the last page: ``null`` (the seed), ``""`` (the SDK's mocks)
        or absent.
    import_nulls : {"omit", "null"}
        User imports without schema/type conflicts: keys absent (the seed's imports example)
        or ``"schema": null, "type_conflicts": null`` (the spec's example).
    oversize_value : {"drop_property", "fail_row"}
        A property value over 8192 bytes: the property is rejected and the row imported
        without it (create-batch page), or the whole row fails.
    """

    processing_seconds: float = 0.0
    processing_polls: int | None = None
    page_size: int = 1000
    max_running: int = 100
    max_in_progress: int = 200
    max_rows_in_progress: int = 500_000
    max_batch_requests: int = 50_000
    retry_after: int = 1
    idempotency_ttl_seconds: float = 24 * 3600.0
    fail_uids: frozenset[str] = frozenset()
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    api_key: str = "na1.emulator-admin-key"
    standard_key: str = "na1.emulator-standard-key"
    clock: Callable[[], float] = time.time
    create_delay_seconds: float = 0.0
    create_hold: threading.Event | None = None
    error_echo: ErrorEcho = "raw"
    shuffle_results: bool = False
    row_error_status: RowErrorStatus = "FAILED"
    finished_while_processing: FinishedWhileProcessing = "null"
    last_page_token: LastPageToken = "null"
    import_nulls: ImportNulls = "omit"
    oversize_value: OversizeValue = "drop_property"

    def __post_init__(self) -> None:
        # Accept any iterable of uids; normalise once.
        object.__setattr__(self, "fail_uids", frozenset(self.fail_uids))
        for name, kind in (
            ("error_echo", ErrorEcho),
            ("row_error_status", RowErrorStatus),
            ("finished_while_processing", FinishedWhileProcessing),
            ("last_page_token", LastPageToken),
            ("import_nulls", ImportNulls),
            ("oversize_value", OversizeValue),
        ):
            if getattr(self, name) not in get_args(kind):
                raise ValueError(f"{name} must be one of {', '.join(get_args(kind))}")
        if self.create_delay_seconds < 0:
            raise ValueError("create_delay_seconds must be >= 0")
        if self.page_size < 1:
            raise ValueError("page_size must be >= 1")
        if self.processing_polls is not None and self.processing_polls < 0:
            raise ValueError("processing_polls must be >= 0 or None")
        if self.processing_seconds < 0:
            raise ValueError("processing_seconds must be >= 0")
        if self.api_key == self.standard_key:
            raise ValueError("api_key and standard_key must differ")

    def replace(self, **settings: Any) -> EmulatorConfig:
        """A copy with ``settings`` changed; unknown names raise ``TypeError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(f"unknown emulator setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **settings)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def rfc3339(t: float) -> str:
    """Epoch seconds -> RFC 3339 UTC with milliseconds and ``Z`` (§9.12)."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# RFC 3339 section 5.6 date-time: full date, "T", full time with a zone ("Z" or +hh:mm).
_RFC3339_RE = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)\Z")


def _parse_timestamp(value: str) -> bool:
    """Whether ``value`` is an RFC 3339 date-time (contract §11.8): ``2022-03-15T14:23:23Z``,
    fractions and ``+02:00`` offsets allowed; compact, week-date and colon-less offset forms of
    ISO 8601 are not."""
    if not _RFC3339_RE.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:  # e.g. month 13, or hour 24
        return False
    return True


def parse_bool(name: str, value: str | None) -> bool:
    """A boolean query parameter: true/false/1/0 in any case; absent is false; else 400."""
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ApiError(400, "invalid_argument", f"{name} must be a boolean (true or false)")


def encode_token(scope: str, offset: int) -> str:
    """Opaque page token (§11.9): the next offset, bound to the listing that issued it."""
    return base64.urlsafe_b64encode(f"{scope}:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str | None, scope: str) -> int:
    """Offset of a page token; 400 ``invalid_argument`` when it is not one of ours or was
    issued for another job, result kind, endpoint or filter."""
    if token is None or token == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        issued_for, _, offset = raw.rpartition(":")
        valid = bool(issued_for) and offset.isdigit()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        valid = False
    if not valid:
        raise ApiError(400, "invalid_argument", f"invalid page_token {token!r}")
    if issued_for != scope:
        raise ApiError(
            400,
            "invalid_argument",
            "page_token was issued for another job, result kind or filter; "
            "send it back only with the request that returned it",
        )
    return int(offset)


def page_of(
    rows: list[Any],
    token: str | None,
    page_size: int,
    render: Callable[[Any], JsonDict],
    *,
    scope: str,
    last_token: LastPageToken,
) -> JsonDict:
    """One page: ``results``, ``total_records`` as a string, ``next_page_token`` (on the last
    page ``null``, ``""`` or absent, per ``last_token``)."""
    start = decode_token(token, scope)
    if start > len(rows):
        raise ApiError(400, "invalid_argument", "page_token is past the end of the results")
    end = start + page_size
    body: JsonDict = {
        "results": [render(r) for r in rows[start:end]],
        "total_records": str(len(rows)),
    }
    if end < len(rows):
        body["next_page_token"] = encode_token(scope, end)
    elif last_token == "null":  # the seed's errors example ends with "next_page_token": null
        body["next_page_token"] = None
    elif last_token == "empty":  # the SDK's mocks
        body["next_page_token"] = ""
    return body


# ---------------------------------------------------------------------------------------------
# Validation (§3.1-§3.3). Each raises RowError; batch rows record it, single creates answer 400.
# ---------------------------------------------------------------------------------------------


def _check_str(obj: JsonDict, key: str, limit: int | None, where: str) -> None:
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise RowError("invalid_argument", f"{where}{key} must be a string")
    if limit is not None and len(value) > limit:
        raise RowError("invalid_argument", f"{where}{key} exceeds {limit} characters")


_SCALAR_TYPES = frozenset({int, float, bool, type(None)})


def _check_name(path: str, name: str) -> None:
    """§3.3: letter first, then [A-Za-z0-9_]; the dotted path within 512 characters."""
    if not _NAME_RE.match(name):
        raise RowError("invalid_argument", f"invalid property name {path!r}")
    if len(path) > MAX_PATH_CHARS:
        raise RowError(
            "invalid_argument", f"property path {path[:40]}... exceeds {MAX_PATH_CHARS} chars"
        )


def value_bytes(value: Any) -> int:
    """Size of a property value (§3.3, §11.5): a string's UTF-8 bytes (not its escaped JSON),
    a number's or boolean's JSON text, an array the sum of its items."""
    kind = type(value)
    if kind is str:
        return len(value.encode("utf-8", "surrogatepass"))
    if kind is list:
        return sum(value_bytes(item) for item in value)
    return len(orjson.dumps(value))


def _check_size(path: str, value: Any, dropped: list[str] | None) -> None:
    """§3.3: a value over 8192 bytes: "the property will be rejected". With ``dropped`` the
    path is collected (the row is imported without it); without, the row fails."""
    if value_bytes(value) > MAX_VALUE_BYTES:
        if dropped is None:
            raise RowError(
                "invalid_argument", f"property {path}: value exceeds {MAX_VALUE_BYTES} bytes"
            )
        dropped.append(path)


def _check_properties(
    props: JsonDict, prefix: str, good_paths: set[str], dropped: list[str] | None
) -> None:
    """§3.3 names and values, recursively. Hot path: 50,000 rows must validate in well
    under a second, so known-good paths are cached and common scalars skip measuring."""
    for name, value in props.items():
        path = prefix + name if prefix else name
        if path not in good_paths:
            _check_name(path, name)
            good_paths.add(path)
        kind = type(value)
        if kind is str:
            # A str this short cannot exceed 8192 bytes of UTF-8.
            if len(value) > _SAFE_STR_CHARS:
                _check_size(path, value, dropped)
        elif kind is dict:
            _check_properties(value, path + ".", good_paths, dropped)
        elif kind is list:
            # §3.3: arrays of objects are not supported.
            if any(type(item) is dict for item in value):
                raise RowError(
                    "invalid_argument", f"property {path}: arrays of objects are not supported"
                )
            _check_size(path, value, dropped)
        elif kind not in _SCALAR_TYPES:
            _check_size(path, value, dropped)


def check_properties(row: JsonDict, good_paths: set[str], dropped: list[str] | None = None) -> None:
    """Validate ``row["properties"]``: ≤ 500 properties (top-level keys), names, values."""
    props = row.get("properties")
    if props is None:
        return
    if type(props) is not dict:
        raise RowError("invalid_argument", "properties must be an object")
    if len(props) > MAX_PROPERTIES:
        raise RowError("invalid_argument", f"more than {MAX_PROPERTIES} properties")
    _check_properties(props, "", good_paths, dropped)


def without_paths(row: JsonDict, paths: list[str]) -> JsonDict:
    """A copy of ``row`` whose ``properties`` lack the dotted ``paths`` (rejected values)."""
    props = dict(row["properties"])
    for path in paths:
        *parents, leaf = path.split(".")
        node = props
        for name in parents:
            node[name] = dict(node[name])
            node = node[name]
        node.pop(leaf, None)
    return {**row, "properties": props}


def flatten_schema(schema: Any, prefix: str = "") -> dict[str, str]:
    """§3.4/§9.11: accept dotted paths and nested objects; return dotted ``path -> type``."""
    out: dict[str, str] = {}
    if not isinstance(schema, dict):
        raise RowError("invalid_argument", "schema.properties must be an object")
    for name, value in schema.items():
        if isinstance(value, dict):
            out.update(flatten_schema(value, prefix + name + "."))
        elif isinstance(value, str) and value in TYPE_NAMES:
            out[prefix + name] = value
        else:
            raise RowError("invalid_argument", f"schema: bad type {value!r} for {prefix + name}")
    return out


def check_schema(row: JsonDict) -> dict[str, str] | None:
    """Validate ``row["schema"]`` (``{"properties": {...}}``); the flattened declarations."""
    schema = row.get("schema")
    if schema is None:
        return None
    if not isinstance(schema, dict) or not set(schema) <= {"properties"}:
        raise RowError("invalid_argument", 'schema must be {"properties": {...}}')
    return flatten_schema(schema.get("properties") or {})


_USER_STR_LIMITS = (
    ("uid", MAX_UID),
    ("display_name", MAX_DISPLAY_NAME),
    ("email", MAX_EMAIL),
    ("id", None),
)


def check_user_row(
    row: Any, *, batch: bool, good_names: set[str], dropped: list[str] | None = None
) -> None:
    """§3.1 user fields: known fields only, string lengths, properties, schema."""
    if type(row) is not dict:
        raise RowError("invalid_argument", "each request must be an object")
    if row.get("uid") == "":
        # The seed's errors example: an empty uid fails; an omitted one is anonymous (§11.1).
        raise RowError("invalid_parameter", MSG_EMPTY_UID)
    allowed = _BATCH_USER_FIELDS if batch else _USER_FIELDS
    if not allowed.issuperset(row):
        extra = sorted(set(row) - allowed)
        raise RowError("invalid_argument", f"unknown field(s): {', '.join(extra)}")
    for key, limit in _USER_STR_LIMITS:
        value = row.get(key)
        if value is not None and (type(value) is not str or (limit and len(value) > limit)):
            _check_str(row, key, limit, "")
    if "properties" in row:
        check_properties(row, good_names, dropped)
    if "schema" in row:
        check_schema(row)


def _check_identification(row: JsonDict) -> None:
    """§3.2: exactly one identification form (or none: an anonymous user)."""
    user, session = row.get("user"), row.get("session")
    if user is not None:
        if not isinstance(user, dict) or not set(user) <= {"id", "uid"}:
            raise RowError("invalid_argument", 'user must be {"id"} or {"uid"}')
        _check_str(user, "uid", MAX_UID, "user.")
        _check_str(user, "id", None, "user.")
        if bool(user.get("id")) == bool(user.get("uid")):
            raise RowError("invalid_argument", "user needs exactly one of user.id or user.uid")
    if session is None:
        return
    if isinstance(session, dict) and "uid" in session:
        # The events introduction calls session.uid "not supported"; the spec's
        # SessionIdRequest has only id and use_most_recent (§11.7).
        raise RowError("invalid_argument", "session.uid is not supported")
    if not isinstance(session, dict) or not set(session) <= {"id", "use_most_recent"}:
        raise RowError("invalid_argument", "session must be {id} or {use_most_recent}")
    _check_str(session, "id", None, "session.")
    forms = [bool(session.get("id")), session.get("use_most_recent") is True]
    if sum(forms) != 1:
        raise RowError("invalid_argument", "exactly one form of session identification is allowed")
    if session.get("use_most_recent") is True:
        if user is None:
            raise RowError("invalid_argument", "session.use_most_recent requires a user")
    elif user is not None:
        raise RowError("invalid_argument", "more than one form of identification was provided")


def check_event_row(
    row: Any, *, shared_context: bool, good_names: set[str], dropped: list[str] | None = None
) -> None:
    """§3.2 event rules: non-empty name, timestamp, identification, context, properties."""
    if not isinstance(row, dict):
        raise RowError("invalid_argument", "each request must be an object")
    if not _EVENT_FIELDS.issuperset(row):
        extra = sorted(set(row) - _EVENT_FIELDS)
        raise RowError("invalid_argument", f"unknown field(s): {', '.join(extra)}")
    name = row.get("name")
    if not isinstance(name, str) or not name:
        raise RowError("invalid_argument", "events must have a non-empty name")
    ts = row.get("timestamp")
    if ts is not None and (not isinstance(ts, str) or not _parse_timestamp(ts)):
        raise RowError("invalid_argument", "timestamp must be an RFC 3339 date-time with a zone")
    _check_identification(row)
    context = row.get("context")
    if context is not None:
        # SharedData: a row carrying its own context fails when the batch has shared.context.
        if shared_context:
            raise RowError("invalid_argument", "context conflicts with shared.context")
        check_context(context)
    check_properties(row, good_names, dropped)
    check_schema(row)


def check_context(context: Any) -> None:
    """§3.2 context: an object of known sub-objects."""
    if not isinstance(context, dict) or not set(context) <= _CONTEXT_FIELDS:
        raise RowError("invalid_argument", "context holds only browser, mobile, device, location")
    for key, sub in context.items():
        if not isinstance(sub, dict):
            raise RowError("invalid_argument", f"context.{key} must be an object")


# ---------------------------------------------------------------------------------------------
# Types of properties (for include_schema and type_conflicts, §3.4)
# ---------------------------------------------------------------------------------------------


def _type_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "real"  # §3.4: every JSON number is read as real unless declared.
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        inner = next((_type_of(v) for v in value if v is not None), "str")
        return inner + "s" if inner and not inner.endswith("s") else inner
    return None


def infer_schema(props: JsonDict, declared: dict[str, str], prefix: str = "") -> dict[str, str]:
    """Dotted ``path -> type`` for ``props``; declarations win over inference."""
    out: dict[str, str] = {}
    for name, value in props.items():
        path = prefix + name
        if isinstance(value, dict):
            out.update(infer_schema(value, declared, path + "."))
            continue
        inferred = declared.get(path) or _type_of(value)
        if inferred:
            out[path] = inferred
    return out


def _merged(old: JsonDict, new: JsonDict) -> JsonDict:
    """§3.1: properties merge into the existing set; on collision the latest value wins.

    Returns a new dict (copy-on-write: stored dicts are never mutated, so import snapshots can
    share them). Nulls are accepted and ignored (§9.10); nested objects merge key by key.
    """
    if not old:
        return _without_nulls(new)
    out = dict(old)
    for name, value in new.items():
        if value is None:
            continue
        if type(value) is dict:
            prior = out.get(name)
            out[name] = _merged(prior if type(prior) is dict else {}, value)
        else:
            out[name] = value
    return out


def _without_nulls(props: JsonDict) -> JsonDict:
    """``props`` without null values at any depth (§9.10: nulls are accepted and ignored)."""
    # Serialising in C and searching the bytes is 5x faster than walking nested dicts in
    # Python; no "null" token means no null (a string containing "null" just takes the slow
    # path). Without nulls the dict is shared: stored dicts are never mutated.
    if b"null" not in orjson.dumps(props):
        return props
    return _strip_nulls(props)


def _strip_nulls(props: JsonDict) -> JsonDict:
    return {k: _strip_nulls(v) if type(v) is dict else v for k, v in props.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# Users, events, jobs
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class User:
    """A stored user. ``properties``, ``declared`` and ``conflicts`` are replaced, never
    mutated, so snapshots may share them."""

    id: str
    uid: str | None = None
    display_name: str | None = None
    email: str | None = None
    properties: JsonDict = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)

    def apply(self, row: JsonDict) -> None:
        """Merge one create/update/batch row into this user."""
        get = row.get
        if get("display_name") is not None:
            self.display_name = row["display_name"]
        if get("email") is not None:
            self.email = row["email"]
        props = get("properties")
        if props:
            if self.properties:
                self._note_conflicts(props)
            self.properties = _merged(self.properties, props)
        schema = get("schema")
        if schema:
            self.declared = {**self.declared, **flatten_schema(schema.get("properties") or {})}

    def _note_conflicts(self, props: JsonDict) -> None:
        """§3.4 type_conflicts: a field that receives a second type."""
        for name, value in props.items():
            old = self.properties.get(name)
            if old is None or value is None or isinstance(old, dict) or isinstance(value, dict):
                continue
            t_old, t_new = _type_of(old), _type_of(value)
            if t_old != t_new and t_new is not None:
                self.conflicts = {**self.conflicts, name: t_new}

    def snapshot(self) -> Snapshot:
        """The user as this import left it (shares the copy-on-write dicts)."""
        return Snapshot(
            self.id,
            self.uid,
            self.display_name,
            self.email,
            self.properties,
            self.declared,
            self.conflicts,
        )

    def render(self, *, include_schema: bool, app_url: str) -> JsonDict:
        """GetUserResponse (§3.1)."""
        body = self.snapshot().render(include_schema=include_schema)
        body["is_being_deleted"] = False
        body["app_url"] = f"{app_url}/user/{self.id}"
        return body


class Snapshot(NamedTuple):
    """A user as one import left it (a tuple: 50,000 of them are built per big job)."""

    id: str
    uid: str | None
    display_name: str | None
    email: str | None
    properties: JsonDict
    declared: dict[str, str]
    conflicts: dict[str, str]

    def render(self, *, include_schema: bool, nulls: bool = True) -> JsonDict:
        """BatchUserImportResponse (§5.3): ``schema`` is filled only with include_schema;
        without it (and without type conflicts) the key is ``null``, or absent when
        ``nulls`` is false (the seed's imports example: ``{"id", "uid", "properties"}``)."""
        body: JsonDict = {"id": self.id}
        for key in ("uid", "display_name", "email"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        body["properties"] = self.properties
        if include_schema:
            body["schema"] = {"properties": infer_schema(self.properties, self.declared)}
        elif nulls:
            body["schema"] = None
        if self.conflicts:
            body["type_conflicts"] = {"properties": self.conflicts}
        elif nulls:
            body["type_conflicts"] = None
        return body


@dataclass
class Job:
    """A batch import job (§5.1)."""

    kind: str  # "users" | "events"
    id: str
    created: float
    rows: list[Any]
    shared: JsonDict | None
    prefailed: list[RowError | None]
    idempotency_key: str | None
    n_requests: int = 0
    status: str = PROCESSING
    started: float | None = None  # None: queued beyond max_running (§4)
    polls: int = 0
    finished: float | None = None
    imports: list[Any] = field(default_factory=list)
    errors: list[JsonDict] = field(default_factory=list)
    cleaned: dict[int, JsonDict] = field(default_factory=dict)  # rows with rejected properties
    shuffled: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status != PROCESSING

    def public_status(self, config: EmulatorConfig) -> str:
        """The status the API answers: a FAILED job reads COMPLETED under that reading."""
        if self.status == FAILED and config.row_error_status == "COMPLETED":
            return COMPLETED
        return self.status

    def metadata(self, config: EmulatorConfig) -> JsonDict:
        """JobMetadata (§5.1, §11.2): ``finished`` once terminal; while PROCESSING ``null``
        (the seed: "otherwise it is null") or absent, per ``finished_while_processing``."""
        meta: JsonDict = {
            "id": self.id,
            "status": self.public_status(config),
            "created": rfc3339(self.created),
        }
        if self.finished is not None:
            meta["finished"] = rfc3339(self.finished)
        elif config.finished_while_processing == "null":
            meta["finished"] = None
        return meta

    def ordered(self, which: str, seed: int) -> list[Any]:
        """Imports or errors in a seeded random order, the same on every page (cached)."""
        cached = self.shuffled.get(which)
        if cached is None:
            rows = list(self.imports if which == "imports" else self.errors)
            random.Random(f"{seed}:{self.id}:{which}").shuffle(rows)
            cached = self.shuffled[which] = rows
        return cached


@dataclass(frozen=True)
class _Stored:
    """An idempotency record (§6)."""

    at: float
    fingerprint: bytes
    reply: Reply


class OrgState:
    """All state of one emulated org; every public method takes the one lock."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._initial = config
        self._lock = threading.RLock()
        self._epoch = 0
        self._reset_locked(config)

    # -- settings and lifecycle ----------------------------------------------------------------

    def _reset_locked(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, default_seed=config.seed)
        self.users: dict[str, User] = {}
        self.by_uid: dict[str, str] = {}
        self.events: list[JsonDict] = []
        self.jobs: dict[str, Job] = {}
        self.active: dict[str, Job] = {}  # PROCESSING jobs, creation order
        self.idempotency: dict[str, _Stored] = {}
        self.in_flight: dict[str, int] = {}  # Idempotency-Key -> requests executing with it
        self.held = 0  # create requests waiting on create_delay_seconds / create_hold
        self._counter = 0

    def reset(self) -> None:
        """Clear users, events, jobs and idempotency keys; restore the start-up settings.
        Page tokens issued before are no longer valid."""
        with self._lock:
            self._epoch += 1
            self._reset_locked(self._initial)

    def configure(self, **settings: Any) -> EmulatorConfig:
        """Change settings at run time (``faults=`` re-seeds the fault generator)."""
        with self._lock:
            self.config = self.config.replace(**settings)
            if "faults" in settings or "seed" in settings:
                self.faults = FaultInjector(self.config.faults, default_seed=self.config.seed)
            return self.config

    def now(self) -> float:
        return self.config.clock()

    def _next_id(self, salt: str) -> str:
        self._counter += 1
        seed = f"{self.config.seed}:{salt}:{self._counter}".encode()
        return hashlib.sha256(seed).hexdigest()[:16]

    def token_scope(self, *parts: str) -> str:
        """What a page token is bound to (§11.9): a digest of the listing that issued it."""
        text = "|".join((str(self.config.seed), str(self._epoch), *parts))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def _new_user(self) -> User:
        self._counter += 1
        user = User(id=str(1_000_000_000 + self._counter))
        self.users[user.id] = user
        return user

    # -- auth (§1) -----------------------------------------------------------------------------

    def authorize(self, header: str | None, *, admin_only: bool) -> None:
        """``Authorization: Basic <key>`` exactly; Standard keys cannot read or delete data."""
        cfg = self.config
        if header == f"Basic {cfg.api_key}":
            return
        if header == f"Basic {cfg.standard_key}":
            if admin_only:
                raise ApiError(403, "forbidden", MSG_403)
            return
        raise ApiError(401, "unauthorized", MSG_401)

    # -- idempotency (§6) ----------------------------------------------------------------------

    def idempotency_begin(self, key: str, fingerprint: bytes) -> Reply | None:
        """Look ``key`` up before executing (§6): the stored answer to replay, or ``None``
        after marking the key in flight (the caller then executes and calls
        :meth:`idempotency_end`).

        Raises 409 ``idempotency_conflict`` while another request with the key is executing
        ("conflicted with another that was executing concurrently": nothing saved), and 422
        ``idempotency_key_mismatch`` for a stored key with a different request.
        """
        with self._lock:
            if self.in_flight.get(key):
                raise ApiError(
                    409,
                    "idempotency_conflict",
                    MSG_CONFLICT,
                    headers={"Retry-After": str(self.config.retry_after)},
                )
            stored = self.idempotency.get(key)
            if stored is not None and self.now() - stored.at < self.config.idempotency_ttl_seconds:
                if stored.fingerprint != fingerprint:
                    raise ApiError(
                        422,
                        "idempotency_key_mismatch",
                        "Idempotency-Key was already used with a different request",
                    )
                return stored.reply
            self.in_flight[key] = 1
            return None

    def idempotency_end(self, key: str, fingerprint: bytes, reply: Reply | None) -> None:
        """The request with ``key`` finished: store its answer unless it is retryable (429,
        5xx: the newer staging semantics) or there is none; the key is no longer in flight."""
        with self._lock:
            self.in_flight.pop(key, None)
            if reply is not None and reply.status != 429 and reply.status < 500:
                self.idempotency[key] = _Stored(self.now(), fingerprint, reply)

    # -- users (U1-U5) -------------------------------------------------------------------------

    def _fail_check(self, uid: Any) -> None:
        """Server-side row failures: ``fail_uids`` and ``row_error_rate`` (faults)."""
        if not self.config.fail_uids and not self.config.faults.row_error_rate:
            return
        if uid is not None and uid in self.config.fail_uids:
            raise RowError(self.config.faults.row_error_code, f"import of uid {uid} failed")
        if self.faults.row_fails():
            raise RowError(self.config.faults.row_error_code, "row failed at the server")

    def _upsert(self, row: JsonDict) -> User:
        """§3.1: upsert on uid; rows without uid create a new anonymous user (§9.18)."""
        uid = row.get("uid") or None
        user_id = row.get("id")
        if user_id is None and uid is not None and uid not in self.by_uid:
            user = self._new_user()  # the common case of a big import: a new identified user
            user.uid = uid
            self.by_uid[uid] = user.id
        elif user_id is not None:
            if user_id not in self.users:
                raise RowError("user_not_found", f"user {user_id} does not exist")
            user = self.users[user_id]
            self._set_uid(user, uid)
        elif uid is not None:
            user = self.users[self.by_uid[uid]]
        else:
            user = self._new_user()
        user.apply(row)
        return user

    def _set_uid(self, user: User, uid: str | None) -> None:
        """§3.1: once set, a uid is immutable; a uid names one user only."""
        if uid is None or uid == user.uid:
            return
        if user.uid is not None:
            raise RowError("invalid_argument", "uid cannot be changed once set")
        if uid in self.by_uid:
            raise RowError("invalid_argument", f"uid {uid} already belongs to another user")
        user.uid = uid
        self.by_uid[uid] = user.id

    def create_user(self, body: Any) -> Reply:
        """U1: 200 ``{"id"}``; invalid rows answer 400."""
        with self._lock:
            try:
                body = self._checked(
                    body, lambda d: check_user_row(body, batch=False, good_names=set(), dropped=d)
                )
                self._fail_check(body.get("uid"))
                return Reply(200, {"id": self._upsert(body).id})
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None

    def update_user(self, user_id: str, body: Any) -> Reply:
        """U4: POST /v2/users/{id}; 404 unknown id; 400 when the uid would change (§9.9)."""
        with self._lock:
            user = self._user_or_404(user_id)
            try:
                body = self._checked(
                    body, lambda d: check_user_row(body, batch=False, good_names=set(), dropped=d)
                )
                self._set_uid(user, body.get("uid") or None)
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None
            user.apply(body)
            return Reply(200, {"id": user.id})

    def _dropping(self) -> list[str] | None:
        """Where check_* collect oversize paths (``drop_property``), or None (``fail_row``)."""
        return [] if self.config.oversize_value == "drop_property" else None

    def _checked(self, row: Any, check: Callable[[list[str] | None], None]) -> Any:
        """Run ``check`` on a single-create body; the body without rejected properties."""
        dropped = self._dropping()
        check(dropped)
        return without_paths(row, dropped) if dropped else row

    def _user_or_404(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(404, "resource_not_found", MSG_404)
        return user

    def get_user(self, user_id: str, *, include_schema: bool) -> Reply:
        """U2: GetUserResponse."""
        with self._lock:
            user = self._user_or_404(user_id)
            return Reply(200, user.render(include_schema=include_schema, app_url=self._app_url()))

    def list_users(
        self, filters: dict[str, str], token: str | None, *, include_schema: bool
    ) -> Reply:
        """U3: filter on uid, email, display_name, is_identified; paged."""
        with self._lock:
            matches = [u for u in self.users.values() if self._matches(u, filters)]
            app_url = self._app_url()
            # Tokens are bound to the filters (D-ulist: pass the same filters again).
            scope = self.token_scope("list-users", *(f"{k}={filters[k]}" for k in sorted(filters)))
            body = page_of(
                matches,
                token,
                self.config.page_size,
                lambda u: u.render(include_schema=include_schema, app_url=app_url),
                scope=scope,
                last_token=self.config.last_page_token,
            )
            body["app_url"] = f"{app_url}/0"
            return Reply(200, body)

    @staticmethod
    def _matches(user: User, filters: dict[str, str]) -> bool:
        for key in ("uid", "email", "display_name"):
            if key in filters and getattr(user, key) != filters[key]:
                return False
        wanted = filters.get("is_identified")
        return wanted is None or (user.uid is not None) == parse_bool("is_identified", wanted)

    def _app_url(self) -> str:
        return "https://app.fullstory.com/ui/emulator/segments/everyone/people:search:emu"

    def delete_user(self, user_id: str | None, uid: str | None) -> Reply:
        """U5a/U5b: delete by id or by ``?uid=`` (exactly one); 200 ``{}``; 404 if unknown."""
        with self._lock:
            if (user_id is None) == (uid is None):
                raise ApiError(400, "required_field", "one of id or uid is required")
            if uid is not None:
                user_id = self.by_uid.get(uid)
                if user_id is None:
                    raise ApiError(404, "resource_not_found", MSG_404)
            assert user_id is not None
            user = self._user_or_404(user_id)
            del self.users[user.id]
            if user.uid is not None:
                self.by_uid.pop(user.uid, None)
            return Reply(200, {})

    # -- events (E1) ---------------------------------------------------------------------------

    def create_event(self, body: Any) -> Reply:
        """E1: 200 ``{}``; invalid events answer 400."""
        with self._lock:
            try:
                body = self._checked(
                    body,
                    lambda d: check_event_row(
                        body, shared_context=False, good_names=set(), dropped=d
                    ),
                )
                self._fail_check((body.get("user") or {}).get("uid"))
                self.events.append(self._store_event(body, None))
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None
            return Reply(200, {})

    def _store_event(self, row: JsonDict, shared: JsonDict | None) -> JsonDict:
        """The stored / echoed event (§5.3): user {id, uid}, session, context, name, ..."""
        user_ref = row.get("user") or {}
        session = row.get("session") or {}
        event: JsonDict = {}
        if session.get("id") and not user_ref:
            # The spec's imports example echoes both: "user": {"id": "123456789", ...},
            # "session": {"id": "123456789:1298251231"}, the user id being the session id's
            # device part (<DeviceID>:<SessionID>, D-sessid).
            event["user"] = self._session_user(session["id"])
            event["session"] = {"id": session["id"]}
        else:
            event["user"] = self._event_user(user_ref)
        context = row.get("context") or (shared or {}).get("context")
        if context:
            event["context"] = context
        event["name"] = row["name"]
        # §3.2: the server uses its own time when timestamp is absent.
        event["timestamp"] = row.get("timestamp") or rfc3339(self.now())
        event["properties"] = row.get("properties") or {}
        if row.get("schema"):
            event["_declared"] = flatten_schema(row["schema"].get("properties") or {})
        return event

    def _session_user(self, session_id: str) -> JsonDict:
        """The echoed user of a ``session.id`` event: the device part of the id (no sessions
        are recorded), with the uid of a stored user of that id."""
        user_id = session_id.partition(":")[0]
        found = self.users.get(user_id)
        return {"id": user_id, "uid": found.uid} if found and found.uid else {"id": user_id}

    def _event_user(self, ref: JsonDict) -> JsonDict:
        """Resolve the event's user: by uid (created if new), by id, or a new anonymous user."""
        uid, user_id = ref.get("uid"), ref.get("id")
        if uid:
            known = self.by_uid.get(uid)
            user = self.users[known] if known else self._new_user()
            self._set_uid(user, uid)
            return {"id": user.id, "uid": uid}
        if user_id:
            found = self.users.get(user_id)
            if found is None:
                raise RowError("user_not_found", f"user {user_id} does not exist")
            return {"id": found.id, "uid": found.uid} if found.uid else {"id": found.id}
        return {"id": self._new_user().id}

    # -- batch jobs (UB1-UB4, EB1-EB4) ---------------------------------------------------------

    def create_job(self, kind: str, body: Any, idempotency_key: str | None) -> Reply:
        """UB1/EB1: validate the envelope (400) and rows (row errors), admit (429), create."""
        requests, shared = self._envelope(kind, body)
        good: set[str] = set()
        dropped = self._dropping()
        cleaned: dict[int, JsonDict] = {}
        has_ctx = bool(shared and shared.get("context"))
        prefailed: list[RowError | None] = []
        for i, row in enumerate(requests):
            if kind == "users":
                prefailed.append(self._precheck_user(row, good, dropped))
            else:
                prefailed.append(self._precheck_event(row, has_ctx, good, dropped))
            if dropped:  # rare: a value over 8192 bytes was rejected, not the row
                if prefailed[-1] is None:
                    cleaned[i] = without_paths(row, dropped)
                dropped.clear()
        with self._lock:
            self._advance()
            self._admit(len(requests))
            now = self.now()
            job = Job(
                kind,
                self._next_id(kind),
                now,
                requests,
                shared,
                prefailed,
                idempotency_key,
                n_requests=len(requests),
                cleaned=cleaned,
            )
            self.jobs[job.id] = job
            self.active[job.id] = job
            if self._running_count() < self.config.max_running:
                job.started = now
            self._advance()
            # §5.1: a new job is always reported PROCESSING; the seed's create example has
            # no "finished" (id, status, created).
            meta = {"id": job.id, "status": PROCESSING, "created": rfc3339(job.created)}
            return Reply(200, {"job": meta})

    def _envelope(self, kind: str, body: Any) -> tuple[list[Any], JsonDict | None]:
        """§9.7 envelope rules: an object with a non-empty ``requests`` array ≤ 50,000."""
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_argument", "body must be a JSON object")
        requests = body.get("requests")
        if requests is None:
            raise ApiError(400, "required_field", "requests is required")
        if not isinstance(requests, list):
            raise ApiError(400, "invalid_argument", "requests must be an array")
        if not requests:
            raise ApiError(400, "invalid_argument", "requests must not be empty")
        limit = self.config.max_batch_requests
        if len(requests) > limit:
            raise ApiError(400, "invalid_argument", f"at most {limit} requests per batch")
        shared = body.get("shared")
        if kind == "events" and shared is not None:
            if not isinstance(shared, dict) or not set(shared) <= {"context"}:
                raise ApiError(400, "invalid_argument", 'shared must be {"context": {...}}')
            try:
                if shared.get("context") is not None:
                    check_context(shared["context"])
            except RowError as err:
                raise ApiError(400, err.code, err.message) from None
        return requests, shared if kind == "events" else None

    def _precheck_user(
        self, row: Any, good: set[str], dropped: list[str] | None
    ) -> RowError | None:
        try:
            check_user_row(row, batch=True, good_names=good, dropped=dropped)
            self._fail_check(row.get("uid"))
        except RowError as err:
            return err
        return None

    def _precheck_event(
        self, row: Any, has_ctx: bool, good: set[str], dropped: list[str] | None
    ) -> RowError | None:
        try:
            check_event_row(row, shared_context=has_ctx, good_names=good, dropped=dropped)
            self._fail_check((row.get("user") or {}).get("uid"))
        except RowError as err:
            return err
        return None

    def _running_count(self) -> int:
        return sum(1 for j in self.active.values() if j.started is not None)

    def _admit(self, rows: int) -> None:
        """§4: 429 once max_in_progress jobs or max_rows_in_progress rows are in progress."""
        cfg = self.config
        if len(self.active) >= cfg.max_in_progress or (
            sum(j.n_requests for j in self.active.values()) >= cfg.max_rows_in_progress
        ):
            raise ApiError(
                429, "too_many_requests", MSG_429, headers={"Retry-After": str(cfg.retry_after)}
            )

    def _advance(self) -> None:
        """Bring jobs up to ``now``: time-based jobs finish in deadline order and each freed
        slot starts the oldest queued job at the moment it freed (§4 queueing)."""
        seconds = self.config.processing_seconds
        now = self.now()
        if self.config.processing_polls is None:
            while True:
                due = [
                    j
                    for j in self.active.values()
                    if j.started is not None and j.started + seconds <= now
                ]
                if not due:
                    break
                job = min(due, key=lambda j: (j.started or 0.0) + seconds)
                freed_at = (job.started or 0.0) + seconds
                self._finish(job, freed_at)
                self._start_queued(freed_at)
        self._start_queued(now)

    def _start_queued(self, at: float) -> None:
        free = self.config.max_running - self._running_count()
        for job in self.active.values():
            if free <= 0:
                return
            if job.started is None:
                job.started = max(at, job.created)
                free -= 1

    def _finish(self, job: Job, at: float) -> None:
        """Apply the job's rows to the store; COMPLETED iff no row failed (§5.1)."""
        if job.kind == "users":
            self._finish_users(job)
        else:
            self._finish_events(job)
        job.status = FAILED if job.errors else COMPLETED
        del self.active[job.id]
        job.finished = min(max(at, job.created), self.now())
        job.rows = []  # results are kept; the request bodies are no longer needed
        job.prefailed = []
        job.cleaned = {}

    def _finish_users(self, job: Job) -> None:
        by_uid, imports, cleaned = self.by_uid, job.imports, job.cleaned
        for i, (sent, err) in enumerate(zip(job.rows, job.prefailed, strict=True)):
            row = cleaned.get(i, sent) if cleaned else sent
            if err is None:
                uid = row.get("uid")
                if uid and uid not in by_uid and "id" not in row:
                    # Fast path, the bulk of a big import: a brand-new identified user.
                    imports.append(self._insert_new(uid, row))
                    continue
                try:
                    imports.append(self._upsert(row).snapshot())
                    continue
                except RowError as late:
                    err = late
            job.errors.append({"message": err.message, "code": err.code, "user": sent})

    def _insert_new(self, uid: str, row: JsonDict) -> Snapshot:
        """Store a new user with ``uid`` from a valid row (same result as ``_upsert``)."""
        self._counter += 1
        user_id = str(1_000_000_000 + self._counter)
        props, schema = row.get("properties"), row.get("schema")
        user = User(
            user_id,
            uid,
            row.get("display_name"),
            row.get("email"),
            _without_nulls(props) if props else {},
            flatten_schema(schema.get("properties") or {}) if schema else {},
        )
        self.users[user_id] = user
        self.by_uid[uid] = user_id
        return Snapshot(
            user_id,
            uid,
            user.display_name,
            user.email,
            user.properties,
            user.declared,
            user.conflicts,
        )

    def _finish_events(self, job: Job) -> None:
        cleaned = job.cleaned
        for i, (row, err) in enumerate(zip(job.rows, job.prefailed, strict=True)):
            if err is None:
                try:
                    event = self._store_event(cleaned.get(i, row), job.shared)
                    self.events.append(event)
                    job.imports.append(event)
                    continue
                except RowError as late:
                    err = late
            entry: JsonDict = {"message": err.message, "code": err.code, "event": row}
            if job.shared is not None:
                entry["shared"] = job.shared
            job.errors.append(entry)

    def _job_or_404(self, kind: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise ApiError(404, "resource_not_found", MSG_404)
        return job

    def job_status(self, kind: str, job_id: str) -> Reply:
        """UB2/EB2: a status poll; counts toward ``processing_polls`` once the job runs."""
        with self._lock:
            self._advance()
            job = self._job_or_404(kind, job_id)
            polls = self.config.processing_polls
            if not job.terminal and job.started is not None and polls is not None:
                job.polls += 1
                if job.polls > polls:
                    self._finish(job, self.now())
                    self._start_queued(self.now())
            body: JsonDict = {
                "imports": len(job.imports),
                "errors": len(job.errors),
                "job": job.metadata(self.config),
            }
            return Reply(200, body)

    def job_results(
        self, kind: str, job_id: str, which: str, token: str | None, *, include_schema: bool
    ) -> Reply:
        """UB3/UB4/EB3/EB4: 202 with an empty body while PROCESSING, else one page."""
        with self._lock:
            self._advance()
            job = self._job_or_404(kind, job_id)
            if not job.terminal:
                return Reply(202, None)
            cfg = self.config
            if cfg.shuffle_results:
                rows = job.ordered(which, cfg.seed)
            else:
                rows = job.imports if which == "imports" else job.errors
            render = self._renderer(kind, which, include_schema)
            # §11.9: a token is bound to the job, the result kind and the endpoint (kind).
            scope = self.token_scope(kind, job.id, which)
            page = page_of(
                rows, token, cfg.page_size, render, scope=scope, last_token=cfg.last_page_token
            )
            return Reply(200, page)

    def _renderer(self, kind: str, which: str, include_schema: bool) -> Callable[[Any], JsonDict]:
        if which == "errors":
            if self.config.error_echo == "rerendered":
                return rerender_error
            return lambda e: e
        if kind == "users":
            nulls = self.config.import_nulls == "null"
            return lambda s: s.render(include_schema=include_schema, nulls=nulls)
        return lambda e: render_event(e, include_schema=include_schema)

    # -- inspection ----------------------------------------------------------------------------

    def list_jobs(self) -> list[JsonDict]:
        """Every job in creation order: kind, id, status, requests, idempotency_key."""
        with self._lock:
            self._advance()
            return [
                {
                    "kind": j.kind,
                    "id": j.id,
                    "status": j.public_status(self.config),
                    "requests": j.n_requests,
                    "idempotency_key": j.idempotency_key,
                }
                for j in self.jobs.values()
            ]

    def list_users_raw(self) -> list[JsonDict]:
        """Every stored user (as Get User renders it, with schema)."""
        with self._lock:
            self._advance()
            return [
                u.render(include_schema=True, app_url=self._app_url()) for u in self.users.values()
            ]

    def list_events_raw(self) -> list[JsonDict]:
        """Every stored event, in the order they were stored."""
        with self._lock:
            self._advance()
            return [render_event(e, include_schema=False) for e in self.events]


def render_event(event: JsonDict, *, include_schema: bool) -> JsonDict:
    """BatchCreateEventsResponse (§5.3); ``schema`` only with include_schema."""
    body = {k: v for k, v in event.items() if k != "_declared"}
    if include_schema:
        body["schema"] = {
            "properties": infer_schema(event["properties"], event.get("_declared") or {})
        }
    return body


def _renumber(value: Any) -> Any:
    """Numbers as a protobuf ``Struct`` re-renders them: an integral float loses its ``.0``."""
    kind = type(value)
    if kind is float and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if kind is dict:
        return {k: _renumber(v) for k, v in value.items()}
    if kind is list:
        return [_renumber(v) for v in value]
    return value


def rerender_error(entry: JsonDict) -> JsonDict:
    """An error row whose echo is re-rendered the way the spec's ``FailedUserImport``
    example shows it (§11.4): the request parsed into the API's message and printed again,
    so unknown fields are gone, ``1.0`` prints as ``1`` and a user carries ``"schema": null,
    "type_conflicts": null`` when it had none."""
    out = dict(entry)
    if "user" in entry and type(entry["user"]) is dict:
        row = entry["user"]
        user: JsonDict = {k: _renumber(row[k]) for k in row if k in _BATCH_USER_FIELDS}
        user.setdefault("schema", None)
        user["type_conflicts"] = None
        out["user"] = user
    if "event" in entry and type(entry["event"]) is dict:
        row = entry["event"]
        out["event"] = {k: _renumber(row[k]) for k in row if k in _EVENT_FIELDS}
    if "shared" in entry:
        out["shared"] = _renumber(entry["shared"])
    return out


def canonical(body: Any) -> bytes:
    """A stable fingerprint of a JSON body (key order and whitespace do not matter)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()
