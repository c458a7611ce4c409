"""The fs-pandas command on files as large as analysts have: CSV and parquet files big enough
that pandas reads their text columns in several Arrow chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fs_pandas.cli import main
from fs_pandas.emulator import Emulator

ROWS = 150_000  # a size at which pandas may hold a text column in several Arrow chunks


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.api_key)
    monkeypatch.setenv("FULLSTORY_BASE_URL", emu.url)
    monkeypatch.setenv("FS_PANDAS_HOME", str(tmp_path / "home"))
    return emu


def customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"c{i}" for i in range(ROWS)],
            "plan": np.array(["free", "pro", "team"])[np.arange(ROWS) % 3],
            "visits": np.arange(ROWS) % 97,
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_large_file_is_sent_whole(env: Emulator, tmp_path: Path, suffix: str) -> None:
    frame = customers()
    source = tmp_path / f"customers{suffix}"
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(frame), source, row_group_size=40_000)
    out = tmp_path / "out.parquet"
    argv = ["users", str(source), "--uid-col", "user_id", "--out", str(out), "--no-progress"]
    read = pd.read_csv(source) if suffix == ".csv" else pd.read_parquet(source)
    if suffix == ".parquet" and hasattr(read["user_id"].array, "__arrow_array__"):
        # One Arrow chunk per row group: the case that crashed planning.
        assert pa.array(read["user_id"].array).num_chunks > 1
    assert main([*argv, "--poll-interval", "0.01"]) == 0
    assert (pd.read_parquet(out)["fs_outcome"] == "imported").all()
    stored = {u["uid"]: u["properties"] for u in env.users()}
    assert len(stored) == ROWS
    for i in (0, 39_999, 40_000, ROWS - 1):
        assert stored[f"c{i}"] == {"plan": frame["plan"][i], "visits": int(frame["visits"][i])}
