"""``python -m benchmarks``: every benchmark section, one Markdown table.

Each figure is the median of several runs, the variants alternated (A, B, C, A, B, C, ...), and
sits next to its baseline measured in the same run. See docs/dev/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import sys
import time

import pandas as pd
import pyarrow as pa

from benchmarks import _e2e, _payload_section
from benchmarks._table import Row, render

SECTIONS = ("payload", "results", "e2e", "scaling")
DEFAULT_SIZES = {
    "payload": [1_000_000, 200_000],  # fs_pandas rows, naive baseline rows
    "results": [1_000_000],
    "e2e": [300_000, 1_000_000],
    "scaling": [100_000, 1_000_000, 3_000_000],
}
QUICK_SIZES = {
    "payload": [100_000, 20_000],
    "results": [100_000],
    "e2e": [60_000],
    "scaling": [100_000, 300_000],
}
E2E_PROCESSING = 10.0
QUICK_PROCESSING = 2.0
E2E_LATENCY = 0.05


def parse_sizes(values: list[str]) -> dict[str, list[int]]:
    """``--sizes SECTION=N,N`` (or ``N,N`` for every section) into row counts per section."""
    out: dict[str, list[int]] = {}
    for value in values:
        section, _, numbers = value.rpartition("=")
        sizes = [int(float(n)) for n in numbers.replace("_", "").split(",") if n]
        for name in [section] if section else SECTIONS:
            if name not in SECTIONS:
                raise SystemExit(f"--sizes: unknown section {name!r} (one of {SECTIONS})")
            out[name] = sizes
    return out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


def results_section(rows: int, repeats: int) -> list[Row] | None:
    """The hook of section "results to frames": ``benchmarks.bench_results.measure``."""
    if importlib.util.find_spec("benchmarks.bench_results") is None:
        return None
    module = importlib.import_module("benchmarks.bench_results")
    measure = getattr(module, "measure", None)
    if measure is None:
        return None
    rows_out: list[Row] = measure(rows, repeats)
    return rows_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat (~2 min)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per variant (3)")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable)",
    )
    parser.add_argument(
        "--sizes",
        action="append",
        default=[],
        metavar="[SECTION=]N,N",
        help="row counts of a section (payload: ours,naive; e2e/scaling: each size)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = {**(QUICK_SIZES if args.quick else DEFAULT_SIZES), **parse_sizes(args.sizes)}
    only = args.only or list(SECTIONS)
    processing = QUICK_PROCESSING if args.quick else E2E_PROCESSING
    latency = E2E_LATENCY
    warnings: list[str] = []
    if "e2e" in only and not _e2e.emulator_has_latency():
        warnings.append(
            f"WARNING: the emulator has no --latency flag yet: end to end runs with latency 0 "
            f"instead of {E2E_LATENCY:g} s"
        )
        latency = 0.0

    print(f"load average at start: {load()}")
    node, sdk = _e2e.node_binary()
    print(
        f"versions: Python {platform.python_version()}, pandas {pd.__version__}, "
        f"pyarrow {pa.__version__}, Node {_e2e.node_version()}"
        + (f" with {_e2e.SDK} {sdk}" if node else f" ({sdk})")
    )
    print(
        f"conditions: {repeats} run(s) per variant, variants alternated, medians; "
        f"{'--quick; ' if args.quick else ''}"
        f"CPUs usable: {len(os.sched_getaffinity(0))}; emulator in its own process, fresh per "
        f"run, page size {_e2e.PAGE_SIZE:,}, baselines {_e2e.CHUNK:,} rows per job (fs_pandas: "
        "its default, the rows spread over 10 jobs of 10,000 to 50,000); end to end: "
        f"--processing-seconds {processing:g} --latency {latency:g}; "
        "scaling: --processing-seconds 0 --latency 0"
    )
    for warning in warnings:
        print(warning)
    sys.stdout.flush()

    table: list[Row] = []
    missing: list[str] = []
    started = time.perf_counter()
    if "payload" in only:
        ours, naive = (sizes["payload"] + [200_000])[:2]
        table += _payload_section.measure(ours, naive, repeats)
    if "results" in only:
        rows = results_section(sizes["results"][0], repeats)
        if rows is None:
            missing.append("results to frames: section not available (benchmarks/bench_results.py)")
        else:
            table += rows
    if "e2e" in only:
        rate = _payload_section.build_rate(table)
        table += _e2e.measure_e2e(sizes["e2e"], repeats, processing, latency, rate)
    if "scaling" in only:
        table += _e2e.measure_scaling(sizes["scaling"], repeats)

    print()
    print(render(table))
    print()
    for line in missing:
        print(line)
    print(f"took {time.perf_counter() - started:.0f} s")
    print(f"load average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
