"""What the API accepts: validation of request rows and fields (§3.1-§3.3, §9.7).

Owns the limits (uid and field lengths, property names and paths, 500 properties, 8,192-byte
values, schema type names), RFC 3339 timestamps (parsing and the emulator's own format) and the
row checks: :func:`check_user_row`, :func:`check_event_row`, :func:`check_context` and the batch
envelope (:func:`check_envelope`). Every check is a pure function of its arguments: it raises
:class:`~fs_pandas.emulator.replies.RowError` (a batch row records it, a single create answers
400) or :class:`~fs_pandas.emulator.replies.RefusedError` for the request as a whole.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from fs_pandas.emulator.replies import MSG_EMPTY_UID, JsonDict, RefusedError, RowError

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
USER_FIELDS = frozenset({"uid", "display_name", "email", "properties", "schema"})
BATCH_USER_FIELDS = USER_FIELDS | {"id"}
EVENT_FIELDS = frozenset(
    {"name", "timestamp", "properties", "schema", "user", "session", "context"}
)
_CONTEXT_FIELDS = frozenset({"browser", "mobile", "device", "location"})


def rfc3339(t: float) -> str:
    """Epoch seconds -> RFC 3339 UTC with milliseconds and ``Z`` (§9.12)."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# RFC 3339 section 5.6 date-time: full date, "T", full time with a zone ("Z" or +hh:mm).
_RFC3339_RE = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)\Z")


def is_rfc3339(value: str) -> bool:
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
    raise RefusedError(400, "invalid_argument", f"{name} must be a boolean (true or false)")


# ---------------------------------------------------------------------------------------------
# Rows (§3.1-§3.3). Each raises RowError; batch rows record it, single creates answer 400.
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


# No float prints longer than 24 characters ("-2.2250738585072014e-308") and no int between
# these bounds longer than 20 ("-9223372036854775808"): 24 bytes bound any such item.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_SCALAR_BOUND = 24


def _list_surely_fits(items: list[Any]) -> bool:
    """Whether a list of strings and numbers is surely within 8192 bytes, from an upper bound
    that needs no encoding (4 bytes a character, 24 a scalar). ``False`` means "measure it":
    the list is too long to tell, or holds something else (a dict, a nested list, a huge int).
    Hot path: most batch rows carry short lists of tags or numbers."""
    bound = 0
    for item in items:
        kind = type(item)
        if kind is str:
            bound += 4 * len(item)
        elif (
            kind is float
            or kind is bool
            or item is None
            or (kind is int and _INT_MIN <= item <= _INT_MAX)
        ):
            bound += _SCALAR_BOUND
        else:
            return False
    return bound <= MAX_VALUE_BYTES


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
            if _list_surely_fits(value):  # then it holds no dict either
                continue
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
    """§3.4/§9.11: accept dotted paths and nested objects; return dotted ``path -> type``.

    The rows of a batch usually declare the same flat schema: each distinct one is flattened
    once (a few hundred kept). The dict returned may be shared: never change it (stored users
    replace their ``declared``, never mutate it).
    """
    if not prefix and type(schema) is dict:
        # Consecutive rows nearly always repeat one schema: an equality test (in C, no
        # hashing of items) answers them. Only valid schemas are kept, whose leaves are
        # type names, so equal means the same declarations.
        last_schema, last_flat = _last_flat
        if schema == last_schema:
            return last_flat
        try:
            key = tuple(schema.items())
            known = _FLAT_SCHEMAS.get(key)
        except TypeError:  # a nested object: not hashable, flattened each time
            key, known = None, None
        if known is not None:
            _remember(schema, known)
            return known
        flat = _flatten_schema(schema, prefix)
        _remember(schema, flat)
        if key is not None:
            if len(_FLAT_SCHEMAS) >= _FLAT_SCHEMAS_KEPT:
                _FLAT_SCHEMAS.clear()
            _FLAT_SCHEMAS[key] = flat
        return flat
    return _flatten_schema(schema, prefix)


_FLAT_SCHEMAS: dict[tuple[tuple[Any, Any], ...], dict[str, str]] = {}
_FLAT_SCHEMAS_KEPT = 256
# The last schema flattened and its result, replaced as one tuple (threads may read it).
_last_flat: tuple[dict[str, Any], dict[str, str]] = ({}, {})


def _remember(schema: dict[str, Any], flat: dict[str, str]) -> None:
    global _last_flat
    _last_flat = (schema, flat)


def _flatten_schema(schema: Any, prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(schema, dict):
        raise RowError("invalid_argument", "schema.properties must be an object")
    for name, value in schema.items():
        if isinstance(value, dict):
            out.update(_flatten_schema(value, prefix + name + "."))
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
    allowed = BATCH_USER_FIELDS if batch else USER_FIELDS
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
    user = row.get("user")
    if user is not None:
        _check_user_ref(user)
    session = row.get("session")
    if session is not None:
        _check_session(session, has_user=user is not None)


def _check_user_ref(user: Any) -> None:
    """An event's ``user``: ``{"id"}`` or ``{"uid"}``, exactly one of them."""
    if type(user) is dict and len(user) == 1:
        # Hot path: the one key is a valid uid or id (the checks below would pass it).
        uid = user.get("uid")
        if type(uid) is str and 0 < len(uid) <= MAX_UID:
            return
        user_id = user.get("id")
        if type(user_id) is str and user_id:
            return
    if not isinstance(user, dict) or not set(user) <= {"id", "uid"}:
        raise RowError("invalid_argument", 'user must be {"id"} or {"uid"}')
    _check_str(user, "uid", MAX_UID, "user.")
    _check_str(user, "id", None, "user.")
    if bool(user.get("id")) == bool(user.get("uid")):
        raise RowError("invalid_argument", "user needs exactly one of user.id or user.uid")


def _check_session(session: Any, *, has_user: bool) -> None:
    """An event's ``session``: ``{"id"}`` alone, or ``{"use_most_recent": true}`` with a user."""
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
        if not has_user:
            raise RowError("invalid_argument", "session.use_most_recent requires a user")
    elif has_user:
        raise RowError("invalid_argument", "more than one form of identification was provided")


def check_event_row(
    row: Any, *, shared_context: bool, good_names: set[str], dropped: list[str] | None = None
) -> None:
    """§3.2 event rules: non-empty name, timestamp, identification, context, properties."""
    if not isinstance(row, dict):
        raise RowError("invalid_argument", "each request must be an object")
    if not EVENT_FIELDS.issuperset(row):
        extra = sorted(set(row) - EVENT_FIELDS)
        raise RowError("invalid_argument", f"unknown field(s): {', '.join(extra)}")
    name = row.get("name")
    if not isinstance(name, str) or not name:
        raise RowError("invalid_argument", "events must have a non-empty name")
    ts = row.get("timestamp")
    if ts is not None and (not isinstance(ts, str) or not is_rfc3339(ts)):
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


def check_envelope(kind: str, body: Any, limit: int) -> tuple[list[Any], JsonDict | None]:
    """§9.7 batch envelope: an object with a non-empty ``requests`` array of at most ``limit``
    rows; for events an optional ``shared`` of ``{"context": {...}}``. Returns the requests and
    the shared part (always ``None`` for users). Raises 400 :class:`RefusedError`."""
    if not isinstance(body, dict):
        raise RefusedError(400, "invalid_argument", "body must be a JSON object")
    requests = body.get("requests")
    if requests is None:
        raise RefusedError(400, "required_field", "requests is required")
    if not isinstance(requests, list):
        raise RefusedError(400, "invalid_argument", "requests must be an array")
    if not requests:
        raise RefusedError(400, "invalid_argument", "requests must not be empty")
    if len(requests) > limit:
        raise RefusedError(400, "invalid_argument", f"at most {limit} requests per batch")
    if kind != "events":
        return requests, None
    shared = body.get("shared")
    if shared is not None:
        _check_shared(shared)
    return requests, shared


def _check_shared(shared: Any) -> None:
    """An events batch's ``shared``: only a valid ``context`` (a 400 for the whole batch)."""
    if not isinstance(shared, dict) or not set(shared) <= {"context"}:
        raise RefusedError(400, "invalid_argument", 'shared must be {"context": {...}}')
    try:
        if shared.get("context") is not None:
            check_context(shared["context"])
    except RowError as err:
        raise err.as_refused() from None
