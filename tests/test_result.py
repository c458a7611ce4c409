"""BatchResult: outcomes that always add up, frames that keep the source index, a clear summary."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas._types import OUTCOMES
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.run.result import BatchResult
from fs_pandas.specs import Pacing, UserSpec


@pytest.fixture
def result(emu: Emulator, client: Client, tmp_path: Path) -> BatchResult:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(12)], "note": ["<b>hi</b>"] * 12})
    frame.loc[0, "uid"] = None
    emu.configure(fail_uids={"u3", "u4"}, faults=Faults(row_error_code="too_<weird>"))
    out = frame.fullstory.batch_update(
        uid_col="uid",
        client=client,
        chunk_size=5,
        poll_interval=0.01,
        progress=False,
        ledger_dir=tmp_path,
    )
    assert isinstance(out, BatchResult)
    return out


def test_outcome_counts_add_up_to_the_source_rows(result: BatchResult) -> None:
    assert sum(result.counts.values()) == 12
    assert list(result.outcomes.cat.categories) == list(OUTCOMES)


def test_each_frame_holds_exactly_the_rows_of_its_outcome(result: BatchResult) -> None:
    for name, frame in [
        ("imported", result.imports),
        ("failed", result.errors),
        ("rejected", result.rejected),
        ("pending", result.pending),
    ]:
        assert list(frame.index) == list(result.outcomes[result.outcomes == name].index)


def test_the_text_repr_says_what_happened_in_one_paragraph(result: BatchResult) -> None:
    text = repr(result)
    assert "9 imported" in text
    assert "2 failed" in text
    assert "1 rejected" in text
    assert "too_<weird>" in text
    assert "\n" not in text.strip()


def test_the_html_summary_escapes_what_fullstory_and_the_data_say(result: BatchResult) -> None:
    html = result._repr_html_()
    assert "fs-pandas-result" in html
    assert "too_&lt;weird&gt;" in html
    assert "too_<weird>" not in html


def test_summary_lists_jobs_and_the_ledger(result: BatchResult) -> None:
    summary = result.summary()
    assert list(summary.job_ids) == result.job_ids
    assert len(summary.job_ids) == 3
    assert summary.ledger_path == result.ledger_path
    assert Path(str(result.ledger_path)).exists()


def test_retry_failed_refuses_data_that_lacks_a_failed_row(result: BatchResult) -> None:
    with pytest.raises(ValueError, match="lacks 2 of the failed rows"):
        result.retry_failed(pd.DataFrame({"uid": ["x"]}))


def test_retry_failed_matches_corrected_rows_by_index_label(
    result: BatchResult, emu: Emulator
) -> None:
    emu.configure(fail_uids=set())
    fixed = result.table()[["uid", "note"]].assign(note="fixed").iloc[::-1]  # any order
    again = result.retry_failed(fixed.loc[result.errors.index])
    assert again.counts["imported"] == 2
    stored = {u["uid"]: u["properties"] for u in emu.users()}
    assert stored["u3"] == stored["u4"] == {"note": "fixed"}


def test_resending_the_errors_frame_sends_no_result_columns(
    result: BatchResult, emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(fail_uids=set())
    errors = result.errors
    assert {"fs_error_code", "fs_error_message", "fs_job_id"} <= set(errors.columns)
    again = errors.fullstory.batch_update(
        uid_col="uid", client=client, poll_interval=0.01, progress=False, ledger_dir=tmp_path
    )
    assert isinstance(again, BatchResult) and again.counts["imported"] == 2
    stored = {u["uid"]: u["properties"] for u in emu.users()}
    assert stored["u3"] == stored["u4"] == {"note": "<b>hi</b>"}
    plan = errors.fullstory.type_plan(uid_col="uid")
    assert plan.loc[plan["type"] == "not sent", "column"].tolist() == [
        "fs_error_code",
        "fs_error_message",
        "fs_job_id",
    ]
    with pytest.raises(ValueError, match="never sent as a property"):
        errors.fullstory.type_plan(uid_col="uid", properties=["note", "fs_error_code"])


def test_retry_failed_takes_corrected_rows_from_data(result: BatchResult, emu: Emulator) -> None:
    emu.configure(fail_uids=set())
    fixed = result.table()[["uid", "note"]].assign(note="fixed")
    again = result.retry_failed(fixed)
    assert again.counts["imported"] == 2
    stored = {u["uid"]: u["properties"] for u in emu.users()}
    assert stored["u3"]["note"] == "fixed"


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"uid": pd.Series([], dtype=str), "n": pd.Series([], dtype=int)}),
        pd.DataFrame({"uid": [None, None], "n": [1, 2]}),
    ],
    ids=["empty", "all-rejected"],
)
def test_a_run_with_nothing_to_send_still_gives_a_whole_result(
    frame: pd.DataFrame, emu: Emulator, client: Client, tmp_path: Path
) -> None:
    result = frame.fullstory.batch_update(
        uid_col="uid", client=client, progress=False, ledger_dir=tmp_path
    )
    assert isinstance(result, BatchResult)
    assert result.counts["rejected"] == len(frame) and result.finished
    assert len(result.table()) == len(frame)
    assert "fs-pandas-result" in result._repr_html_()
    assert emu.jobs() == []


def test_a_result_keeps_what_its_run_sent_and_pickles_without_the_client(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "plan": ["free", "team", "free"]})
    emu.configure(fail_uids={"b"})
    result = frame.fullstory.batch_update(
        uid_col="uid", nulls="null", client=client, chunk_size=2, poll_interval=0.01,
        progress=False, ledger_dir=tmp_path,
    )  # fmt: skip
    assert isinstance(result, BatchResult)
    assert result.spec == UserSpec(uid_col="uid", nulls="null")
    assert result.pacing == Pacing(chunk_size=2, poll_interval=0.01)

    data = pickle.dumps(result)
    assert emu.api_key.encode() not in data
    back = pickle.loads(data)
    assert back.outcomes.equals(result.outcomes)
    assert back.errors.equals(result.errors)
    assert back.spec == result.spec and back.pacing == result.pacing
    with pytest.raises(ValueError, match="cannot start a new run"):
        back.retry_failed()

    emu.configure(fail_uids=set())
    again = result.retry_failed(nulls="omit")  # the original still can
    assert again.spec == UserSpec(uid_col="uid", nulls="omit")
    assert again.counts["imported"] == 1
