"""validate() reports a column batch_update would refuse (a property name Fullstory refuses)
as a warning with the fix, and still checks every other column and row."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import fs_pandas
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ColumnWarning, InvalidDataError


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", "", "c"],
            "Last Login!": ["x", "y", "z"],
            "email": ["a@example.com", "b@example.com", "c" * 200 + "@example.com"],
            7: [1, 2, 3],
        }
    )


def test_each_refused_column_is_a_warning_and_the_rows_are_still_checked() -> None:
    with pytest.warns(ColumnWarning) as caught:
        verdict = frame().fullstory.validate(uid_col="user_id", email_col="email")
    messages = [str(w.message) for w in caught if w.category is ColumnWarning]
    assert len(messages) == 2
    assert any("'Last Login!'" in m and "rename={'Last Login!':" in m for m in messages)
    assert any("column 7" in m and "rename={7:" in m for m in messages)
    # The rows that break row rules, found with the refused columns left out.
    assert list(verdict.index) == [1, 2]
    assert list(verdict.columns[:3]) == ["fs_rule", "fs_column", "fs_message"]
    assert "Last Login!" in verdict.columns  # the row's own columns, all of them


def test_the_suggested_rename_makes_the_warning_go() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColumnWarning)
        verdict = frame().fullstory.validate(
            uid_col="user_id", email_col="email", rename={"Last Login!": "last_login", 7: "seven"}
        )
    assert list(verdict.index) == [1, 2]


def test_a_refused_column_named_in_properties_and_rename_is_left_out_of_both() -> None:
    with pytest.warns(ColumnWarning):
        verdict = frame().fullstory.validate(
            uid_col="user_id", properties={"Last Login!": "Last Login!", 7: "seven"}
        )
    assert list(verdict.index) == [1]


def test_batch_update_still_refuses_the_frame_before_sending(emu: Emulator) -> None:
    client = fs_pandas.Client(api_key=emu.api_key, base_url=emu.url)
    with pytest.raises(InvalidDataError, match="rename="):
        frame().fullstory.batch_update(uid_col="user_id", client=client, progress=False)


def test_other_option_errors_still_raise() -> None:
    with pytest.raises(InvalidDataError, match="nope"):
        frame()[["user_id"]].fullstory.validate(uid_col="user_id", rename={"nope": "x"})
