"""What a result says about the run as a whole: ``finished`` (no row pending), ``all_imported``,
``raise_on_failed()`` for scheduled jobs, and the deprecated ``complete``; and the return type a
type checker sees for ``wait=True`` / ``wait=False``."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import RowsNotImportedError
from fs_pandas.run.result import BatchResult


def send(client: Client, tmp_path: Path, frame: pd.DataFrame, **options: object) -> BatchResult:
    result = frame.fullstory.batch_update(
        uid_col="uid", client=client, chunk_size=2, poll_interval=0.01, progress=False,
        ledger_dir=tmp_path, **options,
    )  # fmt: skip
    assert isinstance(result, BatchResult)
    return result


def test_a_run_where_every_row_went_in_is_finished_all_imported_and_does_not_raise(
    client: Client, tmp_path: Path
) -> None:
    result = send(client, tmp_path, pd.DataFrame({"uid": ["a", "b", "c"]}))
    assert result.finished and result.all_imported
    assert result.raise_on_failed() is result  # chains


def test_failed_and_rejected_rows_leave_a_run_finished_but_not_all_imported(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(fail_uids={"b", "c"})
    frame = pd.DataFrame({"uid": ["a", "b", "c", "a", ""]})  # a repeated uid, an empty one
    result = send(client, tmp_path, frame)
    assert result.counts == {"imported": 1, "failed": 2, "rejected": 2, "pending": 0}
    assert result.finished and not result.all_imported
    with pytest.raises(RowsNotImportedError) as caught:
        result.raise_on_failed()
    message = str(caught.value)
    assert message.startswith("4 of 5 rows were not imported: 2 failed at Fullstory (")
    assert "2 rejected before sending (" in message
    assert "result.errors" in message and "result.rejected" in message
    assert caught.value.result is result
    assert caught.value.counts == result.counts
    for code in result.errors["fs_error_code"].unique():
        assert f"{code} ×" in message
    back = pickle.loads(pickle.dumps(caught.value))
    assert str(back) == message and back.counts == result.counts


def test_pending_rows_name_the_resume_that_finishes_them(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=10**6)  # jobs never finish while the test waits
    frame = pd.DataFrame({"uid": ["a", "b", "c"]})
    handle = frame.fullstory.batch_update(
        uid_col="uid", client=client, chunk_size=2, poll_interval=0.01, progress=False,
        ledger_dir=tmp_path, wait=False,
    )  # fmt: skip
    handle.cancel()
    result = handle.wait()
    assert not result.finished and not result.all_imported
    with pytest.raises(RowsNotImportedError, match=r"3 pending, their jobs unfinished \("):
        result.raise_on_failed()
    with pytest.raises(RowsNotImportedError, match=r"fs_pandas\.resume\("):
        result.raise_on_failed()


def test_complete_still_answers_but_says_it_is_deprecated(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(fail_uids={"b"})
    result = send(client, tmp_path, pd.DataFrame({"uid": ["a", "b"]}))
    with pytest.warns(FutureWarning, match="result.finished"):
        assert result.complete is True  # no row pending, though one failed


def test_a_type_checker_sees_a_result_for_wait_true_and_a_handle_for_wait_false(
    tmp_path: Path,
) -> None:
    script = tmp_path / "typed.py"
    script.write_text(
        textwrap.dedent(
            """
            from typing import reveal_type
            import pandas as pd
            from fs_pandas.accessor import FullstoryAccessor

            frame = FullstoryAccessor(pd.DataFrame({"uid": ["a"]}))
            reveal_type(frame.batch_update(uid_col="uid"))
            reveal_type(frame.batch_update(uid_col="uid", wait=False))
            reveal_type(frame.batch_events(name="x", wait=True))
            flag: bool = bool(len("x"))
            reveal_type(frame.batch_events(name="x", wait=flag))
            """
        )
    )
    mypy = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path),
            str(script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    revealed = [
        line.split('Revealed type is "')[1].rstrip('"')
        for line in mypy.stdout.splitlines()
        if "Revealed type" in line
    ]
    assert revealed == [
        "fs_pandas.run.result.BatchResult",
        "fs_pandas.run.handle.RunHandle",
        "fs_pandas.run.result.BatchResult",
        "fs_pandas.run.result.BatchResult | fs_pandas.run.handle.RunHandle",
    ], mypy.stdout
