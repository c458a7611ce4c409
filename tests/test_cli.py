"""The fs-pandas command: files in, every row's outcome out, exit status that scripts can read."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas.cli import main
from fs_pandas.emulator import Emulator


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.api_key)
    monkeypatch.setenv("FULLSTORY_BASE_URL", emu.url)
    monkeypatch.setenv("FS_PANDAS_HOME", str(tmp_path / "home"))
    return emu


def write_customers(path: Path, n: int = 6) -> Path:
    pd.DataFrame({"user_id": [f"c{i}" for i in range(n)], "plan": ["free"] * n}).to_csv(
        path, index=False
    )
    return path


def test_users_from_csv_writes_every_outcome_and_exits_zero(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_customers(tmp_path / "c.csv")
    out = tmp_path / "out.parquet"
    argv = ["users", str(source), "--uid-col", "user_id", "--out", str(out), "--no-progress"]
    code = main([*argv, "--poll-interval", "0.01"])
    assert code == 0
    assert pd.read_parquet(out)["fs_outcome"].tolist() == ["imported"] * 6
    assert "6 imported" in capsys.readouterr().out
    assert len(env.users()) == 6


def test_a_partial_run_exits_two(env: Emulator, tmp_path: Path) -> None:
    env.configure(fail_uids={"c2"})
    source = write_customers(tmp_path / "c.csv")
    argv = ["users", str(source), "--uid-col", "user_id", "--no-progress"]
    assert main([*argv, "--poll-interval", "0.01"]) == 2


def test_events_from_jsonl(env: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "e.jsonl"
    pd.DataFrame({"uid": ["a", "b"], "event": ["Signup", "Login"]}).to_json(
        source, orient="records", lines=True
    )
    argv = ["events", str(source), "--name-col", "event", "--uid-col", "uid", "--no-progress"]
    assert main([*argv, "--poll-interval", "0.01"]) == 0
    assert sorted(e["name"] for e in env.events()) == ["Login", "Signup"]


def test_a_bad_column_is_a_one_line_error_not_a_traceback(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_customers(tmp_path / "c.csv")
    code = main(["users", str(source), "--uid-col", "nope", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("fs-pandas: error:")
    assert "nope" in err
    assert "Traceback" not in err


def test_a_missing_key_is_explained(
    emu: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("FULLSTORY_API_KEY", raising=False)
    source = write_customers(tmp_path / "c.csv")
    code = main(["users", str(source), "--uid-col", "user_id", "--base-url", emu.url])
    assert code == 1
    assert "FULLSTORY_API_KEY" in capsys.readouterr().err


def test_runs_lists_the_ledger_of_a_run(
    env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_customers(tmp_path / "c.csv")
    main(["users", str(source), "--uid-col", "user_id", "--no-progress", "--poll-interval", "0.01"])
    capsys.readouterr()
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2  # what the run did, then its ledger (tests/test_cli_errors.py)
    assert listed[1].strip().endswith(".jsonl")


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fs_pandas", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "emulator" in done.stdout


@pytest.fixture
def without_emulator_extra(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Import as if ``pip install fs-pandas`` had been run without the emulator extra: uvicorn
    cannot be imported, and the emulator modules imported so far are forgotten, then restored."""
    ours = {name: mod for name, mod in sys.modules.items() if name.startswith("fs_pandas.emulator")}
    for name in ours:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # None in sys.modules: the import fails
    yield
    for name in [n for n in sys.modules if n.startswith("fs_pandas.emulator")]:
        del sys.modules[name]  # half-imported leftovers; monkeypatch then puts the originals back


@pytest.mark.parametrize("command", ["emulator", "demo"])
def test_without_the_emulator_extra_one_line_says_what_to_install(
    without_emulator_extra: None, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([command])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"fs-pandas: error: 'fs-pandas {command}' needs the emulator extra")
    assert 'pip install "fs-pandas[emulator]"' in err
    assert "uvicorn" in err


def test_without_the_emulator_extra_importing_the_emulator_says_what_to_install(
    without_emulator_extra: None,
) -> None:
    with pytest.raises(ModuleNotFoundError, match=r'pip install "fs-pandas\[emulator\]"') as info:
        import fs_pandas.emulator  # noqa: F401
    assert info.value.name == "uvicorn"


def test_the_other_commands_do_not_need_the_emulator_extra(
    without_emulator_extra: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "emulator" in capsys.readouterr().out


def test_floats_in_a_csv_are_sent_as_the_numbers_written(env: Emulator, tmp_path: Path) -> None:
    # pandas 2's default CSV parser reads these one unit in the last place off.
    scores = [-48.800582327685746, 0.1 + 0.2, 2.0 / 3.0, 1e-300 * 3.3]
    source = tmp_path / "c.csv"
    frame = pd.DataFrame({"user_id": [f"c{i}" for i in range(len(scores))], "score": scores})
    frame.to_csv(source, index=False)
    argv = ["users", str(source), "--uid-col", "user_id", "--no-progress"]
    assert main([*argv, "--poll-interval", "0.01"]) == 0
    stored = {u["uid"]: u["properties"]["score"] for u in env.users()}
    assert stored == {f"c{i}": score for i, score in enumerate(scores)}


def test_the_demo_runs_and_ends_saying_what_to_do_next(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "The emulator now holds 1,998 users and 500 events." in out
    assert "1 more user(s) than imported: an event for a uid" in out
    assert out.rstrip().endswith("shows how to push your own frame to your own account.")
