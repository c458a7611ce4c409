"""Plan and Chunk: validated rows, the type plan, and lazily built HTTP bodies.

A :class:`Plan` holds the frame, the fields (which column feeds which JSON path) and the rows
that passed validation. Bodies are assembled one chunk at a time from column-wise JSON texts:
each field's values become ``,"key":value`` fragments (null when omitted), fragments of one
object are concatenated, and the rows of a chunk are laid out back to back in one Arrow buffer
that becomes ``chunk.body`` with a single copy.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fs_pandas.payloads.encode import encode, json_string
from fs_pandas.payloads.rules import MAX_CHUNK
from fs_pandas.payloads.types import Kind, to_arrow

__all__ = ["Chunk", "Field", "Plan"]

logger = logging.getLogger(__name__)

Positions = npt.NDArray[np.int64]


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
    """Per-row JSON texts of a list/dict column, built (and checked) while planning."""

    values: pa.Array  # JSON text per source row, null where missing
    schema: pa.Array | None  # ``,"a.b":"int"...`` per source row, null where none
    types: tuple[str, ...] = ()  # plural types found (lists), for the type plan


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

    def __repr__(self) -> str:
        return (
            f"<Plan {self.kind}: {self.n_rows} rows, {len(self.accepted_positions)} accepted, "
            f"{len(self.rejected)} rejected>"
        )

    def type_plan(self) -> pd.DataFrame:
        """One row per source column used: column, property, type, nulls, note."""
        return pd.DataFrame(
            self._type_rows, columns=["column", "property", "type", "nulls", "note"]
        )

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
        """The ``{"requests":[...]}`` body of the rows at ``positions`` (already validated)."""
        rows = self._rows(positions)
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)
        start, stop = offsets[rows.offset], offsets[rows.offset + len(rows)]
        data = memoryview(rows.buffers()[2])  # type: ignore[arg-type]
        # Every row ends with a comma; the last one is dropped.
        return b"".join((b'{"requests":[', data[start : stop - 1], b"]}"))

    def _rows(self, positions: Positions) -> pa.Array:
        tree = _tree(self._fields)
        texts = {f.index: self._texts(f, positions) for f in self._fields if f.constant is None}
        n = len(positions)
        inner = self._object(tree, texts, n, positions)
        return pc.binary_join_element_wise("{", inner, "},", "")

    def _texts(self, f: Field, positions: Positions) -> pa.Array:
        if f.index in self._prebuilt:
            return pc.take(self._prebuilt[f.index].values, pa.array(positions))
        series = self._frame.iloc[positions, f.index]
        arr = to_arrow(series, f.kind, naive_tz=self._naive_tz, column=f.column)
        text = encode(arr, f.kind)
        return json_string(text) if f.as_text else text

    def _object(
        self, node: dict[str, Any], texts: dict[int, pa.Array], n: int, positions: Positions
    ) -> pa.Array:
        """Content of one JSON object (without braces), ``""`` where every member is missing."""
        parts: list[pa.Array] = []
        for key, child in node.items():
            if isinstance(child, Field):
                parts.append(_member(key, _leaf(child, texts, n)))
            elif key == "schema":
                parts.append(self._schema(child, texts, n, positions))
            else:
                inner = self._object(child, texts, n, positions)
                parts.append(_member(key, _wrap(inner, "{", "}")))
        parts = [pc.fill_null(p, "") for p in parts]
        joined = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]
        return pc.utf8_slice_codeunits(joined, 1)  # drop the leading comma of the first member

    def _schema(
        self, node: dict[str, Any], texts: dict[int, pa.Array], n: int, positions: Positions
    ) -> pa.Array:
        """``,"schema":{"properties":{...}}`` with only the present properties declared."""
        parts: list[pa.Array] = []
        for f in node["properties"]:
            if f.index in self._prebuilt and self._prebuilt[f.index].schema is not None:
                schema = self._prebuilt[f.index].schema
                parts.append(pc.fill_null(pc.take(schema, pa.array(positions)), ""))
            elif f.declare is not None:
                present = texts[f.index].is_valid()
                decl = f',"{f.name}":"{f.declare}"'
                parts.append(pc.if_else(present, decl, ""))
        if not parts:
            return pa.nulls(n, pa.string())
        joined = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]
        inner = pc.utf8_slice_codeunits(joined, 1)
        props = _wrap(inner, '"properties":{', "}")
        return _member("schema", _wrap(props, "{", "}"))


def _tree(fields: list[Field]) -> dict[str, Any]:
    """Nest fields by path; ``schema`` collects the fields that declare a type, in order."""
    tree: dict[str, Any] = {}
    declared: list[Field] = []
    for f in fields:
        node = tree
        for key in f.path[:-1]:
            node = node.setdefault(key, {})
        node[f.path[-1]] = f
        if f.role == "property":
            declared.append(f)
    if declared:
        tree["schema"] = {"properties": declared}
    return tree


def _leaf(f: Field, texts: dict[int, pa.Array], n: int) -> pa.Array:
    if f.constant is not None:
        return pc.fill_null(pa.nulls(n, pa.string()), f.constant)
    values = texts[f.index]
    return pc.fill_null(values, "null") if f.keep_null else values


def _member(key: str, value: pa.Array) -> pa.Array:
    """``,"key":value``, null where the value is null (so the member is left out)."""
    return pc.binary_join_element_wise(f',"{key}":', value, "")


def _wrap(inner: pa.Array, left: str, right: str) -> pa.Array:
    """``left + inner + right``, null where ``inner`` is empty (an object with no members)."""
    wrapped = pc.binary_join_element_wise(left, inner, right, "")
    return pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()), wrapped)
