"""Every option of a push, declared once.

:class:`UserSpec` and :class:`EventSpec` say *what* a run sends: which column feeds which
Fullstory field, which columns are properties, how values are typed. :class:`Pacing` says *how
fast*: rows per job, jobs in flight, polling. Each field carries its one-line help and the form
its command-line flag takes; from these the CLI builds its flags (``fs_pandas.cli``), the ledger
keeps a run's spec (:meth:`UserSpec.to_json`), and tests hold the accessor's keywords and
docstrings to them. The planner (:func:`fs_pandas.payloads.plan`) reads a spec; values are
checked there, where the frame is known.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

import numpy as np

from fs_pandas._types import (
    MAX_CHUNK,
    Duplicates,
    JobKind,
    Nulls,
    Properties,
    Schema,
    TimeZone,
)
from fs_pandas.errors import ConfigurationError
from fs_pandas.options import decode_options, encode_options

__all__ = [
    "CliForm",
    "EventSpec",
    "Pacing",
    "Spec",
    "UserSpec",
    "check_timeout",
    "reference",
    "spec_for",
]

#: How an option is written on the command line (``fs_pandas.cli`` reads it):
#: ``column`` one column name; ``columns`` several; ``text`` free text; ``zone`` a time zone
#: name or ``none``; ``choice`` one of the field's Literal values; ``flag`` a switch;
#: ``pairs`` repeated ``KEY=VALUE``; ``schema`` ``infer``, ``none`` or repeated ``NAME=TYPE``;
#: ``count`` a whole number; ``seconds`` a number of seconds; ``factor`` a multiplier.
CliForm: TypeAlias = Literal[
    "column",
    "columns",
    "text",
    "zone",
    "choice",
    "flag",
    "pairs",
    "schema",
    "count",
    "seconds",
    "factor",
]


def _option(default: Any, help: str, cli: CliForm, *, choices: tuple[str, ...] = ()) -> Any:
    """A spec field: its default, its one-line help and its command-line form."""
    metadata = {"help": help, "cli": cli, "choices": choices}
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


_FEWEST_ROWS_PER_JOB = 10_000  # see Pacing.rows_per_job
_NULLS = ("omit", "null")
_DUPLICATES = ("first", "last", "reject", "allow")


def _properties() -> Any:
    return _option(
        None,
        "columns sent as custom properties (default: every column no field uses)",
        "columns",
    )


def _rename() -> Any:
    return _option(
        None,
        "property names for some columns, e.g. 'Last Login=last_login'; other columns keep "
        "their labels",
        "pairs",
    )


def _schema() -> Any:
    return _option(
        "infer",
        "property types: infer them, declare none, or declare NAME=TYPE per property",
        "schema",
    )


def _nulls() -> Any:
    return _option(
        "omit", "missing values: leave the property out, or send JSON null", "choice",
        choices=_NULLS,
    )  # fmt: skip


def _naive_tz() -> Any:
    return _option(
        "UTC",
        "time zone assumed for datetimes without one; none refuses such columns",
        "zone",
    )


class _SpecBase:
    """What both specs share: their options as a mapping and as the ledger's JSON."""

    kind: ClassVar[JobKind]

    def options(self) -> dict[str, Any]:
        """Field name -> value, as the planner takes them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The options as JSON the ledger keeps (see :mod:`fs_pandas.options`).

        Raises
        ------
        TypeError
            An option holds a value the ledger cannot keep faithfully (named in the message).
        """
        return encode_options(self.options())

    def normalised(self) -> Spec:
        """This spec as the ledger will give it back, so a resume plans exactly the same."""
        return spec_for(self.kind, decode_options(self.to_json()))

    def replace(self, **changes: Any) -> Spec:
        """A copy with some options changed."""
        changed: Spec = dataclasses.replace(self, **changes)  # type: ignore[type-var, assignment]
        return changed


@dataclass(frozen=True, kw_only=True)
class UserSpec(_SpecBase):
    """What a user import sends: ``df.fullstory.batch_update``'s options (see its docstring)."""

    kind: ClassVar[JobKind] = "users"

    uid_col: Hashable | None = _option(
        dataclasses.MISSING, "column holding your user id (uid)",
        "column",
    )  # fmt: skip
    id_col: Hashable | None = _option(None, "column holding Fullstory's user id", "column")
    display_name_col: Hashable | None = _option(None, "column holding display names", "column")
    email_col: Hashable | None = _option(None, "column holding email addresses", "column")
    properties: Properties = _properties()
    rename: Mapping[Hashable, str] | None = _rename()
    schema: Schema = _schema()
    nulls: Nulls = _nulls()
    naive_tz: TimeZone = _naive_tz()
    duplicates: Duplicates = _option(
        "first", "rows sharing a uid: send the first or last, reject them all, or send all",
        "choice", choices=_DUPLICATES,
    )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EventSpec(_SpecBase):
    """What an event import sends: ``df.fullstory.batch_events``'s options (see its docstring)."""

    kind: ClassVar[JobKind] = "events"

    name: str | None = _option(None, "one event name for every row", "text")
    name_col: Hashable | None = _option(None, "column holding each event's name", "column")
    timestamp_col: Hashable | None = _option(
        None, "column holding when each event happened (default: Fullstory's time)", "column"
    )
    uid_col: Hashable | None = _option(None, "column holding your user id", "column")
    user_id_col: Hashable | None = _option(None, "column holding Fullstory's user id", "column")
    session_id_col: Hashable | None = _option(
        None, "column holding a Fullstory session id", "column"
    )
    use_most_recent: bool = _option(
        False, "attach each event to the user's most recent session", "flag"
    )
    context: Mapping[str, Hashable] | None = _option(
        None, "context fields from columns, e.g. browser.url=page", "pairs"
    )
    properties: Properties = _properties()
    rename: Mapping[Hashable, str] | None = _rename()
    schema: Schema = _schema()
    nulls: Nulls = _nulls()
    naive_tz: TimeZone = _naive_tz()


Spec: TypeAlias = UserSpec | EventSpec
_SPECS: dict[str, type[UserSpec] | type[EventSpec]] = {"users": UserSpec, "events": EventSpec}


def spec_for(kind: str, options: Mapping[str, Any]) -> Spec:
    """The spec of a ``kind`` ("users" or "events") from its options (e.g. a ledger's).

    Raises
    ------
    ValueError
        An unknown kind.
    TypeError
        An option the kind does not take.
    """
    if kind not in _SPECS:
        raise ValueError(f"kind must be 'users' or 'events', got {kind!r}")
    return _SPECS[kind](**options)


@dataclass(frozen=True, kw_only=True)
class Pacing:
    """How a run paces itself.

    Parameters
    ----------
    chunk_size : int, optional
        Requests per batch job (Fullstory's maximum is 50,000). By default the run's rows
        are spread evenly over ``max_jobs_in_flight`` jobs, 10,000 to 50,000 a job
        (:meth:`rows_per_job`): a job's results are read one page after another, so 300,000
        rows read as 10 jobs of 30 pages finish about a second sooner (at 50 ms a request)
        than as 6 jobs of 50.
    max_jobs_in_flight : int, default 10
        Jobs created and not yet finished. Fullstory runs at most 100 batches per org and answers
        429 at 200 in progress (contract §4).
    max_rows_in_flight : int, default 500_000
        Requests in unfinished jobs. Fullstory answers 429 at 500,000 in progress per org
        (contract §4): the default uses what the org allows, and when another run holds part of
        it, Fullstory's 429s make this run wait for a job of its own to finish.
    max_requests_in_flight : int, default 10
        HTTP requests under way at once (creates, polls and result pages of different jobs).
    poll_interval : float, default 1.0
        Seconds before a new job's first status poll; it grows by ``poll_backoff`` up to
        ``max_poll_interval`` while the job runs.
    poll_backoff : float, default 1.5
        Factor (at least 1) by which a job's poll interval grows after each poll.
    max_poll_interval : float, default 1.0
        Longest wait between two polls of the run's oldest running job, the next to finish
        (an org's batches run in the order they came). Younger jobs are polled up to 4 times
        less often, and at once when an older one finishes: a run of 10 jobs sends about 3
        status requests a second, where Fullstory's own client, polling each job every 2 s,
        sends 5. A ``poll_interval`` above it is kept for every poll. Once a job of the run
        has finished, the others also get a poll when they have run as long as it took
        (by Fullstory's own ``created`` and ``finished`` times).
    include_schema : bool, default False
        Ask for each import's schema when reading results.
    resend : bool, default False
        Send again on purpose: within 24 h of a run of the same rows, Fullstory answers each
        chunk with that run's job (its Idempotency-Key) and nothing new is sent; ``True``
        gives the run's keys a random salt (kept in its ledger) so Fullstory creates new jobs.
    counts_only : bool, default False
        Read each job's status counts, not its rows' results: all a Standard key may read.
        Rows of a job that imported everything are ``imported``; rows of a job with failures
        stay ``pending`` (which rows failed is not known), and a resume with an Admin or
        Architect key reads them. Without it, a Standard key is refused before anything is
        sent.

    Raises
    ------
    ConfigurationError
        A value is of the wrong type (``True`` is not a count, ``"5"`` not a number), not
        finite, or out of range; the message names the option.
    """

    chunk_size: int | None = _option(
        None,
        "rows per batch job, at most 50,000 (default: the rows spread over "
        "max_jobs_in_flight jobs, 10,000 to 50,000 each)",
        "count",
    )
    max_jobs_in_flight: int = _option(10, "jobs created and not yet finished, at most", "count")
    max_rows_in_flight: int = _option(500_000, "rows in jobs not yet finished, at most", "count")
    max_requests_in_flight: int = _option(10, "HTTP requests under way at once, at most", "count")
    poll_interval: float = _option(1.0, "seconds before a job's first status poll", "seconds")
    poll_backoff: float = _option(1.5, "factor a job's poll interval grows by", "factor")
    max_poll_interval: float = _option(
        1.0, "longest wait between two polls of the oldest running job", "seconds"
    )
    include_schema: bool = _option(False, "ask for each import's schema", "flag")
    resend: bool = _option(
        False,
        "send again on purpose: new jobs even if the same rows were sent within 24 h",
        "flag",
    )
    counts_only: bool = _option(
        False,
        "read jobs' counts only (a Standard key): rows of jobs with failures stay pending",
        "flag",
    )

    def __post_init__(self) -> None:
        # Normalise once (np.int64 -> int, 1 -> 1.0) so the rest of the run sees plain values.
        if self.chunk_size is not None:
            object.__setattr__(self, "chunk_size", _count("chunk_size", self.chunk_size))
        for name in (
            "max_jobs_in_flight",
            "max_rows_in_flight",
            "max_requests_in_flight",
        ):
            object.__setattr__(self, name, _count(name, getattr(self, name)))
        for name in ("poll_interval", "poll_backoff", "max_poll_interval"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        for name in ("include_schema", "resend", "counts_only"):
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_):
                raise ConfigurationError(f"{name} must be True or False, got {value!r}")
            object.__setattr__(self, name, bool(value))
        self._check_ranges()

    def rows_per_job(self, n_rows: int) -> int:
        """Requests per batch job for a run of ``n_rows``: ``chunk_size`` when set, else the
        rows spread evenly over ``max_jobs_in_flight`` jobs, at least 10,000 and at most
        50,000 a job (fewer, fuller jobs below that: each costs a create, polls and a page
        of each kind of result, for less than a second saved)."""
        if self.chunk_size is not None:
            return self.chunk_size
        spread = -(-n_rows // self.max_jobs_in_flight)
        return min(MAX_CHUNK, max(spread, _FEWEST_ROWS_PER_JOB))

    def _check_ranges(self) -> None:
        if self.chunk_size is not None and not 1 <= self.chunk_size <= MAX_CHUNK:
            raise ConfigurationError(
                f"chunk_size must be between 1 and {MAX_CHUNK}, got {self.chunk_size}"
            )
        if self.max_jobs_in_flight < 1:
            raise ConfigurationError(
                f"max_jobs_in_flight must be at least 1, got {self.max_jobs_in_flight}"
            )
        if self.max_rows_in_flight < 1:
            raise ConfigurationError(
                f"max_rows_in_flight must be at least 1, got {self.max_rows_in_flight}"
            )
        if self.max_requests_in_flight < 1:
            raise ConfigurationError(
                f"max_requests_in_flight must be at least 1, got {self.max_requests_in_flight}"
            )
        if self.poll_interval <= 0:
            raise ConfigurationError(f"poll_interval must be > 0, got {self.poll_interval}")
        if self.max_poll_interval <= 0:
            raise ConfigurationError(f"max_poll_interval must be > 0, got {self.max_poll_interval}")
        if self.poll_backoff < 1:
            raise ConfigurationError(f"poll_backoff must be at least 1, got {self.poll_backoff}")


def _count(name: str, value: object) -> int:
    """A whole number: int or numpy integer, not a bool and not a float (even 10.0)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _finite(name: str, value: object) -> float:
    """A finite real number of seconds (or factor); NaN compares false to every bound."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigurationError(f"{name} must be a finite number, got {value!r}")
    return number


def check_timeout(timeout: object) -> float | None:
    """``None`` or a positive finite number of seconds (``timeout=`` of a run)."""
    if timeout is None:
        return None
    seconds = _finite("timeout", timeout)
    if seconds <= 0:
        raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout!r}")
    return seconds


def reference() -> str:
    """Every option of a push as Markdown: the text of ``docs/options.md``.

    Generated from the fields above, so the page cannot drift from the code (a test holds the
    file to this text; ``scripts/options-reference`` rewrites it).
    """
    parts = [
        "# Every option\n",
        "Generated from `fs_pandas/specs.py` (`bash scripts/options-reference` rewrites it); "
        "the same declaration gives `batch_update` / `batch_events` their keywords and "
        "`fs-pandas users` / `fs-pandas events` their flags.\n",
    ]
    sections = (
        ("What a user import sends: `batch_update`, `fs-pandas users`", UserSpec),
        ("What an event import sends: `batch_events`, `fs-pandas events`", EventSpec),
        ("How fast a run goes (both kinds)", Pacing),
    )
    for title, cls in sections:
        parts.append(f"## {title}\n")
        parts.append("| keyword | flag | default | what it does |")
        parts.append("| --- | --- | --- | --- |")
        for option in dataclasses.fields(cls):  # type: ignore[arg-type]
            required = option.default is dataclasses.MISSING
            default = "required" if required else f"`{option.default!r}`"
            flag = "--" + option.name.replace("_", "-")
            help_text = option.metadata["help"].replace("|", "\\|")
            parts.append(f"| `{option.name}` | `{flag}` | {default} | {help_text} |")
        parts.append("")
    return "\n".join(parts)
