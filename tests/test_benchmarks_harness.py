"""The benchmark harness (``python -m benchmarks``) runs and prints its table: correctness of
the harness only, never a timing (timings belong in the benchmark's own output)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._e2e import floor_seconds
from benchmarks._table import HEADER, Row, render

ROOT = Path(__file__).resolve().parent.parent


def test_quick_payload_section_prints_one_table_with_its_baseline() -> None:
    command = ["-m", "benchmarks", "--quick", "--only", "payload", "--sizes", "payload=2000,1000"]
    done = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("load average at start: ")
    assert lines[-1].startswith("load average at end: ")
    assert any(line.startswith("versions: Python ") for line in lines)
    assert lines.count(HEADER) == 1
    rows = [line for line in lines if line.startswith("| payload build | 2,000 rows |")]
    assert len(rows) == 3
    assert all("× naive (1 core)" in row for row in rows[1:])


def test_rows_are_compared_with_their_baseline_and_failures_show() -> None:
    table = render(
        [
            Row("s", "base", "10 rows", 2.0),
            Row("s", "new", "10 rows", 1.0, baseline="base", floor_seconds=0.5),
            Row("s", "broken", "10 rows", None, baseline="base", failed=True, note="why"),
            Row("s", "new", "20 rows", 2.0, baseline="new @ 10 rows"),
        ]
    )
    lines = table.splitlines()
    assert "| 0.50× base | 2.00 |" in lines[3]
    assert "| FAILED |" in lines[4] and lines[4].endswith("| why |")
    assert "| 2.00× new @ 10 rows |" in lines[5]


def test_floor_adds_processing_waves_request_chains_and_build() -> None:
    # 1,000,000 rows: 20 jobs of 50,000 in 2 waves of 10; each job chains create, poll,
    # 50 import pages and 1 errors page (53 requests); 10 jobs at a time: 53 per wave.
    seconds, _ = floor_seconds(1_000_000, 10.0, 0.05, build_rate=500_000.0)
    assert seconds == pytest.approx(2 * 10.0 + 2 * 53 * 0.05 + 2.0)


def test_floor_takes_the_best_cut_of_the_rows_into_equal_jobs() -> None:
    # 300,000 rows as 6 jobs of 50,000 chain 53 requests; as 10 jobs of 30,000, 33 each,
    # 330 in all at 10 at a time: 33. Fewer, longer chains or more, shorter ones do worse.
    seconds, terms = floor_seconds(300_000, 10.0, 0.05, build_rate=None)
    assert seconds == pytest.approx(10.0 + 33 * 0.05)
    assert terms.startswith("10 jobs of 30,000")


def test_results_section_joins_real_pages_to_the_counts_of_the_reference_join() -> None:
    # bench_results marks its fs_pandas row FAILED when the columnar join's counts differ
    # from the whole-object join's over the same pages (2% failing uids, 1% sent twice).
    from benchmarks.bench_results import OURS, measure

    rows = {row.variant: row for row in measure(3_000, 1)}
    assert not rows[OURS].failed, rows[OURS].note
    imported, failed = (int(n.replace(",", "")) for n in rows[OURS].note.split(": ")[1].split(", "))
    assert imported + failed == 3_000 and failed >= 60  # every row; every 50th uid fails
