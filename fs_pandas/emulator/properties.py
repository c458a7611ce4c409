"""What stored property values become: merging (§3.1), nulls (§9.10) and types (§3.4).

Owns the semantics of properties once a row is valid: :func:`merged` (the latest value wins,
nested objects merge key by key), :func:`without_nulls` (nulls are accepted and ignored) and
:func:`infer_schema` / :func:`type_of` (the types ``include_schema`` and ``type_conflicts``
report). Stored property dicts are copy-on-write: these functions return new dicts and never
mutate their arguments, so import snapshots may share them.
"""

from __future__ import annotations

from typing import Any

import orjson

from fs_pandas.emulator.replies import JsonDict


def type_of(value: Any) -> str | None:
    """The §3.4 type name a value is read as without a declaration (``None``: an object or null)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "real"  # §3.4: every JSON number is read as real unless declared.
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        inner = next((type_of(v) for v in value if v is not None), "str")
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
        inferred = declared.get(path) or type_of(value)
        if inferred:
            out[path] = inferred
    return out


def merged(old: JsonDict, new: JsonDict) -> JsonDict:
    """§3.1: properties merge into the existing set; on collision the latest value wins.

    Returns a new dict (copy-on-write: stored dicts are never mutated, so import snapshots can
    share them). Nulls are accepted and ignored (§9.10); nested objects merge key by key.
    """
    if not old:
        return without_nulls(new)
    out = dict(old)
    for name, value in new.items():
        if value is None:
            continue
        if type(value) is dict:
            prior = out.get(name)
            out[name] = merged(prior if type(prior) is dict else {}, value)
        else:
            out[name] = value
    return out


def without_nulls(props: JsonDict) -> JsonDict:
    """``props`` without null values at any depth (§9.10: nulls are accepted and ignored)."""
    # A flat dict without None, the bulk of a big import, is told by one look at each value.
    # Otherwise serialising in C and searching the bytes is 5x faster than walking nested
    # dicts in Python; no "null" token means no null (a string containing "null" just takes
    # the slow path). Without nulls the dict is shared: stored dicts are never mutated.
    for value in props.values():
        if value is None or type(value) is dict:
            break
    else:
        return props
    if b"null" not in orjson.dumps(props):
        return props
    return _strip_nulls(props)


def _strip_nulls(props: JsonDict) -> JsonDict:
    """``props`` rebuilt without null values at any depth (the slow path)."""
    return {k: _strip_nulls(v) if type(v) is dict else v for k, v in props.items() if v is not None}
