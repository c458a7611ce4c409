"""The one exception tree of fs_pandas.

Everything fs_pandas raises on purpose derives from :class:`FullstoryError`, so a notebook can
catch the whole family with one ``except``. Mistakes in the caller's input also derive from
``ValueError`` / ``TypeError`` so that ordinary pandas habits keep working::

    FullstoryError
    ├── ConfigurationError          bad API key, refused base URL      (also ValueError)
    ├── InvalidDataError            a column or row cannot be sent      (also ValueError)
    ├── TransportError              connection refused / dropped, timeout
    ├── ApiError                    Fullstory answered with an error status
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401 unknown or revoked key
    │   ├── PermissionDeniedError   403 key's permission level too low
    │   ├── NotFoundError           404
    │   ├── ConflictError           409 / 422 (e.g. Idempotency-Key reused with another body)
    │   │   └── IdempotencyConflictError  409: the same key still executing (retried)
    │   ├── RateLimitedError        429 (carries ``retry_after``)
    │   └── ServerError             5xx
    ├── RetryExhaustedError         retries used up; ``last_error`` says why
    ├── LedgerError                 a ledger cannot be read or does not match the frame
    ├── RowsNotImportedError        ``result.raise_on_failed()``: some rows were not imported;
    │                               carries ``result``
    └── RunInterrupted              the run stopped waiting (Ctrl-C, ``timeout=``); carries
                                    ``result`` and ``ledger_path``      (also KeyboardInterrupt)

    ReconciliationWarning (a UserWarning) is issued when a finished job's imports and errors do
    not add up to the requests sent: the rows without a result are reported as failed with code
    ``unreconciled``, never dropped. Its subclass DuplicateJobWarning is issued when Fullstory
    answers a chunk with a job that already answered another chunk of the run: that chunk's
    rows are reported as failed with code ``duplicate_job``.

    ColumnWarning (a UserWarning) is issued for a column that will not be sent as it most
    likely means: by ``validate()`` for one ``batch_update`` would refuse outright (instead of
    raising), and for events planned without ``timestamp_col`` beside a column named like one.

    ExpiredKeysWarning (a UserWarning) is issued when a run is resumed after Fullstory forgot
    its Idempotency-Keys (24 h): a chunk whose job was never journalled is sent again, and may
    be imported twice.

Every error of the tree pickles and copies with its message and attributes (for
multiprocessing, joblib, dask): see ``FullstoryError.__reduce__``.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ColumnWarning",
    "ConfigurationError",
    "ConflictError",
    "DuplicateJobWarning",
    "ExpiredKeysWarning",
    "FullstoryError",
    "IdempotencyConflictError",
    "InvalidDataError",
    "LedgerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReconciliationWarning",
    "RetryExhaustedError",
    "RowsNotImportedError",
    "RunInterrupted",
    "ServerError",
    "TransportError",
]


_E = TypeVar("_E", bound=BaseException)


class FullstoryError(Exception):
    """Root of every error fs_pandas raises on purpose.

    Every error of the tree pickles (and copies) with its message and its attributes, so it can
    cross a process boundary (multiprocessing, joblib, dask). See :meth:`__reduce__`.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """Rebuild from the error's current state: its ``args`` and its attributes.

        The default (``type(self)(*self.args)``, then the attributes) calls ``__init__``, which
        fails for the errors whose ``__init__`` wants keyword-only arguments (``status=``,
        ``result=``...). The error is rebuilt without ``__init__`` instead, from what it holds
        now rather than from its constructor's arguments: the client scrubs the API key from
        ``args`` and attributes in place, so a pickle never holds a copy it did not scrub. As
        with every exception, the traceback, ``__cause__`` and ``__context__`` are not kept.
        """
        return _rebuild, (type(self), self.args), dict(vars(self))


def _rebuild(cls: type[_E], args: tuple[Any, ...]) -> _E:
    """An instance of ``cls`` holding ``args``, without calling its ``__init__``.

    Module level so that pickle can name it. ``BaseException.__new__`` sets ``args``; the
    attributes come next, through ``BaseException.__setstate__``.
    """
    return cls.__new__(cls, *args)


class ConfigurationError(FullstoryError, ValueError):
    """The client cannot be built as asked (no API key, a refused base URL...)."""


class InvalidDataError(FullstoryError, ValueError):
    """A column or row of the frame cannot be turned into a request.

    The message names the column (and row label where there is one) and the rule broken.
    """

    def __init__(self, message: str, *, column: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.column = column
        self.rule = rule


class TransportError(FullstoryError):
    """The request did not get an HTTP answer: connection refused or dropped, or a timeout.

    ``connect_failed`` is True when no connection could be opened at all (refused, or the host
    name did not resolve): the usual sign of a wrong base URL.
    """

    def __init__(self, message: str, *, connect_failed: bool = False):
        super().__init__(message)
        self.connect_failed = connect_failed


class ApiError(FullstoryError):
    """Fullstory answered with an error status.

    Attributes
    ----------
    status : int
        The HTTP status code.
    code : str
        Fullstory's short snake_case error code (``"forbidden"``, ``"too_many_requests"``...).
    message : str
        Fullstory's human-readable message.
    method, path : str
        The request that failed (the path never carries the API key).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "",
        method: str = "",
        path: str = "",
        body: Any = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        self.body = body

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.path else ""
        code = f" [{self.code}]" if self.code else ""
        return f"HTTP {self.status}{code}: {self.message}{where}"


class BadRequestError(ApiError):
    """400: Fullstory refused the request as invalid."""


class AuthenticationError(ApiError):
    """401: the API key is unknown or revoked."""


class PermissionDeniedError(ApiError):
    """403: the key is valid but its permission level is too low for this call."""


class NotFoundError(ApiError):
    """404: the user or job does not exist."""


class ConflictError(ApiError):
    """409/422: the request conflicts with an earlier one (e.g. a reused Idempotency-Key)."""


class IdempotencyConflictError(ConflictError):
    """409 ``idempotency_conflict``: another request with this Idempotency-Key was still
    executing (typically our own earlier attempt, whose answer a timeout lost). Nothing was
    saved; the same request sent again gets the stored answer, so it is retried -- after its
    ``Retry-After``, when it has one. A key reused with another body is a plain
    :class:`~fs_pandas.errors.ConflictError` (422 ``idempotency_key_mismatch``), never retried.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitedError(ApiError):
    """429: too many requests or too many batch jobs in progress."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: Fullstory failed to handle the request."""


class RetryExhaustedError(FullstoryError):
    """Retries were used up; :attr:`last_error` is the final failure, :attr:`attempts` the count."""

    def __init__(self, message: str, *, last_error: BaseException, attempts: int):
        super().__init__(message)
        self.last_error = last_error
        self.attempts = attempts


class ReconciliationWarning(UserWarning):
    """A finished job's imports plus errors do not add up to the requests that were sent."""


class DuplicateJobWarning(ReconciliationWarning):
    """Fullstory answered a chunk with a job that already answered another chunk of the run.

    That job holds the other chunk's requests; this chunk's rows are reported as failed with
    code ``duplicate_job`` (never as imported) and may be sent again with ``retry_failed``.
    """


class ColumnWarning(UserWarning):
    """A column will not be sent as it most likely means, or not at all; the message gives the
    fix.

    ``validate()`` issues it for a column ``batch_update`` would refuse outright (a property
    name Fullstory refuses) and checks the other columns without it; planning events without
    ``timestamp_col`` issues it for a column named like a timestamp (``ts``, ``created_at``...),
    which would otherwise go out as a property while each event gets Fullstory's time.
    """


class ExpiredKeysWarning(UserWarning):
    """A run is resumed after Fullstory's 24-hour idempotency window.

    A chunk whose create was sent but whose job id never reached the ledger (a crash in
    between) is sent again; Fullstory no longer knows its key, so its rows may be imported
    twice.
    """


class LedgerError(FullstoryError):
    """A run ledger cannot be read, or it was written for a different frame."""


class RowsNotImportedError(FullstoryError):
    """Raised by ``result.raise_on_failed()`` when some rows of a run were not imported: for a
    scheduled job that must fail loudly, as dlt's ``raise_on_failed_jobs()`` does.

    Attributes
    ----------
    result : BatchResult
        The whole result: ``result.errors``, ``result.rejected`` and ``result.pending`` hold the
        rows that were not imported, with the reason for each.
    counts : dict
        Rows per outcome (``imported``, ``failed``, ``rejected``, ``pending``).
    """

    def __init__(self, message: str, *, result: Any, counts: dict[str, int]):
        super().__init__(message)
        self.result = result
        self.counts = counts


class RunInterrupted(FullstoryError, KeyboardInterrupt):  # noqa: N818 (named like its base)
    """The run stopped waiting before every job finished: Ctrl-C or Kernel → Interrupt, or the
    ``timeout=`` the caller set ran out.

    Nothing is lost: jobs already created keep running at Fullstory and are journalled in the
    run's ledger. :attr:`result` holds every row's outcome so far (unfinished rows are
    ``pending``, with their job id); ``fs_pandas.resume(exc.ledger_path, df)`` finishes the run,
    and so does running the same call again within 24 hours (Idempotency-Keys: nothing is sent
    twice).

    It is a ``KeyboardInterrupt`` as well as a :class:`FullstoryError`: left uncaught it ends a
    script or a notebook's "run all" the way Ctrl-C does, and ``except KeyboardInterrupt``
    clean-up code still sees it (a script left with it uncaught exits with status 1: Python
    gives the SIGINT status to a bare ``KeyboardInterrupt`` only). Being a
    ``FullstoryError`` keeps fs_pandas to one root, so ``except FullstoryError`` (and, like
    every fs_pandas error, ``except Exception``) catches it too: a loop that must stop on Ctrl-C
    should not swallow it with a broad ``except Exception``.

    Attributes
    ----------
    result : BatchResult
        The partial result: ``result.pending`` lists the unfinished rows with ``fs_job_id``.
    ledger_path : str or None
        The run's journal, for :func:`fs_pandas.resume`.
    jobs_running : int
        Jobs created at Fullstory whose results were not read yet.
    reason : {"interrupted", "timeout"}
        What stopped the run.
    """

    def __init__(
        self,
        message: str,
        *,
        result: Any,
        ledger_path: str | None,
        jobs_running: int,
        reason: str,
    ):
        super().__init__(message)
        self.result = result
        self.ledger_path = ledger_path
        self.jobs_running = jobs_running
        self.reason = reason
