"""Join a finished job's result pages back to the source rows that made its requests.

Fullstory returns no request index and does not promise to keep input order (contract §9.4), so
matching is by content. What a server echoes is not byte for byte what was sent (contract
§11.4): an error's echo may be re-rendered -- unknown fields dropped, ``1.0`` printed ``1``,
``"schema": null, "type_conflicts": null`` added -- and an import is the stored object, nulls
gone and the server's own fields added. So nothing is matched by exact bytes: both sides are
compared in a *normalised* form (:func:`normalise`) where

* a field whose value is ``null`` counts as absent (added or dropped nulls do not matter);
* numbers compare by value (``1.0`` == ``1``; integers beyond 2**53 as the double a protobuf
  ``Struct`` would render them), while ``true`` stays distinct from ``1``;
* timestamps compare as instants (``...:00Z`` == ``...:00.000Z`` == ``...:00+00:00``);
* fields Fullstory adds or drops (``schema``, ``type_conflicts``, unknown fields) are not part of
  any key.

Users are matched by ``uid`` (then by Fullstory ``id``) and their content; rows without either
by content alone. Events by their identifying content: name, instant, the one way the row
named its user or session, and properties.

Matching runs in passes, strictest first, over what the earlier passes left: errors then imports
under the full normalised key, and only then looser keys (a user's uid alone; an event's name
and user, then its name) for whatever is still unmatched -- so a loose match can never take a
row that a strict match would have claimed. Every pass is a multiset: identical requests are
counted, not guessed. Rows that no result matches are reported as failed with code
``unreconciled``, and results that match no row are counted; neither is ever dropped silently.

Each pass is one dictionary build and one lookup per result: linear in the size of the job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import logging
import operator
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas._types import JobKind
from fs_pandas.models import ImportIds

__all__ = ["JobJoin", "canonical", "join_job", "join_users", "normalise", "slim_import"]

logger = logging.getLogger(__name__)

Positions = npt.NDArray[np.int64]
Request = dict[str, Any]
Key = Hashable


def canonical(obj: Any) -> bytes:
    """Canonical bytes of a JSON object: sorted keys, compact; equal content, equal bytes."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


# Markers that keep JSON kinds apart in a normalised value (Python has True == 1, and a list of
# pairs would otherwise look like an object).
_OBJECT = "\x00{"
_TRUE = ("\x00bool", True)
_FALSE = ("\x00bool", False)
# Integers a double holds exactly; beyond, a protobuf Struct (a double) renders them rounded.
_EXACT_INT = 2**53


def normalise(value: Any) -> Key:
    """A hashable form of a JSON value in which re-renderings of the same value are equal.

    Object members whose value is ``null`` are left out (an added or dropped null field is no
    difference), object keys are sorted, numbers compare by value (``1.0`` == ``1``; an integer
    beyond 2**53 as its nearest double), booleans stay distinct from numbers. Nulls inside a
    list are kept: there they hold a place.
    """
    kind = type(value)
    if kind is str or value is None or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is dict:
        members = []
        for k, v in value.items():
            vkind = type(v)
            if vkind is str or vkind is float:  # the common flat case, without a call
                members.append((k, v))
            elif v is not None:
                members.append((k, normalise(v)))
        members.sort()  # keys are unique: the sort never compares two values
        return (_OBJECT, *members)
    if kind is list:
        return tuple(normalise(v) for v in value)
    if kind is bool:
        return _TRUE if value else _FALSE
    if kind is int:
        return float(value) if not -_EXACT_INT <= value <= _EXACT_INT else value
    return value  # type: ignore[no-any-return]


def slim_import(kind: JobKind, result: Request) -> Request:
    """What the join needs of one import result; a user import with a uid needs only two
    fields, which keeps a 50,000-row job's pages small while they wait to be joined."""
    if kind == "users" and result.get("uid"):
        return {"uid": result["uid"], "id": result.get("id")}
    return result


def _no_positions() -> Positions:
    return np.empty(0, dtype=np.int64)


def _no_ids() -> pa.Array:
    return pa.array([], type=pa.string())


@dataclass
class JobJoin:
    """One job's rows, sorted into outcomes by source position.

    Columnar, so that a million rows' outcomes travel to the result frames without a Python
    object per row: ``imported`` (int64 positions) beside ``fullstory_ids`` (Arrow text, null
    where an import carried no id); ``failed`` beside ``codes`` and ``messages`` (lists:
    failures are few). Sequences given for the arrays are converted.
    """

    imported: Positions = field(default_factory=_no_positions)
    fullstory_ids: pa.Array = field(default_factory=_no_ids)
    failed: Positions = field(default_factory=_no_positions)
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    unmatched_results: int = 0
    #: Results matched only by a loose key (a uid alone, an event's name): counted, and logged.
    loose_matches: int = 0

    def __post_init__(self) -> None:
        self.imported = _as_positions(self.imported)
        self.fullstory_ids = _id_array(self.fullstory_ids)
        self.failed = _as_positions(self.failed)
        self.codes = list(self.codes)
        self.messages = list(self.messages)
        if len(self.fullstory_ids) != len(self.imported):
            raise ValueError("a JobJoin needs one Fullstory id (or null) per imported row")
        if not len(self.codes) == len(self.messages) == len(self.failed):
            raise ValueError("a JobJoin needs one code and one message per failed row")

    @classmethod
    def failing(cls, positions: Positions, code: str, message: str) -> JobJoin:
        """Every row at ``positions`` failed, for the same reason."""
        n = len(positions)
        return cls(failed=positions, codes=[code] * n, messages=[message] * n)

    @classmethod
    def combine(cls, parts: Sequence[JobJoin]) -> JobJoin:
        """The outcomes of several parts of one job (disjoint rows), counters added."""
        return cls(
            imported=np.concatenate([_no_positions(), *(p.imported for p in parts)]),
            fullstory_ids=pa.concat_arrays([_no_ids(), *(p.fullstory_ids for p in parts)]),
            failed=np.concatenate([_no_positions(), *(p.failed for p in parts)]),
            codes=[c for p in parts for c in p.codes],
            messages=[m for p in parts for m in p.messages],
            unmatched_results=sum(p.unmatched_results for p in parts),
            loose_matches=sum(p.loose_matches for p in parts),
        )


def _as_positions(values: Any) -> Positions:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _id_array(values: Any) -> pa.Array:
    """Fullstory ids as Arrow text: text kept, None null, anything else as its text."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == pa.string() else values.cast(pa.string())
    values = list(values)
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


@dataclass
class _Outcomes:
    """Outcomes found row by row (the reference join), made a :class:`JobJoin` at the end."""

    imported: list[int] = field(default_factory=list)
    fullstory_ids: list[str | None] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    unmatched_results: int = 0
    loose_matches: int = 0

    def fail(self, position: int, code: str, message: str) -> None:
        self.failed.append(position)
        self.codes.append(code)
        self.messages.append(message)

    def join(self) -> JobJoin:
        return JobJoin(
            _as_positions(self.imported),
            _id_array(self.fullstory_ids),
            _as_positions(self.failed),
            self.codes,
            self.messages,
            self.unmatched_results,
            self.loose_matches,
        )


def join_job(
    kind: JobKind,
    positions: Positions,
    requests: Sequence[Request],
    imports: Sequence[Request],
    errors: Sequence[Request],
) -> JobJoin:
    """Match a job's imports and errors to the positions of the requests that were sent.

    This is the reference join: every rule of the module, over whole request objects.
    :func:`join_users` gives the same answer for users from the uids sent and the imports'
    identities alone, reading whole objects only where a uid cannot decide.

    Parameters
    ----------
    kind : {"users", "events"}
    positions : array of int64
        Source position of each request, in request order.
    requests : sequence of dict
        The request objects that were sent.
    imports, errors : sequence of dict
        Every result of ``.../imports`` and ``.../errors`` for the job, in any order.
    """
    result = _join(kind, positions, requests, imports, errors)
    _report(result)
    return result


def _join(
    kind: JobKind,
    positions: Positions,
    requests: Sequence[Request],
    imports: Sequence[Request],
    errors: Sequence[Request],
) -> JobJoin:
    joiner = _Joiner(dict(zip(positions.tolist(), requests, strict=True)))
    echo_field = "user" if kind == "users" else "event"
    # An error without an echoed object cannot be told from any other: it matches no row.
    echoed = [e for e in errors if isinstance(e.get(echo_field), dict) and e[echo_field]]
    joiner.result.unmatched_results += len(errors) - len(echoed)
    pending: dict[str, Pending] = {
        "errors": [(e[echo_field], e) for e in echoed],
        "imports": [(i, i) for i in imports],
    }
    record = {"errors": joiner.failed, "imports": joiner.importer(kind)}
    strict, loose = _PASSES[kind]
    for step in strict:
        joiner.run(step, pending, record)
    loose_before = len(joiner.remaining)
    for step in loose:
        joiner.run(step, pending, record)
    if kind == "users":
        pending["imports"] = joiner.in_order(pending["imports"])
    joiner.result.loose_matches = loose_before - len(joiner.remaining)
    result = joiner.result
    result.unmatched_results += len(pending["errors"]) + len(pending["imports"])
    for position in joiner.remaining:
        result.fail(position, "unreconciled", _UNRECONCILED)
    return result.join()


def _report(result: JobJoin) -> None:
    """Say in the log what did not match cleanly."""
    unreconciled = sum(code == "unreconciled" for code in result.codes)
    if result.loose_matches:
        logger.warning(
            "%d job results matched their rows only loosely (by uid or event name, their "
            "content differing): the server changed more than nulls and number forms",
            result.loose_matches,
        )
    if unreconciled or result.unmatched_results:
        logger.error(
            "job results do not reconcile: %d rows without a result, %d results without a row",
            unreconciled,
            result.unmatched_results,
        )


def join_users(
    positions: Positions,
    uids: pa.Array | Sequence[str | None],
    ids: pa.Array | Sequence[str | None],
    imports: Sequence[ImportIds],
    errors: Sequence[Request],
    requests_at: Callable[[Positions], list[Request]],
) -> JobJoin:
    """:func:`join_job` for users, columnar: the same answer, from who each row names.

    A row with a uid (text, not ``""``) can only be claimed by results carrying that uid, so
    rows are decided by uid alone, in arrays, wherever that is all the reference join looks
    at: a uid held by one row (an error's echo must also name the ``id`` it was sent with;
    an import need only carry the uid), and a uid several rows share but no error names
    (its imports then take its rows in request order, first import first, as the reference
    join's queue does). The uids sent, the imports' and the errors' echoes are hashed once,
    together. The other rows -- anonymous, an empty uid, a shared uid an error names -- and
    the results left over are handed to :func:`join_job` whole, their requests built again by
    ``requests_at``.

    Parameters
    ----------
    positions : array of int64
        Source position of each request, in request order.
    uids, ids : pyarrow.Array or sequence of str or None
        The ``uid`` and ``id`` each request was sent with (:meth:`Plan.identities`).
    imports : sequence of ImportIds
        Every page of the job's imports.
    errors : sequence of dict
        Every result of ``.../errors``.
    requests_at : callable
        The request objects of the rows at some positions (:meth:`Plan.requests_at`).
    """
    echoed = [(e, e["user"]) for e in errors if isinstance(e.get("user"), dict) and e["user"]]
    imported = _Imported(imports)
    found = _Uids(
        _text_array(uids),
        _text_array(imported.uids),
        _text_array([echo.get("uid") for _, echo in echoed]),
    )
    mine = found.decided_by_uid()
    sent_ids = _text_array(ids)
    if not mine.all():
        sent_ids = sent_ids.filter(pa.array(mine))
    own = _OwnUids(positions[mine], found.rows[mine], sent_ids)
    own.result.unmatched_results += len(errors) - len(echoed)  # no echo: it matches no row
    others = own.errors(echoed, found.errors, found.size)
    imports_left = own.imports(imported, found.imports, found.size)
    own.loose_errors()
    rest = positions[~mine]
    if len(rest):
        theirs = _join("users", rest, requests_at(rest), imports_left, others)
    else:  # no other row: what is left matches nothing
        theirs = JobJoin(unmatched_results=len(imports_left) + len(others))
    result = JobJoin.combine([own.join(), theirs])
    _report(result)
    return result


Codes = npt.NDArray[np.int64]


class _Uids:
    """The uids of a job's rows, imports and errors' echoes as codes of one dictionary (one
    hash pass over all three): equal text, equal code; -1 where there is no text uid."""

    def __init__(self, rows: pa.Array, imports: pa.Array, errors: pa.Array) -> None:
        encoded = pa.concat_arrays([rows, imports, errors]).dictionary_encode()
        codes = np.array(encoded.indices.fill_null(-1), dtype=np.int64)  # writable
        # "" names nobody (the reference join takes it for no uid): it gets no code either.
        blank = pc.index(encoded.dictionary, "").as_py()
        if blank >= 0:
            codes[codes == blank] = -1
        self.size = max(len(encoded.dictionary), 1)
        self.rows, self.imports, self.errors = np.split(
            codes, [len(rows), len(rows) + len(imports)]
        )

    def decided_by_uid(self) -> npt.NDArray[np.bool_]:
        """Rows whose uid alone decides them: held by no other row, or named by no error."""
        named = self.rows >= 0
        held = np.bincount(self.rows[named], minlength=self.size)
        echoed = np.zeros(self.size, dtype=bool)
        echoed[self.errors[self.errors >= 0]] = True
        code = np.maximum(self.rows, 0)
        mine: npt.NDArray[np.bool_] = named & ((held[code] == 1) | ~echoed[code])
        return mine


def _ranks(codes: Codes, size: int) -> tuple[Codes, Codes]:
    """Each element's rank among the elements of its code, in order (0 for the first), and
    how many elements each code has. Only codes held more than once are sorted."""
    counts = np.bincount(codes, minlength=size)
    ranks = np.zeros(len(codes), dtype=np.int64)
    shared = np.flatnonzero(counts[codes] > 1)
    if len(shared):
        order = np.argsort(codes[shared], kind="stable")
        grouped = codes[shared][order]
        first = np.searchsorted(grouped, grouped, side="left")  # where each code's run starts
        ranks[shared[order]] = np.arange(len(shared)) - first
    return ranks, counts


def _text_array(values: pa.Array | Sequence[Any]) -> pa.Array:
    """``values`` as an Arrow string array for hashing: anything not text (None, a number a
    server put for a uid) becomes null, which matches no uid sent (uids are sent as text)."""
    if isinstance(values, pa.Array):
        return values.cast(pa.string())
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v if isinstance(v, str) else None for v in values], type=pa.string())


class _OwnUids:
    """The rows a uid decides (:meth:`_Uids.decided_by_uid`), matched by uid (and id)."""

    def __init__(self, positions: Positions, codes: Codes, ids: pa.Array) -> None:
        self.positions = positions
        self.codes = codes
        self.ids = ids
        self.left = np.ones(len(positions), dtype=bool)
        self.loose: list[tuple[int, Request]] = []  # (row, error) for the loose pass
        self.result = _Outcomes()
        self.imported: list[tuple[Positions, pa.Array]] = []

    def errors(
        self, echoed: Sequence[tuple[Request, dict[str, Any]]], codes: Codes, size: int
    ) -> list[Request]:
        """Match errors whose echo names a row's uid (and the id it was sent with); return
        the others, which go on to the reference join. An error never names a uid several of
        these rows share (such rows go to the reference join).

        A row is taken by its first error whose echo names it as it was sent; its other
        errors wait, in their order, for the loose pass (:meth:`loose_errors`)."""
        row_of = np.full(size + 1, -1, dtype=np.int64)  # code -1 (no uid) -> no row
        row_of[self.codes] = np.arange(len(self.codes))
        rows = row_of[codes]
        mine = np.flatnonzero(rows >= 0)
        others = [echoed[i][0] for i in np.flatnonzero(rows < 0).tolist()]
        sent_ids = self.ids.take(pa.array(rows[mine])).to_pylist()
        strict = np.fromiter(
            (
                _sent_id(echoed[i][1]) == (sent or None)
                for i, sent in zip(mine.tolist(), sent_ids, strict=True)
            ),
            dtype=bool,
            count=len(mine),
        )
        candidates = mine[strict]
        _, first = np.unique(rows[candidates], return_index=True)
        takers = np.sort(candidates[first])  # each row's first strict error, in error order
        waiting = np.ones(len(echoed), dtype=bool)
        waiting[takers] = False
        self._fail_all(rows[takers], [echoed[i][0] for i in takers.tolist()])
        self.loose += [(int(rows[i]), echoed[i][0]) for i in mine[waiting[mine]].tolist()]
        return others

    def imports(self, imported: _Imported, codes: Codes, size: int) -> list[Request]:
        """Match imports by uid: the k-th import of a uid (in page order) takes the k-th row
        of that uid still unmatched (in request order). Return the imports left, in their
        order, for the rest."""
        rows = np.flatnonzero(self.left)
        row_ranks, held = _ranks(self.codes[rows], size)
        starts = np.cumsum(held) - held
        # slot (a code's first row, then its second...) -> row
        slots = np.empty(len(rows), dtype=np.int64)
        slots[starts[self.codes[rows]] + row_ranks] = rows
        named = np.flatnonzero(codes >= 0)
        ranks, _ = _ranks(codes[named], size)
        hit = ranks < held[codes[named]]
        chosen = named[hit]  # imports that take a row
        taken = slots[starts[codes[chosen]] + ranks[hit]]
        self.left[taken] = False
        ids = _id_array(imported.ids)
        if len(chosen) < len(ids):  # else every import took a row: chosen is 0, 1, 2...
            ids = ids.take(pa.array(chosen))
        self.imported.append((self.positions[taken], ids))
        return imported.left_over(chosen)

    def loose_errors(self) -> None:
        """Errors whose echo names a row's uid but not as it was sent: matched by the uid
        alone if the row is still unmatched (join_job's loose pass); otherwise unmatched."""
        for row, error in self.loose:
            if self.left[row]:
                self._fail(row, error)
                self.result.loose_matches += 1
            else:
                self.result.unmatched_results += 1
        for row in np.flatnonzero(self.left).tolist():
            self.result.fail(int(self.positions[row]), "unreconciled", _UNRECONCILED)

    def join(self) -> JobJoin:
        """What these rows came to: the imports matched in arrays, the failures row by row."""
        return JobJoin.combine(
            [self.result.join(), *(JobJoin(at, ids) for at, ids in self.imported)]
        )

    def _fail(self, row: int, error: Request) -> None:
        self.left[row] = False
        self.result.fail(
            int(self.positions[row]), _error_code(error), str(error.get("message") or "")
        )

    def _fail_all(self, rows: Codes, errors: list[Request]) -> None:
        """:meth:`_fail` for many rows (distinct), each with its error."""
        self.left[rows] = False
        self.result.failed += self.positions[rows].tolist()
        self.result.codes += [_error_code(error) for error in errors]
        self.result.messages += [str(error.get("message") or "") for error in errors]


def compact_ids(page: ImportIds) -> ImportIds:
    """``page`` with its uids and ids as Arrow text arrays, to keep until the join: while a
    wave of ten 50,000-row jobs is read, a million Python strings and their lists (about 130
    bytes a row) would be held, where Arrow holds about 30. A page whose uids or ids are not
    all text (a server writing numbers) is kept as read, as the reference join reads it."""
    try:
        uids = pa.array(page.uids, type=pa.string())
        ids = pa.array(page.ids, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return page
    return dataclasses.replace(page, uids=uids, ids=ids)


class _Imported:
    """A users job's imports as the pages read them, one array (or list, if a page kept its
    values as read: :func:`compact_ids`) per field for the whole job."""

    def __init__(self, pages: Sequence[ImportIds]) -> None:
        self.pages = pages
        self.uids: pa.Array | list[Any]
        self.ids: pa.Array | list[Any]
        if pages and all(isinstance(page.uids, pa.Array) for page in pages):
            self.uids = pa.concat_arrays([page.uids for page in pages])
            self.ids = pa.concat_arrays([page.ids for page in pages])
        else:
            self.uids = list(itertools.chain.from_iterable(map(_as_list, (p.uids for p in pages))))
            self.ids = list(itertools.chain.from_iterable(map(_as_list, (p.ids for p in pages))))

    def left_over(self, taken: Codes) -> list[Request]:
        """The imports no row took, in their order, as the reference join reads them: whole
        where the page kept them whole (no uid), else their uid and id."""
        left = np.ones(len(self.uids), dtype=bool)
        left[taken] = False
        wanted = np.flatnonzero(left).tolist()
        if not wanted:
            return []
        whole: dict[int, Request] = {}
        offset = 0
        for page in self.pages:
            whole.update((offset + i, obj) for i, obj in page.anonymous)
            offset += len(page)
        out: list[Request] = []
        uids, ids = _as_list(self.uids), _as_list(self.ids)
        for i in wanted:
            obj = whole.get(i)
            out.append(obj if obj is not None else {"uid": uids[i], "id": ids[i]})
        return out


def _as_list(values: pa.Array | Sequence[Any]) -> Sequence[Any]:
    return values.to_pylist() if isinstance(values, pa.Array) else values


def _error_code(error: Request) -> str:
    code = error.get("code")
    return "" if code is None else str(code)


_UNRECONCILED = (
    "Fullstory reported no import and no error that matches this row; its outcome is unknown"
)


# -- passes ---------------------------------------------------------------------------------------

RowKey = Callable[[Request], Key | None]
ResultKeys = Callable[[Request], Iterable[Key]]
Pending = list[tuple[Request, Request]]  # (the object to key, the result it came from)


@dataclass(frozen=True)
class _Pass:
    """One matching pass: the key of a sent row (None: not a candidate) and, for errors and/or
    imports (matched in that order, from one index of the rows), the keys a result may have
    been sent under, tried in order.

    ``cheap``, when given, is a field equal on both sides that spares computing the key of rows
    no result can match. ``tiebreak``, when given, must also be equal on both sides, but is
    only computed where several rows share a key (a uid sent twice, anonymous users): a key
    held by one row is enough."""

    row_key: RowKey
    targets: tuple[tuple[str, ResultKeys], ...]
    cheap: Callable[[Request], Any] | None = None
    tiebreak: Callable[[Request], Key] | None = None


class _Joiner:
    def __init__(self, remaining: dict[int, Request]):
        self.remaining = remaining  # source position -> request, not yet matched
        self.result = _Outcomes()

    def run(
        self,
        step: _Pass,
        pending: dict[str, Pending],
        record: dict[str, Callable[[int, Request], None]],
    ) -> None:
        """Match what is ``pending`` under ``step``, leaving there what is still unmatched."""
        if not self.remaining or not any(pending[what] for what, _ in step.targets):
            return
        pool = self._pool(step, pending)
        if not pool:
            return
        # key -> (tiebreak key -> positions), made for a key the first time it is shared.
        split: dict[Key, dict[Key, deque[int]]] = {}
        tiebreak = step.tiebreak
        remaining = self.remaining
        for what, result_keys in step.targets:
            leftovers: Pending = []
            found = record[what]
            for obj, source in pending[what]:
                for key in result_keys(obj):
                    queue = pool.get(key)
                    if tiebreak is not None and (key in split or (queue and len(queue) > 1)):
                        position = self._take_shared(pool, split, key, tiebreak, tiebreak(obj))
                    elif queue:
                        position = queue.popleft()
                    else:
                        continue
                    if position is not None:
                        del remaining[position]
                        found(position, source)
                        break
                else:
                    leftovers.append((obj, source))
            pending[what] = leftovers

    def _pool(self, step: _Pass, pending: dict[str, Pending]) -> dict[Key, deque[int]]:
        rows: Iterable[tuple[int, Request]] = self.remaining.items()
        cheap = step.cheap
        if cheap is not None:
            wanted = {cheap(obj) for what, _ in step.targets for obj, _ in pending[what]}
            rows = [(p, r) for p, r in rows if cheap(r) in wanted]
        pool: dict[Key, deque[int]] = {}
        row_key = step.row_key
        for position, request in rows:
            key = row_key(request)
            if key is not None:
                queue = pool.get(key)
                if queue is None:
                    pool[key] = deque((position,))
                else:
                    queue.append(position)
        return pool

    def _take_shared(
        self,
        pool: dict[Key, deque[int]],
        split: dict[Key, dict[Key, deque[int]]],
        key: Key,
        tiebreak: Callable[[Request], Key],
        wanted: Key,
    ) -> int | None:
        """Pop a row under a ``key`` several rows share, and under the ``wanted`` tiebreak.
        The key's rows are split by tiebreak once, the first time it is needed."""
        by_tiebreak = split.get(key)
        if by_tiebreak is None:
            by_tiebreak = split[key] = {}
            for position in pool.pop(key):
                by_tiebreak.setdefault(tiebreak(self.remaining[position]), deque()).append(position)
        candidates = by_tiebreak.get(wanted)
        return candidates.popleft() if candidates else None

    def failed(self, position: int, error: Request) -> None:
        code, message = error.get("code"), error.get("message")
        self.result.fail(position, "" if code is None else str(code), str(message or ""))

    def importer(self, kind: JobKind) -> Callable[[int, Request], None]:
        fs_id = _user_id if kind == "users" else _event_user_id

        def record(position: int, imported: Request) -> None:
            self.result.imported.append(position)
            self.result.fullstory_ids.append(fs_id(imported))

        return record

    def in_order(self, leftovers: Pending) -> Pending:
        """Last resort for imported anonymous users whose content was rewritten: pair them
        with the anonymous rows still unmatched, in order (they are all new users)."""
        candidates = [p for p, r in self.remaining.items() if not r.get("uid")]
        record = self.importer("users")
        for position, (_, imported) in zip(candidates, leftovers, strict=False):
            del self.remaining[position]
            record(position, imported)
        return leftovers[len(candidates) :]


# -- users --------------------------------------------------------------------------------------


def _uid(obj: Request) -> Any:
    return obj.get("uid") or None


def _user_id(obj: Request) -> str | None:
    value = obj.get("id")
    return None if value is None else str(value)


def _content(obj: Request) -> Key:
    """What a user row says of the user besides who it is (schema and server fields aside)."""
    return (
        normalise(obj.get("display_name")),
        normalise(obj.get("email")),
        normalise(obj.get("properties") or {}),
    )


def _sent_as(obj: Request) -> Key:
    """How a user row names its user, exactly: uid ("" kept apart from absent) and id."""
    return (obj.get("uid"), _sent_id(obj))


def _sent_id(obj: Request) -> str | None:
    """The Fullstory id a user row names, as :func:`_sent_as` reads it."""
    user_id = obj.get("id")
    return None if not user_id else str(user_id)


def _identity(obj: Request) -> Key | None:
    """How a user row names its user: uid first, else Fullstory id; None when anonymous."""
    uid = obj.get("uid")
    if uid:
        return ("uid", uid)
    user_id = obj.get("id")
    return ("id", str(user_id)) if user_id else None


def _one(key: Callable[[Request], Key | None]) -> ResultKeys:
    def keys(obj: Request) -> list[Key]:
        value = key(obj)
        return [] if value is None else [value]

    return keys


def _anonymous_content(obj: Request) -> Key | None:
    """Content of a row (or echo) that names no user: a new anonymous user."""
    return None if _identity(obj) is not None else _content(obj)


def _row_by_id(obj: Request) -> Key | None:
    user_id = obj.get("id")
    return str(user_id) if user_id and not obj.get("uid") else None


def _import_uid(obj: Request) -> list[Key]:
    uid = obj.get("uid")
    return [uid] if uid else []


def _import_id(obj: Request) -> list[Key]:
    user_id = obj.get("id")
    return [str(user_id)] if user_id else []


def _import_anonymous(obj: Request) -> list[Key]:
    # The import of a new anonymous user is the stored user: its id is new, its content is
    # what was sent (nulls gone).
    return [] if obj.get("uid") else [_content(obj)]


# -- events -------------------------------------------------------------------------------------


_name = operator.methodcaller("get", "name")


def _member(obj: Request, name: str) -> dict[str, Any]:
    value = obj.get(name)
    return value if type(value) is dict else _EMPTY


_EMPTY: dict[str, Any] = {}


def _event_user_id(obj: Request) -> str | None:
    value = _member(obj, "user").get("id")
    return None if value is None else str(value)


def _who_sent(obj: Request) -> tuple[str, str] | None:
    """The one way a sent event named its user or session."""
    user = _member(obj, "user")
    for label in ("uid", "id"):
        value = user.get(label)
        if value:
            return (label, str(value))
    session_id = _member(obj, "session").get("id")
    return ("session", str(session_id)) if session_id else None


def _who_echoed(obj: Request) -> list[tuple[str, str] | None]:
    """The ways a result may have been sent: an import echoes the user's ``id`` next to a
    ``uid`` and the session's user next to a session id; an event may name nobody."""
    user = _member(obj, "user")
    whos: list[tuple[str, str] | None] = []
    for label in ("uid", "id"):
        value = user.get(label)
        if value:
            whos.append((label, str(value)))
    session_id = _member(obj, "session").get("id")
    if session_id:
        whos.append(("session", str(session_id)))
    whos.append(None)
    return whos


def _event_key(obj: Request) -> Key:
    """A sent event: what it is, when, who, and its properties, normalised."""
    properties = normalise(obj.get("properties") or {})
    return (obj.get("name"), _instant(obj.get("timestamp")), _who_sent(obj), properties)


def _event_result_keys(obj: Request) -> Iterator[Key]:
    """Keys a result (an error's echo, an import) may have been sent under, likeliest first
    (made lazily: the first usually matches). An import carries more than was sent: the
    user's ``id`` next to a ``uid``, a ``timestamp`` Fullstory filled in when the request had
    none."""
    name, properties = obj.get("name"), normalise(obj.get("properties") or {})
    instant = _instant(obj.get("timestamp"))
    whos = _who_echoed(obj)
    for who in whos:
        yield (name, instant, who, properties)
    if instant is not None:
        for who in whos:
            yield (name, None, who, properties)


def _event_who(obj: Request) -> Key:
    return (obj.get("name"), _who_sent(obj))


def _event_who_keys(obj: Request) -> list[Key]:
    return [(obj.get("name"), who) for who in _who_echoed(obj)]


def _instant(value: Any) -> Any:
    return _parse_instant(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1 << 16)
def _parse_instant(value: str) -> Any:
    """A timestamp as an instant, so ``...:00Z``, ``...:00.000Z`` and ``...:00+00:00`` are
    equal; a text that is not ISO 8601 is compared as it is."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


# -- the passes of each kind --------------------------------------------------------------------

_ERRORS, _IMPORTS = "errors", "imports"

_USER_STRICT = [
    # An error echoes the whole request: uid ("" apart from absent) and id, then its content
    # normalised where that uid or id is not enough (sent twice, or no uid at all).
    _Pass(_sent_as, ((_ERRORS, _one(_sent_as)),), cheap=_uid, tiebreak=_content),
    # An import carries the uid it was stored under (slim_import left little else) ...
    _Pass(_uid, ((_IMPORTS, _import_uid),)),
    # ... or, for a row that named its user by Fullstory id alone, that id ...
    _Pass(_row_by_id, ((_IMPORTS, _import_id),)),
    # ... or, for a new anonymous user, the content it was created with.
    _Pass(_anonymous_content, ((_IMPORTS, _import_anonymous),)),
]
_USER_LOOSE = [
    # Content rewritten beyond nulls and number forms: the uid (or id) alone, then, for rows
    # naming no user, the content with an empty uid taken as none.
    _Pass(_identity, ((_ERRORS, _one(_identity)),)),
    _Pass(_anonymous_content, ((_ERRORS, _one(_anonymous_content)),)),
]
_EVENT_STRICT = [
    _Pass(_event_key, ((_ERRORS, _event_result_keys), (_IMPORTS, _event_result_keys)), _name),
]
_EVENT_LOOSE = [
    _Pass(_event_who, ((_ERRORS, _event_who_keys), (_IMPORTS, _event_who_keys)), _name),
    _Pass(_name, ((_ERRORS, _one(_name)), (_IMPORTS, _one(_name)))),
]
_PASSES: dict[str, tuple[list[_Pass], list[_Pass]]] = {
    "users": (_USER_STRICT, _USER_LOOSE),
    "events": (_EVENT_STRICT, _EVENT_LOOSE),
}
