"""Plan and Chunk: validated rows, the type plan, and lazily built HTTP bodies.

A :class:`Plan` holds the frame, the fields (which column feeds which JSON path) and the rows
that passed validation. Bodies are assembled one chunk at a time from column-wise JSON texts:
each field's values become ``,"key":value`` fragments (null when omitted), fragments of one
object are concatenated, and the rows of a chunk are laid out back to back in one Arrow buffer
that becomes ``chunk.body`` with a single copy.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from fs_pandas.payloads.encode import Prepared, prepare
from fs_pandas.payloads.rules import MAX_CHUNK
from fs_pandas.payloads.types import Kind, source_missing, to_arrow

__all__ = ["Chunk", "Field", "Plan"]

logger = logging.getLogger(__name__)

Positions = npt.NDArray[np.int64]
_SLICE = 2_000  # rows turned into Python objects at once while encoding a chunk


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
    kind : Kind
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
    kind: Kind
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
    """A JSON object of the request: its members and the msgspec Struct that encodes it."""

    keys: tuple[str, ...]
    children: tuple[Field | _Node | None, ...]  # None: the schema member
    struct: type[msgspec.Struct]


class Plan:
    """Validated rows of a frame and the recipe to turn them into request bodies.

    Built by :func:`plan_users` / :func:`plan_events`; see ``docs/payloads.md``.
    """

    def __init__(
        self,
        *,
        kind: Literal["users", "events"],
        frame: pd.DataFrame,
        fields: list[Field],
        rejected: pd.DataFrame,
        accepted: Positions,
        naive_tz: str,
        type_rows: list[dict[str, Any]],
        prebuilt: dict[int, Prebuilt],
    ) -> None:
        self.kind: Literal["users", "events"] = kind
        self.n_rows = len(frame)
        self.rejected = rejected
        self.accepted_positions = accepted
        self._frame = frame
        self._fields = fields
        self._naive_tz = naive_tz
        self._type_rows = type_rows
        self._prebuilt = prebuilt
        self._declared = [f for f in fields if f.role == "property" and f.declare is not None]
        self._by_index = {f.index: f for f in fields if f.constant is None}
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

    def chunks(self, size: int = MAX_CHUNK) -> Iterator[Chunk]:
        """Chunks of at most ``size`` requests, each built only when the iterator reaches it.

        Raises
        ------
        ValueError
            ``size`` is below 1 or above 50,000 (contract §4).
        """
        if isinstance(size, bool) or not isinstance(size, int | np.integer):
            raise TypeError(f"size must be an int, got {type(size).__name__}")
        if not 1 <= size <= MAX_CHUNK:
            raise ValueError(f"size must be between 1 and {MAX_CHUNK}, got {size}")
        return self._chunks(int(size))

    def _chunks(self, size: int) -> Iterator[Chunk]:
        accepted = self.accepted_positions
        for number, start in enumerate(range(0, len(accepted), size)):
            positions = accepted[start : start + size]
            yield Chunk(number, positions, self.body(positions))

    def body(self, positions: Positions) -> bytes:
        """The ``{"requests":[...]}`` body of the rows at ``positions`` (already validated).

        Columns are converted once per chunk to compact arrays; rows are turned into Python
        objects and encoded ``_SLICE`` at a time, so the objects alive at once stay small next
        to the body; each encoded slice is appended to the body as soon as it exists.
        """
        sources = {f.index: self._source(f, positions) for f in self._fields if f.constant is None}
        encoder = msgspec.json.Encoder()
        out = io.BytesIO()
        out.write(b'{"requests":[')
        for start in range(0, len(positions), _SLICE):
            stop = min(start + _SLICE, len(positions))
            columns = {i: self._values(i, src, start, stop) for i, src in sources.items()}
            requests, _ = self._build(self._root, columns, stop - start, positions[start:stop])
            del columns
            if start:
                out.write(b",")
            out.write(memoryview(encoder.encode(requests))[1:-1])  # the list without [ ]
            del requests
        out.write(b"]}")
        # BytesIO hands over its own buffer here (no copy): peak is about one body.
        return out.getvalue()

    def _source(self, f: Field, positions: Positions) -> tuple[Any, npt.NDArray[np.bool_]]:
        """One field's values at ``positions``, converted once, and where they are present."""
        if f.index in self._prebuilt:
            source = self._prebuilt[f.index].values
            values = [source[i] for i in positions.tolist()]
            return values, np.fromiter((v is not None for v in values), bool, len(values))
        series = self._frame.iloc[positions, f.index]
        present = ~source_missing(series)
        if f.kind is Kind.STR and pd.api.types.is_object_dtype(series.dtype):
            return Prepared(series.to_numpy(dtype=object)), present  # already Python str
        arr = to_arrow(series, f.kind, naive_tz=self._naive_tz, column=f.column)
        return prepare(arr, f.kind, as_text=f.as_text), present

    def _values(
        self, index: int, source: tuple[Any, npt.NDArray[np.bool_]], start: int, stop: int
    ) -> tuple[list[Any], npt.NDArray[np.bool_]]:
        """Python values of rows ``start:stop`` of a source (UNSET where left out)."""
        data, present_all = source
        f = self._by_index[index]
        present = present_all[start:stop]
        values = data.values(start, stop) if isinstance(data, Prepared) else data[start:stop]
        if f.keep_null:
            for i in np.flatnonzero(~present).tolist():
                values[i] = None  # NaN, NaT, pd.NA all become null (null policy "null")
            return values, present  # the member is written (as null); present: has a value
        for i in np.flatnonzero(~present).tolist():
            values[i] = msgspec.UNSET  # left out of the object (null policy "omit")
        return values, present

    def _build(
        self,
        node: _Node,
        columns: dict[int, tuple[list[Any], npt.NDArray[np.bool_]]],
        n: int,
        positions: Positions,
    ) -> tuple[list[Any], npt.NDArray[np.bool_]]:
        """One Struct per row for ``node``; UNSET where the object would be empty."""
        members: list[Any] = []
        has = np.zeros(n, dtype=bool)
        for child in node.children:
            if child is None:
                values, present = self._schema(columns, n, positions)
            elif isinstance(child, Field) and child.constant is not None:
                values, present = [orjson.loads(child.constant)] * n, np.ones(n, dtype=bool)
            elif isinstance(child, Field):
                values, present = columns[child.index]
                if child.keep_null:
                    present = np.ones(n, dtype=bool)  # written as null when missing
            else:
                values, present = self._build(child, columns, n, positions)
            members.append(values)
            has |= present
        structs: list[Any] = list(map(node.struct, *members))
        for i in np.flatnonzero(~has).tolist():
            structs[i] = msgspec.UNSET
        return structs, has

    def _schema(
        self,
        columns: dict[int, tuple[list[Any], npt.NDArray[np.bool_]]],
        n: int,
        positions: Positions,
    ) -> tuple[list[Any], npt.NDArray[np.bool_]]:
        """``{"properties": {...}}`` declaring only the properties present in each row.

        Rows share one dict per presence pattern, so this costs a few numpy passes.
        """
        scalar = [f for f in self._declared if f.index not in self._prebuilt]
        patterns, inverse = _patterns([columns[f.index][1] for f in scalar], n)
        shared = np.empty(len(patterns), dtype=object)
        for k, bits in enumerate(patterns):
            declared = {f.name: f.declare for f, bit in zip(scalar, bits, strict=True) if bit}
            shared[k] = {"properties": declared} if declared else msgspec.UNSET
        values: list[Any] = shared[inverse].tolist()
        present = (shared != msgspec.UNSET)[inverse]
        if len(scalar) < len(self._declared):
            self._merge_prebuilt(values, present, positions)
        return values, present

    def _merge_prebuilt(
        self, values: list[Any], present: npt.NDArray[np.bool_], positions: Positions
    ) -> None:
        """Add per-row declarations of list/dict columns (ints/dates found in each value)."""
        for f in self._declared:
            schema = self._prebuilt[f.index].schema if f.index in self._prebuilt else None
            if schema is None:
                continue
            for k, i in enumerate(positions.tolist()):
                extra = schema[i]
                if extra:
                    base = values[k]["properties"] if present[k] else {}
                    values[k] = {"properties": {**base, **extra}}
                    present[k] = True


def _patterns(
    masks: list[npt.NDArray[np.bool_]], n: int
) -> tuple[list[list[bool]], npt.NDArray[np.intp]]:
    """Distinct presence patterns of ``masks`` and, per row, the index of its pattern."""
    if not masks:
        return [[]], np.zeros(n, dtype=np.intp)
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
    keys = tuple(tree)
    children = tuple(
        child if child is None or isinstance(child, Field) else _node(child)
        for child in tree.values()
    )
    names = [f"m{i}" for i in range(len(keys))]
    struct = msgspec.defstruct(
        "Request",
        [(name, Any, msgspec.UNSET) for name in names],
        omit_defaults=True,
        rename=dict(zip(names, keys, strict=True)),
        gc=False,  # never part of a cycle: skip GC tracking of a million short-lived objects
    )
    return _Node(keys, children, struct)
