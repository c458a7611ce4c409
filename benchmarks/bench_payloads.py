"""Rows/s and peak memory of building batch bodies: fs_pandas.payloads vs a naive baseline.

Run:  python benchmarks/bench_payloads.py [--rows 1000000] [--chunk 50000] [--baseline-rows N]
      [--threads N]

The frame has 12 mixed-dtype columns with NaN, NaT, None, categoricals and tz-aware datetimes.
"Ours" is ``plan_users(...)`` (validation included) plus every ``chunk.body``, once on one
core (the process pinned to one CPU, so validation and chunks use one thread) and once with
the default threads (the machine's cores, or ``--threads N``); the baseline is what people
write first: ``df.to_dict("records")``, a Python loop, ``json.dumps`` per chunk, also pinned to
one core (it uses one anyway).
Memory: Python allocations (tracemalloc) plus Arrow's pool, measured over the chunk loop in a
separate pass (tracemalloc slows Python down, so it is not on while timing).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fs_pandas.payloads import plan_users


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """12 columns: int uid, str (with None), categoricals, Int64 with NA, float with NaN,
    bool, tz-aware and naive datetimes with NaT, a pyarrow string column, a dotted name."""
    rng = np.random.default_rng(seed)
    missing = rng.random(n) < 0.1
    signup = pd.Series(pd.date_range("2020-01-01", periods=n, freq="37s", tz="Europe/Paris"))
    last = pd.Series(pd.date_range("2023-01-01", periods=n, freq="1001ms"))
    frame = pd.DataFrame(
        {
            "uid": np.arange(n, dtype=np.int64) + 10_000,
            "email": pd.Series([f"user{i}@example.com" for i in range(n)], dtype=object).where(
                ~missing, None
            ),
            "name": [f"Person {i}" for i in range(n)],
            "plan": pd.Categorical(rng.choice(["free", "pro", "team", None], n)),
            "age": pd.array(np.where(missing, 0, rng.integers(18, 90, n)), dtype="Int64"),
            "score": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 100),
            "active": rng.random(n) < 0.5,
            "signup": signup.where(~missing, pd.NaT),
            "last_seen": last.where(rng.random(n) > 0.05, pd.NaT),
            "city": pd.Series(rng.choice(["Paris", "Lyon", "Atlanta"], n), dtype="string[pyarrow]"),
            "country": pd.Categorical(rng.choice(["FR", "US", "DE"], n)),
            "address.zip": rng.integers(10_000, 99_999, n),
        }
    )
    frame.loc[missing, "age"] = pd.NA
    return frame


def plan(df: pd.DataFrame) -> Any:
    return plan_users(
        df,
        uid_col="uid",
        email_col="email",
        display_name_col="name",
        properties={c: c for c in df.columns if c not in ("uid", "email", "name")},
    )


def ours(df: pd.DataFrame, chunk: int, threads: int | None = None) -> Iterator[bytes]:
    yield from ours_chunks_only(plan(df), chunk, threads)


def ours_chunks_only(planned: Any, chunk: int, threads: int | None = None) -> Iterator[bytes]:
    for c in planned.chunks(chunk, threads=threads):
        body = c.body
        del c  # keep only what the consumer holds while the next chunk is built
        yield body
        del body


def naive(df: pd.DataFrame, chunk: int) -> Iterator[bytes]:
    """The usual first attempt: records, a loop, json.dumps (made correct for NaN and dates)."""
    records = df.to_dict("records")
    requests: list[dict[str, Any]] = []
    for rec in records:
        props: dict[str, Any] = {}
        for key, value in rec.items():
            if key in ("uid", "email", "name") or value is None or value is pd.NA:
                continue
            if value is pd.NaT:
                continue
            if isinstance(value, float) and math.isnan(value):
                continue
            if isinstance(value, pd.Timestamp):
                value = (
                    value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
                ).strftime("%Y-%m-%dT%H:%M:%SZ")
            elif isinstance(value, np.generic):
                value = value.item()
            props[key] = value
        request = {"uid": str(rec["uid"]), "display_name": rec["name"], "properties": props}
        if rec["email"] is not None:
            request["email"] = rec["email"]
        requests.append(request)
        if len(requests) == chunk:
            yield json.dumps({"requests": requests}, separators=(",", ":")).encode()
            requests = []
    if requests:
        yield json.dumps({"requests": requests}, separators=(",", ":")).encode()


def timed(
    route: Callable[..., Iterator[bytes]], df: pd.DataFrame, chunk: int
) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process, all threads) to consume every body."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for body in route(df, chunk):
        del body
    return time.perf_counter() - wall, time.process_time() - cpu


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """Run the block on one CPU: threads started meanwhile inherit it, and fs_pandas sizes
    its thread pools from the CPUs the process may use (so it starts one thread)."""
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def peak_memory(
    route: Callable[..., Iterator[bytes]], df: Any, chunk: int, pools: list[Any]
) -> tuple[int, int]:
    """Peak Python + Arrow bytes allocated while the chunks are built (the plan exists
    already, as the frame does), and the largest body.

    The proxy pool is appended to ``pools``, which the caller keeps until the end: buffers
    Arrow allocated through it (caches included) may outlive this call, and freeing them
    through a destroyed pool crashes the process.
    """
    gc.collect()
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    pools.append(pool)
    pa.set_memory_pool(pool)
    tracemalloc.start()
    largest = 0
    try:
        for body in route(df, chunk):
            largest = max(largest, len(body))
            del body
        _, py_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(pa.default_memory_pool())
    return py_peak + pool.max_memory(), largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=200_000,
        help="rows for the (slow) naive baseline; rows/s is what is compared",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="alternating runs per route; the best counts"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the multi-threaded run (default: cores)",
    )
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    df = make_frame(args.rows)
    base_df = df.iloc[: min(args.rows, args.baseline_rows)]
    names = ("naive", "ours1", "ours", "plan")
    best: dict[str, list[float]] = {name: [0.0, 0.0] for name in names}

    def keep(name: str, rows: int, seconds: tuple[float, float]) -> None:
        best[name] = [max(b, rows / t) for b, t in zip(best[name], seconds, strict=True)]

    for _ in range(args.repeat):  # alternate, so a busy moment on a shared box hits both
        with one_core():
            keep("naive", len(base_df), timed(naive, base_df, args.chunk))
            keep("ours1", args.rows, timed(ours, df, args.chunk))
        keep("ours", args.rows, timed(partial(ours, threads=args.threads), df, args.chunk))
        wall, cpu = time.perf_counter(), time.process_time()
        plan(df)
        keep("plan", args.rows, (time.perf_counter() - wall, time.process_time() - cpu))
    mem = None
    pools: list[Any] = []  # kept alive until the process ends (see peak_memory)
    if not args.no_memory:
        route = partial(ours_chunks_only, threads=args.threads)
        mem = peak_memory(route, plan(df), args.chunk, pools)
    threads = args.threads or _default_threads()
    print(
        f"rows: {args.rows:,} (baseline on {len(base_df):,}), chunk {args.chunk:,}, "
        f"12 columns, best of {args.repeat}, one process (CPU: this process's CPU time, all "
        "threads; with one thread it is steadier than wall time on a shared machine)"
    )
    print(f"{'route':<44} {'rows/s wall':>12} {'x':>6} {'rows/s CPU':>12} {'x':>6}")
    labels = {
        "naive": "naive: to_dict + loop + json.dumps",
        "ours1": "fs_pandas: plan_users + bodies, 1 core",
        "ours": f"fs_pandas: plan_users + bodies, {threads} threads",
        "plan": "  of which plan_users alone (validation)",
    }
    base = best["naive"]
    for name, label in labels.items():
        wall_rate, cpu_rate = best[name]
        print(
            f"{label:<44} {wall_rate:12,.0f} {wall_rate / base[0]:5.1f}x "
            f"{cpu_rate:12,.0f} {cpu_rate / base[1]:5.1f}x"
        )
    if mem:
        print(
            f"peak memory while building chunks (Python + Arrow, on top of frame and plan): "
            f"{mem[0] / 2**20:.1f} MB; largest body {mem[1] / 2**20:.1f} MB "
            f"({mem[0] / mem[1]:.2f}x)"
        )


def _default_threads() -> int:
    """What ``chunks()`` uses by default: the cores of this process, at most 4."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


if __name__ == "__main__":
    main()
