"""Idempotency-Key on the four create POSTs (contract §6, §9.8)."""

from __future__ import annotations

import pytest
from emu_helpers import Api

from fs_pandas.emulator import Emulator, Faults

CREATES = [
    ("/v2/users/batch", {"requests": [{"uid": "a"}]}),
    ("/v2/events/batch", {"requests": [{"name": "A"}]}),
    ("/v2/users", {"display_name": "anon"}),
    ("/v2/events", {"name": "A"}),
]


@pytest.mark.parametrize(("path", "body"), CREATES)
def test_same_key_and_body_replays_the_first_answer_without_acting_twice(
    emu: Emulator, admin: Api, path: str, body: dict[str, object]
) -> None:
    def counts() -> tuple[int, int, int]:
        return len(emu.jobs()), len(emu.users()), len(emu.events())

    first = admin.post(path, body, headers={"Idempotency-Key": "k1"})
    after_first = counts()
    again = admin.post(path, body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert counts() == after_first != (0, 0, 0)


def test_replay_does_not_create_a_second_job_and_records_the_key(
    emu: Emulator, admin: Api
) -> None:
    body = {"requests": [{"uid": "a"}]}
    ids = {admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"}).json()["job"][
        "id"] for _ in range(3)}
    assert len(ids) == 1
    assert [(j["id"], j["idempotency_key"]) for j in emu.jobs()] == [(ids.pop(), "k")]


def test_body_comparison_ignores_key_order_and_whitespace(emu: Emulator, admin: Api) -> None:
    h = {"Idempotency-Key": "k", "Content-Type": "application/json"}
    admin.post("/v2/users/batch", data=b'{"requests": [{"uid": "a", "email": "e@x"}]}', headers=h)
    r = admin.post("/v2/users/batch", data=b'{"requests":[{"email":"e@x","uid":"a"}]}', headers=h)
    assert r.status_code == 200 and len(emu.jobs()) == 1


def test_same_key_with_a_different_body_is_422(emu: Emulator, admin: Api) -> None:
    admin.post("/v2/users/batch", {"requests": [{"uid": "a"}]}, headers={"Idempotency-Key": "k"})
    r = admin.post("/v2/users/batch", {"requests": [{"uid": "b"}]},
                   headers={"Idempotency-Key": "k"})
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_mismatch" and r.json()["message"]
    assert len(emu.jobs()) == 1


def test_same_key_on_another_route_is_a_mismatch(admin: Api) -> None:
    admin.post("/v2/users", {"uid": "a"}, headers={"Idempotency-Key": "k"})
    assert admin.post("/v2/events", {"name": "A"},
                      headers={"Idempotency-Key": "k"}).status_code == 422


def test_keys_expire_after_24_hours(emu: Emulator, admin: Api) -> None:
    now = [0.0]
    emu.configure(clock=lambda: now[0])
    body = {"requests": [{"uid": "a"}]}
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    now[0] = 24 * 3600 - 1
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    assert len(emu.jobs()) == 1
    now[0] = 24 * 3600
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    assert len(emu.jobs()) == 2


def test_429_answers_are_not_stored(emu: Emulator, admin: Api) -> None:
    emu.configure(max_in_progress=1, processing_polls=0)
    blocker = admin.batch("users", [{"uid": "x"}])
    body = {"requests": [{"uid": "a"}]}
    assert admin.post("/v2/users/batch", body,
                      headers={"Idempotency-Key": "k"}).status_code == 429
    admin.finish("users", blocker)
    assert admin.post("/v2/users/batch", body,
                      headers={"Idempotency-Key": "k"}).status_code == 200
    assert len(emu.jobs()) == 2


def test_5xx_answers_are_not_stored(emu: Emulator, admin: Api) -> None:
    emu.configure(faults=Faults(rate_5xx=1.0))
    body = {"requests": [{"uid": "a"}]}
    assert admin.post("/v2/users/batch", body,
                      headers={"Idempotency-Key": "k"}).status_code == 500
    emu.configure(faults=Faults())
    assert admin.post("/v2/users/batch", body,
                      headers={"Idempotency-Key": "k"}).status_code == 200


def test_400_answers_are_stored_and_replayed(emu: Emulator, admin: Api) -> None:
    body = {"requests": []}
    first = admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    again = admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 400
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_reset_forgets_keys(emu: Emulator, admin: Api) -> None:
    body = {"requests": [{"uid": "a"}]}
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    emu.reset()
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    assert len(emu.jobs()) == 1 and "Idempotent-Replayed" not in admin.post(
        "/v2/users/batch", {"requests": [{"uid": "b"}]}).headers
