"""The key is checked before any data leaves: one request tells an unknown key (401), a
Standard key (create and status only) and an Admin or Architect key apart. A Standard key is
refused before sending unless the run asks only for counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import fs_pandas
from fs_pandas.cli import main
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import AuthenticationError, PermissionDeniedError, TransportError


def test_one_request_tells_the_kind_of_key(
    emu: Emulator, make_client: Callable[..., Client]
) -> None:
    assert make_client().key_access() == "admin"
    assert make_client(emu.standard_key).key_access() == "standard"
    with pytest.raises(AuthenticationError):
        make_client("na1.revoked").key_access()
    assert emu.jobs() == [] and emu.users() == []  # the check itself sends no data


def test_events_with_a_standard_key_are_refused_before_sending(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "event": ["Signup", "Login"]})
    with pytest.raises(PermissionDeniedError, match="Nothing was sent"):
        frame.fullstory.batch_events(
            name_col="event", uid_col="uid", client=make_client(emu.standard_key),
            progress=False, ledger_dir=tmp_path,
        )  # fmt: skip
    assert emu.jobs() == [] and emu.events() == []


def test_a_counts_only_run_with_every_row_imported_is_whole(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "plan": ["free", "team", "free"]})
    result = frame.fullstory.batch_update(
        uid_col="uid", client=make_client(emu.standard_key), counts_only=True, chunk_size=2,
        poll_interval=0.01, progress=False, ledger_dir=tmp_path,
    )  # fmt: skip
    assert result.all_imported and result.notes == []
    assert result.imports["fs_id"].isna().all()  # a Standard key cannot read the ids
    assert {u["uid"] for u in emu.users()} == {"a", "b", "c"}


def test_resuming_with_a_standard_key_is_refused_too(
    emu: Emulator, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"]})
    emu.configure(fail_uids={"b"})
    standard = make_client(emu.standard_key)
    frame.fullstory.batch_update(
        uid_col="uid", client=standard, counts_only=True, poll_interval=0.01, progress=False,
        ledger_dir=tmp_path,
    )  # fmt: skip
    (ledger,) = fs_pandas.runs(tmp_path)
    with pytest.raises(PermissionDeniedError, match="Standard API key"):
        fs_pandas.resume(ledger, frame, client=standard, progress=False)


def test_the_cli_says_so_in_one_line_and_offers_counts_only(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.standard_key)
    monkeypatch.setenv("FULLSTORY_BASE_URL", emu.url)
    monkeypatch.setenv("FS_PANDAS_HOME", str(tmp_path / "home"))
    source = tmp_path / "c.csv"
    pd.DataFrame({"user_id": ["c0", "c1"]}).to_csv(source, index=False)
    argv = [
        "users",
        str(source),
        "--uid-col",
        "user_id",
        "--no-progress",
        "--poll-interval",
        "0.01",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--counts-only" in err[0] and "Standard API key" in err[0]
    assert emu.jobs() == []
    assert main([*argv, "--counts-only"]) == 0
    assert len(emu.users()) == 2


def test_a_base_url_nothing_answers_on_is_said_before_anything_is_planned(
    make_client: Callable[..., Client], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"uid": ["a", "b"]})
    client = make_client(base_url="http://127.0.0.1:9")  # the discard port: refused
    with pytest.raises(TransportError, match=r"cannot reach http://127\.0\.0\.1:9 .*base_url"):
        frame.fullstory.batch_update(
            uid_col="uid", client=client, progress=False, ledger_dir=tmp_path
        )
    assert not list(tmp_path.iterdir())  # no journal: nothing to resume
