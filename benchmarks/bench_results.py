"""Section "results to frames": a finished run's result pages joined back to the frame's rows.

Run alone: ``python -m benchmarks.bench_results [--rows 1000000] [--repeats 3]``.

The pages are real: a frame of users goes through the in-process emulator once (page size
1,000), with 2% of rows failing (their errors echo the request) and 1% of uids sent twice
(``duplicates="allow"``), and every page's bytes are kept. Then, alternately, over the same
bytes:

* **fs_pandas** -- what a run does now: each imports page read as who was imported
  (``Client.job_import_ids``'s parser, kept as Arrow text: ``compact_ids``), errors pages
  parsed, ``join_users`` per job on the uids of the plan's columns, then ``result.imports``
  and ``result.errors``;
* **fs_pandas, whole objects** -- what a run did before: every page parsed whole, the chunk
  body parsed back, ``join_job``, the same frames;
* **json_normalize + merge** -- the baseline an analyst writes: ``pd.json_normalize`` of all
  imports and of all errors, each merged with the frame on the uid.

A second case, **anonymous users** (no uid: matched by content), is timed for fs_pandas alone
(the baseline has no key to merge on).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import requests

from benchmarks._table import Row, median
from fs_pandas.client import _parse_import_ids
from fs_pandas.emulator import serve
from fs_pandas.models import JobStatus
from fs_pandas.payloads import Plan, plan_users
from fs_pandas.run.engine import ChunkRecord
from fs_pandas.run.join import compact_ids, join_job, join_users, slim_import
from fs_pandas.run.result import BatchResult, _Run

SECTION = "results to frames"
OURS, WHOLE, BASELINE = "fs_pandas", "fs_pandas, whole objects", "json_normalize + merge"
ANONYMOUS = "fs_pandas, anonymous users"


@dataclass
class Job:
    """One chunk's job, as its pages came back."""

    positions: Any
    body: bytes
    job_id: str
    imports: list[bytes]
    errors: list[bytes]


def frame(rows: int, *, anonymous: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    uids = np.array([f"user-{i}" for i in range(rows)], dtype=object)
    twice = rng.random(rows) < 0.01
    uids[twice] = uids[np.flatnonzero(twice) - 1]  # a uid sent by two rows
    spent = rng.gamma(2.0, 100.0, rows)
    spent[rng.random(rows) < 0.1] = np.nan
    df = pd.DataFrame(
        {
            "user_id": uids,
            "email": [f"u{i}@example.com" for i in range(rows)],
            "plan": pd.Categorical(rng.choice(["free", "team", "enterprise"], rows)),
            "seats": rng.integers(1, 500, rows),
            "spent": spent,
            "active": rng.random(rows) < 0.5,
        }
    )
    if anonymous:
        df = df.drop(columns="user_id")
    return df


def run_jobs(df: pd.DataFrame, plan: Plan, *, fail: set[str]) -> list[Job]:
    """Send every chunk to a fresh in-process emulator and keep each result page's bytes."""
    jobs = []
    with serve(fail_uids=frozenset(fail), processing_polls=0) as emu:
        session = requests.Session()
        session.headers["Authorization"] = f"Basic {emu.api_key}"
        for chunk in plan.chunks():
            job = session.post(f"{emu.url}/v2/users/batch", data=chunk.body).json()["job"]
            session.get(f"{emu.url}/v2/users/batch/{job['id']}")
            pages = {
                what: list(_pages(session, f"{emu.url}/v2/users/batch/{job['id']}/{what}"))
                for what in ("imports", "errors")
            }
            jobs.append(Job(chunk.positions, chunk.body, job["id"], **pages))
    return jobs


def _pages(session: requests.Session, url: str) -> Any:
    token = None
    while True:
        response = session.get(url, params={"page_token": token} if token else {})
        yield response.content
        token = orjson.loads(response.content).get("next_page_token")
        if not token:
            return


def ours(df: pd.DataFrame, plan: Plan, jobs: list[Job]) -> tuple[int, int]:
    records = {}
    for number, job in enumerate(jobs):
        pages = [compact_ids(_parse_import_ids(page, where="")) for page in job.imports]
        errors = [e for page in job.errors for e in orjson.loads(page)["results"] or []]
        uids, ids = plan.identities(job.positions)
        join = join_users(job.positions, uids, ids, pages, errors, plan.requests_at)
        records[number] = _record(number, job, join)
    return _frames(df, plan, records)


def whole_objects(df: pd.DataFrame, plan: Plan, jobs: list[Job]) -> tuple[int, int]:
    records = {}
    for number, job in enumerate(jobs):
        imports = [
            slim_import("users", r) for page in job.imports for r in orjson.loads(page)["results"]
        ]
        errors = [e for page in job.errors for e in orjson.loads(page)["results"] or []]
        requests_ = orjson.loads(job.body)["requests"]
        join = join_job("users", job.positions, requests_, imports, errors)
        records[number] = _record(number, job, join)
    return _frames(df, plan, records)


def baseline(df: pd.DataFrame, plan: Plan, jobs: list[Job]) -> tuple[int, int]:
    imports = [r for job in jobs for page in job.imports for r in orjson.loads(page)["results"]]
    errors = [e for job in jobs for page in job.errors for e in orjson.loads(page)["results"]]
    imported = pd.json_normalize(imports).merge(df, left_on="uid", right_on="user_id")
    failed = pd.json_normalize(errors).merge(df, left_on="user.uid", right_on="user_id")
    return len(imported), len(failed)


def _record(number: int, job: Job, join: Any) -> ChunkRecord:
    status = JobStatus.FAILED if len(join.failed) else JobStatus.COMPLETED
    return ChunkRecord(number, job.positions, "", job.job_id, status, join)


def _frames(df: pd.DataFrame, plan: Plan, records: dict[int, ChunkRecord]) -> tuple[int, int]:
    run = _Run("users", df, plan.rejected, records, None, None, None)
    result = BatchResult(run)
    return len(result.imports), len(result.errors)


def _time(variant: Callable[..., tuple[int, int]], *args: Any) -> tuple[float, tuple[int, int]]:
    start = time.perf_counter()
    counts = variant(*args)
    return time.perf_counter() - start, counts


def measure(rows: int, repeats: int) -> list[Row]:
    """Rows of section "results to frames" at ``rows`` users (see the module docs)."""
    size = f"{rows:,} rows"
    df = frame(rows)
    plan = plan_users(df, uid_col="user_id", email_col="email", duplicates="allow")
    fail = set(df["user_id"].iloc[::50])  # 2% of uids fail, their errors echo the request
    jobs = run_jobs(df, plan, fail=fail)
    variants = {OURS: ours, WHOLE: whole_objects, BASELINE: baseline}
    times: dict[str, list[float]] = {name: [] for name in variants}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(repeats):
        for name, variant in variants.items():
            seconds, counts[name] = _time(variant, df, plan, jobs)
            times[name].append(seconds)
    anonymous_df = frame(rows // 10, anonymous=True)
    anonymous_plan = plan_users(anonymous_df, uid_col=None, email_col="email")
    anonymous_jobs = run_jobs(anonymous_df, anonymous_plan, fail=set())
    anonymous = [
        _time(ours, anonymous_df, anonymous_plan, anonymous_jobs)[0] for _ in range(repeats)
    ]
    note = f"imports, errors: {counts[OURS][0]:,}, {counts[OURS][1]:,}"
    agree = counts[OURS] == counts[WHOLE]
    mine = note if agree else f"counts differ from whole objects: {counts}"
    return [
        _row(BASELINE, rows, times[BASELINE], None, "pd.json_normalize + merge"),
        _row(WHOLE, rows, times[WHOLE], BASELINE, "before: whole objects, join_job"),
        _row(OURS, rows, times[OURS], BASELINE, mine, failed=not agree),
        _row(
            ANONYMOUS,
            rows // 10,
            anonymous,
            f"{OURS} @ {size}",
            "no uid: matched by content (join_job)",
        ),
    ]


def _row(
    variant: str,
    rows: int,
    times: list[float],
    baseline: str | None,
    note: str,
    *,
    failed: bool = False,
) -> Row:
    seconds = median(times)
    return Row(
        SECTION,
        variant,
        f"{rows:,} rows",
        seconds,
        rows_per_s=rows / seconds,
        baseline=baseline,
        note=note,
        failed=failed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from benchmarks._table import render

    print(render(measure(args.rows, args.repeats)))


if __name__ == "__main__":
    main()
