"""plan_events: request shape of contract §3.2."""

from __future__ import annotations

import pandas as pd

from fs_pandas.payloads import plan_events
from tests.payloads.payload_helpers import only, requests_of


def test_one_name_for_every_row() -> None:
    plan = plan_events(pd.DataFrame({"x": [1, 2]}), name="Signed Up", properties=[])
    assert requests_of(plan) == [{"name": "Signed Up"}, {"name": "Signed Up"}]
    assert plan.kind == "events"


def test_name_column_timestamp_and_user_uid() -> None:
    df = pd.DataFrame({"n": ["Bought"], "t": pd.to_datetime(["2024-05-01 12:00"]), "u": [42]})
    req = only(plan_events(df, name_col="n", timestamp_col="t", uid_col="u"))
    assert req == {"name": "Bought", "timestamp": "2024-05-01T12:00:00Z", "user": {"uid": "42"}}


def test_missing_timestamp_is_left_out() -> None:
    df = pd.DataFrame({"t": pd.to_datetime([None])})
    assert only(plan_events(df, name="E", timestamp_col="t")) == {"name": "E"}


def test_use_most_recent_session() -> None:
    req = only(
        plan_events(pd.DataFrame({"i": ["123"]}), name="E", user_id_col="i", use_most_recent=True)
    )
    assert req == {"name": "E", "user": {"id": "123"}, "session": {"use_most_recent": True}}


def test_session_id_alone() -> None:
    req = only(plan_events(pd.DataFrame({"s": ["1:2"]}), name="E", session_id_col="s"))
    assert req == {"name": "E", "session": {"id": "1:2"}}


def test_context_sub_objects_from_columns() -> None:
    df = pd.DataFrame({"url": ["https://x.test"], "w": [1280.0], "lat": [33.75], "c": ["US"]})
    req = only(
        plan_events(
            df,
            name="E",
            context={
                "browser.url": "url",
                "device.screen_width": "w",
                "location.latitude": "lat",
                "location.country": "c",
            },
        )
    )
    assert req["context"] == {
        "browser": {"url": "https://x.test"},
        "device": {"screen_width": 1280},
        "location": {"latitude": 33.75, "country": "US"},
    }


def test_event_properties_are_declared_like_user_properties() -> None:
    req = only(plan_events(pd.DataFrame({"n": [1]}), name="E"))
    assert req["properties"] == {"n": 1}
    assert req["schema"] == {"properties": {"n": "int"}}
