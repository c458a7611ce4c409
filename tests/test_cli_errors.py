"""The fs-pandas command explains a mistake in one line, exit status 1, before anything is read
or sent; --out writes a table or a folder of frames; `fs-pandas runs` says what each run did."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas import __version__
from fs_pandas.cli import main
from fs_pandas.emulator import Emulator


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.api_key)
    monkeypatch.setenv("FULLSTORY_BASE_URL", emu.url)
    monkeypatch.setenv("FS_PANDAS_HOME", str(tmp_path / "home"))
    return emu


def customers(tmp_path: Path, n: int = 4) -> Path:
    path = tmp_path / "customers.csv"
    pd.DataFrame({"user_id": [f"c{i}" for i in range(n)], "plan": ["free"] * n}).to_csv(
        path, index=False
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-progress", "--poll-interval", "0.01"])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fs-pandas: error: ")
    return lines[0].removeprefix("fs-pandas: error: ")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"fs-pandas {__version__}"


def test_a_missing_key_says_which_variable_to_set_as_a_shell_would(
    env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("FULLSTORY_API_KEY")
    code, _, err = run(capsys, "users", str(customers(tmp_path)), "--uid-col", "user_id")
    assert code == 1
    line = one_error_line(err)
    assert "export FULLSTORY_API_KEY=" in line and "api_key=" not in line
    assert env.jobs() == []


def test_a_missing_file_is_named_with_what_is_wrong(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "users", str(tmp_path / "nope.csv"), "--uid-col", "user_id")
    assert code == 1
    assert one_error_line(err) == f"{tmp_path / 'nope.csv'}: no such file"


@pytest.mark.parametrize("out", ["outcomes.xlsx", "missing/folder/outcomes.parquet"])
def test_an_out_that_cannot_be_written_is_refused_before_anything_is_sent(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str
) -> None:
    source = customers(tmp_path)
    code, _, err = run(
        capsys, "users", str(source), "--uid-col", "user_id", "--out", str(tmp_path / out)
    )
    assert code == 1
    assert one_error_line(err).startswith(f"--out {tmp_path / out}: ")
    assert env.jobs() == [] and env.users() == []


def test_out_to_a_folder_writes_each_frame_and_a_summary(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.configure(fail_uids={"c1"})
    source = customers(tmp_path)
    folder = tmp_path / "handoff"
    code, _, _ = run(capsys, "users", str(source), "--uid-col", "user_id", "--out", str(folder))
    assert code == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "errors.parquet", "imports.parquet", "pending.parquet", "rejected.parquet", "summary.json",
    ]  # fmt: skip
    errors = pd.read_parquet(folder / "errors.parquet")
    assert errors["user_id"].tolist() == ["c1"] and "fs_error_code" in errors
    assert len(pd.read_parquet(folder / "imports.parquet")) == 3
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["counts"] == {"imported": 3, "failed": 1, "rejected": 0, "pending": 0}
    assert summary["kind"] == "users" and len(summary["job_ids"]) == 1
    assert Path(summary["ledger"]).is_file()


def test_a_server_that_never_answers_is_an_error_not_a_partial_run(
    env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = customers(tmp_path)
    code, _, err = run(
        capsys, "users", str(source), "--uid-col", "user_id", "--base-url", "http://127.0.0.1:9"
    )
    assert code == 1
    line = one_error_line(err)
    assert line.startswith("cannot reach http://127.0.0.1:9 (Connection refused); check base_url")
    assert "--base-url" in line and "nothing was sent" in line
    assert not list((tmp_path / "home").rglob("*.jsonl"))  # nothing planned or journalled


def test_runs_lists_each_run_with_its_age_kind_source_and_counts(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.configure(fail_uids={"c2"})
    source = customers(tmp_path)
    run(capsys, "users", str(source), "--uid-col", "user_id", "--chunk-size", "2")
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        f"0 s ago: users from {source}, 4 rows in 2 chunk(s); 2 jobs read; 3 imported, 1 failed"
    ) or lines[0].startswith("1 s ago: users from")
    ledger = Path(lines[1].strip())
    assert ledger.is_file() and ledger.parent == Path(os.environ["FS_PANDAS_HOME"]) / "runs"


def test_the_fix_a_message_offers_is_spelt_as_flags_and_works_when_pasted(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crm.csv"
    pd.DataFrame({"user_id": ["a", "b"], "Last Login": ["2024-05-01", "2024-05-02"]}).to_csv(
        path, index=False
    )
    code, _, err = run(capsys, "users", str(path), "--uid-col", "user_id")
    line = one_error_line(err)
    assert code == 1
    assert "--rename 'Last Login=new_name'" in line
    assert "rename={" not in line
    pasted = ["--rename", "Last Login=last_login"]  # what the shell makes of the quoted flag
    code, _, err = run(capsys, "users", str(path), "--uid-col", "user_id", *pasted)
    assert code == 0, err
    assert {u["properties"].get("last_login") for u in env.users()} == {
        "2024-05-01",
        "2024-05-02",
    }


def test_a_missing_column_is_named_by_its_flag(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "users", str(customers(tmp_path)), "--uid-col", "nope")
    assert code == 1
    assert one_error_line(err).startswith("--uid-col nope: no such column")


def test_the_rename_flag_shows_which_side_is_the_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["users", "--help"])
    assert "--rename COLUMN=NAME" in capsys.readouterr().out


def test_a_warning_is_one_line_with_its_fix_spelt_as_flags(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user_id,event,ts\na,Signup,2024-05-01 10:00\n", encoding="utf-8")
    code, _, err = run(capsys, "events", str(path), "--name-col", "event", "--uid-col", "user_id")
    assert code == 0
    assert err.strip().splitlines()[0] == (
        'fs-pandas: warning: column "ts" is named like a timestamp but is sent as a property, '
        "so each event gets the time Fullstory receives it; pass --timestamp-col ts to use it "
        "as the event's time"
    )


def test_a_switch_named_in_a_message_is_the_flag_alone() -> None:
    from fs_pandas.cli import as_flags

    assert as_flags("To send again on purpose pass resend=True.") == (
        "To send again on purpose pass --resend."
    )
