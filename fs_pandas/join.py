"""Join a finished job's result pages back to the source rows that made its requests.

Fullstory returns no request index and does not promise to keep input order (contract §9.4), so
matching is by content:

* errors echo the original request object, so a failed row is found by the canonical form of
  that object (it works when ``uid`` is empty or repeated);
* user imports carry ``uid``; rows without one are matched by their remaining content;
* event imports echo name, user, timestamp and properties, matched by content.

Every match is made as a multiset: identical requests are counted, not guessed. Rows that cannot
be matched are reported as unreconciled, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from fs_pandas.models import JobKind

__all__ = ["JobJoin", "canonical", "join_job", "slim_import"]

log = logging.getLogger(__name__)

Positions = npt.NDArray[np.int64]
Request = dict[str, Any]


def canonical(obj: Any) -> bytes:
    """Canonical bytes of a JSON object: sorted keys, compact; equal content, equal bytes."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def slim_import(kind: JobKind, result: Request) -> Request:
    """What the join needs of one import result; a user import with a uid needs only two
    fields, which keeps a 50,000-row job's pages small while they wait to be joined."""
    if kind == "users" and result.get("uid"):
        return {"uid": result["uid"], "id": result.get("id")}
    return result


@dataclass
class JobJoin:
    """One job's rows, sorted into outcomes by source position."""

    imported: list[int] = field(default_factory=list)
    fullstory_ids: list[str | None] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    unmatched_results: int = 0

    def fail(self, position: int, code: str, message: str) -> None:
        self.failed.append(position)
        self.codes.append(code)
        self.messages.append(message)


class _Pool:
    """Source rows not yet matched, indexed by one key function (a multiset of positions)."""

    def __init__(self, items: Iterable[tuple[int, Request]], key: Callable[[Request], Any]):
        self._key = key
        self._by_key: dict[Any, deque[int]] = defaultdict(deque)
        for position, request in items:
            self._by_key[key(request)].append(position)

    def take(self, result: Request) -> int | None:
        return self.take_any([self._key(result)])

    def take_any(self, keys: Iterable[Any]) -> int | None:
        """Pop a position under the first of ``keys`` that still has one."""
        for key in keys:
            queue = self._by_key.get(key)
            if queue:
                return queue.popleft()
        return None


def join_job(
    kind: JobKind,
    positions: Positions,
    requests: Sequence[Request],
    imports: Sequence[Request],
    errors: Sequence[Request],
) -> JobJoin:
    """Match a job's imports and errors to the positions of the requests that were sent.

    Parameters
    ----------
    kind : {"users", "events"}
    positions : array of int64
        Source position of each request, in request order.
    requests : sequence of dict
        The request objects that were sent (parsed back from the chunk body).
    imports, errors : sequence of dict
        Every result of ``.../imports`` and ``.../errors`` for the job.
    """
    result = JobJoin()
    remaining = dict(zip(positions.tolist(), requests, strict=True))
    echo_field = "user" if kind == "users" else "event"
    _match_errors(result, remaining, errors, echo_field)
    if kind == "users":
        _match_user_imports(result, remaining, imports)
    else:
        _match_event_imports(result, remaining, imports)
    for position in remaining:
        result.fail(position, "unreconciled", _UNRECONCILED)
    if remaining or result.unmatched_results:
        log.error(
            "job results do not reconcile: %d rows without a result, %d results without a row",
            len(remaining),
            result.unmatched_results,
        )
    return result


_UNRECONCILED = (
    "Fullstory reported no import and no error that matches this row; its outcome is unknown"
)


def _match_errors(
    result: JobJoin, remaining: dict[int, Request], errors: Sequence[Request], echo_field: str
) -> None:
    if not errors:
        return
    echoes = [error.get(echo_field) or {} for error in errors]
    # Canonical forms cost a serialisation each: make them only for rows an error may echo.
    wanted = {_cheap_key(echo) for echo in echoes}
    pool = _Pool(((p, r) for p, r in remaining.items() if _cheap_key(r) in wanted), canonical)
    for error, echo in zip(errors, echoes, strict=True):
        position = pool.take(echo)
        if position is None:
            result.unmatched_results += 1
            continue
        del remaining[position]
        result.fail(position, str(error.get("code", "")), str(error.get("message", "")))


def _match_user_imports(
    result: JobJoin, remaining: dict[int, Request], imports: Sequence[Request]
) -> None:
    by_uid = _Pool(((p, r) for p, r in remaining.items() if r.get("uid")), _uid)
    anonymous = [r for r in imports if not r.get("uid")]
    for imported in imports:
        if imported.get("uid"):
            _record_import(result, remaining, by_uid.take(imported), imported.get("id"))
    if not anonymous:
        return
    # Anonymous rows: match on what a new user echoes back, then by order as a last resort.
    by_content = _Pool(((p, r) for p, r in remaining.items() if not r.get("uid")), _user_content)
    leftovers = []
    for imported in anonymous:
        position = by_content.take(imported)
        if position is None:
            leftovers.append(imported)
        else:
            _record_import(result, remaining, position, imported.get("id"))
    _match_in_order(result, remaining, leftovers, lambda r: r.get("id"), lambda r: not r.get("uid"))


def _match_event_imports(
    result: JobJoin, remaining: dict[int, Request], imports: Sequence[Request]
) -> None:
    exact = _Pool(remaining.items(), _event_key)
    leftovers = []
    for imported in imports:
        position = exact.take_any(_event_keys_of_import(imported))
        if position is None:
            leftovers.append(imported)
        else:
            _record_import(result, remaining, position, _event_user_id(imported))
    # A server may rewrite a number's form or a property; fall back to the event name alone.
    loose = _Pool(remaining.items(), lambda r: r.get("name"))
    for imported in leftovers:
        _record_import(result, remaining, loose.take(imported), _event_user_id(imported))


def _match_in_order(
    result: JobJoin,
    remaining: dict[int, Request],
    leftovers: list[Request],
    fullstory_id: Callable[[Request], Any],
    eligible: Callable[[Request], bool],
) -> None:
    candidates = [p for p, r in remaining.items() if eligible(r)]
    for position, imported in zip(candidates, leftovers, strict=False):
        _record_import(result, remaining, position, fullstory_id(imported))
    result.unmatched_results += max(0, len(leftovers) - len(candidates))


def _record_import(
    result: JobJoin, remaining: dict[int, Request], position: int | None, fs_id: Any
) -> None:
    if position is None:
        result.unmatched_results += 1
        return
    del remaining[position]
    result.imported.append(position)
    result.fullstory_ids.append(None if fs_id is None else str(fs_id))


def _cheap_key(obj: Request) -> tuple[Any, Any]:
    """A user's uid or an event's name: equal for a request and its echo, and cheap."""
    return (obj.get("uid"), obj.get("name"))


def _uid(obj: Request) -> str:
    return str(obj.get("uid") or "")


def _user_content(obj: Request) -> bytes:
    fields = ("display_name", "email", "properties")
    return canonical({name: obj.get(name) for name in fields})


def _event_user_id(obj: Request) -> str | None:
    user = obj.get("user") or {}
    value = user.get("id")
    return None if value is None else str(value)


def _event_key(obj: Request) -> tuple[Any, ...]:
    """Key of a sent event: what it is, when, and the one way it named its user or session."""
    return (obj.get("name"), _instant(obj.get("timestamp")), _props(obj), _who_sent(obj))


def _event_keys_of_import(obj: Request) -> list[tuple[Any, ...]]:
    """Keys an imported event may have been sent under.

    The echo carries more than was sent: Fullstory adds the user's ``id`` next to a ``uid``
    and fills ``timestamp`` when the request had none.
    """
    user = obj.get("user") or {}
    session = obj.get("session") or {}
    whos = [("uid", user.get("uid")), ("id", user.get("id")), ("session", session.get("id")), None]
    instants = [_instant(obj.get("timestamp")), None]
    props = _props(obj)
    return [(obj.get("name"), when, props, who) for when in instants for who in whos]


def _who_sent(obj: Request) -> tuple[str, Any] | None:
    user = obj.get("user") or {}
    session = obj.get("session") or {}
    for label, value in (("uid", user.get("uid")), ("id", user.get("id"))):
        if value:
            return (label, value)
    return ("session", session["id"]) if session.get("id") else None


def _props(obj: Request) -> bytes:
    return canonical(obj.get("properties") or {})


def _instant(value: Any) -> str | None:
    """Normalise an ISO-8601 timestamp so ``...:00Z`` and ``...:00.000Z`` compare equal."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat()
