"""The whole pipeline under every reading of the contract's ambiguous parts (contract §11,
docs/dev/emulator.md "Readings"): each reading alone, and all the ambiguous ones together.

Whatever the server's reading, every row ends in the outcome it really had, and a failed row
carries Fullstory's own code and message -- never ``unreconciled``. Over HTTP against the
emulator; nothing is mocked.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.errors import ReconciliationWarning
from fs_pandas.retry import Retrying
from fs_pandas.run.result import BatchResult

FAST: dict[str, Any] = {"poll_interval": 0.01, "progress": False, "chunk_size": 10}
CODE = "bad_row"

EVERYTHING = {
    "error_echo": "rerendered",
    "shuffle_results": True,
    "row_error_status": "COMPLETED",
    "finished_while_processing": "omit",
    "last_page_token": "empty",
    "import_nulls": "null",
    "oversize_value": "fail_row",
}
READINGS = [
    pytest.param({}, id="seed"),
    pytest.param({"error_echo": "rerendered"}, id="error_echo=rerendered"),
    pytest.param({"shuffle_results": True}, id="shuffle_results"),
    pytest.param({"row_error_status": "COMPLETED"}, id="row_error_status=COMPLETED"),
    pytest.param({"finished_while_processing": "omit"}, id="finished_while_processing=omit"),
    pytest.param({"last_page_token": "empty"}, id="last_page_token=empty"),
    pytest.param({"last_page_token": "omit"}, id="last_page_token=omit"),
    pytest.param({"import_nulls": "null"}, id="import_nulls=null"),
    pytest.param({"oversize_value": "fail_row"}, id="oversize_value=fail_row"),
    pytest.param(EVERYTHING, id="everything"),
    pytest.param(dict(EVERYTHING, last_page_token="omit"), id="everything-token-omitted"),
]


@pytest.fixture(autouse=True)
def reconciliation_is_an_error() -> Iterator[None]:
    """A run whose results do not add up warns; here that fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReconciliationWarning)
        yield


def _configure(emu: Emulator, reading: dict[str, Any], **settings: Any) -> None:
    # Small pages: the last page's token is read on every job, and shuffles cross pages.
    emu.configure(page_size=3, faults=Faults(row_error_code=CODE, seed=3), **reading, **settings)


def _done_statuses(result: BatchResult) -> list[str]:
    assert result.ledger_path is not None
    lines = Path(result.ledger_path).read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [
        r["status"]
        for r in sorted(records, key=lambda r: r.get("chunk", 0))
        if r.get("type") == "done"
    ]


def _check_outcomes(result: BatchResult, expected_failures: dict[Any, str]) -> None:
    """Every row as expected: the failed ones with Fullstory's code and message."""
    assert result.counts["pending"] == 0 and result.counts["rejected"] == 0
    assert result.aborted is None
    failed = result.outcomes[result.outcomes == "failed"].index.tolist()
    assert sorted(failed) == sorted(expected_failures)
    assert set(result.outcomes[~result.outcomes.index.isin(failed)]) == {"imported"}
    errors = result.errors
    assert "unreconciled" not in set(errors["fs_error_code"])
    assert (errors["fs_error_code"] == CODE).all()
    assert errors["fs_error_message"].to_dict() == expected_failures


# -- users ---------------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    n = 23
    frame = pd.DataFrame(
        {
            "uid": [f"u{i}" for i in range(n)],
            "plan": ["free", "team", "enterprise"] * 7 + ["free", "team"],
            "score": [float(i % 4) for i in range(n)],  # integral floats: "1.0" re-rendered "1"
            "ratio": [i / 8 for i in range(n)],
            "nick": [None if i % 3 else f"n{i}" for i in range(n)],  # nulls, sent or left out
        }
    )
    # The same uid twice in a chunk (duplicates="allow"), with other content: both imported.
    again = frame.iloc[[20, 21]].assign(plan="again", score=9.0)
    return pd.concat([frame, again], ignore_index=True)


@pytest.mark.parametrize("nulls", ["omit", "null"])
@pytest.mark.parametrize("reading", READINGS)
def test_batch_update_reports_every_row_under_every_reading(
    emu: Emulator, client: Client, tmp_path: Path, reading: dict[str, Any], nulls: str
) -> None:
    frame = _customers()
    failing = {"u2", "u5", "u11", "u17"}
    _configure(emu, reading, fail_uids=failing)
    result = frame.fullstory.batch_update(
        uid_col="uid", client=client, ledger_dir=tmp_path, nulls=nulls, duplicates="allow", **FAST
    )
    assert isinstance(result, BatchResult)
    expected = {
        i: f"import of uid {uid} failed" for i, uid in frame["uid"].items() if uid in failing
    }
    _check_outcomes(result, expected)
    stored = {user["uid"]: user["id"] for user in emu.users()}
    imports = result.imports
    assert (imports["fs_id"] == imports["uid"].map(stored)).all()
    assert len(emu.jobs()) == 3  # one job per chunk
    # A job with failed rows is reported FAILED, even when the server says COMPLETED.
    assert _done_statuses(result) == ["FAILED", "FAILED", "COMPLETED"]


@pytest.mark.parametrize("reading", READINGS)
def test_anonymous_users_are_matched_by_their_content_under_every_reading(
    emu: Emulator, client: Client, tmp_path: Path, reading: dict[str, Any]
) -> None:
    n = 24
    frame = pd.DataFrame(
        {
            "n": [float(i) for i in range(n)],  # unique, integral: re-rendered without ".0"
            "half": [i / 2 for i in range(n)],
            "tag": [f"t{i % 5}" for i in range(n)],
        }
    )
    _configure(emu, reading)
    emu.configure(faults=Faults(row_error_code=CODE, row_error_rate=0.3, seed=11))
    result = frame.fullstory.batch_update(uid_col=None, client=client, ledger_dir=tmp_path, **FAST)
    assert isinstance(result, BatchResult)
    stored = {user["properties"]["n"]: user["id"] for user in emu.users()}
    failing = {i: "row failed at the server" for i in range(n) if float(i) not in stored}
    assert 0 < len(failing) < n
    _check_outcomes(result, failing)
    imports = result.imports
    assert (imports["fs_id"] == imports["n"].map(stored)).all()


# -- events --------------------------------------------------------------------------------


def _events() -> pd.DataFrame:
    n = 22
    start = pd.Timestamp("2025-03-01T10:00:00Z")
    frame = pd.DataFrame(
        {
            "uid": [f"u{i % 7}" for i in range(n)],
            "event": ["Click", "View"] * (n // 2),
            "ts": [start + pd.Timedelta(seconds=i) for i in range(n)],
            "amount": [float(i % 3) for i in range(n)],
            "label": [None if i % 4 else f"l{i}" for i in range(n)],
        }
    )
    # Identical rows, counted not guessed: two of a failing user, two of a good one.
    return pd.concat([frame, frame.iloc[[2, 2, 3, 3]]], ignore_index=True)


@pytest.mark.parametrize("nulls", ["omit", "null"])
@pytest.mark.parametrize("reading", READINGS)
def test_batch_events_reports_every_row_under_every_reading(
    emu: Emulator, client: Client, tmp_path: Path, reading: dict[str, Any], nulls: str
) -> None:
    frame = _events()
    failing = {"u2", "u6"}
    _configure(emu, reading, fail_uids=failing)
    result = frame.fullstory.batch_events(
        name_col="event",
        uid_col="uid",
        timestamp_col="ts",
        client=client,
        ledger_dir=tmp_path,
        nulls=nulls,
        **FAST,
    )
    assert isinstance(result, BatchResult)
    expected = {
        i: f"import of uid {uid} failed" for i, uid in frame["uid"].items() if uid in failing
    }
    _check_outcomes(result, expected)
    assert len(emu.events()) == len(frame) - len(expected)
    assert len(emu.jobs()) == 3


def test_events_by_fullstory_id_fail_with_the_servers_code(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    # A second kind of server failure: an unknown Fullstory user id (user_not_found).
    _configure(emu, EVERYTHING)
    known = pd.DataFrame({"uid": ["a", "b"]}).fullstory.batch_update(
        uid_col="uid", client=client, ledger_dir=tmp_path, **FAST
    )
    assert isinstance(known, BatchResult)
    ids = known.imports["fs_id"].tolist()
    frame = pd.DataFrame({"who": [ids[0], "999999", ids[1], "888888"], "n": [1.0, 2.0, 3.0, 4.0]})
    result = frame.fullstory.batch_events(
        name="Seen", user_id_col="who", client=client, ledger_dir=tmp_path, **FAST
    )
    assert isinstance(result, BatchResult)
    assert result.outcomes.tolist() == ["imported", "failed", "imported", "failed"]
    assert set(result.errors["fs_error_code"]) == {"user_not_found"}
    assert result.errors["fs_error_message"].tolist() == [
        "user 999999 does not exist",
        "user 888888 does not exist",
    ]


# -- a create that conflicts with one still executing (contract §11.6) ----------------------


def test_a_409_conflict_during_create_is_retried_and_each_chunk_gets_one_job(
    emu: Emulator, tmp_path: Path
) -> None:
    """The first create of the run is held at the server until our client times out and sends
    it again: the retry collides with the first (same Idempotency-Key, still executing) and is
    answered 409 ``idempotency_conflict``; it is retried after Retry-After and gets the first
    request's job."""
    gate = threading.Event()
    emu.configure(create_hold=gate, retry_after=1)
    seen: list[Retrying] = []

    def on_retry(event: Retrying) -> None:
        seen.append(event)
        if "idempotency_conflict" in event.reason:
            gate.set()  # the first attempt, still held at the server, may now finish

    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.05))

    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(25)], "score": np.arange(25)})
    with Client(
        api_key=emu.api_key, base_url=emu.url, timeout=(5.0, 1.0), on_retry=on_retry, sleep=sleep
    ) as client:
        result = frame.fullstory.batch_update(
            uid_col="uid", client=client, ledger_dir=tmp_path, **FAST
        )
    assert isinstance(result, BatchResult)
    assert result.counts == {"imported": 25, "failed": 0, "rejected": 0, "pending": 0}
    assert sorted(job["requests"] for job in emu.jobs()) == [5, 10, 10]  # one job per chunk
    assert len(set(result.job_ids)) == 3
    conflicts = [r for r in seen if "idempotency_conflict" in r.reason]
    assert conflicts and conflicts[0].delay == 1.0  # Retry-After honoured
    assert "timed out" in seen[0].reason
