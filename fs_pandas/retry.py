"""Retry as pure data: what to retry, how long to wait, when to give up.

:class:`RetryPolicy` is an immutable value in the manner of urllib3's ``Retry``: the client keeps
the configured policy and, for each request, starts from it; every failure produces a *new* policy
through :meth:`RetryPolicy.increment`, whose ``history`` records what happened. Nothing here opens
a socket, reads a clock or sleeps, so the rules are tested without either.

Rules (design.md §3 "Retries", contract §4 and §7):

* 429, 500, 502, 503, 504 and transport failures (connection refused or dropped, timeouts) are
  retried; 400, 401, 403, 404, 409 and 422 are not -- they will fail again the same way.
* Except a 409 ``idempotency_conflict`` (contract §11.6): the request collided with one of the
  same Idempotency-Key still executing (typically our own earlier attempt, whose answer was
  lost to a timeout); nothing was saved, and the same request later gets the stored answer.
  It is recognised by its error code, so a 409/422 for a key reused with another body
  (``idempotency_key_mismatch``) stays final.
* A ``Retry-After`` (seconds, or an HTTP-date) on a 429 or a retryable 409 is honoured exactly,
  capped at ``max_retry_after``; otherwise the wait is exponential backoff with jitter, capped
  at ``max_backoff``.
* The budget counts consecutive failures of one request; a success ends the request, and the next
  request starts again from the configured policy.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from fs_pandas.errors import ApiError, RetryExhaustedError, TransportError

__all__ = ["FailedAttempt", "RetryPolicy", "Retrying", "parse_retry_after"]


@dataclass(frozen=True)
class Retrying:
    """A request failed in a retryable way; the client waits ``delay`` seconds and tries again."""

    reason: str
    attempt: int
    delay: float


DEFAULT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Error codes retried whatever their status: a request that conflicted with a concurrent one of
# the same Idempotency-Key (contract §11.6) saved nothing and is to be sent again.
DEFAULT_RETRY_CODES = frozenset({"idempotency_conflict"})

# 2.0 ** 1024 overflows a float; any exponent past this is far beyond every sane max_backoff.
_MAX_EXPONENT = 60


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header value as a number of seconds to wait.

    Parameters
    ----------
    value : str or None
        The header value: delta-seconds (contract §4: Fullstory sends seconds) or an HTTP-date
        (RFC 9110 §10.2.3 allows both).
    now : datetime, optional
        The current time, for the HTTP-date form; defaults to the system clock (UTC).

    Returns
    -------
    float or None
        Seconds to wait (never negative), or None when the value is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds = _parse_delta_seconds(text)
    if seconds is not None:
        return seconds
    return _parse_http_date(text, now=now)


def _parse_delta_seconds(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(seconds, 0.0)


def _parse_http_date(text: str, *, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)


@dataclass(frozen=True)
class FailedAttempt:
    """One failed attempt in a :class:`RetryPolicy` history.

    Attributes
    ----------
    error : BaseException
        The failure (an :class:`~fs_pandas.errors.ApiError` or
        :class:`~fs_pandas.errors.TransportError`).
    status : int or None
        The HTTP status, or None when no HTTP answer came back.
    retry_after : float or None
        Seconds the server asked us to wait (the ``Retry-After`` of a 429 or of a retryable
        409), if it said.
    """

    error: BaseException
    status: int | None = None
    retry_after: float | None = None

    @classmethod
    def from_error(cls, error: BaseException) -> FailedAttempt:
        """Describe ``error`` as a history entry."""
        status = error.status if isinstance(error, ApiError) else None
        retry_after = getattr(error, "retry_after", None)  # RateLimitedError, a retryable 409
        if not isinstance(retry_after, int | float) or isinstance(retry_after, bool):
            retry_after = None
        return cls(error=error, status=status, retry_after=retry_after)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How one request is retried; an immutable value.

    Parameters
    ----------
    total : int, default 8
        Retries allowed for one request: at most ``total + 1`` attempts. ``0`` disables retries.
    backoff_factor : float, default 0.5
        Seconds before the first retry when the server gave no ``Retry-After``; doubles with each
        further consecutive failure.
    max_backoff : float, default 30.0
        Cap on a backoff delay (jitter included).
    jitter : float, default 0.25
        Random spread of a backoff delay, as a fraction: 0.25 means ±25 %. Spreads out clients
        that failed together so they do not come back together.
    retry_statuses : collection of int, default {429, 500, 502, 503, 504}
        HTTP statuses worth retrying (stored as a frozenset).
    retry_codes : collection of str, default {"idempotency_conflict"}
        Fullstory error codes worth retrying whatever the status (stored as a frozenset): by
        default the 409 of a request that conflicted with a concurrent one of the same
        Idempotency-Key (contract §11.6).
    respect_retry_after : bool, default True
        Wait exactly what a 429's ``Retry-After`` says (contract §4) instead of backing off.
    max_retry_after : float, default 300.0
        Cap on a ``Retry-After`` wait, so a confused server cannot park the run for hours.
    history : tuple of FailedAttempt, default ()
        The failures of the current request so far (filled by :meth:`increment`).
    """

    total: int = 8
    backoff_factor: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.25
    retry_statuses: Collection[int] = field(default=DEFAULT_RETRY_STATUSES)
    retry_codes: Collection[str] = field(default=DEFAULT_RETRY_CODES)
    respect_retry_after: bool = True
    max_retry_after: float = 300.0
    history: tuple[FailedAttempt, ...] = ()

    def __post_init__(self) -> None:
        # Accept any iterable of statuses, normalise once (a frozen set keeps the value hashable).
        statuses = frozenset(int(s) for s in self.retry_statuses)
        object.__setattr__(self, "retry_statuses", statuses)
        if isinstance(self.retry_codes, str):
            raise TypeError("RetryPolicy.retry_codes must be a collection of codes, not a str")
        object.__setattr__(self, "retry_codes", frozenset(str(c) for c in self.retry_codes))
        object.__setattr__(self, "history", tuple(self.history))
        self._check()

    def _check(self) -> None:
        if self.total < 0:
            raise ValueError(f"RetryPolicy.total must be >= 0, got {self.total}")
        for name in ("backoff_factor", "max_backoff", "max_retry_after"):
            # ``not >= 0`` (rather than ``< 0``) also refuses NaN, which fails every comparison.
            if not getattr(self, name) >= 0 or getattr(self, name) == float("inf"):
                raise ValueError(
                    f"RetryPolicy.{name} must be a finite number >= 0, got {getattr(self, name)}"
                )
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"RetryPolicy.jitter must be within [0, 1], got {self.jitter}")

    @property
    def attempts(self) -> int:
        """Failed attempts recorded so far for the current request."""
        return len(self.history)

    def is_retryable(self, error: BaseException) -> bool:
        """Tell whether ``error`` is worth another attempt.

        Transport failures, the statuses in ``retry_statuses`` (429 and the transient 5xx) and
        the error codes in ``retry_codes`` (a 409 ``idempotency_conflict``) are; every other
        error -- 400, 401, 403, 404, another 409, 422, a programming error -- is not.
        """
        if isinstance(error, TransportError):
            return True
        if isinstance(error, ApiError):
            return error.status in self.retry_statuses or error.code in self.retry_codes
        return False

    def increment(self, error: BaseException) -> RetryPolicy:
        """Record a failed attempt and return the policy for the next one.

        Parameters
        ----------
        error : BaseException
            Why the attempt failed.

        Returns
        -------
        RetryPolicy
            A new policy whose history ends with this failure.

        Raises
        ------
        RetryExhaustedError
            When this failure uses up the budget (``attempts`` > ``total``); ``last_error`` is
            ``error`` and ``attempts`` the number of attempts made.
        BaseException
            ``error`` itself, unchanged, when it is not retryable.
        """
        if not self.is_retryable(error):
            raise error
        new = dataclasses.replace(self, history=(*self.history, FailedAttempt.from_error(error)))
        if new.attempts > self.total:
            raise RetryExhaustedError(
                f"gave up after {new.attempts} attempts; last error: {error}",
                last_error=error,
                attempts=new.attempts,
            ) from error
        return new

    def delay(self, rng: random.Random) -> float:
        """Seconds to wait before the next attempt.

        Parameters
        ----------
        rng : random.Random
            Source of jitter (injected so that tests are deterministic).

        Returns
        -------
        float
            The last failure's ``Retry-After`` (capped at ``max_retry_after``) when there is one
            and ``respect_retry_after`` is set; else exponential backoff with jitter, capped at
            ``max_backoff``; 0 before any failure.
        """
        if not self.history:
            return 0.0
        retry_after = self.history[-1].retry_after
        if self.respect_retry_after and retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self._backoff(rng)

    def _backoff(self, rng: random.Random) -> float:
        exponent = min(self.attempts - 1, _MAX_EXPONENT)
        base = self.backoff_factor * (2.0**exponent)
        spread = 1.0 + rng.uniform(-self.jitter, self.jitter)
        return min(base * spread, self.max_backoff)
