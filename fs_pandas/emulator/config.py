"""Every setting of the emulator: :class:`EmulatorConfig` and how each is validated.

Owns the settings (processing time, paging, caps, keys, clock, create delays, faults, the
network's latency and bandwidth) and the *readings*: ambiguous parts of the API that the
emulator answers either way (docs/dev/emulator.md, "Readings"; each ``Literal`` below lists them,
the first being the default). A config is frozen:
``OrgState.configure`` swaps in a new one made by :meth:`EmulatorConfig.replace`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from fs_pandas.emulator.faults import Faults

# Readings of ambiguous parts of the API (docs/dev/emulator.md, "Readings"); the first is the
# default.
ErrorEcho = Literal["raw", "rerendered"]
RowErrorStatus = Literal["FAILED", "COMPLETED"]
FinishedWhileProcessing = Literal["null", "omit"]
LastPageToken = Literal["null", "empty", "omit"]
ImportNulls = Literal["omit", "null"]
OversizeValue = Literal["drop_property", "fail_row"]

# Setting name -> the Literal of its allowed values.
_READINGS: tuple[tuple[str, Any], ...] = (
    ("error_echo", ErrorEcho),
    ("row_error_status", RowErrorStatus),
    ("finished_while_processing", FinishedWhileProcessing),
    ("last_page_token", LastPageToken),
    ("import_nulls", ImportNulls),
    ("oversize_value", OversizeValue),
)


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Every setting of the emulator; change them with ``Emulator.configure(**settings)``.

    Parameters
    ----------
    processing_seconds : float
        How long a job stays PROCESSING once it has a running slot (ignored when
        ``processing_polls`` is set).
    processing_polls : int or None
        When set, a running job answers PROCESSING to exactly this many status polls; the next
        status poll and every later one see the terminal status.
    page_size : int
        Rows per page of ``/imports``, ``/errors`` and list users.
    max_running : int
        Jobs that run at once (§4: 100); later jobs wait, still PROCESSING.
    max_in_progress : int
        At this many jobs in progress a batch create answers 429 (§4: 200).
    max_rows_in_progress : int
        At this many rows in progress a batch create answers 429 (§4: 500,000).
    max_batch_requests : int
        Most rows accepted in one batch create (§4: 50,000).
    retry_after : int
        Seconds sent in ``Retry-After`` on every 429.
    idempotency_ttl_seconds : float
        How long an ``Idempotency-Key`` answer is replayed (§6: 24 h).
    fail_uids : frozenset of str
        User rows with these uids, and events whose ``user.uid`` is one of them, fail with
        ``faults.row_error_code``.
    faults : Faults
        Seeded fault rates.
    seed : int
        Seed for faults whose own seed is ``None`` and for shuffled result pages. Job ids
        are new with every emulator and every reset (Fullstory's never repeat).
    api_key, standard_key : str
        The Admin and the Standard API keys.
    clock : callable
        Returns the current time in epoch seconds; inject a fake one to test expiry.
    create_delay_seconds : float
        Each of the four create POSTs waits this long, in flight, before it executes (an
        ``asyncio.sleep``: other requests go on). A second request with the same
        ``Idempotency-Key`` arriving meanwhile answers 409 ``idempotency_conflict``.
    create_hold : threading.Event or None
        When set, each create POST waits, in flight, until this event is set (or the setting
        changes): the deterministic way to hold a request in flight in tests.
    error_echo : {"raw", "rerendered"}
        ``raw`` (default): error rows echo the request row as sent (the seed's errors
        example). ``rerendered``: as a protobuf server would re-render it (the spec's
        ``FailedUserImport`` example): unknown fields dropped, integral numbers without
        ``.0``, users with ``schema``/``type_conflicts`` ``null`` when absent.
    shuffle_results : bool
        Serve imports and errors in a seeded random order (stable per job) instead of request
        order.
    row_error_status : {"FAILED", "COMPLETED"}
        Status of a finished job with row errors: ``FAILED`` (the spec's ``JobStatus``) or
        ``COMPLETED`` with ``"errors": N`` (the seed's status example).
    finished_while_processing : {"null", "omit"}
        ``finished`` in a status answer while PROCESSING: ``null`` (the seed) or absent.
    last_page_token : {"null", "empty", "omit"}
        ``next_page_token`` on the last page: ``null`` (the seed), ``""`` (the SDK's mocks)
        or absent.
    import_nulls : {"omit", "null"}
        User imports without schema/type conflicts: keys absent (the seed's imports example)
        or ``"schema": null, "type_conflicts": null`` (the spec's example).
    oversize_value : {"drop_property", "fail_row"}
        A property value over 8192 bytes: the property is rejected and the row imported
        without it (create-batch page), or the whole row fails.
    latency_seconds : float
        Round-trip network latency added to every ``/v2`` request (not to the ``/_emulator``
        inspection routes): half is waited before the handler runs, half before the response
        starts, each an ``asyncio.sleep``, so concurrent requests overlap as over a real
        network. Finite and >= 0; 0 (default) adds nothing.
    bandwidth_bytes_per_second : float or None
        When set (> 0), each ``/v2`` request additionally waits ``len(body) / bandwidth``
        seconds for its request body (as it is read) and for its response body (before it is
        sent). The bandwidth is per request, not shared between connections. ``None``
        (default): no bandwidth limit.
    """

    processing_seconds: float = 0.0
    processing_polls: int | None = None
    page_size: int = 1000
    max_running: int = 100
    max_in_progress: int = 200
    max_rows_in_progress: int = 500_000
    max_batch_requests: int = 50_000
    retry_after: int = 1
    idempotency_ttl_seconds: float = 24 * 3600.0
    fail_uids: frozenset[str] = frozenset()
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    api_key: str = "na1.emulator-admin-key"
    standard_key: str = "na1.emulator-standard-key"
    clock: Callable[[], float] = time.time
    create_delay_seconds: float = 0.0
    create_hold: threading.Event | None = None
    error_echo: ErrorEcho = "raw"
    shuffle_results: bool = False
    row_error_status: RowErrorStatus = "FAILED"
    finished_while_processing: FinishedWhileProcessing = "null"
    last_page_token: LastPageToken = "null"
    import_nulls: ImportNulls = "omit"
    oversize_value: OversizeValue = "drop_property"
    latency_seconds: float = 0.0
    bandwidth_bytes_per_second: float | None = None

    def __post_init__(self) -> None:
        # Accept any iterable of uids; normalise once.
        object.__setattr__(self, "fail_uids", frozenset(self.fail_uids))
        for name, kind in _READINGS:
            if getattr(self, name) not in get_args(kind):
                raise ValueError(f"{name} must be one of {', '.join(get_args(kind))}")
        if self.create_delay_seconds < 0:
            raise ValueError("create_delay_seconds must be >= 0")
        if self.page_size < 1:
            raise ValueError("page_size must be >= 1")
        if self.processing_polls is not None and self.processing_polls < 0:
            raise ValueError("processing_polls must be >= 0 or None")
        if self.processing_seconds < 0:
            raise ValueError("processing_seconds must be >= 0")
        # "not x >= 0" also refuses NaN, which compares false with everything.
        if not (self.latency_seconds >= 0 and math.isfinite(self.latency_seconds)):
            raise ValueError("latency_seconds must be a finite number >= 0")
        bandwidth = self.bandwidth_bytes_per_second
        if bandwidth is not None and not bandwidth > 0:
            raise ValueError("bandwidth_bytes_per_second must be > 0 or None")
        if self.api_key == self.standard_key:
            raise ValueError("api_key and standard_key must differ")

    def replace(self, **settings: Any) -> EmulatorConfig:
        """A copy with ``settings`` changed; unknown names raise ``TypeError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(f"unknown emulator setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **settings)
