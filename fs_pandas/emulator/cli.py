"""Command line of the emulator: ``fs-pandas emulator`` / ``python -m fs_pandas.emulator``."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any, get_args

from fs_pandas.emulator.config import (
    EmulatorConfig,
    ErrorEcho,
    FinishedWhileProcessing,
    ImportNulls,
    LastPageToken,
    OversizeValue,
    RowErrorStatus,
)
from fs_pandas.emulator.faults import Faults
from fs_pandas.emulator.server import Emulator

# Flag -> the Literal of its choices (the first is the default, the seed's reading).
READINGS: dict[str, Any] = {
    "error-echo": ErrorEcho,
    "row-error-status": RowErrorStatus,
    "finished-while-processing": FinishedWhileProcessing,
    "last-page-token": LastPageToken,
    "import-nulls": ImportNulls,
    "oversize-value": OversizeValue,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed so the package CLI can reuse it)."""
    p = argparse.ArgumentParser(
        prog="fs-pandas emulator",
        description="Run a local Fullstory Server API v2 emulator until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    p.add_argument(
        "--processing-seconds",
        type=float,
        default=0.2,
        help="seconds a job stays PROCESSING (default 0.2)",
    )
    p.add_argument(
        "--processing-polls",
        type=int,
        default=None,
        help="status polls a job stays PROCESSING (overrides seconds)",
    )
    p.add_argument("--page-size", type=int, default=1000, help="rows per result page")
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    p.add_argument("--max-running", type=int, default=100)
    p.add_argument("--max-in-progress", type=int, default=200)
    p.add_argument("--max-rows-in-progress", type=int, default=500_000)
    p.add_argument("--seed", type=int, default=0, help="seed of ids and faults")
    p.add_argument("--api-key", default=None, help="Admin key (default: a fixed demo key)")
    p.add_argument("--standard-key", default=None, help="Standard key")
    p.add_argument(
        "--fail-uid",
        action="append",
        default=[],
        metavar="UID",
        help="rows with this uid fail (repeatable)",
    )
    for name in ("429", "5xx", "slow", "drop-before", "drop-after"):
        p.add_argument(f"--rate-{name}", type=float, default=0.0, help=f"fault rate {name}")
    p.add_argument("--slow-seconds", type=float, default=0.5)
    p.add_argument("--row-error-rate", type=float, default=0.0)
    p.add_argument("--row-error-code", default="unknown_error")
    p.add_argument(
        "--create-delay-seconds",
        type=float,
        default=0.0,
        help="seconds each create request stays in flight before it executes",
    )
    network = p.add_argument_group("network", "model the network on /v2 routes")
    network.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="round-trip latency added to every /v2 request (default 0)",
    )
    network.add_argument(
        "--bandwidth",
        type=float,
        default=None,
        metavar="BYTES_PER_SECOND",
        help="per-request bandwidth of request and response bodies (default: unlimited)",
    )
    readings = p.add_argument_group("readings", "other readings of ambiguous parts of the API")
    for flag, kind in READINGS.items():
        choices = get_args(kind)
        readings.add_argument(f"--{flag}", choices=choices, default=choices[0])
    readings.add_argument(
        "--shuffle-results", action="store_true", help="serve imports/errors in random order"
    )
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Settings from parsed flags."""
    faults = Faults(
        rate_429=args.rate_429,
        rate_5xx=args.rate_5xx,
        rate_slow=args.rate_slow,
        slow_seconds=args.slow_seconds,
        rate_drop_before=args.rate_drop_before,
        rate_drop_after=args.rate_drop_after,
        row_error_rate=args.row_error_rate,
        row_error_code=args.row_error_code,
    )
    keys = {k: v for k, v in (("api_key", args.api_key), ("standard_key", args.standard_key)) if v}
    return EmulatorConfig(
        processing_seconds=args.processing_seconds,
        processing_polls=args.processing_polls,
        page_size=args.page_size,
        retry_after=args.retry_after,
        max_running=args.max_running,
        max_in_progress=args.max_in_progress,
        max_rows_in_progress=args.max_rows_in_progress,
        seed=args.seed,
        fail_uids=frozenset(args.fail_uid),
        faults=faults,
        create_delay_seconds=args.create_delay_seconds,
        shuffle_results=args.shuffle_results,
        latency_seconds=args.latency,
        bandwidth_bytes_per_second=args.bandwidth,
        **{flag.replace("-", "_"): getattr(args, flag.replace("-", "_")) for flag in READINGS},
        **keys,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse flags, start the emulator, print its URL and keys, serve until Ctrl-C/SIGTERM.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        Exit status (0 after a clean shutdown).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as err:  # e.g. --latency -1: a usage error, not a traceback
        parser.error(str(err))
    emulator = Emulator(config, host=args.host, port=args.port).start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
    print(f"Fullstory emulator listening on {emulator.url}", flush=True)
    print(f"  Admin key:    {emulator.api_key}", flush=True)
    print(f"  Standard key: {emulator.standard_key}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            if not emulator.running:
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
