"""The row type every benchmark section returns, and the one Markdown table they make.

A section is a function ``measure(rows: int, repeats: int) -> list[Row]`` (or similar): it
runs its variants alternately (A, B, C, A, B, C, ... never A, A, A, B, B, B) ``repeats`` times
and returns one :class:`Row` per variant and size, holding the *median* of those runs.

``Row`` fields (all but the first four are optional):

* ``section``   -- the section's name, e.g. ``"results to frames"``;
* ``variant``   -- what was measured, e.g. ``"fs_pandas"`` or ``"naive loop"``; unique within
  one section and size, because other rows name it as their baseline;
* ``size``      -- a label of the input size, e.g. ``"1,000,000 rows"`` (rows with the same
  section and size are compared with each other);
* ``seconds``   -- median wall-clock seconds, or ``None`` when there is no figure (the
  variant is not available or failed: say why in ``note``);
* ``baseline``  -- the ``variant`` of the row (same section, same size) this row is compared
  with; the table prints this row's time per row divided by the baseline's (below 1: faster);
  ``"VARIANT @ SIZE"`` names a row of the same section at another size (e.g. for scaling);
* ``rows_per_s`` -- rows per second, when the rows of the variant differ from the size label
  (the ratio then uses rows/s, so a baseline measured on fewer rows still compares);
* ``peak_mib``  -- peak memory in MiB above what the variant starts from (say what in
  ``note`` or in the section's docs);
* ``floor_seconds`` -- a computed lower bound to compare with (end-to-end section only);
* ``note``      -- anything a reader needs: conditions, what the figure includes, why missing;
* ``failed``    -- the run did not do its job (e.g. not every row imported): printed FAILED.

Example: ``Row("results to frames", "fs_pandas", "1,000,000 rows", 2.1,
baseline="naive loop", peak_mib=180.0)``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the table: a variant's median figures at one size (see module docs)."""

    section: str
    variant: str
    size: str
    seconds: float | None
    baseline: str | None = None
    rows_per_s: float | None = None
    peak_mib: float | None = None
    floor_seconds: float | None = None
    note: str = ""
    failed: bool = False


HEADER = (
    "| section | size | variant | median s | rows/s | peak MiB | time ÷ baseline "
    "| time ÷ floor | note |"
)


def median(values: Sequence[float]) -> float:
    """The median of several runs (the middle one; the mean of the two middle ones if even)."""
    return float(statistics.median(values))


def ratio(row: Row, base: Row | None) -> float | None:
    """``row``'s time per row divided by ``base``'s (rows/s when both have it), or None."""
    if base is None or row.failed or base.failed:
        return None
    if row.rows_per_s and base.rows_per_s:
        return base.rows_per_s / row.rows_per_s
    if row.seconds and base.seconds:
        return row.seconds / base.seconds
    return None


def _num(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def render(rows: Sequence[Row]) -> str:
    """The Markdown table of ``rows``, in their order."""
    index = {(r.section, r.size, r.variant): r for r in rows}
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in rows:
        base = None
        if r.baseline:
            variant, _, size = r.baseline.partition(" @ ")
            base = index.get((r.section, size or r.size, variant))
        vs = ratio(r, base)
        vs_text = f"{vs:.2f}× {r.baseline}" if vs is not None else ""
        floor = (
            r.seconds / r.floor_seconds if r.seconds and r.floor_seconds and not r.failed else None
        )
        seconds = "FAILED" if r.failed else _num(r.seconds, ".2f") or "n/a"
        cells = [
            r.section,
            r.size,
            r.variant,
            seconds,
            _num(r.rows_per_s, ",.0f"),
            _num(r.peak_mib, ",.0f"),
            vs_text,
            _num(floor, ".2f"),
            r.note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
