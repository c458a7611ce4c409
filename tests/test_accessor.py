"""df.fullstory end to end, over HTTP against the emulator: every row accounted for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import fs_pandas
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.errors import AuthenticationError, PermissionDeniedError
from fs_pandas.retry import RetryPolicy
from fs_pandas.run.result import BatchResult

FAST = {"poll_interval": 0.01, "progress": False}


def customers(n: int = 25) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": [f"u{i}" for i in range(n)],
            "plan": ["free", "team"] * (n // 2) + ["free"] * (n % 2),
            "seats": range(n),
        }
    )


def users(frame: pd.DataFrame, client: Client, tmp_path: Path, **kwargs: object) -> BatchResult:
    options = {**FAST, "chunk_size": 10, "ledger_dir": tmp_path, **kwargs}
    result = frame.fullstory.batch_update(uid_col="uid", client=client, **options)
    assert isinstance(result, BatchResult)
    return result


def test_every_row_ends_in_exactly_one_outcome(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = customers()
    frame.loc[3, "uid"] = "u2"  # duplicate: rejected
    frame.loc[4, "uid"] = None  # no uid: rejected
    emu.configure(fail_uids={"u7", "u19"}, faults=Faults(row_error_code="bad_row"))
    result = users(frame, client, tmp_path)
    assert result.counts == {"imported": 21, "failed": 2, "rejected": 2, "pending": 0}
    assert result.outcomes.value_counts().sum() == len(frame)
    assert sorted(result.errors["uid"]) == ["u19", "u7"]
    assert set(result.errors["fs_error_code"]) == {"bad_row"}
    assert set(result.rejected.index) == {3, 4}


def test_failed_rows_come_from_partially_failed_jobs_whose_good_rows_are_imported(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(fail_uids={"u1"})
    result = users(customers(10), client, tmp_path)
    assert [job["status"] for job in emu.jobs()] == ["FAILED"]
    assert result.counts["imported"] == 9
    assert list(result.errors.index) == [1]


def test_imports_carry_the_fullstory_id_of_their_own_row(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    result = users(customers(12), client, tmp_path)
    stored = {user["uid"]: user["id"] for user in emu.users()}
    assert len(stored) == 12
    for uid, fs_id in zip(result.imports["uid"], result.imports["fs_id"], strict=True):
        assert stored[uid] == fs_id


def test_one_job_per_chunk(emu: Emulator, client: Client, tmp_path: Path) -> None:
    users(customers(25), client, tmp_path, chunk_size=10)
    assert sorted(job["requests"] for job in emu.jobs()) == [5, 10, 10]  # created in any order


def test_non_unique_index_is_kept_and_rows_join_to_their_own_labels(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = customers(6)
    frame.index = pd.Index(["a", "a", "b", "b", "c", "c"])
    emu.configure(fail_uids={"u3"})
    result = users(frame, client, tmp_path)
    assert list(result.outcomes.index) == list(frame.index)
    assert list(result.outcomes) == ["imported"] * 3 + ["failed"] + ["imported"] * 2
    assert result.errors.index.tolist() == ["b"]
    assert result.errors["uid"].tolist() == ["u3"]


def test_multiindex_is_kept(emu: Emulator, client: Client, tmp_path: Path) -> None:
    frame = customers(4)
    frame.index = pd.MultiIndex.from_tuples([("x", 1), ("x", 2), ("y", 1), ("y", 2)])
    result = users(frame, client, tmp_path)
    assert result.imports.index.equals(frame.index)


def test_user_properties_reach_fullstory_with_their_types(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {
            "uid": ["a", "b"],
            "seats": [3, 4],
            "spent": [1.5, float("nan")],
            "active": [True, False],
            "since": pd.to_datetime(["2024-05-01 12:00", "2024-06-01 00:00"], utc=True),
        }
    )
    users(frame, client, tmp_path)
    stored = {user["uid"]: user["properties"] for user in emu.users()}
    assert stored["a"] == {
        "seats": 3,
        "spent": 1.5,
        "active": True,
        "since": "2024-05-01T12:00:00Z",
    }
    assert "spent" not in stored["b"]  # NaN is omitted, never sent as NaN


def test_events_identical_rows_are_each_accounted_for(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    ts = pd.Timestamp("2025-01-01T10:00:00Z")
    frame = pd.DataFrame(
        {"uid": ["a", "a", "a", "b"], "event": ["Click"] * 4, "ts": [ts, ts, ts, ts]}
    )
    emu.configure(fail_uids={"b"})
    result = frame.fullstory.batch_events(
        name_col="event",
        uid_col="uid",
        timestamp_col="ts",
        client=client,
        ledger_dir=tmp_path,
        **FAST,
    )
    assert isinstance(result, BatchResult)
    assert result.counts == {"imported": 3, "failed": 1, "rejected": 0, "pending": 0}
    assert result.errors.index.tolist() == [3]
    assert len(emu.events()) == 3


def test_a_run_under_faults_completes_with_exactly_one_job_per_chunk(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    emu.configure(
        retry_after=0,
        faults=Faults(
            rate_429=0.2, rate_5xx=0.2, rate_drop_before=0.1, rate_drop_after=0.1, seed=5
        ),
    )
    # 60% of requests fail: with requests under way together, which ones draw the faults
    # varies, and the default 8 retries run out for about one request in a hundred. The
    # point here is one job per chunk, so retries do not run out.
    client = make_client(retry=RetryPolicy(total=40, backoff_factor=0))
    result = users(customers(60), client, tmp_path, chunk_size=10)
    assert result.counts["imported"] == 60
    assert len(emu.jobs()) == 6


def test_running_the_same_cell_twice_creates_no_second_job(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    first = users(customers(20), client, tmp_path)
    again = users(customers(20), client, tmp_path)
    assert len(emu.jobs()) == 2
    assert again.counts == first.counts
    assert again.job_ids == first.job_ids


def test_a_standard_key_is_told_before_anything_is_sent(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    standard = make_client(emu.standard_key)
    with pytest.raises(PermissionDeniedError, match="Admin or Architect") as raised:
        users(customers(5), standard, tmp_path)
    assert "Nothing was sent" in str(raised.value) and "counts_only=True" in str(raised.value)
    assert emu.jobs() == [] and emu.users() == []
    assert fs_pandas.runs(tmp_path) == []  # no ledger claims jobs that do not exist


def test_an_unknown_key_is_told_before_anything_is_planned_or_journalled(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    with pytest.raises(AuthenticationError):
        users(customers(5), make_client("na1.not-a-key"), tmp_path)
    assert emu.jobs() == [] and fs_pandas.runs(tmp_path) == []


def test_a_counts_only_run_with_a_standard_key_then_an_admin_key_resumes_without_new_jobs(
    emu: Emulator, client: Client, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = customers(20)
    emu.configure(fail_uids={"u13"})  # the second chunk (u10..u19) has a failed row
    standard = make_client(emu.standard_key)
    counted = users(frame, standard, tmp_path, max_jobs_in_flight=2, counts_only=True)
    assert counted.counts == {"imported": 10, "failed": 0, "rejected": 0, "pending": 10}
    assert counted.pending.index.tolist() == list(range(10, 20))
    assert any("counts-only run cannot read which" in note for note in counted.notes)
    assert len(emu.jobs()) == 2
    (ledger,) = fs_pandas.runs(tmp_path)
    result = fs_pandas.resume(ledger, frame, client=client, progress=False)
    assert result.counts == {"imported": 19, "failed": 1, "rejected": 0, "pending": 0}
    assert result.errors["uid"].tolist() == ["u13"]
    assert len(emu.jobs()) == 2  # two chunks, each sent once


def test_wait_false_returns_a_handle_that_yields_the_same_result(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=3)
    handle = customers(30).fullstory.batch_update(
        uid_col="uid", client=client, wait=False, chunk_size=10, ledger_dir=tmp_path, **FAST
    )
    assert isinstance(handle, fs_pandas.RunHandle)
    result = handle.wait()
    assert result.counts["imported"] == 30
    assert handle.done()
    assert handle.status().rows_finished == 30


def test_retry_failed_sends_only_the_failed_rows(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(fail_uids={"u2", "u5"})
    first = users(customers(10), client, tmp_path)
    emu.configure(fail_uids=set())
    retried = first.retry_failed()
    assert retried.counts == {"imported": 2, "failed": 0, "rejected": 0, "pending": 0}
    assert sorted(retried.imports["uid"]) == ["u2", "u5"]
    assert emu.jobs()[-1]["requests"] == 2


def test_result_table_has_one_row_per_source_row_and_writes_parquet(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = customers(8)
    frame.loc[0, "uid"] = None
    emu.configure(fail_uids={"u1"})
    result = users(frame, client, tmp_path)
    result.to_parquet(tmp_path / "all.parquet")
    result.errors.to_parquet(tmp_path / "errors.parquet")
    table = pd.read_parquet(tmp_path / "all.parquet")
    assert table["fs_outcome"].tolist() == ["rejected", "failed"] + ["imported"] * 6
    assert pd.read_parquet(tmp_path / "errors.parquet")["uid"].tolist() == ["u1"]


def test_validate_lists_rejected_rows_without_sending(emu: Emulator) -> None:
    frame = customers(4)
    frame.loc[2, "uid"] = "x" * 300
    rejected = frame.fullstory.validate(uid_col="uid")
    assert rejected.index.tolist() == [2]
    assert rejected["fs_column"].tolist() == ["uid"]
    assert emu.jobs() == []


def test_retries_during_a_run_reach_its_progress(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(faults=Faults(rate_5xx=0.3, seed=2))
    handle = customers(20).fullstory.batch_update(
        uid_col="uid", client=client, wait=False, chunk_size=10, ledger_dir=tmp_path, **FAST
    )
    assert isinstance(handle, fs_pandas.RunHandle)
    assert handle.wait().counts["imported"] == 20
    assert handle.status().last_retry is not None


@pytest.mark.parametrize(
    "pacing",
    [
        {"poll_interval": float("nan")},
        {"poll_interval": float("inf")},
        {"poll_interval": -1.0},
        {"chunk_size": True},
        {"max_jobs_in_flight": float("nan")},
        {"max_rows_in_flight": 1.5},
    ],
    ids=repr,
)
@pytest.mark.parametrize("kind", ["users", "events"])
def test_bad_pacing_is_refused_naming_the_option_before_anything_is_sent(
    emu: Emulator, client: Client, tmp_path: Path, pacing: dict[str, object], kind: str
) -> None:
    (name,) = pacing
    frame = customers(5).assign(event="Click")
    options = {**FAST, "ledger_dir": tmp_path, "client": client, **pacing}
    with pytest.raises(ValueError, match=name):
        if kind == "users":
            frame.fullstory.batch_update(uid_col="uid", **options)
        else:
            frame.fullstory.batch_events(uid_col="uid", name_col="event", **options)
    assert emu.jobs() == []
    assert fs_pandas.runs(tmp_path) == []


def test_retry_failed_keeps_a_mapping_keyed_by_a_non_text_label(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = customers(6).rename(columns={"seats": 2024})
    emu.configure(fail_uids={"u3"})
    first = users(frame, client, tmp_path, properties={2024: "y2024", "plan": "plan"})
    assert first.counts["failed"] == 1
    emu.configure(fail_uids=set())
    retried = first.retry_failed()
    assert retried.counts["imported"] == 1
    assert {u["uid"]: u["properties"] for u in emu.users()}["u3"] == {"y2024": 3, "plan": "team"}
