"""``df.fullstory``: the notebook-facing facade. It keeps no state (pandas 3 builds a new
accessor object on every attribute access); every call goes to ``payloads`` or ``run``."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Hashable, Mapping
from typing import Any, Literal, overload

import pandas as pd

from fs_pandas._types import Duplicates, JobKind, Nulls, Properties, Schema, TimeZone
from fs_pandas.client import Client
from fs_pandas.errors import ColumnWarning, InvalidDataError, RunInterrupted
from fs_pandas.payloads import Plan, plan
from fs_pandas.payloads.rules import Rule
from fs_pandas.progress import ProgressOption
from fs_pandas.run import RunHandle, start
from fs_pandas.run.result import BatchResult, take_rows
from fs_pandas.specs import EventSpec, Pacing, Spec, UserSpec, spec_for

__all__ = ["FullstoryAccessor"]

# The columns validate() puts first: the rule a row breaks, the column, what to do.
_VERDICT = ("fs_rule", "fs_column", "fs_message")


@pd.api.extensions.register_dataframe_accessor("fullstory")
class FullstoryAccessor:
    """Send a DataFrame's rows to Fullstory: ``df.fullstory.batch_update(uid_col=...)``.

    Also: ``batch_events``, and the offline helpers ``to_requests``, ``to_event_requests``,
    ``type_plan`` and ``validate`` to see what would be sent before sending it.
    """

    def __init__(self, frame: pd.DataFrame):
        self._frame = frame

    # -- sending ----------------------------------------------------------------------------

    @overload
    def batch_update(
        self,
        *,
        uid_col: Hashable | None,
        id_col: Hashable | None = None,
        display_name_col: Hashable | None = None,
        email_col: Hashable | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        duplicates: Duplicates = "first",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: Literal[True] = True,
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BatchResult: ...

    @overload
    def batch_update(
        self,
        *,
        uid_col: Hashable | None,
        id_col: Hashable | None = None,
        display_name_col: Hashable | None = None,
        email_col: Hashable | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        duplicates: Duplicates = "first",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: Literal[False],
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> RunHandle: ...

    @overload
    def batch_update(
        self,
        *,
        uid_col: Hashable | None,
        id_col: Hashable | None = None,
        display_name_col: Hashable | None = None,
        email_col: Hashable | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        duplicates: Duplicates = "first",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: bool = True,
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BatchResult | RunHandle: ...

    def batch_update(
        self,
        *,
        uid_col: Hashable | None,
        id_col: Hashable | None = None,
        display_name_col: Hashable | None = None,
        email_col: Hashable | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        duplicates: Duplicates = "first",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: bool = True,
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BatchResult | RunHandle:
        """Create or update one Fullstory user per row, through batch import jobs.

        Parameters
        ----------
        uid_col : column label or None
            Column holding your user id (``uid``, at most 256 characters). Rows with an empty
            uid are rejected. ``None`` sends rows without a uid (new anonymous users).
        id_col, display_name_col, email_col : column label, optional
            Columns for the Fullstory user ``id``, ``display_name`` and ``email``.
        properties : list of column labels or mapping, optional
            Columns sent as custom properties: a list (or tuple, Index, array; a set is taken
            in the frame's column order), or a mapping ``column -> property name`` -- the way
            to name a column whose label is not text (``{2024: "y2024"}``). By default every
            column not used above.
        rename : mapping, optional
            Property names for some columns (``{"Last Login": "last_login"}``) without
            choosing the columns: every other column is still sent under its own label.
        schema : "infer", mapping or None, default "infer"
            Declare the types Fullstory cannot infer (integers, dates, lists); a mapping
            overrides single properties; None declares nothing.
        nulls : {"omit", "null"}, default "omit"
            NaN / None / NaT / NA: leave the property out, or send JSON null.
        naive_tz : str, tzinfo or None, default "UTC"
            Time zone assumed for datetimes without one: a name (``"Europe/Paris"``), a
            ``zoneinfo.ZoneInfo`` / ``datetime.timezone``; ``None`` refuses columns of naive
            datetimes instead of assuming a zone.
        duplicates : {"first", "last", "reject", "allow"}, default "first"
            Rows sharing a uid: send the first (or last) and reject the others, reject them
            all, or send them all.
        client : Client, optional
            Defaults to :meth:`Client.from_env` (``FULLSTORY_API_KEY``).
        chunk_size : int, optional
            Rows per batch job (Fullstory's maximum is 50,000). Default: the rows spread
            evenly over ``max_jobs_in_flight`` jobs, 10,000 to 50,000 a job (a job's results
            are read a page after another: more, smaller jobs are read sooner).
        max_jobs_in_flight, max_rows_in_flight : int, default 10 and 500_000
            Admission control: jobs (and rows) submitted and not yet finished. Fullstory answers
            429 at 500,000 rows in progress per org; when another run holds part of that, its
            429s make this run wait for a job of its own to finish.
        max_requests_in_flight : int, default 10
            HTTP requests under way at once (creates, polls, result pages of different jobs).
        poll_interval : float, default 1.0
            Seconds before a job's first status poll; later polls back off. Must be finite
            and positive.
        resend : bool, default False
            Send again on purpose. Running the same call again within 24 h sends nothing new:
            each chunk's Idempotency-Key makes Fullstory answer with the earlier run's job
            (``result.notes`` and the display say "already sent at ..."). ``True`` gives the
            keys a random salt, kept in the run's ledger, so Fullstory creates new jobs and
            the rows are imported again.
        counts_only : bool, default False
            Read each job's status counts, not its rows' results: all a Standard API key may
            read. A Standard key is refused before anything is sent unless this is True. Rows
            of a job that imported everything are ``imported``; rows of a job with failures
            stay ``pending`` (which ones failed is not known) until a resume with an Admin or
            Architect key reads them.
        progress : bool or {"auto", "widget", "text", "none"}, default True
            A live widget in a notebook, a text line in a terminal, or nothing.
        wait : bool, default True
            False returns a :class:`~fs_pandas.run.RunHandle` at once; call ``.wait()``.
        ledger_dir : path, optional
            Where the run's journal goes (default ``~/.fs_pandas/runs``).
        timeout : float, optional
            Seconds to wait at most. Then the run stops as on Ctrl-C: jobs already created keep
            running at Fullstory and :class:`~fs_pandas.errors.RunInterrupted` is raised.

        Returns
        -------
        BatchResult
            ``imports``, ``errors``, ``rejected``, ``pending`` frames on the source index, and
            ``outcomes``, one per source row.

        Raises
        ------
        ConfigurationError
            A pacing option (``chunk_size``, ``poll_interval``...) is not a finite number in
            range, or is a bool.
        TypeError
            An option cannot be kept in the run's ledger for :func:`fs_pandas.resume` (a
            column label of an unsupported type, a time zone without a name); nothing is sent.
        InvalidDataError
            An option names no column, or a column cannot be sent.
        AuthenticationError
            Fullstory does not know the API key (checked with one request before any data
            leaves: nothing is journalled or sent).
        PermissionDeniedError
            A Standard API key without ``counts_only=True``, checked the same way.
        RunInterrupted
            Ctrl-C (Kernel → Interrupt) or ``timeout`` stopped the waiting. ``exc.result`` is the
            partial result (unfinished rows ``pending``, with their job ids); finish with
            ``fs_pandas.resume(exc.ledger_path, df)`` or by running the same call again (within
            24 h nothing is sent twice). It is also a ``KeyboardInterrupt``.

        Examples
        --------
        >>> result = df.fullstory.batch_update(uid_col="user_id")  # doctest: +SKIP
        >>> result.errors.to_parquet("errors.parquet")  # doctest: +SKIP
        """
        spec = UserSpec(
            uid_col=uid_col,
            id_col=id_col,
            display_name_col=display_name_col,
            email_col=email_col,
            properties=properties,
            rename=rename,
            schema=schema,
            nulls=nulls,
            naive_tz=naive_tz,
            duplicates=duplicates,
        )
        pacing = Pacing(
            chunk_size=chunk_size,
            max_jobs_in_flight=max_jobs_in_flight,
            max_rows_in_flight=max_rows_in_flight,
            max_requests_in_flight=max_requests_in_flight,
            poll_interval=poll_interval,
            resend=resend,
            counts_only=counts_only,
        )
        try:
            return self._send(spec, pacing, client, progress, wait, ledger_dir, timeout)
        except (RunInterrupted, InvalidDataError) as exc:
            # Raised afresh: a traceback of this call, not of the planner's or the run's inside
            # (the message names the column, row and rule, or says how to finish the run).
            raise exc.with_traceback(None) from None

    @overload
    def batch_events(
        self,
        *,
        name: str | None = None,
        name_col: Hashable | None = None,
        timestamp_col: Hashable | None = None,
        uid_col: Hashable | None = None,
        user_id_col: Hashable | None = None,
        session_id_col: Hashable | None = None,
        use_most_recent: bool = False,
        context: Mapping[str, Hashable] | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: Literal[True] = True,
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BatchResult: ...

    @overload
    def batch_events(
        self,
        *,
        name: str | None = None,
        name_col: Hashable | None = None,
        timestamp_col: Hashable | None = None,
        uid_col: Hashable | None = None,
        user_id_col: Hashable | None = None,
        session_id_col: Hashable | None = None,
        use_most_recent: bool = False,
        context: Mapping[str, Hashable] | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: Literal[False],
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> RunHandle: ...

    @overload
    def batch_events(
        self,
        *,
        name: str | None = None,
        name_col: Hashable | None = None,
        timestamp_col: Hashable | None = None,
        uid_col: Hashable | None = None,
        user_id_col: Hashable | None = None,
        session_id_col: Hashable | None = None,
        use_most_recent: bool = False,
        context: Mapping[str, Hashable] | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: bool = True,
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BatchResult | RunHandle: ...

    def batch_events(
        self,
        *,
        name: str | None = None,
        name_col: Hashable | None = None,
        timestamp_col: Hashable | None = None,
        uid_col: Hashable | None = None,
        user_id_col: Hashable | None = None,
        session_id_col: Hashable | None = None,
        use_most_recent: bool = False,
        context: Mapping[str, Hashable] | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        client: Client | None = None,
        chunk_size: int | None = None,
        max_jobs_in_flight: int = 10,
        max_rows_in_flight: int = 500_000,
        max_requests_in_flight: int = 10,
        poll_interval: float = 1.0,
        resend: bool = False,
        counts_only: bool = False,
        progress: ProgressOption = True,
        wait: bool = True,
        ledger_dir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BatchResult | RunHandle:
        """Send one Fullstory event per row, through batch import jobs.

        Parameters
        ----------
        name : str, optional
            One event name for every row.
        name_col : column label, optional
            The column holding each row's name.
        timestamp_col : column label, optional
            When the event happened (sent as ISO-8601 UTC); Fullstory uses its own time if
            absent.
        uid_col, user_id_col : column label, optional
            Who did it: your user id, or the Fullstory user id.
        session_id_col : column label, optional
            Attach to a Fullstory session id instead of a user.
        use_most_recent : bool, default False
            Attach to the user's most recent session (needs ``uid_col`` or ``user_id_col``).
        context : mapping, optional
            Context fields from columns, e.g. ``{"browser.url": "page", "location.city": "city"}``.
        properties, rename, schema, nulls, naive_tz
            As for :meth:`batch_update`.
        client, chunk_size, max_jobs_in_flight, max_rows_in_flight, max_requests_in_flight,
        poll_interval, resend,
        counts_only, progress, wait, ledger_dir, timeout
            As for :meth:`batch_update`.

        Returns
        -------
        BatchResult

        Raises
        ------
        ConfigurationError, TypeError, InvalidDataError, AuthenticationError
            As for :meth:`batch_update`.
        PermissionDeniedError, RunInterrupted
            As for :meth:`batch_update`.
        """
        spec = EventSpec(
            name=name,
            name_col=name_col,
            timestamp_col=timestamp_col,
            uid_col=uid_col,
            user_id_col=user_id_col,
            session_id_col=session_id_col,
            use_most_recent=use_most_recent,
            context=context,
            properties=properties,
            rename=rename,
            schema=schema,
            nulls=nulls,
            naive_tz=naive_tz,
        )
        pacing = Pacing(
            chunk_size=chunk_size,
            max_jobs_in_flight=max_jobs_in_flight,
            max_rows_in_flight=max_rows_in_flight,
            max_requests_in_flight=max_requests_in_flight,
            poll_interval=poll_interval,
            resend=resend,
            counts_only=counts_only,
        )
        try:
            return self._send(spec, pacing, client, progress, wait, ledger_dir, timeout)
        except (RunInterrupted, InvalidDataError) as exc:
            # Raised afresh: a traceback of this call, not of the planner's or the run's inside
            # (the message names the column, row and rule, or says how to finish the run).
            raise exc.with_traceback(None) from None

    def _send(
        self,
        spec: Spec,
        pacing: Pacing,
        client: Client | None,
        progress: ProgressOption,
        wait: bool,
        ledger_dir: str | os.PathLike[str] | None,
        timeout: float | None,
    ) -> BatchResult | RunHandle:
        return start(
            spec,
            self._frame,
            client=client,
            pacing=pacing,
            progress=progress,
            wait=wait,
            ledger_dir=ledger_dir,
            timeout=timeout,
        )

    # -- looking before sending -------------------------------------------------------------

    def to_requests(
        self,
        *,
        uid_col: Hashable | None,
        id_col: Hashable | None = None,
        display_name_col: Hashable | None = None,
        email_col: Hashable | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
        duplicates: Duplicates = "first",
    ) -> list[dict[str, Any]]:
        """The user request objects :meth:`batch_update` would send (rejected rows left out).

        Takes the options of :meth:`batch_update` that say what is sent: ``uid_col``,
        ``id_col``, ``display_name_col``, ``email_col``, ``properties``, ``rename``, ``schema``,
        ``nulls``,
        ``naive_tz`` and ``duplicates``; see there.
        """
        spec = UserSpec(
            uid_col=uid_col,
            id_col=id_col,
            display_name_col=display_name_col,
            email_col=email_col,
            properties=properties,
            rename=rename,
            schema=schema,
            nulls=nulls,
            naive_tz=naive_tz,
            duplicates=duplicates,
        )
        return _planned(self._frame, spec).requests()

    def to_event_requests(
        self,
        *,
        name: str | None = None,
        name_col: Hashable | None = None,
        timestamp_col: Hashable | None = None,
        uid_col: Hashable | None = None,
        user_id_col: Hashable | None = None,
        session_id_col: Hashable | None = None,
        use_most_recent: bool = False,
        context: Mapping[str, Hashable] | None = None,
        properties: Properties = None,
        rename: Mapping[Hashable, str] | None = None,
        schema: Schema = "infer",
        nulls: Nulls = "omit",
        naive_tz: TimeZone = "UTC",
    ) -> list[dict[str, Any]]:
        """The event request objects :meth:`batch_events` would send (rejected rows left out).

        Takes the options of :meth:`batch_events` that say what is sent: ``name``,
        ``name_col``, ``timestamp_col``, ``uid_col``, ``user_id_col``, ``session_id_col``,
        ``use_most_recent``, ``context``, ``properties``, ``rename``, ``schema``, ``nulls`` and
        ``naive_tz``; see there.
        """
        spec = EventSpec(
            name=name,
            name_col=name_col,
            timestamp_col=timestamp_col,
            uid_col=uid_col,
            user_id_col=user_id_col,
            session_id_col=session_id_col,
            use_most_recent=use_most_recent,
            context=context,
            properties=properties,
            rename=rename,
            schema=schema,
            nulls=nulls,
            naive_tz=naive_tz,
        )
        return _planned(self._frame, spec).requests()

    def type_plan(self, *, kind: JobKind = "users", **options: Any) -> pd.DataFrame:
        """Per column: the Fullstory field or property it feeds, the type it is sent as, and
        its null count. ``kind="events"`` takes the options of :meth:`batch_events`."""
        return self._plan(kind, options, "type_plan").type_plan()

    def validate(self, *, kind: JobKind = "users", **options: Any) -> pd.DataFrame:
        """Rows that would be rejected before sending, without any network.

        Returns
        -------
        DataFrame
            The offending source rows (source index): first the verdict, ``fs_rule``,
            ``fs_column`` and ``fs_message``, then the row's own columns; empty when every row
            can be sent.

        Raises
        ------
        TypeError
            An option that does not say what is sent (``client=``, ``chunk_size=``...).
        InvalidDataError
            An option cannot be used at all (a column it names is missing...).

        Warns
        -----
        ColumnWarning
            A column gives a property name Fullstory refuses, so ``batch_update`` would refuse
            the frame: the warning says how to rename it (``rename=``), and the other columns
            are checked without it.
        """
        rejected = self._plan_around_columns(kind, options).rejected
        rows = take_rows(self._frame, rejected["position"].to_numpy())
        rows = rows.drop(columns=[c for c in _VERDICT if c in rows.columns])
        verdict = {
            "fs_rule": rejected["rule"].to_numpy(),
            "fs_column": rejected["column"].to_numpy(),
            "fs_message": rejected["message"].to_numpy(),
        }
        return pd.concat([pd.DataFrame(verdict, index=rows.index), rows], axis=1)

    def _plan_around_columns(self, kind: JobKind, options: Mapping[str, Any]) -> Plan:
        """Plan as :meth:`validate` reports: a column whose property name Fullstory refuses is
        a :class:`ColumnWarning` (with the fix), and the other columns are checked without it."""
        frame = self._frame
        while True:
            try:
                return FullstoryAccessor(frame)._plan(kind, options, "validate")
            except InvalidDataError as exc:
                label = _refused_column(frame, exc)
                if label is None:
                    raise
                warnings.warn(
                    f"{exc}. batch_update refuses the frame until then; validate() checked "
                    "the other columns without it",
                    ColumnWarning,
                    stacklevel=3,
                )
                frame = frame.drop(columns=[label])
                options = _without_column(options, label)

    def _plan(self, kind: JobKind, options: Mapping[str, Any], method: str) -> Plan:
        """Plan as a run would, naming ``method`` when the options are not a spec's."""
        if kind not in ("users", "events"):
            raise ValueError(f"kind must be 'users' or 'events', got {kind!r}")
        spec_class = UserSpec if kind == "users" else EventSpec
        known = [f.name for f in dataclasses.fields(spec_class)]
        unknown = sorted(set(options) - set(known))
        other: JobKind = "events" if kind == "users" else "users"
        theirs = {f.name for f in dataclasses.fields(EventSpec if other == "events" else UserSpec)}
        if unknown and set(unknown) <= theirs:  # the options of the other kind: say which
            raise TypeError(
                f"{', '.join(unknown)} {'is an option' if len(unknown) == 1 else 'are options'} "
                f"of {other}: pass kind={other!r} ({method}(kind={other!r}, ...))"
            )
        if unknown:
            raise TypeError(
                f"{method}(kind={kind!r}) takes the options that say what is sent "
                f"({', '.join(known)}), not {', '.join(unknown)}: run options such as client "
                "or chunk_size do not change what is sent"
            )
        if kind == "users" and "uid_col" not in options:
            raise TypeError(f"{method}(kind='users') needs uid_col (None for anonymous users)")
        return _planned(self._frame, spec_for(kind, options))


def _planned(frame: pd.DataFrame, spec: Spec) -> Plan:
    """``plan(frame, spec)``; bad input raises with a traceback of the caller's call only (its
    message names the column, row and rule: frames from inside the planner say nothing more)."""
    try:
        return plan(frame, spec)
    except InvalidDataError as exc:
        raise exc.with_traceback(None) from None


def _refused_column(frame: pd.DataFrame, exc: InvalidDataError) -> Hashable | None:
    """The frame's column a property-name error is about, if it names one of them."""
    if exc.rule not in (Rule.PROPERTY_NAME, Rule.PROPERTY_NAME_TOO_LONG) or exc.column is None:
        return None
    labels = [c for c in frame.columns if str(c) == exc.column]
    return labels[0] if len(labels) == 1 else None


def _without_column(options: Mapping[str, Any], label: Hashable) -> dict[str, Any]:
    """``options`` with no mention of column ``label`` in ``properties=`` or ``rename=``."""
    out = dict(options)
    chosen = out.get("properties")
    if isinstance(chosen, Mapping):
        out["properties"] = {c: n for c, n in chosen.items() if c != label}
    elif chosen is not None and not isinstance(chosen, str | bytes):
        out["properties"] = [c for c in chosen if c != label]
    if isinstance(out.get("rename"), Mapping):
        out["rename"] = {c: n for c, n in out["rename"].items() if c != label}
    return out
