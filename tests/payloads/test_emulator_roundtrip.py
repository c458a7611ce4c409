"""Chunk bodies POSTed over real HTTP to the local emulator are accepted and stored as sent."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import requests

from fs_pandas.payloads import Plan, plan_events, plan_users


def run_job(emu: Any, kind: str, body: bytes) -> dict[str, Any]:
    """Create a batch job from ``body`` and poll it to its end (the emulator answers
    PROCESSING to the first poll and is terminal from the second: no sleeping)."""
    headers = {"Authorization": f"Basic {emu.api_key}", "Content-Type": "application/json"}
    created = requests.post(f"{emu.url}/v2/{kind}/batch", data=body, headers=headers, timeout=10)
    assert created.status_code == 200, created.text
    job_id = created.json()["job"]["id"]
    for _ in range(5):
        status = requests.get(f"{emu.url}/v2/{kind}/batch/{job_id}", headers=headers, timeout=10)
        if status.json()["job"]["status"] != "PROCESSING":
            return dict(status.json())
    raise AssertionError("job did not finish")


def only_body(plan: Plan) -> bytes:
    chunks = list(plan.chunks())
    assert len(chunks) == 1
    return chunks[0].body


def test_users_chunk_is_imported_with_typed_properties(emu: Any) -> None:
    df = pd.DataFrame(
        {
            "uid": [1, 2],
            "email": ["a@example.com", None],
            "visits": pd.array([3, None], dtype="Int64"),
            "score": [0.5, np.nan],
            "seen": pd.to_datetime(["2024-05-01 12:00", None]).tz_localize("Europe/Paris"),
            "plan": pd.Categorical(["pro", "free"]),
        }
    )
    status = run_job(emu, "users", only_body(plan_users(df, uid_col="uid", email_col="email")))
    assert status["job"]["status"] == "COMPLETED" and status["imports"] == 2
    stored = {u["uid"]: u for u in emu.users()}
    assert stored["1"]["properties"] == {
        "visits": 3,
        "score": 0.5,
        "seen": "2024-05-01T10:00:00Z",
        "plan": "pro",
    }
    assert stored["2"]["properties"] == {"plan": "free"}


def test_events_chunk_is_imported(emu: Any) -> None:
    df = pd.DataFrame(
        {
            "u": ["a", "b"],
            "n": [1, 2],
            "t": pd.to_datetime(["2024-05-01 12:00:00", "2024-05-01 12:00:01.5"], format="ISO8601"),
        }
    )
    plan = plan_events(df, name="Bought", uid_col="u", timestamp_col="t", use_most_recent=True)
    status = run_job(emu, "events", only_body(plan))
    assert status["job"]["status"] == "COMPLETED" and status["imports"] == 2
    assert sorted(e["timestamp"] for e in emu.events()) == [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:01.500Z",
    ]
