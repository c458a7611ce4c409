"""End to end: a frame of users through batch jobs on the emulator, ours against a naive loop.

Run: ``python benchmarks/bench_pipeline.py [--rows 200000] [--processing-seconds 0 5]``.

The emulator runs in its own process, so memory figures are the client's. With a processing
time of 0 the emulator's own work (validating, storing, paging) dominates both variants; a real
Fullstory job takes minutes, which the runs with a processing time stand in for: there the jobs
ours keeps in flight together matter.
Each variant runs in a fresh child process and reports its wall time and its peak resident
memory above the frame it starts from:

* ours  -- ``df.fullstory.batch_update(...)``: lazy chunks, 4 jobs in flight, both result
  kinds paged and joined back, ledger written;
* naive -- what one writes by hand: ``to_dict("records")``, a Python loop dropping NaN,
  ``json.dumps`` per 50,000-row chunk, one job at a time, results joined through a dict by uid.

Both poll every 50 ms, so neither is flattered by sleeping (the official Node client polls
every 2 s).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import requests

KEY = "na1.emulator-admin-key"


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    spent = rng.gamma(2.0, 100.0, rows)
    spent[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "user_id": [f"user-{i}" for i in range(rows)],
            "email": [f"u{i}@example.com" for i in range(rows)],
            "plan": pd.Categorical(rng.choice(["free", "team", "enterprise"], rows)),
            "seats": rng.integers(1, 500, rows),
            "spent": spent,
            "active": rng.random(rows) < 0.5,
            "signed_up": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**8, rows), unit="s"),
        }
    )


def ours(df: pd.DataFrame, url: str) -> int:
    import tempfile

    import fs_pandas

    client = fs_pandas.Client(api_key=KEY, base_url=url)
    result = df.fullstory.batch_update(
        uid_col="user_id",
        email_col="email",
        client=client,
        poll_interval=0.05,
        progress=False,
        ledger_dir=tempfile.mkdtemp(),
    )
    assert isinstance(result, fs_pandas.BatchResult)
    return result.counts["imported"]


def naive(df: pd.DataFrame, url: str) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Basic {KEY}"
    records = df.to_dict("records")
    imported = 0
    for start in range(0, len(records), 50_000):
        chunk = []
        for row in records[start : start + 50_000]:
            props = {}
            for key, value in row.items():
                if key in ("user_id", "email") or (isinstance(value, float) and math.isnan(value)):
                    continue
                props[key] = value.isoformat() if hasattr(value, "isoformat") else value
                if isinstance(props[key], np.generic):
                    props[key] = props[key].item()
            chunk.append({"uid": row["user_id"], "email": row["email"], "properties": props})
        body = json.dumps({"requests": chunk})
        job = session.post(f"{url}/v2/users/batch", data=body).json()["job"]["id"]
        while session.get(f"{url}/v2/users/batch/{job}").json()["job"]["status"] == "PROCESSING":
            time.sleep(0.05)
        by_uid = {request["uid"]: start + i for i, request in enumerate(chunk)}
        imported += sum(
            1 for r in pages(session, f"{url}/v2/users/batch/{job}/imports") if r["uid"] in by_uid
        )
        list(pages(session, f"{url}/v2/users/batch/{job}/errors"))
    return imported


def pages(session: requests.Session, url: str) -> Any:
    token = None
    while True:
        page = session.get(url, params={"page_token": token} if token else {}).json()
        yield from page.get("results", [])
        token = page.get("next_page_token")
        if not token:
            return


def child(variant: str, rows: int, url: str) -> None:
    df = frame(rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    imported = {"ours": ours, "naive": naive}[variant](df, url)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "imported": imported}))


def start_emulator(processing_seconds: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fs_pandas.emulator",
            "--port",
            "0",
            "--processing-seconds",
            str(processing_seconds),
            "--page-size",
            "10000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        for word in line.split():
            if word.startswith("http://127.0.0.1:"):
                return proc, word.rstrip("/")
    raise RuntimeError("the emulator did not print its URL")


def measure(variant: str, rows: int, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--rows", str(rows), "--url", url],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--processing-seconds", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--child")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.url)
        return
    for processing in args.processing_seconds:
        report(args.rows, processing)


def report(rows: int, processing: float) -> None:
    proc, url = start_emulator(processing)
    try:
        results = {v: measure(v, rows, url) for v in ("naive", "ours")}
    finally:
        proc.terminate()
    print(f"\n{rows:,} users x 7 columns, emulator processing time {processing:g} s per job")
    print(f"{'variant':<8}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}{'imported':>10}")
    for name, r in results.items():
        rate = rows / r["seconds"]
        print(
            f"{name:<8}{r['seconds']:>10.2f}{rate:>12,.0f}{r['peak_mib']:>10.0f}"
            f"{int(r['imported']):>10,}"
        )
    speedup = results["naive"]["seconds"] / results["ours"]["seconds"]
    print(f"ours is {speedup:.1f}x the naive loop's speed")


if __name__ == "__main__":
    main()
