"""The ``fs-pandas`` command: send files to Fullstory, resume runs, run the local emulator.

::

    fs-pandas users customers.csv --uid-col user_id --out outcomes.parquet
    fs-pandas events events.parquet --name-col event --uid-col user_id --timestamp-col ts
    fs-pandas resume ~/.fs_pandas/runs/<run>.jsonl customers.csv
    fs-pandas runs
    fs-pandas emulator --port 8800
    fs-pandas demo
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fs_pandas.errors import FullstoryError, RunInterrupted

__all__ = ["main"]

# Exit statuses of a run that stopped waiting, as shells report them: 130 for SIGINT (Ctrl-C),
# 124 for a timeout (as GNU timeout does).
EXIT_INTERRUPTED = 130
EXIT_TIMEOUT = 124

# What the emulator needs beyond fs_pandas's own dependencies (see fs_pandas.emulator).
_EMULATOR_EXTRA = ("starlette", "uvicorn")
_EMULATOR_INSTALL = 'pip install "fs-pandas[emulator]"'


def _read_csv(path: Path) -> pd.DataFrame:
    """``pd.read_csv``, with every float read as the exact number its text denotes: before
    pandas 3 the default parser may land one unit in the last place off (e.g. -48.800582327685746
    read as -48.80058232768575); pandas 3 reads them exactly and deprecates ``float_precision``."""
    if int(pd.__version__.split(".")[0]) < 3:
        return pd.read_csv(path, float_precision="round_trip")
    return pd.read_csv(path)


_READERS = {
    ".csv": _read_csv,
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
    ".jsonl": lambda path: pd.read_json(path, lines=True),
    ".json": pd.read_json,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["emulator"]:
        if not _emulator_installed("emulator"):
            return 1
        from fs_pandas.emulator import main as emulator_main

        return emulator_main(args[1:])
    parser = _parser()
    options = parser.parse_args(args)
    try:
        code: int = options.handler(options)
    except RunInterrupted as exc:
        return _interrupted(exc, options)
    except KeyboardInterrupt:  # before any job was sent (reading the file, planning)
        print("fs-pandas: interrupted before the run started", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FullstoryError, ValueError, OSError) as exc:
        print(f"fs-pandas: error: {exc}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fs-pandas", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    users = sub.add_parser("users", help="create or update users from a file")
    _add_file_options(users)
    users.add_argument("--uid-col", required=True, help="column holding your user id")
    users.add_argument("--display-name-col")
    users.add_argument("--email-col")
    users.add_argument(
        "--duplicates", choices=["first", "last", "reject", "allow"], default="first"
    )
    users.set_defaults(handler=_users)
    events = sub.add_parser("events", help="send events from a file")
    _add_file_options(events)
    events.add_argument("--name", help="one event name for every row")
    events.add_argument("--name-col", help="column holding each event's name")
    events.add_argument("--uid-col")
    events.add_argument("--user-id-col")
    events.add_argument("--session-id-col")
    events.add_argument("--timestamp-col")
    events.set_defaults(handler=_events)
    resume = sub.add_parser("resume", help="finish an interrupted run from its ledger")
    resume.add_argument("ledger", type=Path)
    resume.add_argument("file", type=Path, help="the same file the run was started with")
    _add_client_options(resume)
    resume.add_argument("--out", type=Path)
    _add_timeout_option(resume)
    resume.set_defaults(handler=_resume)
    runs = sub.add_parser("runs", help="list recent run ledgers")
    runs.set_defaults(handler=_runs)
    demo = sub.add_parser("demo", help="a guided run against the embedded emulator")
    demo.set_defaults(handler=_demo)
    sub.add_parser("emulator", help="serve the local Fullstory emulator (see --help there)")
    return parser


def _add_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a .csv, .parquet, .json or .jsonl file")
    parser.add_argument("--properties", nargs="*", help="columns sent as properties")
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--out", type=Path, help="write every row's outcome here (.parquet/.csv)")
    parser.add_argument("--no-progress", action="store_true")
    _add_timeout_option(parser)
    _add_client_options(parser)


def _add_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait at most; then stop as on Ctrl-C (exit status 124)",
    )


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url", help="API base URL (default: FULLSTORY_BASE_URL or Fullstory's)"
    )


def _read(path: Path) -> pd.DataFrame:
    reader: Any = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: unknown file type; use one of {', '.join(_READERS)}")
    frame: pd.DataFrame = reader(path)
    return frame


def _client(options: argparse.Namespace) -> Any:
    from fs_pandas.client import Client

    extra = {"base_url": options.base_url} if options.base_url else {}
    return Client.from_env(**extra)


def _users(options: argparse.Namespace) -> int:
    frame = _read(options.file)
    result = frame.fullstory.batch_update(
        uid_col=options.uid_col,
        display_name_col=options.display_name_col,
        email_col=options.email_col,
        properties=options.properties,
        duplicates=options.duplicates,
        client=_client(options),
        chunk_size=options.chunk_size,
        poll_interval=options.poll_interval,
        timeout=options.timeout,
        progress="none" if options.no_progress else "text",
    )
    return _report(result, options.out)


def _events(options: argparse.Namespace) -> int:
    frame = _read(options.file)
    result = frame.fullstory.batch_events(
        name=options.name,
        name_col=options.name_col,
        uid_col=options.uid_col,
        user_id_col=options.user_id_col,
        session_id_col=options.session_id_col,
        timestamp_col=options.timestamp_col,
        properties=options.properties,
        client=_client(options),
        chunk_size=options.chunk_size,
        poll_interval=options.poll_interval,
        timeout=options.timeout,
        progress="none" if options.no_progress else "text",
    )
    return _report(result, options.out)


def _resume(options: argparse.Namespace) -> int:
    from fs_pandas.batch import resume

    result = resume(
        options.ledger,
        _read(options.file),
        client=_client(options),
        progress="text",
        timeout=options.timeout,
    )
    return _report(result, options.out)


def _runs(options: argparse.Namespace) -> int:
    from fs_pandas.ledger import runs

    for path in runs():
        print(path)
    return 0


def _demo(options: argparse.Namespace) -> int:
    if not _emulator_installed("demo"):
        return 1
    from fs_pandas.demo import run_demo

    return run_demo()


def _emulator_installed(command: str) -> bool:
    """Whether the emulator imports; if its extra is missing, say which to install (one line)."""
    try:
        import fs_pandas.emulator  # noqa: F401
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in _EMULATOR_EXTRA:
            raise
        print(
            f"fs-pandas: error: 'fs-pandas {command}' needs the emulator extra ({exc.name} is not "
            f"installed): {_EMULATOR_INSTALL}",
            file=sys.stderr,
        )
        return False
    return True


def _report(result: Any, out: Path | None) -> int:
    print(repr(result))
    if out is not None:
        _write_outcomes(result, out)
        print(f"every row's outcome written to {out}")
    counts = result.counts
    # Exit 0 only when every row went in: scripts can tell a partial run from a clean one.
    return 0 if counts["imported"] == sum(counts.values()) else 2


def _write_outcomes(result: Any, out: Path) -> None:
    table = result.table()
    if out.suffix.lower() == ".csv":
        table.to_csv(out)
    else:
        table.to_parquet(out)


def _interrupted(exc: RunInterrupted, options: argparse.Namespace) -> int:
    """Ctrl-C or --timeout: write the outcomes so far, say in one line how to finish."""
    out: Path | None = getattr(options, "out", None)
    written = ""
    if out is not None:
        _write_outcomes(exc.result, out)
        written = f"; outcomes so far written to {out}"
    what = "timed out" if exc.reason == "timeout" else "interrupted"
    jobs = f"{exc.jobs_running} job{'s' if exc.jobs_running != 1 else ''}"
    pending = exc.result.counts["pending"]
    data = getattr(options, "file", "FILE")  # the demo has no file of its own
    again = shlex.join(["fs-pandas", "resume", str(exc.ledger_path), str(data)])
    print(
        f"fs-pandas: {what}: {jobs} still running at Fullstory, {pending:,} rows pending"
        f"{written}; finish with: {again}",
        file=sys.stderr,
    )
    return EXIT_TIMEOUT if exc.reason == "timeout" else EXIT_INTERRUPTED
