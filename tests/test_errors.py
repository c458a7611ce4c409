"""Every error fs_pandas raises survives pickle and copy, with its message and its attributes.

Errors cross process boundaries (multiprocessing, joblib, dask re-raise them in the parent
process), and a notebook may copy them. The classes are found by walking the tree under
:class:`~fs_pandas.errors.FullstoryError`, so a new class without an example in ``EXAMPLES`` is
a failing test, not a silent gap.
"""

from __future__ import annotations

import base64
import copy
import inspect
import pickle
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

import fs_pandas
import fs_pandas.errors
from fs_pandas.client import Client
from fs_pandas.emulator import serve
from fs_pandas.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    FullstoryError,
    IdempotencyConflictError,
    InvalidDataError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryExhaustedError,
    RowsNotImportedError,
    RunInterrupted,
    ServerError,
    TransportError,
)
from fs_pandas.models import JobStatus
from fs_pandas.retry import RetryPolicy
from fs_pandas.run.engine import ChunkRecord
from fs_pandas.run.join import JobJoin
from fs_pandas.run.result import BatchResult, _Run
from tests.error_helpers import shown

# ------------------------------------------------------------------------------- the tree


def error_classes() -> list[type[FullstoryError]]:
    """FullstoryError and every class under it that fs_pandas defines, by name.

    Classes defined elsewhere (a test's own subclass) are not part of the library's tree.
    """
    found: set[type[FullstoryError]] = set()
    todo: list[type[FullstoryError]] = [FullstoryError]
    while todo:
        cls = todo.pop()
        if cls not in found and cls.__module__.split(".")[0] == fs_pandas.__name__:
            found.add(cls)
            todo += cls.__subclasses__()
    return sorted(found, key=lambda cls: cls.__name__)


def warning_classes() -> list[type[Warning]]:
    """The warnings of :mod:`fs_pandas.errors` (outside the tree: they are not raised)."""
    values = [getattr(fs_pandas.errors, name) for name in fs_pandas.errors.__all__]
    return [v for v in values if inspect.isclass(v) and issubclass(v, Warning)]


# ---------------------------------------------------------------------------- the examples


def partial_result() -> BatchResult:
    """What an interrupted run hands over: rows imported, failed, rejected and pending.

    Built by hand: a run's own result cannot be pickled yet (see
    ``test_a_real_runs_interrupt_pickles_without_the_key``).
    """
    source = pd.DataFrame(
        {"uid": [f"u{i}" for i in range(6)], "plan": ["pro", "free", None, "pro", "free", "pro"]},
        index=pd.Index([10, 11, 12, 13, 14, 15], name="row"),
    )
    finished = ChunkRecord(
        number=0,
        positions=np.array([0, 1, 2], dtype=np.int64),
        key="0f9c1a52-idempotency",
        job_id="job-finished",
        status=JobStatus.FAILED,
        join=JobJoin(
            imported=[0, 1],
            fullstory_ids=["fs-0", "fs-1"],
            failed=[2],
            codes=["invalid_argument"],
            messages=["plan: null is not a string"],
        ),
    )
    running = ChunkRecord(
        number=1,
        positions=np.array([3, 4], dtype=np.int64),
        key="5be7d2e0-idempotency",
        job_id="job-running",
        status=JobStatus.PROCESSING,
    )
    rejected = pd.DataFrame(
        {"position": [5], "column": ["uid"], "rule": ["duplicate"], "message": ["uid repeats"]}
    )
    run = _Run(
        kind="users",
        source=source,
        rejected=rejected,
        records={0: finished, 1: running},
        aborted="timed out after 0.3 s",
        duration=0.31,
        ledger_path="/home/ana/.fs_pandas/runs/users-20240501T101500.jsonl",
        notes=("resumed after Fullstory's 24 h idempotency window",),
    )
    return BatchResult(run)


def api_error(cls: type[ApiError], status: int, code: str, **extra: Any) -> ApiError:
    """An API error as the client builds it from Fullstory's answer (``_raise_for_status``)."""
    message = f"request refused ({code})"
    return cls(
        message,
        status=status,
        code=code,
        method="POST",
        path="/v2/users/batch",
        body={"code": code, "message": message, "details": [{"field": "requests[3].uid"}]},
        **extra,
    )


Example = Callable[[], FullstoryError]

#: One realistic instance per class of the tree, every attribute set to a telling value.
EXAMPLES: dict[type[FullstoryError], Example] = {
    FullstoryError: lambda: FullstoryError("something went wrong"),
    ConfigurationError: lambda: ConfigurationError(
        "base_url must be an https:// URL (or http:// to this machine), got 'ftp://api.fullstory.com'"
    ),
    InvalidDataError: lambda: InvalidDataError(
        "column 'signup' row 7: a naive datetime with naive_tz=None",
        column="signup",
        rule="naive_datetime",
    ),
    TransportError: lambda: TransportError(
        "POST /v2/users/batch: timed out (ReadTimeout: read timeout=30)"
    ),
    ApiError: lambda: api_error(ApiError, 418, "teapot"),
    BadRequestError: lambda: api_error(BadRequestError, 400, "invalid_argument"),
    AuthenticationError: lambda: api_error(AuthenticationError, 401, "unauthenticated"),
    PermissionDeniedError: lambda: api_error(PermissionDeniedError, 403, "forbidden"),
    NotFoundError: lambda: api_error(NotFoundError, 404, "not_found"),
    ConflictError: lambda: api_error(ConflictError, 422, "idempotency_key_mismatch"),
    IdempotencyConflictError: lambda: api_error(
        IdempotencyConflictError, 409, "idempotency_conflict", retry_after=1.5
    ),
    RateLimitedError: lambda: api_error(RateLimitedError, 429, "too_many_requests", retry_after=2),
    ServerError: lambda: api_error(ServerError, 503, "unavailable"),
    RetryExhaustedError: lambda: RetryExhaustedError(
        "gave up after 9 attempts: HTTP 503 [unavailable]: request refused (unavailable)",
        last_error=api_error(ServerError, 503, "unavailable"),
        attempts=9,
    ),
    LedgerError: lambda: LedgerError("ledger '/tmp/run.jsonl' line 4 is corrupt"),
    RowsNotImportedError: lambda: RowsNotImportedError(
        "2 of 6 rows were not imported: 2 pending, their jobs unfinished",
        result=partial_result(),
        counts={"imported": 2, "failed": 1, "rejected": 1, "pending": 2},
    ),
    RunInterrupted: lambda: RunInterrupted(
        "Timed out after 0.3 s: 1 job still running at Fullstory, 2 of 6 rows pending.",
        result=partial_result(),
        ledger_path="/home/ana/.fs_pandas/runs/users-20240501T101500.jsonl",
        jobs_running=1,
        reason="timeout",
    ),
}

ROUND_TRIPS: dict[str, Callable[[Any], Any]] = {
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)),
    "pickle-protocol-0": lambda obj: pickle.loads(pickle.dumps(obj, protocol=0)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


def example_of(cls: type[FullstoryError]) -> FullstoryError:
    if cls not in EXAMPLES:
        pytest.fail(f"{cls.__name__} has no example in tests/test_errors.py EXAMPLES: add one")
    error = EXAMPLES[cls]()
    assert type(error) is cls, f"the example for {cls.__name__} is a {type(error).__name__}"
    return error


# ------------------------------------------------------------------------------ comparisons


def assert_same_error(copied: BaseException, original: BaseException) -> None:
    """Same type, text, args and attributes (compared by value, recursively)."""
    assert type(copied) is type(original)
    assert str(copied) == str(original)
    assert repr(copied) == repr(original)
    assert copied.args == original.args
    assert vars(copied).keys() == vars(original).keys()
    for name, value in vars(original).items():
        assert_same_value(getattr(copied, name), value)


def assert_same_value(copied: Any, original: Any) -> None:
    if isinstance(original, BaseException):
        assert_same_error(copied, original)
    elif isinstance(original, BatchResult):
        assert_same_result(copied, original)
    else:
        assert type(copied) is type(original)
        assert copied == original


def assert_same_result(copied: Any, original: BatchResult) -> None:
    assert type(copied) is BatchResult
    pd.testing.assert_frame_equal(copied.table(), original.table())
    pd.testing.assert_series_equal(copied.outcomes, original.outcomes)
    assert copied.counts == original.counts
    assert copied.job_ids == original.job_ids
    assert (copied.kind, copied.ledger_path, copied.aborted, copied.notes) == (
        original.kind,
        original.ledger_path,
        original.aborted,
        original.notes,
    )


# ---------------------------------------------------------------------------------- tests


def test_the_walk_finds_the_whole_tree() -> None:
    classes = error_classes()
    assert FullstoryError in classes and RunInterrupted in classes
    assert IdempotencyConflictError in classes  # two levels below ApiError
    assert len(classes) == len(set(classes))


def test_every_error_class_has_an_example_and_every_example_a_class() -> None:
    assert set(EXAMPLES) == set(error_classes())


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_example_sets_every_attribute(cls: type[FullstoryError]) -> None:
    # An attribute left at its default (None, "") round-trips trivially and proves nothing.
    error = example_of(cls)
    assert error.args and error.args[0]
    for name, value in vars(error).items():
        assert value not in (None, ""), f"{cls.__name__}.{name} is not set in its example"


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_survives_pickle_and_copy(cls: type[FullstoryError], how: str) -> None:
    error = example_of(cls)
    assert_same_error(ROUND_TRIPS[how](error), error)


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("cls", warning_classes(), ids=lambda cls: cls.__name__)
def test_every_warning_survives_pickle_and_copy(cls: type[Warning], how: str) -> None:
    warning = cls("job job-1 answered 10 requests with 9 imports and 0 errors")
    assert_same_error(ROUND_TRIPS[how](warning), warning)


def test_a_copied_interrupt_is_still_both_a_fullstory_error_and_a_keyboard_interrupt() -> None:
    copied = pickle.loads(pickle.dumps(example_of(RunInterrupted)))
    assert isinstance(copied, FullstoryError) and isinstance(copied, KeyboardInterrupt)
    assert copied.result.pending.index.tolist() == [13, 14]  # the rows to resume


def test_notes_added_to_an_error_survive_pickling() -> None:
    error = example_of(RateLimitedError)
    error.add_note("while sending chunk 3 of 12")
    assert pickle.loads(pickle.dumps(error)).__notes__ == ["while sending chunk 3 of 12"]


# --------------------------------------------------------------------------------- secrets

SECRET = "na1.Q7zK9wPqLm3Xv8RtSECRET"
PIECES = ["Q7zK9", "wPqLm", "3Xv8R", "SECRET"]


def secret_forms(key: str) -> list[bytes]:
    """The key and its Basic-auth forms, as they would appear in pickle bytes."""
    forms = [key, f"Basic {key}"]
    for raw in (key, f"{key}:", f"Basic {key}"):
        forms.append(base64.b64encode(raw.encode()).decode().rstrip("="))
    return [form.encode() for form in forms] + [piece.encode() for piece in PIECES]


class _EchoServer(ThreadingHTTPServer):
    """A hostile upstream on 127.0.0.1: answers ``status``, echoing the Authorization header."""

    daemon_threads = True

    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.status = status

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Echo(BaseHTTPRequestHandler):
    server: _EchoServer

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization") or ""
        encoded = base64.b64encode(auth.partition(" ")[2].encode()).decode()
        body = orjson.dumps(
            {
                "code": "invalid_argument",
                "message": f"bad request; you sent Authorization: {auth} ({encoded})",
                "details": {"headers": {"Authorization": auth}, auth: encoded},
            }
        )
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo_server(request: pytest.FixtureRequest) -> Iterator[_EchoServer]:
    server = _EchoServer(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize(
    ("echo_server", "expected"),
    [(400, BadRequestError), (503, RetryExhaustedError)],
    indirect=["echo_server"],
    ids=["400", "503-retried"],
)
def test_a_scrubbed_error_pickles_without_the_key(
    echo_server: _EchoServer, expected: type[FullstoryError]
) -> None:
    client = Client(
        SECRET, base_url=echo_server.url, retry=RetryPolicy(total=1), sleep=lambda _: None
    )
    with pytest.raises(expected) as caught:
        client.job_status("users", "job-1")
    error = caught.value
    assert "[redacted]" in shown(error)  # the server did echo the key, and it was scrubbed
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(error, protocol=protocol)
        for form in secret_forms(SECRET):
            assert form not in data, (protocol, form)
    restored = pickle.loads(data)
    assert_same_error(restored, error)
    assert "[redacted]" in shown(restored)


def test_a_real_runs_interrupt_pickles_without_the_key(tmp_path: Path) -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(20)]})
    # An emulator of its own whose jobs never finish while the test waits.
    with serve(processing_polls=10**6) as emu, pytest.raises(RunInterrupted) as caught:
        frame.fullstory.batch_update(
            uid_col="uid",
            client=Client(api_key=emu.api_key, base_url=emu.url),
            chunk_size=10,
            poll_interval=0.02,
            progress=False,
            ledger_dir=tmp_path,
            timeout=0.3,
        )
    data = pickle.dumps(caught.value)
    assert emu.api_key.encode() not in data
    assert_same_error(pickle.loads(data), caught.value)
