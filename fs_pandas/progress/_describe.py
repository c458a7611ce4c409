"""What the displays say about a :class:`ProgressState`, shared by the widget and the text line.

Both displays show the same numbers; only the markup differs.
"""

from __future__ import annotations

from typing import Literal

from fs_pandas.progress._format import format_count, format_duration, format_rate
from fs_pandas.progress.state import ProgressState

__all__ = [
    "Tone",
    "headline",
    "job_counts",
    "note",
    "replayed",
    "row_counts",
    "timing",
    "tone",
    "unfinished",
]

NOTE_SHARE = 0.001
"""Failed + rejected rows up to this share (one row in a thousand) of the run's rows leave a
finished run green, with an amber note saying how many; above it the run ends amber. (The
quickstart's 5 of 2,000 rows, a quarter percent, end amber: retry_failed is worth a look.)"""
DANGER_SHARE = 0.5
"""Failed + rejected rows from this share of the run's rows on end a finished run red."""

Tone = Literal["running", "success", "warning", "danger"]


def stopped(state: ProgressState, *, closed: bool = False) -> bool:
    """True when the run ended early: aborted, or closed without a ``RunFinished`` event."""
    return state.aborted is not None or (closed and not state.finished)


def tone(state: ProgressState, *, closed: bool = False) -> Tone:
    """How the run is going: running, success, warning, or danger.

    ``closed`` means the runner is done with the display: a run that closes without a
    ``RunFinished`` event stopped early, so it is shown as aborted (danger). A finished run is
    judged by the share of its rows that did not arrive (failed at Fullstory or rejected
    locally): none, or at most :data:`NOTE_SHARE` -- success (with a :func:`note` saying how
    many); below :data:`DANGER_SHARE` -- warning; from it on -- danger.
    """
    if stopped(state, closed=closed):
        return "danger"
    if not state.finished:
        return "running"
    missing = state.failed + state.rejected
    total = max(state.rows_total, 1)
    if missing <= NOTE_SHARE * total:
        return "success"
    return "danger" if missing >= DANGER_SHARE * total else "warning"


def _problems(state: ProgressState) -> str:
    """``"7 failed, 5 rejected"``: the rows that did not arrive, by kind ("" when none)."""
    problems = [f"{format_count(state.failed)} failed"] if state.failed else []
    problems += [f"{format_count(state.rejected)} rejected"] if state.rejected else []
    return ", ".join(problems)


def note(state: ProgressState, *, closed: bool = False) -> str | None:
    """For a run that ends green although a few rows did not arrive: ``"3 rejected"``, shown
    in amber next to the headline; ``None`` otherwise."""
    if tone(state, closed=closed) != "success" or not (state.failed or state.rejected):
        return None
    return _problems(state)


def headline(state: ProgressState, *, closed: bool = False) -> str:
    """First words of the label: the kind of run and where it stands."""
    kind = state.kind or "Fullstory"
    what = f"{kind} import" + (" (resumed)" if state.resumed else "")
    done, total = format_count(state.rows_finished), format_count(state.rows_total)
    rows = f"{done} / {total} rows ({state.fraction:.0%})"
    if stopped(state, closed=closed):
        reason = state.aborted or "stopped before the run finished"
        return f"{what} aborted: {reason} — {rows}"
    if not state.finished:
        return f"{what}: starting…" if not state.started else f"{what}: {rows}"
    if tone(state, closed=closed) in ("warning", "danger"):
        return f"{what} finished with {_problems(state)} — {rows}"
    return f"{what} finished — {rows}"


def row_counts(state: ProgressState) -> str:
    """Rows per outcome: ``"imported 9,000 · failed 12 · rejected 3 · pending 985"``."""
    return (
        f"imported {format_count(state.imported)} · failed {format_count(state.failed)} · "
        f"rejected {format_count(state.rejected)} · pending {format_count(state.pending)}"
    )


def job_counts(state: ProgressState) -> str:
    """Chunks and jobs: ``"chunks 10 planned · jobs 2 waiting, 4 processing, ..."``.

    Jobs Fullstory ended ``FAILED`` are counted as "with failed rows": such a job is often a
    partial success, its other rows imported.
    """
    planned = f"chunks {state.chunks_planned}"
    if state.chunks_total:
        planned += f"/{state.chunks_total}"
    jobs = (
        f"jobs {state.jobs_waiting} waiting, {state.jobs_processing} processing, "
        f"{state.jobs_completed} completed, {state.jobs_failed} with failed rows"
    )
    return f"{planned} planned · {jobs}"


def timing(state: ProgressState) -> str:
    """Elapsed time, rate and ETA, plus the retry under way if there is one."""
    text = f"elapsed {format_duration(state.elapsed_seconds)} · {format_rate(state.rate)}"
    if not state.finished:
        text += f" · ETA {format_duration(state.eta_seconds)}"
    if state.retrying and state.last_retry is not None and not state.finished:
        r = state.last_retry
        text += f" · retrying ({r.reason}, attempt {r.attempt}, in {r.delay:.1f} s)"
    return text


def unfinished(state: ProgressState, *, closed: bool = False) -> str | None:
    """For a run that stopped early with rows pending: the jobs it left running at Fullstory
    and how to finish them; ``None`` otherwise.

    Stopping only stops the waiting: jobs already created run on at Fullstory and the ledger
    holds their ids, so ``resume`` re-attaches to them; running the same call again is safe
    too, as each chunk's Idempotency-Key replays its job for 24 hours.
    """
    if not stopped(state, closed=closed) or state.pending <= 0:
        return None
    running = state.jobs_running
    jobs = f"{running} job{'s' if running != 1 else ''} still running at Fullstory"
    rows = f"{format_count(state.pending)} rows pending"
    how = (
        f"finish with fs_pandas.resume({state.ledger_path!r}, df)"
        if state.ledger_path
        else "finish with fs_pandas.resume(ledger_path, df)"
    )
    return f"{jobs}, {rows}: {how}, or run the same call again (within 24 h nothing is sent twice)"


def replayed(state: ProgressState) -> str | None:
    """For chunks Fullstory answered with an earlier run's job (the same call run again within
    24 h): ``"already sent at 2026-11-30 14:05 UTC (job abc123): nothing new sent"``, with the
    number of chunks when not every chunk was; ``None`` when no chunk was replayed."""
    if not state.chunks_replayed:
        return None
    found = state.replayed
    times = sorted({when for when, _ in found.values()})
    jobs = [job for _, (_, job) in sorted(found.items())]
    shown = ", ".join(jobs[:3]) + (f", … {len(jobs) - 3} more" if len(jobs) > 3 else "")
    which = f"job{'s' if len(jobs) != 1 else ''} {shown}"
    count = len(found)
    total = max(state.chunks_total, state.chunks_planned)
    if total and count < total:
        what = f"{count} of {total} chunks "
    elif count > 1:
        what = f"all {count} chunks "
    else:
        what = ""
    return f"{what}already sent at {', '.join(times)} ({which}): nothing new sent"
