"""The Python handle, inspection routes, transport details and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import requests

from fs_pandas.emulator import Emulator, EmulatorConfig, serve
from tests.emulator.emu_helpers import Api


def test_url_has_no_trailing_slash_and_listens_on_loopback(emu: Emulator) -> None:
    assert emu.url.startswith("http://127.0.0.1:") and not emu.url.endswith("/")


def test_jobs_lists_kind_id_status_requests_and_key_in_creation_order(
    emu: Emulator, admin: Api
) -> None:
    u = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    r = admin.post("/v2/events/batch", {"requests": [{"name": "A"}]},
                   headers={"Idempotency-Key": "k"})
    e = r.json()["job"]["id"]
    expected = [
        {"kind": "users", "id": u, "status": "PROCESSING", "requests": 2,
         "idempotency_key": None},
        {"kind": "events", "id": e, "status": "PROCESSING", "requests": 1,
         "idempotency_key": "k"},
    ]
    assert emu.jobs() == expected
    assert requests.get(emu.url + "/_emulator/jobs", timeout=10).json() == expected


def test_users_and_events_expose_what_is_stored(emu: Emulator, admin: Api) -> None:
    admin.post("/v2/users", {"uid": "a", "email": "a@x.io", "properties": {"k": 1}})
    admin.post("/v2/events", {"name": "E", "user": {"uid": "a"}})
    (user,) = emu.users()
    assert (user["uid"], user["email"], user["properties"]) == ("a", "a@x.io", {"k": 1})
    assert [(e["name"], e["user"]) for e in emu.events()] == [("E", {"id": user["id"],
                                                                     "uid": "a"})]


def test_reset_clears_state_and_restores_start_settings(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=2, processing_polls=9)
    admin.batch("users", [{"uid": "a"}])
    admin.post("/v2/events", {"name": "E"})
    emu.reset()
    assert (emu.jobs(), emu.users(), emu.events()) == ([], [], [])
    assert (emu.config.page_size, emu.config.processing_polls) == (1000, 1)


def test_reset_route_clears_state(emu: Emulator, admin: Api) -> None:
    admin.batch("users", [{"uid": "a"}])
    assert requests.post(emu.url + "/_emulator/reset", timeout=10).json() == {}
    assert emu.jobs() == [] and emu.users() == []


def test_configure_rejects_unknown_settings(emu: Emulator) -> None:
    with pytest.raises(TypeError, match="page_sise"):
        emu.configure(page_sise=3)


def test_serve_picks_a_free_port_and_shuts_down_cleanly() -> None:
    with serve() as one, serve() as two:
        assert one.url != two.url
        assert requests.get(one.url + "/_emulator/jobs", timeout=10).status_code == 200
        url = one.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_emulator/jobs", timeout=10)


def test_serve_uses_the_given_settings() -> None:
    with serve(page_size=7, api_key="a-key", standard_key="s-key") as emu:
        assert (emu.config.page_size, emu.api_key, emu.standard_key) == (7, "a-key", "s-key")


def test_default_config_is_the_contract() -> None:
    cfg = EmulatorConfig()
    assert cfg.idempotency_ttl_seconds == 24 * 3600 and cfg.retry_after == 1


def test_body_without_content_type_is_accepted(emu: Emulator) -> None:
    r = requests.post(emu.url + "/v2/users/batch", data=orjson.dumps({"requests": [{"uid": "a"}]}),
                      headers={"Authorization": f"Basic {emu.api_key}"}, timeout=10)
    assert "content-type" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 200


def test_chunked_body_is_accepted(emu: Emulator) -> None:
    payload = orjson.dumps({"requests": [{"uid": f"u{i}"} for i in range(500)]})

    def chunks() -> object:
        for i in range(0, len(payload), 1000):
            yield payload[i:i + 1000]

    r = requests.post(emu.url + "/v2/users/batch", data=chunks(),
                      headers={"Authorization": f"Basic {emu.api_key}"}, timeout=10)
    assert r.request.headers["Transfer-Encoding"] == "chunked"
    assert r.status_code == 200 and emu.jobs()[0]["requests"] == 500


def test_command_line_prints_url_and_keys_and_serves_until_terminated() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fs_pandas.emulator", "--port", "0", "--processing-polls", "1"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=root,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[0].split()[-1]
        admin_key = lines[1].split()[-1]
        assert "Standard key" in lines[2]
        r = requests.post(url + "/v2/users", json={"uid": "a"},
                          headers={"Authorization": f"Basic {admin_key}"}, timeout=10)
        assert r.status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
