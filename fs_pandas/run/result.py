"""BatchResult: every source row's outcome, as frames joined back to the source rows."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from fs_pandas._types import OUTCOMES, JobKind
from fs_pandas.errors import RowsNotImportedError
from fs_pandas.report import RunSummary, render_html, render_text
from fs_pandas.run.engine import ChunkRecord
from fs_pandas.specs import Pacing, Spec

__all__ = ["BatchResult"]

_IMPORTED, _FAILED, _REJECTED, _PENDING = range(4)


@dataclass(frozen=True)
class _Run:
    """What a finished (or stopped) run hands over to its result."""

    kind: JobKind
    source: pd.DataFrame
    rejected: pd.DataFrame  # position, column, rule, message
    records: Mapping[int, ChunkRecord]
    aborted: str | None
    duration: float | None
    ledger_path: str | None
    notes: tuple[str, ...] = ()
    spec: Spec | None = None  # what the run sent, as data
    pacing: Pacing | None = None
    # A new run of a spec over a frame, with the run's client, pacing and ledger folder. It
    # holds the client (and so its key): never pickled.
    restart: Callable[[Spec, pd.DataFrame], BatchResult] | None = None


class BatchResult:
    """The outcome of a ``batch_update`` / ``batch_events`` run, row by row.

    Every source row has exactly one outcome: ``imported``, ``failed`` (at Fullstory, with its
    code and message), ``rejected`` (before sending, with the rule it broke) or ``pending`` (its
    job had not finished; resumable from the ledger). The frames below keep the source index.

    Attributes
    ----------
    imports : DataFrame
        Imported rows: the source columns plus ``fs_id`` (the Fullstory user id) and
        ``fs_job_id``.
    errors : DataFrame
        Rows Fullstory refused: source columns plus ``fs_error_code``, ``fs_error_message``,
        ``fs_job_id``.
    rejected : DataFrame
        Rows never sent: source columns plus ``fs_rule``, ``fs_column``, ``fs_message``.
    pending : DataFrame
        Rows whose job had not finished: source columns plus ``fs_job_id`` (``None`` when the
        chunk was never sent) and ``fs_chunk``.
    outcomes : Series
        Categorical outcome per source row, on the source index.
    counts : dict
        Rows per outcome: ``{"imported": ..., "failed": ..., "rejected": ..., "pending": ...}``.
    finished : bool
        No row is pending: every row has its final outcome (some may have failed).
    all_imported : bool
        Every row was imported.
    job_ids : list of str
        The Fullstory batch jobs of the run.
    ledger_path : str or None
        The run's journal, for :func:`fs_pandas.resume`.
    aborted : str or None
        Why the run stopped before every job finished.
    spec, pacing
        What the run sent (:class:`~fs_pandas.specs.UserSpec` / ``EventSpec``) and how fast
        (:class:`~fs_pandas.specs.Pacing`).
    notes : list of str
        Warnings about the run as a whole (e.g. a resume after Fullstory forgot the run's
        Idempotency-Keys, or chunks an earlier run had already sent: the same call run again
        within 24 h).

    Methods
    -------
    table()
        Every source row with its outcome and the details of that outcome.
    to_parquet(path)
        :meth:`table` to a parquet file.
    retry_failed(data=None, **overrides)
        Send the rows that failed at Fullstory again (corrected, or with other options).
    raise_on_failed()
        Raise :class:`~fs_pandas.errors.RowsNotImportedError` unless every row was imported.

    Examples
    --------
    >>> result = df.fullstory.batch_update(uid_col="user_id")  # doctest: +SKIP
    >>> result.counts  # doctest: +SKIP
    {'imported': 998, 'failed': 2, 'rejected': 0, 'pending': 0}
    >>> result.errors.to_parquet("errors.parquet")  # doctest: +SKIP
    >>> result.raise_on_failed()  # in a scheduled job: fail loudly  # doctest: +SKIP
    """

    def __init__(self, run: _Run):
        self._run = run

    def __getstate__(self) -> dict[str, Any]:
        # Pickled without the run's restart: it holds the client, and so the API key. An
        # unpickled result keeps every frame, its spec and its pacing, but cannot retry_failed.
        state = dict(self.__dict__)
        state["_run"] = dataclasses.replace(self._run, restart=None)
        return state

    # -- the frames -------------------------------------------------------------------------

    @property
    def kind(self) -> JobKind:
        return self._run.kind

    @cached_property
    def outcomes(self) -> pd.Series:
        codes = np.full(len(self._run.source), _PENDING, dtype=np.int8)
        codes[self._rejected_positions] = _REJECTED
        for record in self._run.records.values():
            if record.join is not None:
                codes[record.join.imported] = _IMPORTED
                codes[record.join.failed] = _FAILED
        values = pd.Categorical.from_codes(codes, categories=pd.Index(OUTCOMES))
        return pd.Series(values, index=self._run.source.index, name="outcome")

    @property
    def imports(self) -> pd.DataFrame:
        return self._frame("imported")

    @property
    def errors(self) -> pd.DataFrame:
        return self._frame("failed")

    @property
    def rejected(self) -> pd.DataFrame:
        return self._frame("rejected")

    @property
    def pending(self) -> pd.DataFrame:
        return self._frame("pending")

    @property
    def counts(self) -> dict[str, int]:
        """Number of rows per outcome; they always add up to the number of source rows."""
        counts = self.outcomes.value_counts()
        return {name: int(counts.get(name, 0)) for name in OUTCOMES}

    @property
    def job_ids(self) -> list[str]:
        records = sorted(self._run.records.values(), key=lambda r: r.number)
        return [r.job_id for r in records if r.job_id is not None]

    @property
    def ledger_path(self) -> str | None:
        """The run's journal; pass it to :func:`fs_pandas.resume` after a crash."""
        return self._run.ledger_path

    @property
    def spec(self) -> Spec | None:
        """What the run sent: its :class:`~fs_pandas.specs.UserSpec` or
        :class:`~fs_pandas.specs.EventSpec` (columns, properties, schema, nulls...)."""
        return self._run.spec

    @property
    def pacing(self) -> Pacing | None:
        """How fast the run went (:class:`~fs_pandas.specs.Pacing`)."""
        return self._run.pacing

    @property
    def aborted(self) -> str | None:
        """Why the run stopped before every job finished, or None."""
        return self._run.aborted

    @property
    def notes(self) -> list[str]:
        """Warnings about the run as a whole, e.g. a resume after Fullstory forgot its
        Idempotency-Keys (24 h), when rows may have been imported twice, or chunks Fullstory
        answered with the jobs of an earlier run of the same call (nothing new was sent)."""
        found = (_replay_note(self._run.records), _unread_note(self._run.records, self.ledger_path))
        return list(self._run.notes) + [note for note in found if note is not None]

    @property
    def finished(self) -> bool:
        """True when no row is pending: every row has its final outcome, though some may have
        failed or been rejected (see :attr:`all_imported`)."""
        return self.counts["pending"] == 0

    @property
    def all_imported(self) -> bool:
        """True when every row was imported: none failed, was rejected or is pending."""
        return self.counts["imported"] == len(self._run.source)

    @property
    def complete(self) -> bool:
        """Deprecated: the name read as "all went in". Use :attr:`finished` (no row pending)
        or :attr:`all_imported`."""
        warnings.warn(
            "BatchResult.complete is deprecated: it means no row is pending (rows may still have "
            "failed); use result.finished for that, or result.all_imported",
            FutureWarning,
            stacklevel=2,
        )
        return self.finished

    def raise_on_failed(self) -> BatchResult:
        """Raise unless every row was imported; return the result otherwise (so calls chain).

        Raises
        ------
        RowsNotImportedError
            Some rows failed at Fullstory, were rejected before sending, or are pending. The
            message counts them and names the most frequent reasons; ``exc.result`` is this
            result.

        Examples
        --------
        >>> df.fullstory.batch_update(uid_col="user_id").raise_on_failed()  # doctest: +SKIP
        """
        counts = self.counts
        if counts["imported"] == sum(counts.values()):
            return self
        raise RowsNotImportedError(self._not_imported_message(), result=self, counts=counts)

    def _not_imported_message(self) -> str:
        counts = self.counts
        total = sum(counts.values())
        parts = []
        if counts["failed"]:
            reasons = _most_frequent(self.errors["fs_error_code"])
            parts.append(f"{counts['failed']:,} failed at Fullstory ({reasons}): result.errors")
        if counts["rejected"]:
            reasons = _most_frequent(self.rejected["fs_rule"])
            parts.append(
                f"{counts['rejected']:,} rejected before sending ({reasons}): result.rejected"
            )
        if counts["pending"]:
            finish = (
                f"fs_pandas.resume({self.ledger_path!r}, df)" if self.ledger_path else "a resume"
            )
            parts.append(f"{counts['pending']:,} pending, their jobs unfinished ({finish})")
        return f"{total - counts['imported']:,} of {total:,} rows were not imported: " + "; ".join(
            parts
        )

    def table(self) -> pd.DataFrame:
        """Every source row with its outcome and the details of that outcome, in source order."""
        out = self._run.source.copy()
        out["fs_outcome"] = self.outcomes.to_numpy()
        n = len(out)
        for outcome in OUTCOMES:
            positions, extra = self._parts[outcome]
            for name, values in extra.items():
                column = (
                    out[name].to_numpy(dtype=object, copy=True)
                    if name in out
                    else np.full(n, None, dtype=object)
                )
                column[positions] = values
                out[name] = column
        return out

    def to_parquet(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Write :meth:`table` (every row, its outcome and details) to a parquet file."""
        self.table().to_parquet(path, **kwargs)

    # -- follow-ups -------------------------------------------------------------------------

    def retry_failed(self, data: pd.DataFrame | None = None, **overrides: Any) -> BatchResult:
        """Send the rows that failed at Fullstory again, as a new run.

        Parameters
        ----------
        data : DataFrame, optional
            Corrected rows, matched to the failed rows by index label: the whole corrected
            frame, or only the failed rows (``fixed.loc[result.errors.index]``). A frame whose
            index repeats labels must line up with the original rows by position. By default
            the original rows are sent as they were.
        **overrides
            Options of the original call to change (``properties=``, ``schema=``...).

        Raises
        ------
        ValueError
            ``data`` lacks some failed row, or (repeated labels) does not line up; or this
            result cannot start a run (it was unpickled, or not made by a run).
        TypeError
            An override the run's kind does not take.
        """
        if self._run.restart is None or self._run.spec is None:
            raise ValueError(
                "this result cannot start a new run (an unpickled result leaves its client "
                "behind): send result.errors with df.fullstory.batch_update(...) instead"
            )
        spec = self._run.spec.replace(**overrides)
        failed = np.flatnonzero(self.outcomes.cat.codes.to_numpy() == _FAILED)
        if data is None:
            return self._run.restart(spec, take_rows(self._run.source, failed))
        return self._run.restart(spec, take_rows(data, self._rows_in(data, failed)))

    def _rows_in(self, data: pd.DataFrame, failed: npt.NDArray[np.int64]) -> Any:
        """Positions in ``data`` of the failed rows: by label, or by position when labels
        repeat (in the source or in ``data``)."""
        source = self._run.source
        if not (source.index.is_unique and data.index.is_unique):
            if len(data) != len(source):
                raise ValueError(
                    f"data has {len(data)} rows and the index repeats labels, so it must line "
                    f"up with the {len(source)} rows of the original frame"
                )
            return failed
        labels = source.index[failed]
        found = data.index.get_indexer(labels)
        if (found < 0).any():
            lacking = list(labels[found < 0][:5])
            raise ValueError(
                f"data lacks {int((found < 0).sum())} of the failed rows (labels {lacking}...); "
                "pass the corrected frame, or fixed.loc[result.errors.index]"
            )
        return found

    # -- display ----------------------------------------------------------------------------

    def summary(self) -> RunSummary:
        """The run in numbers: outcome counts, error codes, rejected rules, jobs, duration."""
        return RunSummary(
            kind=self.kind,
            outcome_counts=self.counts,
            error_codes=_tally(self.errors, "fs_error_code", "fs_error_message"),
            rejected_rules=_tally(self.rejected, "fs_rule", "fs_message"),
            job_ids=self.job_ids,
            duration_seconds=self._run.duration,
            ledger_path=self.ledger_path,
            aborted=self.aborted,
            notes=self.notes,
        )

    def _repr_html_(self) -> str:
        return render_html(self.summary())

    def __repr__(self) -> str:
        return render_text(self.summary())

    # -- helpers ----------------------------------------------------------------------------

    @cached_property
    def _rejected_positions(self) -> npt.NDArray[np.int64]:
        return self._run.rejected["position"].to_numpy(dtype=np.int64)

    def _finished(self) -> list[ChunkRecord]:
        records = sorted(self._run.records.values(), key=lambda r: r.number)
        return [r for r in records if r.join is not None]

    @cached_property
    def _parts(self) -> dict[str, tuple[npt.NDArray[np.int64], dict[str, Any]]]:
        """Per outcome: source positions (sorted) and the detail columns, aligned with them."""
        parts: dict[str, tuple[Any, Mapping[str, list[Any] | _Column]]] = {
            "imported": self._imported_parts(),
            "failed": self._failed_parts(),
            "rejected": self._rejected_parts(),
            "pending": self._pending_parts(),
        }
        return {name: _sorted(positions, extra) for name, (positions, extra) in parts.items()}

    def _imported_parts(self) -> tuple[npt.NDArray[np.int64], dict[str, list[Any] | _Column]]:
        joins = [record.join for record in self._finished() if record.join is not None]
        positions = np.concatenate([_NO_POSITIONS, *(join.imported for join in joins)])
        fs_ids = pa.concat_arrays([_NO_TEXT, *(join.fullstory_ids for join in joins)])
        job_ids = _PerJob.of(self._finished(), lambda join: len(join.imported))
        return positions, {"fs_id": _Text(fs_ids), "fs_job_id": job_ids}

    def _failed_parts(self) -> tuple[npt.NDArray[np.int64], dict[str, list[Any] | _Column]]:
        joins = [record.join for record in self._finished() if record.join is not None]
        positions = np.concatenate([_NO_POSITIONS, *(join.failed for join in joins)])
        extra: dict[str, list[Any] | _Column] = {
            "fs_error_code": [code for join in joins for code in join.codes],
            "fs_error_message": [message for join in joins for message in join.messages],
            "fs_job_id": _PerJob.of(self._finished(), lambda join: len(join.failed)),
        }
        return positions, extra

    def _rejected_parts(self) -> tuple[list[int], dict[str, list[Any]]]:
        table = self._run.rejected
        extra = {
            "fs_rule": table["rule"].tolist(),
            "fs_column": table["column"].tolist(),
            "fs_message": table["message"].tolist(),
        }
        return table["position"].tolist(), extra

    def _pending_parts(self) -> tuple[list[int], dict[str, list[Any]]]:
        sent = {p: r for r in self._run.records.values() if r.join is None for p in r.positions}
        positions = np.flatnonzero(self.outcomes.cat.codes.to_numpy() == _PENDING).tolist()
        extra: dict[str, list[Any]] = {
            "fs_job_id": [sent[p].job_id if p in sent else None for p in positions],
            "fs_chunk": [sent[p].number if p in sent else None for p in positions],
        }
        return positions, extra

    def _frame(self, outcome: str) -> pd.DataFrame:
        """Source rows with this outcome (in source order), detail columns beside them."""
        positions, extra = self._parts[outcome]
        # Taking rows copies them already; a shallow copy is a frame of its own (pandas 2
        # would warn about setting columns on a slice), without copying the rows twice.
        frame = take_rows(self._run.source, positions).copy(deep=False)
        for name, values in extra.items():
            frame[name] = values
        return frame


def take_rows(frame: pd.DataFrame, positions: Any) -> pd.DataFrame:
    """``frame.iloc[positions]``, also for columns Arrow cannot take rows of (``string_view``
    has no take kernel in the pyarrow versions we support): those are taken as plain text."""
    try:
        rows: pd.DataFrame = frame.iloc[positions]
        return rows
    except pa.ArrowNotImplementedError:
        pass
    plain = frame.copy(deep=False)
    for i, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.ArrowDtype) and _is_view(dtype.pyarrow_dtype):
            text = pa.array(frame.iloc[:, i].array).cast(pa.large_string())
            plain.isetitem(i, pd.arrays.ArrowExtensionArray(text))
    rows = plain.iloc[positions]
    return rows


def _is_view(t: pa.DataType) -> bool:
    return bool(getattr(pa.types, "is_string_view", lambda _: False)(t))


def _sorted(
    positions: Any, extra: Mapping[str, list[Any] | _Column]
) -> tuple[npt.NDArray[np.int64], dict[str, Any]]:
    array = np.asarray(positions, dtype=np.int64)
    order = None  # in source order already: the usual case (jobs go in order)
    if len(array) and not bool((array[1:] >= array[:-1]).all()):
        order = np.argsort(array, kind="stable")
        array = array[order]
    return array, {name: _in_order(values, order) for name, values in extra.items()}


def _in_order(values: list[Any] | _Column, order: npt.NDArray[np.int64] | None) -> Any:
    """A detail column's values in ``order`` (``None``: as they are)."""
    if not isinstance(values, list):
        return values.take(order)
    objects = _objects(values)
    return objects if order is None else objects[order]


# The text dtype pandas gives a column of str: Arrow-backed from pandas 3, object before.
_TEXT_DTYPE = pd.Series(["text"]).dtype
_ARROW_TEXT = isinstance(_TEXT_DTYPE, pd.StringDtype) and _TEXT_DTYPE.storage == "pyarrow"


_NO_POSITIONS = np.empty(0, dtype=np.int64)
_NO_TEXT = pa.array([], type=pa.string())


@dataclass(frozen=True)
class _Text:
    """A text column kept in Arrow (Fullstory ids): taken in Arrow, and made a column of the
    dtype pandas would infer from the same values as Python objects -- its text dtype when
    some value is text, object otherwise -- without a Python object per row where it can."""

    values: pa.Array

    def take(self, order: npt.NDArray[np.int64] | None) -> Any:
        """The column in ``order`` (``None``: as it is)."""
        taken = self.values if order is None else self.values.take(pa.array(order))
        if _ARROW_TEXT and taken.null_count < len(taken):
            return pd.array(taken, dtype=_TEXT_DTYPE)
        return np.asarray(taken.to_numpy(zero_copy_only=False), dtype=object)


@dataclass(frozen=True)
class _PerJob:
    """A column that repeats one value per job (its job id): the values once, and per row
    which one -- a million rows' job ids are not a million strings to convert."""

    values: list[str | None]
    codes: npt.NDArray[np.intp]

    @classmethod
    def of(cls, records: list[ChunkRecord], rows: Callable[[Any], int]) -> _PerJob:
        counts = [rows(record.join) for record in records]
        codes = np.repeat(np.arange(len(records), dtype=np.intp), counts)
        return cls([record.job_id for record in records], codes)

    def take(self, order: npt.NDArray[np.int64] | None) -> Any:
        """The column in ``order`` (``None``: as it is)."""
        codes = self.codes if order is None else self.codes[order]
        if _ARROW_TEXT:
            text = pa.array(self.values, type=pa.large_string()).take(pa.array(codes))
            return pd.array(text, dtype=_TEXT_DTYPE)
        return _objects(self.values)[codes]


#: A detail column that is not a plain list: taken by the rows' order.
_Column = _Text | _PerJob


def _objects(values: list[Any]) -> npt.NDArray[Any]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _tally(frame: pd.DataFrame, key: str, sample: str) -> list[tuple[str, int, str]]:
    """(value, count, one sample message) per distinct value of ``key``, most common first."""
    if frame.empty:
        return []
    grouped = frame.groupby(key, sort=False, observed=True)[sample]
    counts = grouped.size().sort_values(ascending=False, kind="stable")
    firsts = grouped.first().to_dict()
    return [(str(k), int(n), str(firsts[k])) for k, n in counts.items()]


def _replay_note(records: Mapping[int, ChunkRecord]) -> str | None:
    """What a run whose creates Fullstory answered with earlier runs' jobs says, or None."""
    replayed = sorted(
        (r for r in records.values() if r.replayed_at is not None), key=lambda r: r.number
    )
    if not replayed:
        return None
    times = sorted({r.replayed_at for r in replayed if r.replayed_at is not None})
    runs = f"the run{'s' if len(times) != 1 else ''} of {', '.join(times)}"
    jobs = [r.job_id for r in replayed if r.job_id is not None]
    shown = ", ".join(jobs[:10]) + (f", ... ({len(jobs) - 10} more)" if len(jobs) > 10 else "")
    return (
        f"{len(replayed)} of {len(records)} chunks were already sent by {runs} "
        f"(job{'s' if len(jobs) != 1 else ''} {shown}): Fullstory answered with those jobs and "
        "nothing new was sent; their rows have those jobs' outcomes. To send again on purpose "
        "pass resend=True"
    )


def _most_frequent(reasons: pd.Series, shown: int = 3) -> str:
    """``"invalid_parameter ×7, too_long ×2"``: the most frequent reasons, then how many more."""
    tally = reasons.astype(str).value_counts()
    text = ", ".join(f"{reason} ×{count:,}" for reason, count in tally.head(shown).items())
    more = len(tally) - shown
    return text + (f", {more} more" if more > 0 else "")


def _unread_note(records: Mapping[int, ChunkRecord], ledger_path: str | None) -> str | None:
    """What a counts-only run (a Standard key) could not tell: the rows of jobs with failures."""
    unread = [r for r in records.values() if r.unread_counts is not None]
    if not unread:
        return None
    rows = sum(r.rows for r in unread)
    failed = sum(r.unread_counts[1] for r in unread if r.unread_counts is not None)
    finish = f"fs_pandas.resume({ledger_path!r}, df)" if ledger_path else "a resume"
    jobs = ", ".join(str(r.job_id) for r in unread)
    return (
        f"{len(unread)} job{'s' if len(unread) != 1 else ''} ({jobs}) finished with {failed:,} "
        f"failed rows, but a counts-only run cannot read which: their {rows:,} rows stay "
        f"pending; {finish} with an Admin or Architect key reads their results"
    )
