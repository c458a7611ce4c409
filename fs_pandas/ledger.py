"""The on-disk journal of a run, so a crashed kernel can resume without sending anything twice.

A ledger is a JSON-lines file, appended to and flushed at each step:

``run``   the kind, the options the payloads were built with (in the format of
          :mod:`fs_pandas.options`, so labels such as ``2024`` or ``("a", "b")`` come back as
          they were), row and chunk counts;
``chunk`` a chunk's number, size and Idempotency-Key, written before it is sent;
``job``   the job id Fullstory gave the chunk, written (and fsynced) before polling starts;
``done``  the job's terminal status and counts, once its results were read.

The API key is never written. The default folder is ``$FS_PANDAS_HOME/runs`` or
``~/.fs_pandas/runs``; :func:`runs` lists the newest first.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from fs_pandas.errors import LedgerError
from fs_pandas.models import JobKind
from fs_pandas.options import decode_options, encode_options

__all__ = ["Ledger", "LedgerState", "default_dir", "read_ledger", "runs"]

# 2: options stored by fs_pandas.options (version 1 stored them as plain JSON).
_VERSION = 2


def default_dir() -> Path:
    """Folder where ledgers go unless a run is told otherwise."""
    home = os.environ.get("FS_PANDAS_HOME")
    return (Path(home) if home else Path.home() / ".fs_pandas") / "runs"


@dataclass
class LedgerState:
    """What a ledger file says about a run (the result of :func:`read_ledger`)."""

    path: Path
    kind: JobKind
    options: dict[str, Any]
    n_rows: int
    chunk_size: int
    created: str
    keys: dict[int, str] = field(default_factory=dict)
    jobs: dict[int, str] = field(default_factory=dict)
    done: dict[int, str] = field(default_factory=dict)


class Ledger:
    """Append-only writer of one run's journal (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("ab")

    @classmethod
    def create(
        cls,
        *,
        kind: JobKind,
        options: Mapping[str, Any],
        n_rows: int,
        chunk_size: int,
        directory: Path | None = None,
    ) -> Ledger:
        """Start a new ledger file for a run and write its ``run`` record.

        Raises
        ------
        TypeError
            An option cannot be stored faithfully (see :mod:`fs_pandas.options`); no file is
            created then.
        """
        stored = encode_options(options)
        folder = directory if directory is not None else default_dir()
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        name = f"{now:%Y%m%dT%H%M%S}-{kind}-{secrets.token_hex(3)}.jsonl"
        ledger = cls(folder / name)
        ledger._write(
            {
                "type": "run",
                "version": _VERSION,
                "kind": kind,
                "created": now.isoformat().replace("+00:00", "Z"),
                "n_rows": n_rows,
                "chunk_size": chunk_size,
                "options": stored,
            }
        )
        return ledger

    def chunk_planned(self, chunk: int, *, rows: int, key: str) -> None:
        self._write({"type": "chunk", "chunk": chunk, "rows": rows, "key": key})

    def job_created(self, chunk: int, *, job_id: str) -> None:
        # fsync: this is the record that prevents a second job after a crash.
        self._write({"type": "job", "chunk": chunk, "job_id": job_id}, sync=True)

    def job_done(self, chunk: int, *, job_id: str, status: str, imported: int, failed: int) -> None:
        record = {"type": "done", "chunk": chunk, "job_id": job_id, "status": status}
        self._write(record | {"imported": imported, "failed": failed})

    def close(self) -> None:
        self._file.close()

    def _write(self, record: Mapping[str, Any], *, sync: bool = False) -> None:
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())


def read_ledger(path: str | os.PathLike[str]) -> LedgerState:
    """Read a ledger file back; a torn last line (a crash mid-write) is ignored."""
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise LedgerError(f"cannot read ledger {str(path)!r}: {exc.strerror}") from exc
    records = _parse(lines, path)
    if not records or records[0].get("type") != "run":
        raise LedgerError(f"{str(path)!r} is not an fs_pandas ledger (no run record)")
    head = records[0]
    version = head.get("version", 1)
    if version > _VERSION:
        raise LedgerError(f"{str(path)!r} was written by a newer fs_pandas (ledger v{version})")
    options = head["options"]
    state = LedgerState(
        path=path,
        kind=head["kind"],
        options=decode_options(options) if version >= 2 else options,
        n_rows=head["n_rows"],
        chunk_size=head["chunk_size"],
        created=head["created"],
    )
    for record in records[1:]:
        _apply(state, record)
    return state


def _parse(lines: list[bytes], path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(lines):
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            if number == len(lines) - 1:
                break  # the process died while writing this line
            raise LedgerError(f"ledger {str(path)!r} line {number + 1} is corrupt") from None
    return records


def _apply(state: LedgerState, record: dict[str, Any]) -> None:
    kind = record.get("type")
    if kind == "chunk":
        state.keys[record["chunk"]] = record["key"]
    elif kind == "job":
        state.jobs[record["chunk"]] = record["job_id"]
    elif kind == "done":
        state.done[record["chunk"]] = record["status"]


def runs(directory: str | os.PathLike[str] | None = None, *, limit: int = 20) -> list[Path]:
    """List recent run ledgers, newest first.

    Parameters
    ----------
    directory : path, optional
        Where to look; defaults to ``$FS_PANDAS_HOME/runs`` or ``~/.fs_pandas/runs``.
    limit : int, default 20
        At most this many paths are returned.
    """
    folder = Path(directory) if directory is not None else default_dir()
    if not folder.is_dir():
        return []
    found = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]
