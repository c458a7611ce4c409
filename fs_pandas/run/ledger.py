"""The on-disk journal of a run, so a crashed kernel can resume without sending anything twice.

A ledger is a JSON-lines file, appended to and flushed at each step:

``run``   the kind, the options the payloads were built with (in the format of
          :mod:`fs_pandas.options`, so labels such as ``2024`` or ``("a", "b")`` come back as
          they were), row and chunk counts, the Idempotency-Key scheme of its chunks and, for a
          run sent again on purpose (``resend=True``), the salt of its keys;
``chunk`` a chunk's number, size and Idempotency-Key, written before it is sent;
``job``   the job id Fullstory gave the chunk, written (and fsynced) before polling starts;
``done``  the job's terminal status and counts, once its results were read.

The ``run`` record is written to a temporary file that is then renamed into place, so a ledger
is never seen without it. A crash can tear the last line; it is ignored when reading, and cut
off (or ended, when it is a whole record missing only its newline) before a resume appends.

Key schemes: ledgers before version 3 hashed a chunk's body alone (scheme 1); from version 3
the key also covers the chunk's number and size (scheme 2, see
:func:`fs_pandas.run.engine.idempotency_key`). A resume keeps each chunk's recorded key, so an old
run is finished under the keys it started with. A run sent again on purpose (``resend=True``)
salts its keys with a random ``key_salt`` recorded in its ``run`` record (ledger version 4), so
Fullstory makes new jobs; a resume recomputes and extends its keys with that salt.

:func:`recent_jobs` reads the chunk and job records of a folder's recent ledgers, so a new run
can tell that Fullstory answered one of its creates with a job an earlier run made (a replay of
the same Idempotency-Key within 24 h).

The API key is never written. The default folder is ``$FS_PANDAS_HOME/runs`` or
``~/.fs_pandas/runs``; :func:`runs` lists the newest first.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from fs_pandas._types import JobKind
from fs_pandas.errors import LedgerError
from fs_pandas.options import decode_options, encode_options

__all__ = [
    "KEY_SCHEME",
    "Ledger",
    "LedgerState",
    "default_dir",
    "read_ledger",
    "recent_jobs",
    "runs",
]

# 2: options stored by fs_pandas.options (version 1 stored them as plain JSON).
# 3: the run record names its Idempotency-Key scheme (older ledgers used scheme 1).
# 4: the run record may carry a key salt (resend=True); written only by such runs, so that an
#    older fs_pandas refuses them rather than recomputing their keys without the salt.
_VERSION = 4
_UNSALTED_VERSION = 3

#: The Idempotency-Key scheme new runs use (see :func:`fs_pandas.run.engine.idempotency_key`).
KEY_SCHEME = 2


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
    key_scheme: int = 1
    source: str | None = None
    #: The salt of the run's Idempotency-Keys (a run sent again on purpose), or None.
    key_salt: str | None = None
    keys: dict[int, str] = field(default_factory=dict)
    jobs: dict[int, str] = field(default_factory=dict)
    done: dict[int, str] = field(default_factory=dict)
    #: Rows each finished chunk imported and failed, as journalled.
    done_counts: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def created_at(self) -> dt.datetime | None:
        """When the run started (timezone-aware), or None if the stamp cannot be read."""
        try:
            stamp = dt.datetime.fromisoformat(self.created.replace("Z", "+00:00"))
        except (TypeError, ValueError):
            return None
        return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


class Ledger:
    """Append-only writer of one run's journal (see the module docstring).

    Opening an existing ledger first repairs a torn last line, so what is appended starts on a
    line of its own.
    """

    def __init__(self, path: Path):
        self.path = path
        _repair_tail(path)
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
        source: str | None = None,
        key_salt: str | None = None,
    ) -> Ledger:
        """Start a new ledger file for a run and write its ``run`` record.

        ``key_salt`` (a run sent again on purpose) is kept so a resume computes the same keys.

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
        head = {
            "type": "run",
            "version": _VERSION if key_salt is not None else _UNSALTED_VERSION,
            "kind": kind,
            "created": now.isoformat().replace("+00:00", "Z"),
            "n_rows": n_rows,
            "chunk_size": chunk_size,
            "key_scheme": KEY_SCHEME,
            "options": stored,
        }
        if source is not None:
            head["source"] = source  # where the frame came from, shown by `fs-pandas runs`
        if key_salt is not None:
            head["key_salt"] = key_salt
        path = folder / name
        _write_new(path, orjson.dumps(head) + b"\n")
        return cls(path)

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


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` in one step: written and synced under a temporary
    name (not ``*.jsonl``, so :func:`runs` never lists it), then renamed. A listing sees no
    file or a whole first record, never an empty ledger."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _repair_tail(path: Path) -> None:
    """Make the file end with a whole line before anything is appended.

    A torn last line is ignored by :func:`read_ledger` only while it is the last line: a record
    appended after it would turn it into a corrupt line in the middle and lock the run. A last
    line that parses (a crash between a record and its newline) is kept and ended; one that
    does not is cut off: it was never a record.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    body = data[:-1] if data.endswith(b"\n") else data
    start = body.rfind(b"\n") + 1
    if _parses(body[start:]):
        if not data.endswith(b"\n"):
            with path.open("ab") as file:
                file.write(b"\n")
        return
    with path.open("r+b") as file:
        file.truncate(start)


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


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
        key_scheme=head.get("key_scheme", 1),
        source=head.get("source"),
        key_salt=head.get("key_salt"),
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
        state.done_counts[record["chunk"]] = (record.get("imported", 0), record.get("failed", 0))


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


# A ledger line starts with its type (orjson keeps the order records are written in): chunk
# and job records are told apart without parsing the others.
_KEYED = (b'{"type":"chunk"', b'{"type":"job"')


def recent_jobs(
    directory: str | os.PathLike[str] | None,
    *,
    since: dt.datetime,
    before: dt.datetime | None = None,
    exclude: Path | None = None,
) -> dict[str, tuple[dt.datetime, str]]:
    """Idempotency-Key -> (start of the run that first journalled its job, job id), from the
    ledgers of ``directory`` written since ``since`` (and, when given, started before
    ``before``), except ``exclude``.

    Cheap: a ledger last written before ``since`` is not opened, and only the run record and
    the chunk and job records of the others are parsed. A ledger that cannot be read is
    skipped. Where several runs journalled a key, its job is the latest run's (what Fullstory
    answers now) and its time that of the earliest run that journalled that job.
    """
    folder = Path(directory) if directory is not None else default_dir()
    if not folder.is_dir():
        return {}
    cutoff = since.timestamp()
    skip = exclude.resolve() if exclude is not None else None
    found: list[tuple[dt.datetime, dict[str, str]]] = []
    for path in folder.glob("*.jsonl"):
        try:
            if skip is not None and path.resolve() == skip:
                continue
            if path.stat().st_mtime < cutoff:
                continue
            read = _keyed_jobs(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, LedgerError):
            continue
        if read is None:
            continue
        started, jobs = read
        if started < since or (before is not None and started >= before):
            continue
        found.append((started, jobs))
    found.sort(key=lambda item: item[0])
    first_seen: dict[str, dt.datetime] = {}  # job id -> the earliest run that journalled it
    latest: dict[str, str] = {}  # key -> the job the latest run journalled for it
    for started, jobs in found:
        for key, job in jobs.items():
            first_seen.setdefault(job, started)
            latest[key] = job
    return {key: (first_seen[job], job) for key, job in latest.items()}


def _keyed_jobs(path: Path) -> tuple[dt.datetime, dict[str, str]] | None:
    """A ledger's start and its key -> job records, or None if it has no readable run record."""
    with path.open("rb") as file:
        head = orjson.loads(file.readline())
        if not isinstance(head, dict) or head.get("type") != "run":
            return None
        started = dt.datetime.fromisoformat(str(head["created"]).replace("Z", "+00:00"))
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.UTC)
        keys: dict[int, str] = {}
        jobs: dict[int, str] = {}
        for line in file:
            if not line.startswith(_KEYED):
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn line
            if record.get("type") == "chunk":
                keys[record["chunk"]] = record["key"]
            elif record.get("type") == "job":
                jobs[record["chunk"]] = record["job_id"]
    return started, {keys[n]: job for n, job in jobs.items() if n in keys}
