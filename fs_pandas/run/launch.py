"""Starting and resuming runs: plan the payloads, open the journal, hand over to a
:class:`~fs_pandas.run.handle.RunHandle`. ``batch_update``, ``batch_events``, ``resume`` and the
CLI all come here.

An interrupt is a normal end: Ctrl-C (Kernel → Interrupt) or a ``timeout=`` stops the waiting,
the display turns red and says how to finish, and :class:`~fs_pandas.errors.RunInterrupted`
carries the partial result; its traceback starts at the user's call, not inside urllib3.

Running the same call again within 24 h sends nothing new: each chunk's Idempotency-Key makes
Fullstory answer with the first run's job. Before a run sends, the keys and jobs the other
ledgers of its folder journalled within those 24 h are read, so the run can say which chunks
were replayed (display and ``result.notes``); ``resend=True`` salts the keys with a random
string, recorded in the ledger, so Fullstory makes new jobs on purpose.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import secrets
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fs_pandas import payloads
from fs_pandas.client import Client
from fs_pandas.errors import (
    ConfigurationError,
    ExpiredKeysWarning,
    LedgerError,
    PermissionDeniedError,
    RunInterrupted,
)
from fs_pandas.payloads import Plan
from fs_pandas.progress import ProgressOption
from fs_pandas.run.engine import idempotency_key
from fs_pandas.run.handle import RunHandle, RunSetup
from fs_pandas.run.ledger import KEY_SCHEME, Ledger, LedgerState, read_ledger, recent_jobs
from fs_pandas.run.result import BatchResult
from fs_pandas.specs import Pacing, Spec, check_timeout, spec_for

__all__ = ["resume", "start"]

logger = logging.getLogger(__name__)

# Fullstory forgets an Idempotency-Key 24 h after its first use (contract §6).
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)


def start(
    spec: Spec,
    frame: pd.DataFrame,
    *,
    client: Client | None = None,
    pacing: Pacing | None = None,
    progress: ProgressOption = True,
    wait: bool = True,
    ledger_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    source: str | None = None,
) -> BatchResult | RunHandle:
    """Plan ``frame`` into requests and push them through Fullstory batch jobs.

    This is the engine behind :meth:`FullstoryAccessor.batch_update` and
    :meth:`FullstoryAccessor.batch_events`; see those for the parameters. ``source`` (e.g. the
    file the CLI read) is kept in the ledger, to tell runs apart in ``fs-pandas runs``.

    Raises
    ------
    TypeError
        A plan option cannot be kept in the run's ledger (see :mod:`fs_pandas.options`);
        raised before anything is planned or sent.
    RunInterrupted
        The run stopped waiting (Ctrl-C, or ``timeout`` seconds passed); it carries the
        partial result and the ledger path.
    """
    pacing = pacing or Pacing()
    client = client if client is not None else Client.from_env()
    _check_key(client, pacing)  # before anything is planned, journalled or sent
    folder = Path(ledger_dir) if ledger_dir is not None else None
    setup = RunSetup(
        # Plan from the spec as the ledger will give it back, so resume rebuilds this plan.
        spec=spec.normalised(),
        frame=frame,
        client=client,
        pacing=pacing,
        ledger_dir=folder,
        timeout=check_timeout(timeout),
        source=source,
        # resend=True: keys no earlier run used, so Fullstory makes new jobs (and nothing
        # earlier can be replayed); the salt is kept in the ledger for a resume.
        key_salt=secrets.token_hex(8) if pacing.resend else None,
        earlier_jobs={} if pacing.resend else _earlier_jobs(folder),
    )
    return _start(setup, progress=progress, wait=wait)


def resume(
    ledger_path: str | os.PathLike[str],
    frame: pd.DataFrame,
    *,
    client: Client | None = None,
    progress: ProgressOption = True,
    options: Pacing | None = None,
    timeout: float | None = None,
) -> BatchResult:
    """Finish a run that was interrupted (Ctrl-C, a ``timeout``, a crashed kernel, a closed
    laptop).

    Re-attaches to every job the ledger recorded and rebuilds the result against the same
    frame; chunks that never got a job are sent (with their original Idempotency-Key, so a
    create whose answer was lost is not made twice). Within 24 hours of the run's start
    nothing is sent twice.

    After 24 hours Fullstory has forgotten the run's keys. A chunk whose create was sent but
    whose job id never reached the ledger (the process died in between) is then sent as a new
    job, and its rows may be imported twice: an :class:`~fs_pandas.errors.ExpiredKeysWarning`
    says so, naming the chunks, and ``result.notes`` repeats it. Chunks journalled with a job
    are re-attached as always, however old.

    A ledger written before fs_pandas keyed chunks by their place in the run (ledger version
    2 or older) resumes under the keys it recorded. Where two chunks of such a run had the same
    content, and so the same key, only the first was ever imported by a job of its own (the
    other was answered with the first one's job): the others are sent now, under keys of their
    own.

    Parameters
    ----------
    ledger_path : path
        The ledger of the run (``result.ledger_path``; :func:`fs_pandas.runs` lists recent ones).
    frame : DataFrame
        The same frame the run was started with.
    client : Client, optional
        Defaults to :meth:`Client.from_env`.
    progress : bool or str, default True
        As for ``batch_update``.
    options : Pacing, optional
        Pacing for the rest of the run; its ``chunk_size``, if set, must be the run's (the
        ledger's is used). Its ``resend`` is not looked at: a resume keeps the run's keys (those of
        a run started with ``resend=True`` included, whose salt the ledger keeps), so nothing
        journalled is sent again.
    timeout : float, optional
        Seconds to wait at most; then the resume stops as ``batch_update`` does and can itself
        be resumed.

    Raises
    ------
    LedgerError
        If the ledger cannot be read or the frame is not the one the run was started with.
    ConfigurationError
        If ``options.chunk_size`` differs from the run's, or ``timeout`` is not a positive
        number of seconds.
    RunInterrupted
        Ctrl-C or ``timeout``: the rows still unfinished are ``pending`` in ``exc.result``.

    Warns
    -----
    ExpiredKeysWarning
        The run started more than 24 hours ago and some chunk was planned without a job
        journalled: it is sent again, and may be imported twice.
    DuplicateJobWarning
        Fullstory (or the ledger) gives one job to two chunks; the later chunk's rows are
        reported as failed with code ``duplicate_job``.
    """
    timeout = check_timeout(timeout)
    state = read_ledger(ledger_path)
    client = client if client is not None else Client.from_env()
    pacing = _resume_pacing(options, state.chunk_size)
    _check_key(client, pacing)
    if state.n_rows != len(frame):
        raise LedgerError(
            f"the ledger's run had {state.n_rows} rows, this frame has {len(frame)}: "
            "resume needs the same frame"
        )
    keys, jobs = _carried_over(state)
    expired = _expired_keys_note(state, dt.datetime.now(dt.UTC))
    earlier = (
        {}
        if state.key_salt is not None  # salted keys: no other run used them
        else _earlier_jobs(state.path.parent, before=state.created_at, exclude=state.path)
    )
    setup = RunSetup(
        spec=spec_for(state.kind, state.options),
        frame=frame,
        client=client,
        pacing=pacing,
        ledger_dir=None,
        known_jobs=jobs,
        known_keys=keys,
        ledger_path=state.path,
        notes=() if expired is None else (expired,),
        timeout=timeout,
        earlier_jobs=earlier,
        key_salt=state.key_salt,
    )
    plan = _plan(setup)
    _check_same_frame(plan, state.chunk_size, state.keys, state.key_scheme, salt=state.key_salt)
    if expired is not None:
        logger.warning(expired)
        warnings.warn(expired, ExpiredKeysWarning, stacklevel=2)
    try:
        result = _start(setup, progress=progress, wait=True, plan=plan)
    except RunInterrupted as exc:  # raised afresh: a traceback of this call, not the run's
        raise exc.with_traceback(None) from None
    assert isinstance(result, BatchResult)
    return result


def _carried_over(state: LedgerState) -> tuple[dict[int, str], dict[int, str]]:
    """The keys and jobs a resume keeps: all of them, except in a scheme-1 ledger, where
    chunks with the same content had the same key and so were answered with one job.

    That job holds the first such chunk's requests; the others were never imported by a job of
    their own and get new keys (their recorded key would only replay that job). A later chunk
    whose recorded job differs from the first one's (sent after the key expired) keeps it.
    """
    if state.key_scheme >= 2:
        return dict(state.keys), dict(state.jobs)
    keys: dict[int, str] = {}
    jobs = {n: job for n, job in state.jobs.items() if n not in state.keys}
    first: dict[str, int] = {}  # key -> the first chunk recorded with it
    for number in sorted(state.keys):
        key, job = state.keys[number], state.jobs.get(number)
        owner = first.setdefault(key, number)
        owner_job = jobs.get(owner)
        if owner == number or (job is not None and owner_job not in (None, job)):
            keys[number] = key
            if job is not None:
                jobs[number] = job
        elif job is not None and owner_job is None:
            jobs[owner] = job  # the same content: the job answers for the first chunk
    return keys, jobs


def _earlier_jobs(
    folder: Path | None, *, before: dt.datetime | None = None, exclude: Path | None = None
) -> dict[str, tuple[dt.datetime, str]]:
    """Key -> (start of the earlier run, job id) from the ledgers of ``folder`` (default: the
    default folder) written within Fullstory's idempotency window; unreadable ones skipped.
    A resume passes its run's start as ``before``: only runs before it can have been replayed."""
    since = dt.datetime.now(dt.UTC) - IDEMPOTENCY_WINDOW
    try:
        return recent_jobs(folder, since=since, before=before, exclude=exclude)
    except OSError as exc:  # an unreadable folder: the run goes on, unable to tell replays
        logger.info("cannot read earlier ledgers in %s: %s", folder, exc)
        return {}


def _expired_keys_note(state: LedgerState, now: dt.datetime) -> str | None:
    """Why a resume may send a chunk twice, or None: the run is older than Fullstory's
    idempotency window and some chunk was planned (its create perhaps sent) with no job
    journalled."""
    started = state.created_at
    if started is None or now - started <= IDEMPOTENCY_WINDOW:
        return None
    unjournalled = sorted(set(state.keys) - set(state.jobs))
    if not unjournalled:
        return None
    hours = (now - started).total_seconds() / 3600
    return (
        f"this run started {hours:.0f} hours ago and Fullstory forgets Idempotency-Keys after "
        f"24 hours: chunks {unjournalled} have no job in the ledger, so they are sent again as "
        "new jobs; if their first create reached Fullstory before the crash, their rows are "
        "imported twice"
    )


def _check_same_frame(
    plan: Plan,
    chunk_size: int,
    keys: Mapping[int, str],
    key_scheme: int,
    *,
    salt: str | None = None,
) -> None:
    """Each chunk's key is a hash of its content: a different frame cannot match them all.

    A chunk of an old (scheme-1) ledger may carry either scheme's key: a resume records keys
    of the current scheme for the chunks it sends under new keys. The keys of a run sent
    again on purpose are salted with the ``salt`` its ledger recorded.
    """
    for chunk in plan.chunks(chunk_size):
        expected = keys.get(chunk.number)
        if expected is None:
            continue
        schemes = {key_scheme, KEY_SCHEME}
        place = {"chunk": chunk.number, "chunk_size": chunk_size}
        if all(
            idempotency_key(plan.kind, chunk.body, **place, scheme=s, salt=_salt(s, salt))
            != expected
            for s in schemes
        ):
            raise LedgerError(
                f"chunk {chunk.number} of this frame differs from the one the ledger recorded; "
                "resume needs the same frame with the same options"
            )


def _salt(scheme: int, salt: str | None) -> str | None:
    """The salt a key of ``scheme`` takes: scheme 1 (old ledgers, never salted) takes none."""
    return None if scheme == 1 else salt


def _plan(setup: RunSetup) -> Plan:
    return payloads.plan(setup.frame, setup.spec)


def _start(
    setup: RunSetup, *, progress: ProgressOption, wait: bool, plan: Plan | None = None
) -> BatchResult | RunHandle:
    planned = plan if plan is not None else _plan(setup)
    ledger = _open_ledger(setup, planned)
    logger.info("fs_pandas run journal: %s", ledger.path)
    if not wait:
        # The result is joined back to the frame as it was at the call (the plan already
        # snapshots what is sent), whatever the notebook does to it meanwhile.
        setup = dataclasses.replace(setup, frame=_snapshot(setup.frame))
    handle = RunHandle(setup, planned, ledger, progress=progress, restart=_restart)
    if not wait:
        handle._start_background()
        return handle
    return handle.wait()


def _snapshot(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy the caller's later edits cannot reach: free under copy-on-write (always on from
    pandas 3; a shallow copy then copies a column only when one side writes to it), a deep
    copy before it."""
    copy_on_write = int(pd.__version__.split(".")[0]) >= 3
    return frame.copy(deep=not copy_on_write)


def _open_ledger(setup: RunSetup, plan: Plan) -> Ledger:
    if setup.ledger_path is not None:
        return Ledger(setup.ledger_path)
    return Ledger.create(
        kind=setup.kind,
        options=setup.spec.options(),
        n_rows=plan.n_rows,
        # As the runner chunks it; a resume chunks the run by this again.
        chunk_size=setup.pacing.rows_per_job(len(plan.accepted_positions)),
        directory=setup.ledger_dir,
        source=setup.source,
        key_salt=setup.key_salt,
    )


def _resume_pacing(options: Pacing | None, chunk_size: int) -> Pacing:
    """``options`` (default: the defaults) with the run's ``chunk_size``: the recorded keys
    and jobs are per chunk, and other chunk bounds would match none of them."""
    if options is None or options.chunk_size is None:
        return dataclasses.replace(options or Pacing(), chunk_size=chunk_size)
    if options.chunk_size != chunk_size:
        raise ConfigurationError(
            f"chunk_size={options.chunk_size}, but the run was chunked by "
            f"chunk_size={chunk_size}; resume must use the run's chunk_size"
        )
    return options


def _check_key(client: Client, pacing: Pacing) -> None:
    """Refuse a key that cannot finish the run, before any data leaves (one request).

    An unknown key raises :class:`AuthenticationError` (401). A Standard key may create jobs
    and read their status but not their results: without ``counts_only`` the run would send
    everything and then fail reading what became of it, so it is refused here instead.
    """
    if client.key_access() == "standard" and not pacing.counts_only:
        raise PermissionDeniedError(
            "this is a Standard API key: it may create batch jobs and read their status, but "
            "not their results (which rows failed, and why), which Fullstory keeps for Admin "
            "and Architect keys. Nothing was sent. Use an Admin or Architect key, or pass "
            "counts_only=True (CLI: --counts-only) to learn only how many rows each job "
            "imported: rows of jobs with failures then stay pending, and resuming with an "
            "Admin key reads them.",
            status=403,
            code="standard_key",
        )


def _restart(
    setup: RunSetup, spec: Spec, frame: pd.DataFrame, progress: ProgressOption
) -> BatchResult:
    """A new run like ``setup``'s (client, pacing, ledger folder) of ``spec`` over ``frame``."""
    again = start(
        spec,
        frame,
        client=setup.client,
        pacing=setup.pacing,
        progress=progress,
        ledger_dir=setup.ledger_dir,
    )
    assert isinstance(again, BatchResult)
    return again
