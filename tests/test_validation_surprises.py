"""What a newcomer meets while fixing a frame: renaming a column keeps every other column,
validate() puts the verdict first and names its own options, and the advice in each message
leads to a frame that sends."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ColumnWarning, InvalidDataError
from fs_pandas.run.result import BatchResult


def crm_export() -> pd.DataFrame:
    """Columns as a CRM export names them: one Fullstory refuses as a property name."""
    return pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "Last Login": pd.to_datetime(["2024-05-01", "2024-05-02", "2024-05-03"]),
            "plan": ["free", "team", "free"],
            "seats": [1, 5, 2],
        }
    )


def test_the_advice_for_a_bad_name_is_a_rename_that_keeps_the_other_columns(
    emu: Emulator, tmp_path: Path
) -> None:
    frame = crm_export()
    with pytest.warns(ColumnWarning) as caught:
        frame.fullstory.validate(uid_col="user_id")  # reported, not raised (issue item 6)
    advice = "rename={'Last Login': 'new_name'}"
    assert advice in str(caught[0].message)
    with pytest.raises(InvalidDataError, match=re.escape(advice)):
        frame.fullstory.to_requests(uid_col="user_id")

    # Following the advice (with a real name) sends every column, renamed or not.
    requests = frame.fullstory.to_requests(uid_col="user_id", rename={"Last Login": "last_login"})
    assert set(requests[0]["properties"]) == {"last_login", "plan", "seats"}

    client = Client(api_key=emu.api_key, base_url=emu.url, sleep=lambda _: None)
    result = frame.fullstory.batch_update(
        uid_col="user_id", rename={"Last Login": "last_login"}, client=client,
        poll_interval=0.01, progress=False, ledger_dir=tmp_path,
    )  # fmt: skip
    assert isinstance(result, BatchResult) and result.all_imported
    stored = {u["uid"]: u["properties"] for u in emu.users()}
    assert stored["u2"] == {"last_login": "2024-05-02T00:00:00Z", "plan": "team", "seats": 5}


def test_a_properties_mapping_still_chooses_the_columns_and_rename_adds_to_it() -> None:
    frame = crm_export()
    only = frame.fullstory.to_requests(uid_col="user_id", properties={"plan": "tier"})
    assert only[0]["properties"] == {"tier": "free"}
    both = frame.fullstory.to_requests(
        uid_col="user_id", properties=["plan", "Last Login"], rename={"Last Login": "seen"}
    )
    assert set(both[0]["properties"]) == {"plan", "seen"}


def test_rename_names_a_non_text_label() -> None:
    frame = pd.DataFrame({"uid": ["a"], 2024: [10], "plan": ["free"]})
    requests = frame.fullstory.to_requests(uid_col="uid", rename={2024: "y2024"})
    assert requests[0]["properties"] == {"y2024": 10, "plan": "free"}


@pytest.mark.parametrize(
    ("rename", "message"),
    [
        ({"nope": "x"}, "rename='nope': no such column (columns: ['user_id', "),
        ({"user_id": "x"}, "rename names column 'user_id', which is not sent as a property"),
        ({"plan": 3}, "rename gives column 'plan' the name 3; a property name is text"),
    ],
)
def test_a_rename_that_cannot_apply_is_refused(rename: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidDataError) as caught:
        crm_export().fullstory.to_requests(uid_col="user_id", rename=rename)  # type: ignore[arg-type]
    assert str(caught.value).startswith(
        message[: message.index(",") if "frame" in message else None]
    )


def test_validate_puts_the_verdict_first() -> None:
    frame = pd.DataFrame({"uid": ["a", "a", ""], "plan": ["x", "y", "z"]})
    found = frame.fullstory.validate(uid_col="uid")
    assert list(found.columns) == ["fs_rule", "fs_column", "fs_message", "uid", "plan"]
    assert found.index.tolist() == [1, 2]
    again = found.fullstory.validate(uid_col="uid", properties=["plan"])  # re-checking it
    assert list(again.columns)[:3] == ["fs_rule", "fs_column", "fs_message"]


@pytest.mark.parametrize("method", ["validate", "type_plan"])
def test_an_option_that_does_not_change_what_is_sent_is_named_by_the_method(
    method: str,
) -> None:
    frame = pd.DataFrame({"uid": ["a"]})
    with pytest.raises(TypeError) as caught:
        getattr(frame.fullstory, method)(uid_col="uid", client=object(), chunk_size=10)
    text = str(caught.value)
    assert text.startswith(f"{method}(kind='users') takes the options that say what is sent (")
    assert "not chunk_size, client" in text and "plan_users" not in text
    with pytest.raises(TypeError, match=rf"{method}\(kind='users'\) needs uid_col"):
        getattr(frame.fullstory, method)()


@pytest.mark.parametrize("method", ["type_plan", "validate"])
def test_event_options_without_kind_events_say_to_pass_it(method: str) -> None:
    events = pd.DataFrame({"user_id": ["a"], "event": ["Signup"], "ts": ["2024-05-01"]})
    with pytest.raises(TypeError) as caught:
        getattr(events.fullstory, method)(name_col="event", uid_col="user_id", timestamp_col="ts")
    assert str(caught.value) == (
        "name_col, timestamp_col are options of events: pass kind='events' "
        f"({method}(kind='events', ...))"
    )
    getattr(events.fullstory, method)(  # following it works
        kind="events", name_col="event", uid_col="user_id", timestamp_col="ts"
    )


def test_bad_input_raises_with_a_traceback_of_the_call_not_of_the_planner(
    emu: Emulator,
) -> None:
    frame = crm_export()
    client = Client(api_key=emu.api_key, base_url=emu.url)
    calls = [
        lambda: frame.fullstory.to_requests(uid_col="user_id"),
        lambda: frame.fullstory.type_plan(uid_col="user_id"),
        lambda: frame.fullstory.batch_update(uid_col="user_id", client=client, progress=False),
    ]
    for call in calls:
        with pytest.raises(InvalidDataError) as caught:
            call()
        files = {entry.path for entry in caught.traceback}
        assert not any("payloads" in str(path) for path in files), files


@pytest.mark.parametrize(("asked", "meant"), [("userid", "user_id"), ("User_ID", "user_id")])
def test_a_column_name_close_to_a_real_one_is_offered(asked: str, meant: str) -> None:
    with pytest.raises(InvalidDataError) as caught:
        crm_export().fullstory.to_requests(uid_col=asked)
    assert str(caught.value).startswith(
        f"uid_col={asked!r}: no such column; did you mean {meant!r}? (columns: ["
    )


def test_a_name_close_to_none_gets_no_guess() -> None:
    with pytest.raises(InvalidDataError, match=r"^uid_col='zzz': no such column \(columns: \["):
        crm_export().fullstory.to_requests(uid_col="zzz")


def test_a_rejected_time_is_quoted_with_why_it_is_not_one() -> None:
    events = pd.DataFrame({"uid": ["a", "b"], "e": ["x", "y"], "ts": ["2024-05-01", "tomorrow"]})
    verdict = events.fullstory.validate(
        kind="events", name_col="e", uid_col="uid", timestamp_col="ts"
    )
    assert verdict["fs_message"].tolist() == [
        "ts: 'tomorrow' is not a date or time that can be read"
    ]
    users = pd.DataFrame(
        {"uid": ["a", "b"], "signup": pd.to_datetime(["2024-03-31 02:30", "2024-01-01 00:00"])}
    )
    verdict = users.fullstory.validate(uid_col="uid", naive_tz="Europe/Paris")
    assert verdict["fs_message"].tolist() == [
        "signup: '2024-03-31 02:30:00' does not exist or exists twice in "
        "naive_tz='Europe/Paris' (a clock change)"
    ]
