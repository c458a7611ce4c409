"""Plan and Chunk: validated rows, the type plan, and lazily built HTTP bodies.

A :class:`Plan` holds the fields (which column feeds which JSON path), each column's values
as checked while planning (canonical Arrow arrays, ``types.canonical``: a snapshot, so the
frame may change afterwards without changing what is sent) and the rows that passed
validation. Bodies are assembled one chunk at a time from column-wise JSON texts built a
slice of rows at a time (``encode.Members``): each field's values for the slice are taken
from its array and become ``"key":value`` member texts (nothing when the value is left
out), the members of a request are concatenated row-wise by one Arrow kernel call, and each
slice is appended to the body as soon as it exists. Slices may be built on several threads
(most of the work is Arrow/NumPy kernels, which release the GIL), a few ahead of the one
being appended, across chunk boundaries.
"""

from __future__ import annotations

import io
import logging
import os
from collections import deque
from collections.abc import Generator, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas._types import MAX_CHUNK
from fs_pandas.payloads.encode import Categories, Members, Part, binary_scalar
from fs_pandas.payloads.types import ValueKind

__all__ = ["Chunk", "Field", "Plan", "default_threads"]

logger = logging.getLogger(__name__)

Positions = npt.NDArray[np.int64]
_SLICE = 10_240  # rows turned into JSON text at once (3/4 of it with several threads)


@dataclass(frozen=True)
class Field:
    """One JSON leaf of every request and where its values come from.

    Attributes
    ----------
    column : Hashable | None
        Source column label (``None`` for a constant).
    index : int
        Position of the column in the frame (labels may repeat or be tuples).
    path : tuple[str, ...]
        Keys from the request root, e.g. ``("properties", "address", "city")``.
    kind : ValueKind
        How values are encoded.
    role : str
        What the column feeds: ``"property"``, ``"uid"``, ``"email"``, ``"context"``...
    declare : str | None
        Schema type declared for the value (contract §3.4), or ``None``.
    keep_null : bool
        Write JSON ``null`` for a missing value instead of leaving the key out.
    as_text : bool
        Numbers written as JSON strings (uids of int columns become ``"123"``).
    constant : str | None
        JSON text of a constant leaf (one event name for all rows, ``true``).
    """

    column: Hashable | None
    index: int
    path: tuple[str, ...]
    kind: ValueKind
    role: str
    declare: str | None = None
    keep_null: bool = False
    as_text: bool = False
    constant: str | None = None

    @property
    def name(self) -> str:
        """The Fullstory name: the property path for properties, else the request path."""
        if self.role == "property":
            return ".".join(self.path[1:])
        return ".".join(self.path)


@dataclass(frozen=True)
class Chunk:
    """One batch request body.

    Attributes
    ----------
    number : int
        0-based chunk number.
    positions : numpy.ndarray
        Source positions (int64) of the requests, in request order.
    body : bytes
        The exact HTTP body ``{"requests":[...]}``, compact UTF-8 JSON, deterministic.
    """

    number: int
    positions: Positions
    body: bytes = field(repr=False)

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class Prebuilt:
    """Per-row normalised values of a list/dict column, built (and checked) while planning."""

    values: list[Any]  # plain JSON value per source row, None where missing
    schema: list[dict[str, str] | None] | None  # declarations per source row (None: schema off)
    types: tuple[str, ...] = ()  # plural types found (lists), for the type plan


@dataclass(frozen=True)
class _Node:
    """A JSON object of the request: its members' ``"key":`` texts and where values come from."""

    prefixes: tuple[bytes, ...]
    children: tuple[Field | _Node | None, ...]  # None: the schema member


class Plan:
    """Validated rows of a frame and the recipe to turn them into request bodies.

    Built by :func:`plan_users` / :func:`plan_events`; see ``docs/payloads.md``.
    """

    def __init__(
        self,
        *,
        kind: Literal["users", "events"],
        n_rows: int,
        arrays: dict[int, pa.Array],
        fields: list[Field],
        rejected: pd.DataFrame,
        accepted: Positions,
        type_rows: list[dict[str, Any]],
        prebuilt: dict[int, Prebuilt],
    ) -> None:
        self.kind: Literal["users", "events"] = kind
        self.n_rows = n_rows
        self.rejected = rejected
        self.accepted_positions = accepted
        self._fields = fields
        self._arrays = arrays  # canonical values of the scalar columns, by column position
        self._type_rows = type_rows
        self._prebuilt = prebuilt
        self._declared = [f for f in fields if f.role == "property" and f.declare is not None]
        self._by_index = {f.index: f for f in fields if f.constant is None}
        self._keys = {i: _key(f.path[-1]) for i, f in self._by_index.items()}
        self._categories = {  # dictionary arrays: texts of the categories, made once
            i: Categories(
                arr.dictionary,
                self._by_index[i].kind,
                key=self._keys[i],
                as_text=self._by_index[i].as_text,
            )
            for i, arr in arrays.items()
            if isinstance(arr, pa.DictionaryArray)
        }
        self._root = _node(_tree(fields, bool(self._declared)))

    def __repr__(self) -> str:
        return (
            f"<Plan {self.kind}: {self.n_rows} rows, {len(self.accepted_positions)} accepted, "
            f"{len(self.rejected)} rejected>"
        )

    def type_plan(self) -> pd.DataFrame:
        """One row per source column used: column, property, type, nulls, note."""
        columns = ["column", "property", "type", "nulls", "note"]
        return pd.DataFrame(self._type_rows, columns=columns)

    def requests(self) -> list[dict[str, Any]]:
        """Every accepted row's request object, parsed back from the bodies (for inspection)."""
        out: list[dict[str, Any]] = []
        for chunk in self.chunks():
            out.extend(orjson.loads(chunk.body)["requests"])
        return out

    def requests_at(self, positions: Positions) -> list[dict[str, Any]]:
        """The request objects of the accepted rows at ``positions``, exactly as their chunk
        sends them (built again from the columns: a run keeps no body after its create).

        Thread-safe: a run's workers join results while the next chunk is built.
        """
        if not len(positions):
            return []
        body = _Body(len(positions))
        for start in range(0, len(positions), _SLICE):
            body.add(self._slice_text(positions[start : start + _SLICE]))
        requests: list[dict[str, Any]] = orjson.loads(body.finish())["requests"]
        return requests

    def identities(self, positions: Positions) -> tuple[pa.Array, pa.Array]:
        """How each user row at ``positions`` names its user: its ``uid`` and its Fullstory
        ``id`` as sent, as Arrow text arrays (null where the request has none), taken from
        those two columns alone (the oracle tests hold them to the bodies).

        Raises
        ------
        TypeError
            The plan is not of users.
        """
        if self.kind != "users":
            raise TypeError("identities() are those of a plan of users")
        return self._identity("uid", positions), self._identity("id", positions)

    def _identity(self, role: str, positions: Positions) -> pa.Array:
        f = next((f for f in self._fields if f.role == role), None)
        if f is None:
            return pa.nulls(len(positions), pa.string())
        values = _take(self._arrays[f.index], positions)
        if isinstance(values, pa.DictionaryArray):
            values = values.dictionary_decode()
        return values.cast(pa.string())  # whole numbers as text: "123", as sent

    def chunks(self, size: int = MAX_CHUNK, *, threads: int | None = None) -> Iterator[Chunk]:
        """Chunks of at most ``size`` requests, each built only when the iterator reaches it.

        ``threads`` (default: the machine's cores, at most 4) build slices of rows at once,
        at most ``threads + 1`` ahead of the one being appended (the next chunk's first
        slices while the consumer holds this one); the work is mostly Arrow/NumPy kernels,
        which release the GIL. ``threads=1`` builds on the calling thread only, nothing
        ahead. Bodies are the same whatever the setting.

        Raises
        ------
        ValueError
            ``size`` is below 1 or above 50,000 (contract §4), or ``threads`` below 1.
        """
        if isinstance(size, bool) or not isinstance(size, int | np.integer):
            raise TypeError(f"size must be an int, got {type(size).__name__}")
        if not 1 <= size <= MAX_CHUNK:
            raise ValueError(f"size must be between 1 and {MAX_CHUNK}, got {size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        return self._chunks(int(size), threads)

    def _chunks(self, size: int, threads: int | None) -> Iterator[Chunk]:
        workers = default_threads() if threads is None else threads
        accepted = self.accepted_positions
        starts = range(0, len(accepted), size)
        step = _SLICE if workers == 1 else _SLICE * 3 // 4  # see _in_order (memory)
        slices = (
            accepted[first : min(first + size, len(accepted))][start : start + step]
            for first in starts
            for start in range(0, min(size, len(accepted) - first), step)
        )
        texts = self._in_order(slices, workers)
        try:
            for number, first in enumerate(starts):
                positions = accepted[first : first + size]
                body = _Body(len(positions))
                for _ in range(0, len(positions), step):
                    body.add(next(texts))
                chunk = Chunk(number, positions, body.finish())
                del body  # the consumer holds the body, not this suspended frame (peak memory)
                yield chunk
                del chunk
        finally:
            texts.close()

    def _in_order(
        self, slices: Iterator[Positions], workers: int
    ) -> Generator[pa.BinaryArray, None, None]:
        """The request texts of each slice of rows, in order (see :meth:`_slice_text`).

        With several threads, slices are built ahead, across chunk boundaries: at most
        ``workers + 1`` at once, so one is always queued (a thread that finishes starts the
        next at once, rather than idle until this thread, which must first get the GIL back,
        hands it one) and the texts alive stay small next to a body. The next chunk's first
        slices are built while the consumer holds the chunk just yielded.
        """
        if workers == 1:
            yield from map(self._slice_text, slices)
            return
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fs_pandas-payloads")
        done = False
        try:
            pending: deque[Future[pa.BinaryArray]] = deque()
            for positions in slices:
                if len(pending) == workers + 1:
                    yield pending.popleft().result()
                pending.append(pool.submit(self._slice_text, positions))
            while pending:
                yield pending.popleft().result()
            done = True
        finally:
            # Left early (a run that stopped, an iterator dropped), this may run inside the
            # garbage collector, at any allocation of any thread -- even one inside
            # Thread.start() holding threading's own lock, which a worker needs to exit:
            # waiting for the workers there would hang every later thread start. So only a
            # pool that finished its work is waited for; an abandoned one is told to stop
            # and its workers end on their own after their current slice.
            pool.shutdown(wait=done, cancel_futures=True)

    def _slice_text(self, positions: Positions) -> pa.BinaryArray:
        """The requests of the rows at ``positions`` (a slice of a chunk, validated), each
        ``{...},``, back to back in one array's data.

        Every field's values are taken and converted for these rows only, become member
        texts, and the members of each request are concatenated row-wise.
        """
        n = len(positions)
        members = {i: self._members(f, positions) for i, f in self._by_index.items()}
        schema = self._schema(members, n, positions) if self._declared else None
        parts, surely = self._member_parts(self._root, members, schema, n)
        if surely:
            return _join([_OPEN, *parts, _CLOSE_ROW], n)
        # No member is sure to be written: every member ends with a comma, the last one of
        # each row is dropped. Each row is {members},  -- the rows' commas included.
        joined = _join(parts, n)
        rows: pa.BinaryArray = pc.binary_join_element_wise(
            _OPEN, _drop_last(joined), _CLOSE_ROW, _EMPTY
        )
        return rows

    def _members(self, f: Field, positions: Positions) -> Members:
        """One field's values at ``positions``, ready to become member texts."""
        key = self._keys[f.index]
        if f.index in self._prebuilt:  # list/dict values: normalised while planning
            values = self._prebuilt[f.index].values
            encoded = [
                None if values[i] is None else msgspec.json.encode(values[i])
                for i in positions.tolist()
            ]
            raw = pa.array(encoded, type=pa.binary())
            return Members(raw, f.kind, key=key, keep_null=f.keep_null, raw=True)
        arr = _take(self._arrays[f.index], positions)
        if isinstance(arr, pa.DictionaryArray):  # categorical: codes, over texts made once
            categories = self._categories[f.index]
            return Members(
                arr.indices, f.kind, key=key, keep_null=f.keep_null, categories=categories
            )
        return Members(arr, f.kind, key=key, as_text=f.as_text, keep_null=f.keep_null)

    def _always(
        self, child: Field | _Node | None, members: dict[int, Members], schema: Members | None
    ) -> bool:
        """Whether ``child`` is written in every row of the slice."""
        if child is None:
            return schema is not None and schema.always()
        if isinstance(child, Field):
            return child.constant is not None or members[child.index].always()
        return any(self._always(c, members, schema) for c in child.children)

    def _member_parts(
        self, node: _Node, members: dict[int, Members], schema: Members | None, n: int
    ) -> tuple[list[Part], bool]:
        """Parts that write the members of ``node`` row-wise, and whether one is sure.

        Commas: the first member written in every row (the lead) has none, members before it
        end with one, members after it start with one, so any subset written is valid JSON.
        Without a lead every member ends with a comma (the caller drops the last one).
        """
        written = [self._always(child, members, schema) for child in node.children]
        lead = written.index(True) if any(written) else len(written)
        parts: list[Part] = []
        for i, (prefix, child) in enumerate(zip(node.prefixes, node.children, strict=True)):
            before, after = (b"", b",") if i < lead else (b"", b"") if i == lead else (b",", b"")
            if child is None:
                assert schema is not None
                parts += schema.parts(before=before, after=after)
            elif isinstance(child, Field) and child.constant is not None:
                parts.append(_binary(before + prefix + child.constant.encode() + after))
            elif isinstance(child, Field):
                parts += members[child.index].parts(before=before, after=after)
            else:
                parts += self._object_parts(child, members, schema, n, (prefix, before, after))
        return parts, lead < len(written)

    def _object_parts(
        self,
        node: _Node,
        members: dict[int, Members],
        schema: Members | None,
        n: int,
        affixes: tuple[bytes, bytes, bytes],
    ) -> list[Part]:
        """A nested object member (``"properties":{...}``); ``affixes``: its ``"key":``
        text and the commas before and after it."""
        prefix, before, after = affixes
        inner, surely = self._member_parts(node, members, schema, n)
        if surely:
            return [_binary(before + prefix + b"{"), *inner, _binary(b"}" + after)]
        joined = _join(inner, n)
        wrapped = pc.binary_join_element_wise(
            _binary(before + prefix + b"{"), _drop_last(joined), _binary(b"}" + after), _EMPTY
        )
        # An object whose members are all left out is left out too (null policy).
        empty = pc.equal(pc.binary_length(joined), 0)
        return [pc.if_else(empty, pa.scalar(None, pa.binary()), wrapped)]

    def _schema(self, members: dict[int, Members], n: int, positions: Positions) -> Members:
        """``"schema":{"properties":{...}}`` declaring only the properties present in each
        row (contract §3.4), left out where none is.

        Rows share one text per presence pattern, so this costs a few numpy passes.
        """
        scalar = [f for f in self._declared if f.index not in self._prebuilt]
        masks = [members[f.index].present() for f in scalar]
        patterns, inverse = _patterns(masks, n)
        declared = [
            {f.name: f.declare for f, bit in zip(scalar, bits, strict=True) if bit}
            for bits in patterns
        ]
        if len(scalar) == len(self._declared):
            shared = [_schema_text(d) if d else None for d in declared]
            texts = pc.take(pa.array(shared, type=pa.binary()), pa.array(inverse))
        else:
            rows = self._merge_prebuilt([declared[k] for k in inverse.tolist()], positions)
            texts = pa.array([_schema_text(d) if d else None for d in rows], type=pa.binary())
        return Members(texts, ValueKind.OBJECT, key=b'"schema":', raw=True)

    def _merge_prebuilt(
        self, rows: list[dict[str, Any]], positions: Positions
    ) -> list[dict[str, Any]]:
        """Add per-row declarations of list/dict columns (ints/dates found in each value)."""
        for f in self._declared:
            schema = self._prebuilt[f.index].schema if f.index in self._prebuilt else None
            if schema is None:
                continue
            for k, i in enumerate(positions.tolist()):
                extra = schema[i]
                if extra:
                    rows[k] = {**rows[k], **extra}
        return rows


_binary = binary_scalar


def _take(arr: pa.Array, positions: Positions) -> pa.Array:
    """The values at ``positions``: a zero-copy slice when they are consecutive (no row of
    the slice was rejected), else an Arrow take."""
    n = len(positions)
    if n and int(positions[-1]) - int(positions[0]) == n - 1:
        return arr.slice(int(positions[0]), n)
    return arr.take(pa.array(positions))


def _join(parts: list[Part], n: int) -> pa.BinaryArray:
    """Row-wise concatenation of ``parts`` (adjacent constants merged first); a null part
    writes nothing (a member left out)."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, pa.Scalar) and merged and isinstance(merged[-1], pa.Scalar):
            merged[-1] = _binary(merged[-1].as_py() + part.as_py())
        else:
            merged.append(part)
    out = pc.binary_join_element_wise(
        *merged, _EMPTY, null_handling="replace", null_replacement=b""
    )
    if isinstance(out, pa.Scalar):  # only constants: the same text on every row
        return pa.repeat(out, n)
    joined: pa.BinaryArray = out
    return joined


_EMPTY = pa.scalar(b"", pa.binary())
_OPEN = pa.scalar(b"{", pa.binary())
_CLOSE_ROW = pa.scalar(b"},", pa.binary())


def default_threads() -> int:
    """Cores available to this process, at most 4 (slices are small; more threads wait)."""
    return max(
        1,
        min(
            4,
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
        ),
    )


def _key(name: str) -> bytes:
    """``"name":`` as JSON text."""
    return orjson.dumps(name) + b":"


def _drop_last(members: pa.BinaryArray) -> pa.BinaryArray:
    """Each row without its last byte (the comma after the last member)."""
    return pc.binary_slice(members, 0, -1)


def _schema_text(declared: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"properties": declared})


class _Body:
    """The body of one chunk, appended slice by slice into one buffer sized once.

    Growing a buffer slice by slice copies what is already in it at every step (about three
    bodies' worth of copying for a chunk); the size is instead estimated from the first slice
    (rows of one frame are alike) and reserved at once. The buffer becomes the ``bytes``
    without a copy (``BytesIO.getvalue``), so the peak stays about one body.
    """

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._out = io.BytesIO()
        self._out.write(b'{"requests":[')
        self._sized = False
        self._reserved = 0  # bytes the buffer holds already (written to in place)

    def add(self, rows: pa.BinaryArray) -> None:
        """Append the rows' text (each ``{...},``, back to back in the array's data buffer)."""
        _, offsets, data = rows.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int32)[rows.offset : rows.offset + len(rows) + 1]
        text = memoryview(data)[int(bounds[0]) : int(bounds[-1])]
        here = self._out.tell()
        if not self._sized and len(rows):
            self._sized = True
            estimate = here + len(text) * self._rows * 51 // (50 * len(rows)) + 2
            self._out.seek(estimate)
            self._out.write(b"\0")  # reserves the buffer (a larger body still grows it)
            self._out.seek(here)
            self._reserved = estimate
        if here + len(text) > self._reserved:
            self._out.write(text)
            return
        # Within the reserve: NumPy copies with the GIL released (other slices go on meanwhile).
        with self._out.getbuffer() as buffer:
            target = np.frombuffer(buffer, dtype=np.uint8, count=len(text), offset=here)
            np.copyto(target, np.frombuffer(text, dtype=np.uint8))
            del target
        self._out.seek(here + len(text))

    def finish(self) -> bytes:
        """``]}`` in place of the last row's comma; the reserve beyond it is cut off."""
        end = self._out.tell()
        if self._sized:
            end -= 1  # the last row's comma becomes the closing bracket
        self._out.seek(end)
        self._out.write(b"]}")
        self._out.truncate()
        # BytesIO hands over its own buffer here (no copy): peak is about one body.
        return self._out.getvalue()


_FEW_MASKS = 16  # presence patterns of up to this many declared fields: a table of 2**16


def _patterns(
    masks: list[npt.NDArray[np.bool_]], n: int
) -> tuple[list[list[bool]], npt.NDArray[np.intp]]:
    """Distinct presence patterns of ``masks`` and, per row, the index of its pattern."""
    if not masks:
        return [[]], np.zeros(n, dtype=np.intp)
    if len(masks) <= _FEW_MASKS:
        # One small integer a row (bit i: mask i holds), its distinct values counted in a
        # table of 2**k: no sort, no hashing.
        code = np.zeros(n, dtype=np.uint32)
        for i, mask in enumerate(masks):
            code |= mask.astype(np.uint32) << np.uint32(i)
        seen = np.flatnonzero(np.bincount(code, minlength=1 << len(masks)))
        index = np.zeros(1 << len(masks), dtype=np.intp)
        index[seen] = np.arange(len(seen))
        found = [[bool(c >> i & 1) for i in range(len(masks))] for c in seen.tolist()]
        return found, index[code]
    packed = np.packbits(np.column_stack(masks), axis=1, bitorder="little")
    if packed.shape[1] <= 8:
        # Up to 64 fields: one integer key per row, factorised by hashing (no sort).
        keys = np.zeros((n, 8), dtype=np.uint8)
        keys[:, : packed.shape[1]] = packed
        codes, _ = pd.factorize(keys.view(np.uint64).reshape(-1))
        rows = np.unique(codes, return_index=True)[1]
        first = packed[rows]
    else:
        first, codes = np.unique(packed, axis=0, return_inverse=True)
    width = len(masks)
    patterns = [
        np.unpackbits(row, bitorder="little")[:width].astype(bool).tolist() for row in first
    ]
    return patterns, np.asarray(codes, dtype=np.intp).reshape(-1)


def _tree(fields: list[Field], with_schema: bool) -> dict[str, Any]:
    """Nest fields by path; the ``schema`` member (``None``) comes last."""
    tree: dict[str, Any] = {}
    for f in fields:
        node = tree
        for key in f.path[:-1]:
            node = node.setdefault(key, {})
        node[f.path[-1]] = f
    if with_schema:
        tree["schema"] = None
    return tree


def _node(tree: dict[str, Any]) -> _Node:
    prefixes = tuple(orjson.dumps(key) + b":" for key in tree)
    children = tuple(
        child if child is None or isinstance(child, Field) else _node(child)
        for child in tree.values()
    )
    return _Node(prefixes, children)
