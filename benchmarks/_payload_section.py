"""Section "payload build": the routes of ``bench_payloads.py``, alternated, medians."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from benchmarks import bench_payloads as bp
from benchmarks._table import Row, median

SECTION = "payload build"
NAIVE = "naive (1 core)"
ONE_CORE = "fs_pandas (1 core)"
CHUNK = 50_000


def _threads_label() -> str:
    return f"fs_pandas ({bp._default_threads()} threads)"


def measure(rows: int, baseline_rows: int, repeats: int) -> list[Row]:
    """Rows/s of building every 50,000-row body of bench_payloads's 12-column frame.

    The naive route runs on ``baseline_rows`` (it is slow); rows/s is what is compared.
    """
    df = bp.make_frame(rows)
    base_df = df.iloc[: min(rows, baseline_rows)]

    def naive() -> float:
        with bp.one_core():
            return bp.timed(bp.naive, base_df, CHUNK)[0]

    def one_core() -> float:
        with bp.one_core():
            return bp.timed(bp.ours, df, CHUNK)[0]

    def threads() -> float:
        return bp.timed(partial(bp.ours, threads=None), df, CHUNK)[0]

    routes: dict[str, tuple[Callable[[], float], int]] = {
        NAIVE: (naive, len(base_df)),
        ONE_CORE: (one_core, rows),
        _threads_label(): (threads, rows),
    }
    runs: dict[str, list[float]] = {name: [] for name in routes}
    for _ in range(repeats):  # alternated: A, B, C, A, B, C, ...
        for name, (route, _n) in routes.items():
            runs[name].append(route())
    size = f"{rows:,} rows"
    out = []
    for name, (_route, n) in routes.items():
        seconds = median(runs[name])
        if name == NAIVE:
            note = f"to_dict + loop + json.dumps; measured on {n:,} rows"
        else:
            note = "plan_users (validation) + every body"
        out.append(
            Row(
                SECTION,
                name,
                size,
                seconds,
                baseline=None if name == NAIVE else NAIVE,
                rows_per_s=n / seconds,
                note=note,
            )
        )
    return out


def build_rate(rows: list[Row]) -> float | None:
    """The default-threads route's rows/s, for the end-to-end floor (None if not measured)."""
    for row in rows:
        if row.section == SECTION and row.variant == _threads_label():
            return row.rows_per_s
    return None


if __name__ == "__main__":  # a quick look: python -m benchmarks._payload_section
    start = time.perf_counter()
    for row in measure(50_000, 20_000, 1):
        print(row)
    print(f"{time.perf_counter() - start:.1f} s")
