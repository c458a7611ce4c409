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
import ast
import dataclasses
import datetime as dt
import json
import os
import re
import shlex
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fs_pandas.errors import FullstoryError, RunInterrupted
from fs_pandas.specs import EventSpec, Pacing, Spec, UserSpec

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


class _CliError(Exception):
    """A mistake in how the command was called: printed as one line, exit status 1."""


# Where --out may write: a table of every row's outcome, or a folder of frames.
_OUT_SUFFIXES = (".parquet", ".pq", ".csv")


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
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # restored when the block ends
            code: int = options.handler(options)
    except RunInterrupted as exc:
        return _interrupted(exc, options)
    except KeyboardInterrupt:  # before any job was sent (reading the file, planning)
        print("fs-pandas: interrupted before the run started", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (_CliError, FullstoryError, ValueError, OSError) as exc:
        print(f"fs-pandas: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return code


def _show_warning(
    message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """A warning (a column named like a timestamp...) as one line, its fix spelt as flags."""
    print(f"fs-pandas: warning: {as_flags(str(message))}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    """The error as one line: its first line, without the notes a notebook would show, with
    the options it names spelt as this command's flags."""
    text = str(exc).strip() or type(exc).__name__
    return as_flags(text.splitlines()[0])


# An option as Python spells it in a message: rename={'A': 'b'}, uid_col='x', chunk_size=10...
_QUOTED = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_MAPPING = re.compile(rf"\b(rename|schema|context)=\{{({_QUOTED}): ({_QUOTED})\}}")
_OPTION = re.compile(rf"\b([a-z][a-z_]*)=({_QUOTED}|[\w.]*\w)?")


def as_flags(message: str) -> str:
    """``message`` with the push options it names in Python (``rename={'A': 'b'}``,
    ``uid_col='user_id'``) written as the flags of this command (``--rename 'A=b'``,
    ``--uid-col user_id``): the fix a message offers must work when pasted into a shell."""
    names = {f.name for cls in (UserSpec, EventSpec, Pacing) for f in dataclasses.fields(cls)}

    def mapping(match: re.Match[str]) -> str:
        key, value = (ast.literal_eval(group) for group in match.group(2, 3))
        return f"{flag(match.group(1))} {shlex.quote(f'{key}={value}')}"

    def option(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if name not in names:
            return match.group(0)
        if value is None or value == "True":  # a switch: the flag alone
            return flag(name)
        if value[0] in "'\"":
            value = shlex.quote(ast.literal_eval(value))
        return f"{flag(name)} {value}"

    return _OPTION.sub(option, _MAPPING.sub(mapping, message))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fs-pandas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"fs-pandas {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    users = sub.add_parser("users", help="create or update users from a file")
    _add_file_options(users, UserSpec)
    users.set_defaults(handler=_push, spec_class=UserSpec)
    events = sub.add_parser("events", help="send events from a file")
    _add_file_options(events, EventSpec)
    events.set_defaults(handler=_push, spec_class=EventSpec)
    resume = sub.add_parser("resume", help="finish an interrupted run from its ledger")
    resume.add_argument("ledger", type=Path)
    resume.add_argument("file", type=Path, help="the same file the run was started with")
    _add_client_options(resume)
    resume.add_argument("--out", type=Path, help="as for users / events")
    _add_timeout_option(resume)
    resume.set_defaults(handler=_resume)
    runs = sub.add_parser("runs", help="list recent run ledgers")
    runs.set_defaults(handler=_runs)
    demo = sub.add_parser("demo", help="a guided run against the embedded emulator")
    demo.set_defaults(handler=_demo)
    sub.add_parser("emulator", help="serve the local Fullstory emulator (see --help there)")
    return parser


def _add_file_options(parser: argparse.ArgumentParser, spec_class: type[Spec]) -> None:
    parser.add_argument("file", type=Path, help="a .csv, .parquet, .json or .jsonl file")
    what = parser.add_argument_group("what is sent (docs/options.md has every option)")
    for option in dataclasses.fields(spec_class):
        _add_option(what, option)
    pacing = parser.add_argument_group("pacing")
    for option in dataclasses.fields(Pacing):
        _add_option(pacing, option)
    parser.add_argument(
        "--out",
        type=Path,
        help="write every row's outcome here (.parquet or .csv), or to a folder: "
        "imports.parquet, errors.parquet, rejected.parquet, pending.parquet and summary.json",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress line on stderr (the summary stays)"
    )
    _add_timeout_option(parser)
    _add_client_options(parser)


def flag(option: str) -> str:
    """The command-line flag of a spec or pacing option: ``uid_col`` -> ``--uid-col``."""
    return "--" + option.replace("_", "-")


def _add_option(group: Any, option: dataclasses.Field[Any]) -> None:
    """One flag from a spec field: its help, form and default come from :mod:`fs_pandas.specs`."""
    form = option.metadata["cli"]
    required = option.default is dataclasses.MISSING
    default = None if required else option.default
    shown = "" if required or default is None or form == "flag" else f" (default {default})"
    kwargs: dict[str, Any] = {"dest": option.name, "help": option.metadata["help"] + shown}
    kwargs.update(_FORMS[form])
    if option.name == "rename":
        kwargs["metavar"] = "COLUMN=NAME"  # the other pairs (context) name a field first
    if form == "choice":
        kwargs["choices"] = option.metadata["choices"]
    if form not in ("flag", "pairs", "schema"):
        kwargs["default"] = default
    group.add_argument(flag(option.name), required=required, **kwargs)


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _zone(text: str) -> str | None:
    return None if text.lower() == "none" else text


_FORMS: dict[str, dict[str, Any]] = {
    "column": {"metavar": "COLUMN"},
    "columns": {"nargs": "*", "metavar": "COLUMN"},
    "text": {"metavar": "TEXT"},
    "zone": {"type": _zone, "metavar": "ZONE|none"},
    "choice": {},
    "flag": {"action": "store_true"},
    "pairs": {"action": "append", "type": _pair, "metavar": "FIELD=COLUMN"},
    "schema": {"action": "append", "metavar": "NAME=TYPE|infer|none"},
    "count": {"type": int, "metavar": "N"},
    "seconds": {"type": float, "metavar": "SECONDS"},
    "factor": {"type": float, "metavar": "FACTOR"},
}


def _cli_value(option: dataclasses.Field[Any], given: Any) -> Any:
    """A parsed flag as the spec takes it (repeated pairs become a mapping)."""
    form = option.metadata["cli"]
    if form == "pairs":
        return None if given is None else dict(given)
    if form == "schema":
        return _schema(given)
    return given


def _schema(given: list[str] | None) -> Any:
    if not given:
        return "infer"
    if len(given) == 1 and given[0].lower() in ("infer", "none"):
        return None if given[0].lower() == "none" else "infer"
    return dict(_pair(text) for text in given)


def _from_flags(cls: Any, options: argparse.Namespace) -> Any:
    return cls(**{f.name: _cli_value(f, getattr(options, f.name)) for f in dataclasses.fields(cls)})


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
        raise _CliError(f"{path}: unknown file type; use one of {', '.join(_READERS)}")
    if not path.is_file():
        raise _CliError(f"{path}: no such file")
    frame: pd.DataFrame = reader(path)
    return frame


def _client(options: argparse.Namespace) -> Any:
    from fs_pandas.client import ENV_API_KEY, Client

    if not os.environ.get(ENV_API_KEY, "").strip():
        raise _CliError(
            f"no Fullstory API key: set the {ENV_API_KEY} environment variable "
            f"(export {ENV_API_KEY}=<your key>)"
        )
    extra = {"base_url": options.base_url} if options.base_url else {}
    return Client.from_env(**extra)


def _check_out(out: Path | None) -> None:
    """Refuse an --out that could not be written, before anything is read or sent."""
    if out is None:
        return
    if out.is_dir() or not out.suffix:
        folder = out
    elif out.suffix.lower() in _OUT_SUFFIXES:
        folder = out.parent
    else:
        raise _CliError(
            f"--out {out}: write to a .parquet or .csv file, or to a folder (no suffix)"
        )
    parent = folder if folder.exists() else folder.parent
    if not parent.is_dir():
        raise _CliError(f"--out {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise _CliError(f"--out {out}: the folder {parent} is not writable")


def _version() -> str:
    from fs_pandas._version import __version__

    return __version__


def _push(options: argparse.Namespace) -> int:
    """``fs-pandas users`` / ``fs-pandas events``: the file through one run."""
    from fs_pandas.run import start

    spec = _from_flags(options.spec_class, options)
    pacing = _from_flags(Pacing, options)
    _check_out(options.out)
    client = _client(options)
    frame = _read(options.file)
    result = start(
        spec,
        frame,
        client=client,
        pacing=pacing,
        timeout=options.timeout,
        progress="none" if options.no_progress else "text",
        source=str(options.file),
    )
    return _report(result, options.out)


def _resume(options: argparse.Namespace) -> int:
    from fs_pandas.run import resume

    _check_out(options.out)
    client = _client(options)
    result = resume(
        options.ledger,
        _read(options.file),
        client=client,
        progress="text",
        timeout=options.timeout,
    )
    return _report(result, options.out)


def _runs(options: argparse.Namespace) -> int:
    """One line per recent run: age, kind, rows, how far it got, its source; then its ledger."""
    from fs_pandas.errors import LedgerError
    from fs_pandas.run.ledger import read_ledger, runs

    now = dt.datetime.now(dt.UTC)
    for path in runs():
        try:
            state = read_ledger(path)
        except LedgerError as exc:
            print(f"unreadable run: {_one_line(exc)}\n  {path}")
            continue
        print(f"{_run_line(state, now)}\n  {path}")
    return 0


def _run_line(state: Any, now: dt.datetime) -> str:
    created = state.created_at
    age = "age unknown" if created is None else f"{_age(now - created)} ago"
    chunks = -(-state.n_rows // state.chunk_size) if state.n_rows else 0
    imported = sum(i for i, _ in state.done_counts.values())
    failed = sum(f for _, f in state.done_counts.values())
    waiting = len(set(state.jobs) - set(state.done))
    if waiting:
        status = f"unfinished: {waiting} job{'s' if waiting != 1 else ''} not read (resume it)"
    else:
        status = f"{len(state.done)} job{'s' if len(state.done) != 1 else ''} read"
    source = f" from {state.source}" if state.source else ""
    return (
        f"{age}: {state.kind}{source}, {state.n_rows:,} rows in {chunks} chunk(s); {status}; "
        f"{imported:,} imported, {failed:,} failed"
    )


def _age(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


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
    if result.aborted and not counts["imported"] and not counts["failed"]:
        # Nothing reached Fullstory (no answer at all, e.g. a wrong --base-url): an error.
        print(f"fs-pandas: error: {_one_line(Exception(result.aborted))}", file=sys.stderr)
        return 1
    # Exit 0 only when every row went in: scripts can tell a partial run from a clean one.
    return 0 if counts["imported"] == sum(counts.values()) else 2


def _write_outcomes(result: Any, out: Path) -> None:
    if out.suffix.lower() not in _OUT_SUFFIXES:  # a folder, for a job that hands frames on
        _write_folder(result, out)
    elif out.suffix.lower() == ".csv":
        result.table().to_csv(out)
    else:
        result.table().to_parquet(out)


def _write_folder(result: Any, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("imports", "errors", "rejected", "pending"):
        getattr(result, name).to_parquet(folder / f"{name}.parquet")
    summary = {
        "kind": result.kind,
        "counts": result.counts,
        "job_ids": result.job_ids,
        "ledger": result.ledger_path,
        "aborted": result.aborted,
        "notes": result.notes,
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


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
