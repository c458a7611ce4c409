"""Soak test (issue 11): a million users through the emulator under faults, nothing lost.

Run: ``python benchmarks/bench_soak.py [--rows 1000000] [--fault-rate 0.1]
[--row-error-rate 0.01] [--chunk-size 10000]``.
Not run in CI: at the default size it takes many minutes on a loaded machine.

One process: the emulator runs in a thread (``fs_pandas.emulator.serve``) and the rows go through
``df.fullstory.batch_update`` twice, first against a clean emulator (no faults: the baseline
wall time, measured in the same run on the same machine), then with faults:

* every request fault the emulator offers (``Faults``): 429 with ``Retry-After``, 500, slow
  responses, connections dropped before the request is processed and dropped after it was
  processed (the client must replay the create through its Idempotency-Key, not make a second
  job), each at the same rate, so that about ``--fault-rate`` of all ``/v2`` requests hit one;
* about ``--row-error-rate`` of the rows fail at the server: half through ``fail_uids`` (a known
  set of uids, checked one by one), half through ``Faults.row_error_rate`` (random rows).

Then it checks, against the emulator's own store:

* rows lost -- source rows that are neither imported (and stored at the emulator), nor failed
  with a code, nor rejected, nor pending -- must be 0;
* jobs created at the emulator must equal the chunks sent (no job created twice);
* the stored properties of a sample of imported rows must equal the frame's values.

The script exits with status 1 if any of these fails. The emulator does not count its faults,
so the script wraps the emulator's fault injector (``emu.state.faults.plan_request``) to tally
what each request was given; nothing in the library or the emulator is changed.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import sys
import tempfile
import time
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

import fs_pandas
from fs_pandas.emulator import Faults, serve
from fs_pandas.emulator.faults import NO_FAULT, RequestFault
from fs_pandas.errors import DuplicateJobWarning, ReconciliationWarning

FAULT_KINDS = ("429", "5xx", "slow", "drop_before", "drop_after")


def frame(rows: int, seed: int) -> pd.DataFrame:
    """Users with realistic properties: text, categorical, int, float with gaps, datetime."""
    rng = np.random.default_rng(seed)
    spent = np.round(rng.gamma(2.0, 100.0, rows), 2)
    spent[rng.random(rows) < 0.1] = np.nan
    countries = np.array(["US", "FR", "DE", "GB", "JP", "BR", "IN", "CA"])
    return pd.DataFrame(
        {
            "user_id": [f"user-{i:07d}" for i in range(rows)],
            "email": [f"u{i}@example.com" for i in range(rows)],
            "plan": pd.Categorical(rng.choice(["free", "team", "business", "enterprise"], rows)),
            "seats": rng.integers(1, 5_000, rows),
            "spent": spent,
            "country": countries[rng.integers(0, len(countries), rows)],
            "signed_up": pd.Timestamp("2020-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 5 * 365 * 86_400 * 10**6, rows), unit="us"),
        }
    )


class FaultTally:
    """Counts what the emulator's fault injector decided, per effective kind.

    The middleware applies drop-before first (then nothing else happens), then slow, then one of
    429 / 5xx / drop-after in that order; the tally follows the same precedence.
    """

    def __init__(self, emu: Any) -> None:
        self.counts: Counter[str] = Counter()
        injector = emu.state.faults
        plan = injector.plan_request

        def counted() -> RequestFault:
            fault = plan()
            self.counts["requests"] += 1
            if fault.drop_before:
                self.counts["drop_before"] += 1
            else:
                if fault.slow:
                    self.counts["slow"] += 1
                if fault.status_429:
                    self.counts["429"] += 1
                elif fault.status_5xx:
                    self.counts["5xx"] += 1
                elif fault.drop_after:
                    self.counts["drop_after"] += 1
            if fault != NO_FAULT:
                self.counts["hit"] += 1
            return fault

        injector.plan_request = counted  # type: ignore[method-assign]


class RouteTally(logging.Handler):
    """Counts the client's attempts and retries per route, from the ``fs_pandas.client`` log
    (one ``METHOD path`` debug line per attempt, one ``retry`` info line per retry; the runner
    sends one request at a time, so a retry belongs to the attempt logged just before it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.attempts: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._last = "?"

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.INFO and record.msg.startswith("retry"):
            self.retries[self._last] += 1
        elif record.levelno == logging.DEBUG and record.msg == "%s %s":
            method, path = record.args  # type: ignore[misc]
            self._last = route(method, path)
            self.attempts[self._last] += 1


def route(method: str, path: str) -> str:
    if method == "POST":
        return "create"
    if path.endswith(("/imports", "/errors")):
        return "page"
    return "status" if "/batch/" in path else f"{method} other"


def send(
    emu: Any, df: pd.DataFrame, ledger_dir: str, args: argparse.Namespace
) -> tuple[Any, float, list[Any], RouteTally]:
    client = fs_pandas.Client(api_key=emu.api_key, base_url=emu.url)
    routes = RouteTally()
    log = logging.getLogger("fs_pandas.client")
    log.setLevel(logging.DEBUG)
    log.addHandler(routes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        result = df.fullstory.batch_update(
            uid_col="user_id",
            email_col="email",
            client=client,
            progress=False,
            chunk_size=args.chunk_size,
            poll_interval=args.poll_interval,
            ledger_dir=ledger_dir,
        )
        seconds = time.perf_counter() - start
    log.removeHandler(routes)
    client.close()
    assert isinstance(result, fs_pandas.BatchResult)
    return result, seconds, list(caught), routes


def stored_users(emu: Any) -> dict[str, dict[str, Any]]:
    """uid -> (email, properties) of every identified user the emulator stored."""
    out = {}
    for user in emu.users():
        if "uid" in user:
            out[user["uid"]] = {"email": user.get("email"), "properties": user["properties"]}
    return out


def expected_properties(row: pd.Series) -> dict[str, Any]:
    props: dict[str, Any] = {
        "plan": str(row["plan"]),
        "seats": int(row["seats"]),
        "country": str(row["country"]),
        "signed_up": row["signed_up"],
    }
    if not math.isnan(row["spent"]):
        props["spent"] = float(row["spent"])
    return props


def same(stored: dict[str, Any], row: pd.Series) -> list[str]:
    """The properties of a stored user that differ from the frame's row (names)."""
    want = expected_properties(row)
    got = stored["properties"]
    bad = [k for k in set(want) ^ set(got)]
    for key, value in want.items():
        if key not in got:
            continue
        if key == "signed_up":
            ok = pd.Timestamp(got[key]) == value
        else:
            ok = got[key] == value and type(got[key]) is type(value)
        if not ok:
            bad.append(key)
    if stored["email"] != row["email"]:
        bad.append("email")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.10,
        help="share of /v2 requests that get a fault (spread over every kind)",
    )
    parser.add_argument("--row-error-rate", type=float, default=0.01)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=10_000,
        help="rows per job (library default: spread over the jobs in flight, 10,000 to "
        "50,000; smaller: more creates under faults)",
    )
    parser.add_argument("--slow-seconds", type=float, default=0.5)
    parser.add_argument("--processing-seconds", type=float, default=0.2)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument(
        "--sample",
        type=int,
        default=20_000,
        help="imported rows whose stored properties are compared to the frame",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-clean", action="store_true", help="no clean baseline run")
    args = parser.parse_args()

    load_before = os.getloadavg()
    df = frame(args.rows, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    uids = df["user_id"].to_numpy(dtype=object)
    half = args.row_error_rate / 2
    fail_uids = frozenset(uids[rng.random(args.rows) < half].tolist())
    # Five independent draws per request; this per-kind rate makes P(at least one) = fault_rate.
    per_kind = 1 - (1 - args.fault_rate) ** (1 / len(FAULT_KINDS))
    faults = Faults(
        rate_429=per_kind,
        rate_5xx=per_kind,
        rate_slow=per_kind,
        slow_seconds=args.slow_seconds,
        rate_drop_before=per_kind,
        rate_drop_after=per_kind,
        row_error_rate=half,
        seed=args.seed,
    )
    print(
        f"soak: {args.rows:,} users x {df.shape[1] - 2} properties + email, "
        f"chunks of {args.chunk_size:,}; "
        f"faults {args.fault_rate:.0%} of requests ({per_kind:.2%} per kind, Retry-After 1 s, "
        f"slow {args.slow_seconds:g} s), row errors {args.row_error_rate:.1%} "
        f"({len(fail_uids):,} fail_uids + {half:.2%} random); emulator processing "
        f"{args.processing_seconds:g} s/job, poll {args.poll_interval:g} s",
        flush=True,
    )

    with (
        serve(processing_seconds=args.processing_seconds, retry_after=1) as emu,
        tempfile.TemporaryDirectory() as ledgers,
    ):
        clean_seconds = None
        if not args.skip_clean:
            clean, clean_seconds, _, _ = send(emu, df, ledgers, args)
            clean_counts = clean.counts
            clean_stored = len(emu.state.by_uid)
            del clean
            print(
                f"clean run: {clean_seconds:.1f} s, {clean_counts}, {clean_stored:,} users stored",
                flush=True,
            )
            emu.reset()

        emu.configure(faults=faults, fail_uids=fail_uids)
        tally = FaultTally(emu)
        result, seconds, caught, routes = send(emu, df, ledgers, args)
        print(f"faulty run: {seconds:.1f} s", flush=True)

        jobs = emu.jobs()
        stored = stored_users(emu)
    load_after = os.getloadavg()

    counts = result.counts
    outcomes = result.outcomes.to_numpy()
    errors = result.errors
    codes = errors["fs_error_code"]
    code_counts = codes.value_counts().to_dict()

    # Rows lost: no outcome, imported but not stored, failed without a code.
    is_stored = pd.Index(uids).isin(list(stored))
    imported = outcomes == "imported"
    imported_not_stored = int((imported & ~is_stored).sum())
    failed_without_code = int((codes.isna() | (codes.astype(str) == "")).sum())
    unaccounted = args.rows - sum(counts.values())
    lost = imported_not_stored + failed_without_code + unaccounted

    # Misreports that are not losses: failed rows the emulator stored anyway, fail_uids imported.
    failed_positions = errors.index.to_numpy()
    failed_but_stored = int(is_stored[failed_positions].sum())
    in_fail_uids = np.fromiter((u in fail_uids for u in uids), bool, count=args.rows)
    fail_uids_imported = int((imported & in_fail_uids).sum())
    fail_uids_failed = int(((outcomes == "failed") & in_fail_uids).sum())
    extra_stored = len(set(stored) - set(uids.tolist()))

    sent = args.rows - counts["rejected"]
    chunks = math.ceil(sent / args.chunk_size)
    keys = {j["idempotency_key"] for j in jobs}
    requests_at_emulator = sum(j["requests"] for j in jobs)

    duplicate_job = int(code_counts.get("duplicate_job", 0))
    unreconciled = int(code_counts.get("unreconciled", 0))
    dup_warnings = sum(issubclass(w.category, DuplicateJobWarning) for w in caught)
    rec_warnings = sum(issubclass(w.category, ReconciliationWarning) for w in caught)

    # Cross-check the stored properties of a sample of imported rows against the frame.
    positions = np.flatnonzero(imported & is_stored)
    sample = np.sort(
        np.random.default_rng(args.seed + 2).choice(
            positions, size=min(args.sample, len(positions)), replace=False
        )
    )
    mismatched: Counter[str] = Counter()
    bad_rows = 0
    for _, row in df.iloc[sample].iterrows():
        bad = same(stored[row["user_id"]], row)
        bad_rows += bool(bad)
        mismatched.update(bad)

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = tally.counts
    print()
    print(f"rows in                      {args.rows:>12,}")
    print(
        f"rows stored at the emulator  {len(stored):>12,}  (distinct uids; "
        f"{extra_stored} not from the frame)"
    )
    print(
        f"rows lost                    {lost:>12,}  (imported but not stored "
        f"{imported_not_stored}, failed without a code {failed_without_code}, no outcome "
        f"{unaccounted})"
    )
    print("outcomes                     " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print("error codes                  " + ", ".join(f"{k} {v:,}" for k, v in code_counts.items()))
    print(
        f"fail_uids                    {len(fail_uids):>12,}  (failed {fail_uids_failed:,}, "
        f"imported {fail_uids_imported:,}); failed rows stored anyway {failed_but_stored:,}"
    )
    print(
        f"jobs created / chunks        {len(jobs):>6,} / {chunks:,}  (distinct keys "
        f"{len(keys):,}; job ids in the result {len(result.job_ids):,}; requests at the "
        f"emulator {requests_at_emulator:,} of {sent:,} sent)"
    )
    print(f"pending rows                 {counts['pending']:>12,}  (aborted: {result.aborted})")
    print(
        f"duplicate_job / unreconciled {duplicate_job:>6,} / {unreconciled:,}  (warnings: "
        f"DuplicateJob {dup_warnings}, Reconciliation {rec_warnings})"
    )
    hit = t["hit"] / t["requests"] if t["requests"] else 0.0
    print(
        f"faults injected              {t['hit']:>12,}  of {t['requests']:,} /v2 requests "
        f"({hit:.1%}): " + ", ".join(f"{k} {t[k]:,}" for k in FAULT_KINDS)
    )
    print(
        "client requests / retries    "
        + ", ".join(f"{k} {routes.attempts[k]:,}/{routes.retries[k]:,}" for k in routes.attempts)
    )
    print(
        f"sample cross-check           {bad_rows:>12,}  of {len(sample):,} imported rows differ"
        + (f" ({dict(mismatched)})" if mismatched else "")
    )
    rate = args.rows / seconds
    if clean_seconds is not None:
        print(
            f"wall time                    {seconds:>10.1f} s  ({rate:,.0f} rows/s) vs clean "
            f"{clean_seconds:.1f} s ({args.rows / clean_seconds:,.0f} rows/s): "
            f"{seconds / clean_seconds:.2f}x"
        )
    else:
        print(f"wall time                    {seconds:>10.1f} s  ({rate:,.0f} rows/s)")
    print(
        f"load average (1, 5, 15 min)  before {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}  ({os.cpu_count()} CPUs)"
    )
    print(f"peak RSS (client+emulator)   {peak_mib:>10,.0f} MiB")

    problems = []
    if lost:
        problems.append(f"{lost} rows lost")
    if len(jobs) != chunks:
        problems.append(f"{len(jobs)} jobs for {chunks} chunks")
    if bad_rows:
        problems.append(f"{bad_rows} sampled rows stored with other values")
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
