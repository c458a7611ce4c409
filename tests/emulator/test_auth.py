"""Authentication and permissions (contract §1, §7): 401 for bad keys, 403 for Standard reads."""

from __future__ import annotations

import pytest
import requests

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api

UNAUTHORIZED = {"message": "access is unauthorized", "code": "unauthorized"}
FORBIDDEN = {"message": "insufficient permissions", "code": "forbidden"}

# (method, path template, body) for every route; {job}/{user} are filled in per test.
WRITE_ROUTES = [
    ("POST", "/v2/users", {"uid": "w"}),
    ("POST", "/v2/users/{user}", {"display_name": "x"}),
    ("POST", "/v2/events", {"name": "A"}),
    ("POST", "/v2/users/batch", {"requests": [{"uid": "w"}]}),
    ("POST", "/v2/events/batch", {"requests": [{"name": "A"}]}),
    ("GET", "/v2/users/batch/{ujob}", None),
    ("GET", "/v2/events/batch/{ejob}", None),
]
READ_ROUTES = [
    ("GET", "/v2/users", None),
    ("GET", "/v2/users/{user}", None),
    ("DELETE", "/v2/users/{user}", None),
    ("DELETE", "/v2/users?uid=u1", None),
    ("GET", "/v2/users/batch/{ujob}/imports", None),
    ("GET", "/v2/users/batch/{ujob}/errors", None),
    ("GET", "/v2/events/batch/{ejob}/imports", None),
    ("GET", "/v2/events/batch/{ejob}/errors", None),
]


@pytest.fixture
def ids(admin: Api) -> dict[str, str]:
    user = admin.post("/v2/users", {"uid": "u1"}).json()["id"]
    ujob = admin.batch("users", [{"uid": "u2"}])
    ejob = admin.batch("events", [{"name": "A"}])
    admin.finish("users", ujob)
    admin.finish("events", ejob)
    return {"user": user, "ujob": ujob, "ejob": ejob}


def _call(emu: Emulator, auth: str | None, method: str, path: str, body: object,
          ids: dict[str, str]) -> requests.Response:
    headers = {"Authorization": auth} if auth is not None else {}
    return requests.request(method, emu.url + path.format(**ids), json=body, headers=headers,
                            timeout=30)


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES + READ_ROUTES)
def test_missing_key_is_401_on_every_route(
    emu: Emulator, ids: dict[str, str], method: str, path: str, body: object
) -> None:
    r = _call(emu, None, method, path, body, ids)
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


@pytest.mark.parametrize("auth", ["Basic wrong-key", "Bearer {key}", "{key}", "basic {key}",
                                  "Basic  {key}", "Basic {standard}x"])
def test_authorization_must_be_basic_space_known_key_exactly(
    emu: Emulator, ids: dict[str, str], auth: str
) -> None:
    header = auth.format(key=emu.api_key, standard=emu.standard_key)
    r = _call(emu, header, "POST", "/v2/users", {"uid": "x"}, ids)
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES)
def test_standard_key_may_create_update_and_read_job_status(
    emu: Emulator, ids: dict[str, str], method: str, path: str, body: object
) -> None:
    r = _call(emu, f"Basic {emu.standard_key}", method, path, body, ids)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("method", "path", "body"), READ_ROUTES)
def test_standard_key_cannot_read_or_delete_data(
    emu: Emulator, ids: dict[str, str], method: str, path: str, body: object
) -> None:
    r = _call(emu, f"Basic {emu.standard_key}", method, path, body, ids)
    assert r.status_code == 403 and r.json() == FORBIDDEN


@pytest.mark.parametrize(("method", "path", "body"), READ_ROUTES)
def test_admin_key_may_read_and_delete(
    emu: Emulator, ids: dict[str, str], method: str, path: str, body: object
) -> None:
    r = _call(emu, f"Basic {emu.api_key}", method, path, body, ids)
    assert r.status_code == 200, r.text


def test_keys_are_distinct_strings(emu: Emulator) -> None:
    assert isinstance(emu.api_key, str) and isinstance(emu.standard_key, str)
    assert emu.api_key != emu.standard_key


def test_unknown_route_is_404_with_error_body(admin: Api) -> None:
    r = admin.get("/v2/nothing")
    assert r.status_code == 404 and set(r.json()) == {"message", "code"}
