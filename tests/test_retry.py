"""RetryPolicy: the retry rules as pure data -- no socket, no clock, no sleep."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from fs_pandas.client import IdempotencyConflictError
from fs_pandas.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidDataError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryExhaustedError,
    ServerError,
    TransportError,
)
from fs_pandas.retry import FailedAttempt, RetryPolicy, parse_retry_after

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


def rate_limited(retry_after: float | None = None) -> RateLimitedError:
    return RateLimitedError(
        "slow down", status=429, code="too_many_requests", retry_after=retry_after
    )


def server_error(status: int = 500) -> ServerError:
    return ServerError("boom", status=status, code="server_error")


def no_jitter(**kwargs: float) -> RetryPolicy:
    return RetryPolicy(jitter=0.0, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parse_retry_after


def test_retry_after_in_seconds_is_read_as_seconds() -> None:
    assert parse_retry_after("7") == 7.0


def test_retry_after_tolerates_whitespace_and_fractions() -> None:
    assert parse_retry_after(" 1.5 ") == 1.5


def test_retry_after_as_http_date_is_the_time_until_that_date() -> None:
    assert parse_retry_after("Thu, 15 Jan 2026 12:00:30 GMT", now=NOW) == 30.0


def test_retry_after_in_the_past_means_no_wait() -> None:
    assert parse_retry_after("Thu, 15 Jan 2026 11:00:00 GMT", now=NOW) == 0.0


def test_negative_retry_after_means_no_wait() -> None:
    assert parse_retry_after("-3") == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


# ------------------------------------------------------------------------------ is_retryable


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limit_and_transient_server_errors_are_retryable(status: int) -> None:
    error = rate_limited() if status == 429 else server_error(status)
    assert RetryPolicy().is_retryable(error)


def test_transport_errors_are_retryable() -> None:
    assert RetryPolicy().is_retryable(TransportError("connection reset"))


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad", status=400),
        AuthenticationError("who", status=401),
        PermissionDeniedError("no", status=403),
        NotFoundError("gone", status=404),
        ConflictError("again", status=409),
        ConflictError("mismatch", status=422),
    ],
    ids=lambda e: str(e.status),
)
def test_client_errors_are_not_retryable(error: Exception) -> None:
    assert not RetryPolicy().is_retryable(error)


def test_an_idempotency_conflict_is_retryable_a_key_mismatch_is_not() -> None:
    # Contract §11.6: a request that conflicted with a concurrent one of the same key saved
    # nothing and is to be sent again; a key reused with another body fails the same way again.
    policy = RetryPolicy()
    assert policy.is_retryable(ConflictError("busy", status=409, code="idempotency_conflict"))
    assert not policy.is_retryable(
        ConflictError("other body", status=422, code="idempotency_key_mismatch")
    )
    assert not policy.is_retryable(
        ConflictError("other body", status=409, code="idempotency_key_mismatch")
    )
    assert not policy.is_retryable(ConflictError("conflict", status=409, code=""))


def test_retry_codes_can_be_narrowed_and_are_normalised() -> None:
    conflict = ConflictError("busy", status=409, code="idempotency_conflict")
    assert not RetryPolicy(retry_codes=()).is_retryable(conflict)
    assert RetryPolicy(retry_codes=["x", "y"]).retry_codes == frozenset({"x", "y"})
    with pytest.raises(TypeError, match="retry_codes"):
        RetryPolicy(retry_codes="idempotency_conflict")


def test_errors_that_are_not_http_failures_are_not_retryable() -> None:
    assert not RetryPolicy().is_retryable(InvalidDataError("bad column"))


def test_retry_statuses_can_be_narrowed() -> None:
    assert not RetryPolicy(retry_statuses=[429]).is_retryable(server_error(503))


# --------------------------------------------------------------------------------- increment


def test_increment_returns_a_new_policy_and_leaves_the_old_one_unchanged() -> None:
    policy = RetryPolicy()
    after = policy.increment(server_error())
    assert policy.history == () and after.attempts == 1


def test_increment_records_status_and_retry_after_in_history() -> None:
    error = rate_limited(retry_after=4.0)
    after = RetryPolicy().increment(error)
    assert after.history == (FailedAttempt(error=error, status=429, retry_after=4.0),)


def test_a_retryable_conflict_records_its_retry_after_and_it_is_honoured() -> None:
    error = IdempotencyConflictError(
        "busy", status=409, code="idempotency_conflict", retry_after=2.0
    )
    after = RetryPolicy(jitter=0.5).increment(error)
    assert after.history == (FailedAttempt(error=error, status=409, retry_after=2.0),)
    assert after.delay(random.Random(0)) == 2.0


def test_a_retryable_conflict_without_retry_after_backs_off() -> None:
    error = IdempotencyConflictError("busy", status=409, code="idempotency_conflict")
    after = no_jitter(backoff_factor=0.25).increment(error)
    assert after.history[0].retry_after is None and after.delay(random.Random(0)) == 0.25


def test_transport_failure_is_recorded_without_status() -> None:
    after = RetryPolicy().increment(TransportError("reset"))
    assert after.history[0].status is None


def test_budget_allows_total_retries_then_raises_retry_exhausted() -> None:
    policy = RetryPolicy(total=2)
    policy = policy.increment(server_error()).increment(server_error())
    last = server_error(503)
    with pytest.raises(RetryExhaustedError) as caught:
        policy.increment(last)
    assert (caught.value.attempts, caught.value.last_error) == (3, last)


def test_total_zero_disables_retries() -> None:
    with pytest.raises(RetryExhaustedError):
        RetryPolicy(total=0).increment(TransportError("reset"))


def test_exhaustion_message_names_the_last_error() -> None:
    with pytest.raises(RetryExhaustedError, match="server_error"):
        RetryPolicy(total=0).increment(server_error())


def test_increment_reraises_a_non_retryable_error_unchanged() -> None:
    error = BadRequestError("uid is required", status=400, code="required_field")
    with pytest.raises(BadRequestError) as caught:
        RetryPolicy().increment(error)
    assert caught.value is error


# ------------------------------------------------------------------------------------- delay


def test_no_delay_before_any_failure() -> None:
    assert RetryPolicy().delay(random.Random(0)) == 0.0


def test_retry_after_is_honoured_exactly_without_jitter() -> None:
    policy = RetryPolicy(jitter=0.5).increment(rate_limited(retry_after=7.0))
    assert policy.delay(random.Random(0)) == 7.0


def test_retry_after_is_capped_at_max_retry_after() -> None:
    policy = RetryPolicy(max_retry_after=60.0).increment(rate_limited(retry_after=3600.0))
    assert policy.delay(random.Random(0)) == 60.0


def test_retry_after_is_ignored_when_respect_retry_after_is_off() -> None:
    policy = RetryPolicy(jitter=0.0, respect_retry_after=False).increment(rate_limited(9.0))
    assert policy.delay(random.Random(0)) == 0.5


def test_429_without_retry_after_falls_back_to_backoff() -> None:
    policy = no_jitter(backoff_factor=2.0).increment(rate_limited(None))
    assert policy.delay(random.Random(0)) == 2.0


def test_backoff_doubles_with_each_consecutive_failure() -> None:
    policy = no_jitter(backoff_factor=0.5)
    delays = []
    for _ in range(4):
        policy = policy.increment(server_error())
        delays.append(policy.delay(random.Random(0)))
    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped_at_max_backoff() -> None:
    policy = no_jitter(backoff_factor=1.0, max_backoff=5.0, total=100)
    for _ in range(10):
        policy = policy.increment(TransportError("reset"))
    assert policy.delay(random.Random(0)) == 5.0


def test_backoff_survives_a_huge_number_of_failures() -> None:
    policy = RetryPolicy(total=5000, max_backoff=30.0)
    for _ in range(2000):
        policy = policy.increment(TransportError("reset"))
    assert policy.delay(random.Random(0)) <= 30.0


def test_jitter_stays_within_the_configured_fraction() -> None:
    policy = RetryPolicy(backoff_factor=1.0, jitter=0.25).increment(server_error())
    rng = random.Random(42)
    delays = [policy.delay(rng) for _ in range(500)]
    assert all(0.75 <= d <= 1.25 for d in delays) and len(set(delays)) > 1


def test_jitter_is_deterministic_for_a_seeded_rng() -> None:
    policy = RetryPolicy().increment(server_error())
    assert policy.delay(random.Random(7)) == policy.delay(random.Random(7))


# ----------------------------------------------------------------------------- construction


def test_policy_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[call-arg]


def test_retry_statuses_accept_any_iterable_and_are_normalised() -> None:
    assert RetryPolicy(retry_statuses=[503, 429]).retry_statuses == frozenset({429, 503})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total": -1},
        {"backoff_factor": -0.1},
        {"max_backoff": -1},
        {"jitter": 1.5},
        {"backoff_factor": float("nan")},
        {"max_backoff": float("inf")},
        {"max_retry_after": float("nan")},
        {"jitter": float("nan")},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_immutable() -> None:
    with pytest.raises(AttributeError):
        RetryPolicy().total = 3  # type: ignore[misc]
