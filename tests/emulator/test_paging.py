"""Page tokens are opaque and belong to the listing that issued them (contract §11.9)."""

from __future__ import annotations

import base64

import pytest

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api


def _first_token(admin: Api, path: str, **params: str) -> str:
    body = admin.get(path, params=params).json()
    token = body["next_page_token"]
    assert isinstance(token, str) and token
    return token


def _assert_foreign(admin: Api, path: str, token: str, **params: str) -> None:
    r = admin.get(path, params={**params, "page_token": token})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_argument"
    assert "issued for another job, result kind or filter" in r.json()["message"]


@pytest.fixture
def two_jobs(emu: Emulator, admin: Api) -> tuple[str, str]:
    emu.configure(page_size=1)
    rows = [{"uid": "a"}, {"uid": "b"}, {"uid": ""}, {"uid": "", "email": "x"}]
    first, second = admin.batch("users", rows), admin.batch("users", rows)
    admin.finish("users", first)
    admin.finish("users", second)
    return first, second


def test_a_token_is_not_valid_for_another_job(admin: Api, two_jobs: tuple[str, str]) -> None:
    first, second = two_jobs
    token = _first_token(admin, f"/v2/users/batch/{first}/imports")
    assert (
        admin.get(f"/v2/users/batch/{first}/imports", params={"page_token": token}).status_code
        == 200
    )
    _assert_foreign(admin, f"/v2/users/batch/{second}/imports", token)


def test_a_token_is_not_valid_for_the_other_result_kind(
    admin: Api, two_jobs: tuple[str, str]
) -> None:
    first, _ = two_jobs
    imports = _first_token(admin, f"/v2/users/batch/{first}/imports")
    errors = _first_token(admin, f"/v2/users/batch/{first}/errors")
    _assert_foreign(admin, f"/v2/users/batch/{first}/errors", imports)
    _assert_foreign(admin, f"/v2/users/batch/{first}/imports", errors)


def test_a_job_token_is_not_valid_for_list_users_and_back(
    admin: Api, two_jobs: tuple[str, str]
) -> None:
    first, _ = two_jobs
    job_token = _first_token(admin, f"/v2/users/batch/{first}/imports")
    list_token = _first_token(admin, "/v2/users")
    _assert_foreign(admin, "/v2/users", job_token)
    _assert_foreign(admin, f"/v2/users/batch/{first}/imports", list_token)


def test_a_users_job_token_is_not_valid_on_an_events_job(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=1)
    users = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    events = admin.batch("events", [{"name": "A"}, {"name": "B"}])
    admin.finish("users", users)
    admin.finish("events", events)
    token = _first_token(admin, f"/v2/users/batch/{users}/imports")
    _assert_foreign(admin, f"/v2/events/batch/{events}/imports", token)


def test_a_list_users_token_is_bound_to_its_filters(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=1)
    for uid in ("a", "b", "c"):
        admin.post("/v2/users", {"uid": uid, "email": "same@x.io"})
    token = _first_token(admin, "/v2/users", email="same@x.io")
    page = admin.get("/v2/users", params={"email": "same@x.io", "page_token": token})
    assert page.status_code == 200 and page.json()["results"][0]["uid"] == "b"
    _assert_foreign(admin, "/v2/users", token)
    _assert_foreign(admin, "/v2/users", token, email="other@x.io")
    _assert_foreign(admin, "/v2/users", token, email="same@x.io", is_identified="true")


def test_a_bare_offset_is_not_a_token(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=1)
    job_id = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    admin.finish("users", job_id)
    for forged in ("1", base64.urlsafe_b64encode(b"o:1").decode(), "not a token!"):
        r = admin.get(f"/v2/users/batch/{job_id}/imports", params={"page_token": forged})
        assert r.status_code == 400 and r.json()["code"] == "invalid_argument"


def test_tokens_from_before_a_reset_are_refused(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=1)
    job_id = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    admin.finish("users", job_id)
    token = _first_token(admin, f"/v2/users/batch/{job_id}/imports")
    emu.reset()
    emu.configure(page_size=1)
    again = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    admin.finish("users", again)
    assert again != job_id  # job ids never repeat, and neither do tokens
    _assert_foreign(admin, f"/v2/users/batch/{again}/imports", token)
