"""The seed, literally: Fullstory's asynchronous-workflows page (developer.fullstory.com/server/
asynchronous-workflows) run against the emulator, and its example bodies compared shape by shape
(contract §11.1, §11.2)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api

RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")

# The seed's example request, with its third row taken from the seed's errors example.
SEED_REQUESTS = [
    {"uid": "xyz123", "properties": {"rewards_status": "platinum"}},
    {"uid": "abc789", "properties": {"rewards_status": "gold"}},
    {"uid": "", "properties": {"rewards_status": "silver"}},
]

# The seed's example answers ("..." elisions left out).
SEED_CREATE = {
    "job": {"id": "0xo123", "status": "PROCESSING", "created": "2023-04-18T14:36:11.123Z"}
}
SEED_STATUS = {
    "imports": 104,
    "errors": 1,
    "job": {
        "id": "0xo123",
        "status": "COMPLETED",
        "created": "2023-04-18T14:36:11.123Z",
        "finished": "2023-04-18T15:36:11.123Z",
    },
}
SEED_IMPORTS = {
    "results": [
        {"id": "456", "uid": "xyz123", "properties": {"rewards_status": "platinum"}},
        {"id": "876", "uid": "abc789", "properties": {"rewards_status": "gold"}},
    ],
    "total_records": "103",
    "next_page_token": "asd543",
}
SEED_ERROR_ROW = {
    "message": "The provided uid parameter can not be empty",
    "code": "invalid_parameter",
    "user": {"uid": "", "properties": {"rewards_status": "silver"}},
}
# The last page: "next_page_token": null (contract §11.2).
SEED_ERRORS = {"results": [SEED_ERROR_ROW], "total_records": "1", "next_page_token": None}


def shape(value: Any) -> Any:
    """The JSON shape: objects by key, arrays by their first item, scalars by type, null kept."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return None
    return type(value).__name__


def test_seed_workflow_answers_with_the_seed_shapes(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=1)
    created = admin.post("/v2/users/batch", {"requests": SEED_REQUESTS})
    assert created.status_code == 200
    assert shape(created.json()) == shape(SEED_CREATE)
    job_id = created.json()["job"]["id"]
    assert RFC3339_Z.match(created.json()["job"]["created"])

    processing = admin.get(f"/v2/users/batch/{job_id}").json()
    assert processing["job"]["status"] == "PROCESSING"
    # finished: "have a value if the job status is FAILED or COMPLETED, otherwise it is null".
    assert shape(processing) == {**shape(SEED_STATUS), "job": {**shape(SEED_STATUS)["job"],
                                                               "finished": None}}

    done = admin.get(f"/v2/users/batch/{job_id}").json()
    assert shape(done) == shape(SEED_STATUS)
    assert (done["imports"], done["errors"]) == (2, 1)
    assert RFC3339_Z.match(done["job"]["finished"])

    first, last = admin.pages("users", job_id, "imports")
    assert shape(first) == {**shape(SEED_IMPORTS)}
    assert first["results"] == [{**SEED_IMPORTS["results"][0], "id": first["results"][0]["id"]}]
    assert last["results"] == [{**SEED_IMPORTS["results"][1], "id": last["results"][0]["id"]}]
    assert first["total_records"] == last["total_records"] == "2"
    assert last["next_page_token"] is None and "next_page_token" in last

    errors = admin.get(f"/v2/users/batch/{job_id}/errors").json()
    assert errors == SEED_ERRORS


def test_seed_status_is_literal_under_the_completed_reading(emu: Emulator, admin: Api) -> None:
    emu.configure(row_error_status="COMPLETED")
    job_id = admin.batch("users", SEED_REQUESTS)
    done = admin.finish("users", job_id)
    assert done["job"]["status"] == "COMPLETED" and done["errors"] == 1
    assert shape(done) == shape(SEED_STATUS)


def test_empty_uid_row_fails_with_the_seeds_code_message_and_echo(admin: Api) -> None:
    row = {"uid": "", "display_name": "Nobody"}
    job_id = admin.batch("users", [{"uid": "ok"}, row])
    assert admin.finish("users", job_id)["errors"] == 1
    (err,) = admin.pages("users", job_id, "errors")[0]["results"]
    assert err == {"message": "The provided uid parameter can not be empty",
                   "code": "invalid_parameter", "user": row}
    assert [u.get("uid") for u in admin.get("/v2/users").json()["results"]] == ["ok"]


def test_empty_uid_on_single_create_and_update_is_400_invalid_parameter(admin: Api) -> None:
    r = admin.post("/v2/users", {"uid": "", "display_name": "x"})
    assert r.status_code == 400
    assert r.json() == {"message": "The provided uid parameter can not be empty",
                        "code": "invalid_parameter"}
    user_id = admin.post("/v2/users", {"display_name": "anon"}).json()["id"]
    assert admin.post(f"/v2/users/{user_id}", {"uid": ""}).json()["code"] == "invalid_parameter"


def test_omitted_uid_still_creates_an_anonymous_user(emu: Emulator, admin: Api) -> None:
    job_id = admin.batch("users", [{"properties": {"rewards_status": "silver"}}])
    assert admin.finish("users", job_id)["job"]["status"] == "COMPLETED"
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    assert "uid" not in user and user["id"]
    assert len(emu.users()) == 1


@pytest.mark.parametrize("kind", ["users", "events"])
def test_last_page_of_imports_carries_a_null_token(admin: Api, kind: str) -> None:
    row = {"uid": "u1"} if kind == "users" else {"name": "A"}
    job_id = admin.batch(kind, [row])
    admin.finish(kind, job_id)
    for which in ("imports", "errors"):
        body = admin.get(f"/v2/{kind}/batch/{job_id}/{which}").json()
        assert "next_page_token" in body and body["next_page_token"] is None


def test_last_page_of_list_users_carries_a_null_token(admin: Api) -> None:
    admin.post("/v2/users", {"uid": "u1"})
    body = admin.get("/v2/users").json()
    assert "next_page_token" in body and body["next_page_token"] is None
