"""Users routes U1-U5 (contract §2, §3.1): shapes, upsert, merge, uid immutability, delete."""

from __future__ import annotations

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api


def test_create_user_returns_only_id(admin: Api) -> None:
    r = admin.post("/v2/users", {"uid": "u1", "display_name": "Ann", "email": "a@x.io"})
    assert r.status_code == 200
    assert list(r.json()) == ["id"] and isinstance(r.json()["id"], str)


def test_create_user_upserts_on_uid_and_merges_properties_latest_wins(admin: Api) -> None:
    first = admin.post("/v2/users", {"uid": "u1", "properties": {"a": 1, "b": "x"}}).json()["id"]
    second = admin.post("/v2/users", {"uid": "u1", "properties": {"b": "y", "c": True}}).json()
    assert second["id"] == first
    user = admin.get(f"/v2/users/{first}").json()
    assert user["properties"] == {"a": 1, "b": "y", "c": True}


def test_create_user_without_uid_creates_a_new_anonymous_user_each_time(admin: Api) -> None:
    a = admin.post("/v2/users", {"display_name": "anon"}).json()["id"]
    b = admin.post("/v2/users", {"display_name": "anon"}).json()["id"]
    assert a != b


def test_get_user_shape(admin: Api) -> None:
    uid = admin.post("/v2/users", {"uid": "u1", "email": "a@x.io", "properties": {"n": 2}})
    body = admin.get(f"/v2/users/{uid.json()['id']}").json()
    assert body["uid"] == "u1" and body["email"] == "a@x.io"
    assert body["is_being_deleted"] is False
    assert body["app_url"].startswith("https://")
    assert body["schema"] is None  # only filled with include_schema=true
    assert "type_conflicts" in body


def test_get_user_include_schema_infers_real_for_numbers_and_honours_declarations(
    admin: Api,
) -> None:
    row = {"uid": "u1", "properties": {"n": 2, "m": 3, "s": "x", "b": True, "loc": {"code": 1}},
           "schema": {"properties": {"m": "int"}}}
    user_id = admin.post("/v2/users", row).json()["id"]
    body = admin.get(f"/v2/users/{user_id}", params={"include_schema": "true"}).json()
    assert body["schema"] == {"properties": {"n": "real", "m": "int", "s": "str", "b": "bool",
                                             "loc.code": "real"}}


def test_get_unknown_user_is_404(admin: Api) -> None:
    r = admin.get("/v2/users/nope")
    assert r.status_code == 404
    assert r.json() == {"message": "Requested resource does not exist",
                        "code": "resource_not_found"}


def test_list_users_filters_on_uid_email_display_name_and_is_identified(admin: Api) -> None:
    admin.post("/v2/users", {"uid": "u1", "email": "a@x.io", "display_name": "Ann"})
    admin.post("/v2/users", {"uid": "u2", "email": "b@x.io", "display_name": "Bob"})
    admin.post("/v2/users", {"display_name": "Ann"})

    def uids(**params: str) -> list[str | None]:
        return [u.get("uid") for u in admin.get("/v2/users", params=params).json()["results"]]

    assert uids(uid="u2") == ["u2"]
    assert uids(email="a@x.io") == ["u1"]
    assert uids(display_name="Ann") == ["u1", None]
    assert uids(is_identified="true") == ["u1", "u2"]
    assert uids(is_identified="false") == [None]


def test_list_users_pages_with_next_page_token_and_string_total(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(page_size=2)
    for i in range(5):
        admin.post("/v2/users", {"uid": f"u{i}"})
    seen, token, pages = [], None, 0
    while True:
        body = admin.get("/v2/users", params={"page_token": token} if token else {}).json()
        assert body["total_records"] == "5"
        seen += [u["uid"] for u in body["results"]]
        pages += 1
        token = body.get("next_page_token")
        if token is None:
            break
    assert seen == [f"u{i}" for i in range(5)] and pages == 3


def test_list_users_rejects_a_bad_page_token(admin: Api) -> None:
    r = admin.get("/v2/users", params={"page_token": "garbage!"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"


def test_update_user_is_a_post_and_merges(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1", "properties": {"a": 1}}).json()["id"]
    r = admin.post(f"/v2/users/{user_id}", {"display_name": "New", "properties": {"b": 2}})
    assert r.status_code == 200 and r.json() == {"id": user_id}
    body = admin.get(f"/v2/users/{user_id}").json()
    assert body["display_name"] == "New" and body["properties"] == {"a": 1, "b": 2}


def test_update_user_cannot_change_uid(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1"}).json()["id"]
    r = admin.post(f"/v2/users/{user_id}", {"uid": "other"})
    assert r.status_code == 400
    assert set(r.json()) == {"message", "code"}


def test_update_user_may_identify_an_anonymous_user(admin: Api) -> None:
    user_id = admin.post("/v2/users", {}).json()["id"]
    assert admin.post(f"/v2/users/{user_id}", {"uid": "u9"}).status_code == 200
    assert admin.get("/v2/users", params={"uid": "u9"}).json()["results"][0]["id"] == user_id


def test_update_unknown_user_is_404(admin: Api) -> None:
    assert admin.post("/v2/users/nope", {"display_name": "x"}).status_code == 404


def test_delete_user_by_id(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1"}).json()["id"]
    r = admin.delete(f"/v2/users/{user_id}")
    assert r.status_code == 200 and r.json() == {}
    assert admin.get(f"/v2/users/{user_id}").status_code == 404


def test_delete_user_by_uid(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1"}).json()["id"]
    r = admin.delete("/v2/users", params={"uid": "u1"})
    assert r.status_code == 200 and r.json() == {}
    assert admin.get(f"/v2/users/{user_id}").status_code == 404
    assert admin.get("/v2/users", params={"uid": "u1"}).json()["results"] == []


def test_delete_by_unknown_uid_is_404_and_without_uid_is_400(admin: Api) -> None:
    assert admin.delete("/v2/users", params={"uid": "ghost"}).status_code == 404
    r = admin.delete("/v2/users")
    assert r.status_code == 400 and r.json()["code"] == "required_field"


def test_invalid_single_create_is_400_with_message_and_code(admin: Api) -> None:
    r = admin.post("/v2/users", {"uid": "x" * 257})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_argument" and r.json()["message"]


def test_v2beta_alias_serves_the_same_routes(admin: Api) -> None:
    user_id = admin.post("/v2beta/users", {"uid": "u1"}).json()["id"]
    assert admin.get(f"/v2/users/{user_id}").json()["uid"] == "u1"


def test_null_property_values_are_ignored_and_never_overwrite(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1", "properties": {"a": 1, "s": "null"}}).json()[
        "id"]
    admin.post("/v2/users", {"uid": "u1", "properties": {"a": None, "b": None, "n": {"c": None}}})
    assert admin.get(f"/v2/users/{user_id}").json()["properties"] == {"a": 1, "s": "null",
                                                                      "n": {}}


def test_batch_import_drops_null_values_of_new_users(admin: Api) -> None:
    job_id = admin.batch("users", [{"uid": "u1", "properties": {"a": None, "n": {"c": None,
                                                                                  "d": 2}}}])
    admin.finish("users", job_id)
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    assert user["properties"] == {"n": {"d": 2}}


def test_type_conflicts_record_a_second_type(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1", "properties": {"a": 1}}).json()["id"]
    admin.post("/v2/users", {"uid": "u1", "properties": {"a": "one"}})
    assert admin.get(f"/v2/users/{user_id}").json()["type_conflicts"] == {
        "properties": {"a": "str"}}
