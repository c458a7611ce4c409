"""Fault injection for the emulator: seeded, decided once per ``/v2`` request or per row.

The emulator is the oracle the client is tested against, so faults must be reproducible: every
decision comes from a :class:`random.Random` seeded at start-up (``Faults.seed``, or the
emulator's ``seed`` when that is ``None``). Rates are probabilities in ``[0, 1]``; all are 0 by
default, so an emulator without faults behaves exactly as the contract says.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class Faults:
    """Fault rates applied to ``/v2`` routes (never to ``/_emulator`` inspection routes).

    Parameters
    ----------
    rate_429 : float
        Probability that a request answers 429 ``too_many_requests`` with ``Retry-After``
        (the request is not processed).
    rate_5xx : float
        Probability that a request answers 500 ``server_error`` (the request is not processed).
    rate_slow : float
        Probability that a request is delayed by ``slow_seconds`` before being handled.
    slow_seconds : float
        Delay applied to slow requests.
    rate_drop_before : float
        Probability that the connection is closed with no HTTP response and the request is
        NOT processed.
    rate_drop_after : float
        Probability that the request IS processed (a job is created, a user stored...) but the
        connection is closed before any byte of the response is sent.
    row_error_rate : float
        Probability that a batch row (or single create) that passed validation fails at the
        server with ``row_error_code``.
    row_error_code : str
        The ``code`` given to rows failed by ``row_error_rate`` or by ``fail_uids``.
    seed : int or None
        Seed of the fault generator; ``None`` uses the emulator's ``seed`` setting.
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 0.5
    rate_drop_before: float = 0.0
    rate_drop_after: float = 0.0
    row_error_rate: float = 0.0
    row_error_code: str = "unknown_error"
    seed: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.startswith("rate_") or f.name == "row_error_rate":
                value = getattr(self, f.name)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"Faults.{f.name} must be within [0, 1], got {value!r}")
        if self.slow_seconds < 0:
            raise ValueError("Faults.slow_seconds must be >= 0")

    @property
    def any_request_fault(self) -> bool:
        """Whether any per-request fault can fire (lets the hot path skip the generator)."""
        return any(
            (
                self.rate_429,
                self.rate_5xx,
                self.rate_slow,
                self.rate_drop_before,
                self.rate_drop_after,
            )
        )


@dataclass(frozen=True)
class RequestFault:
    """What happens to one request; at most one of the terminal outcomes is set."""

    slow: bool = False
    drop_before: bool = False
    status_429: bool = False
    status_5xx: bool = False
    drop_after: bool = False


NO_FAULT = RequestFault()


class FaultInjector:
    """Draws seeded fault decisions; thread-safe (requests and rows may race)."""

    def __init__(self, faults: Faults, *, default_seed: int) -> None:
        self.faults = faults
        seed = faults.seed if faults.seed is not None else default_seed
        # Two generators so that row faults do not depend on how many requests came before.
        self._request_rng = random.Random(seed)
        self._row_rng = random.Random(seed + 1)
        self._lock = threading.Lock()

    def plan_request(self) -> RequestFault:
        """Decide the fault of one ``/v2`` request."""
        f = self.faults
        if not f.any_request_fault:
            return NO_FAULT
        with self._lock:
            draws = [self._request_rng.random() for _ in range(5)]
        return RequestFault(
            slow=draws[0] < f.rate_slow,
            drop_before=draws[1] < f.rate_drop_before,
            status_429=draws[2] < f.rate_429,
            status_5xx=draws[3] < f.rate_5xx,
            drop_after=draws[4] < f.rate_drop_after,
        )

    def row_fails(self) -> bool:
        """Whether one otherwise valid row fails at the server (``row_error_rate``)."""
        if self.faults.row_error_rate <= 0.0:
            return False
        with self._lock:
            return self._row_rng.random() < self.faults.row_error_rate
