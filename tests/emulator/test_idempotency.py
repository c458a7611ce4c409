"""Idempotency-Key on the four create POSTs (contract §6, §9.8)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import orjson
import pytest
import requests

from fs_pandas.emulator import Emulator, Faults
from fs_pandas.emulator.idempotency import Fingerprint
from tests.emulator.emu_helpers import Api, stored_counts

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
    first = admin.post(path, body, headers={"Idempotency-Key": "k1"})
    after_first = stored_counts(emu)
    again = admin.post(path, body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in again.headers  # not a documented header
    assert stored_counts(emu) == after_first != (0, 0, 0)


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
    assert again.json() == first.json() and len(emu.jobs()) == 0


def test_reset_forgets_keys(emu: Emulator, admin: Api) -> None:
    body = {"requests": [{"uid": "a"}]}
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    emu.reset()
    admin.post("/v2/users/batch", body, headers={"Idempotency-Key": "k"})
    assert len(emu.jobs()) == 1


# -- a request that conflicts with one still executing (§6, §11.6) --------------------------------


def _post_in_thread(emu: Emulator, path: str, body: object, key: str | None) -> tuple[
        threading.Thread, list[requests.Response]]:
    """POST from another thread (the test thread stays free to send the conflicting one)."""
    out: list[requests.Response] = []
    headers = {"Authorization": f"Basic {emu.api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key

    def run() -> None:
        out.append(requests.post(emu.url + path, json=body, headers=headers, timeout=30))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, "the first request never got in flight"
        time.sleep(0.005)


@pytest.mark.parametrize(("path", "body"), CREATES)
def test_same_key_while_the_first_is_executing_is_409_and_saves_nothing(
    emu: Emulator, admin: Api, path: str, body: dict[str, object]
) -> None:
    gate = threading.Event()
    emu.configure(create_hold=gate)
    thread, first = _post_in_thread(emu, path, body, "k")
    _wait_until(lambda: emu.in_flight() == ["k"])

    conflict = admin.post(path, body, headers={"Idempotency-Key": "k"})
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict" and conflict.json()["message"]
    assert conflict.headers["Retry-After"] == "1"
    # A different body conflicts too: nothing has been saved to compare it with.
    other = admin.post(path, {"requests": [{"uid": "zzz"}]}, headers={"Idempotency-Key": "k"})
    assert other.status_code == 409
    assert (emu.jobs(), emu.users(), emu.events()) == ([], [], [])  # the first is still held

    gate.set()
    thread.join(timeout=10)
    assert first[0].status_code == 200
    after_first = stored_counts(emu)
    # Once the first has finished, the same key is replayed as before, not the 409.
    replay = admin.post(path, body, headers={"Idempotency-Key": "k"})
    assert replay.status_code == 200 and replay.json() == first[0].json()
    assert stored_counts(emu) == after_first
    assert emu.in_flight() == []


def test_other_keys_and_requests_go_on_while_one_is_held(emu: Emulator, admin: Api) -> None:
    gate = threading.Event()
    emu.configure(create_hold=gate)
    thread, first = _post_in_thread(emu, "/v2/users/batch", {"requests": [{"uid": "a"}]}, "k1")
    _wait_until(lambda: emu.held() == 1)
    assert admin.get("/v2/users").status_code == 200  # the server is not blocked
    emu.configure(create_hold=None)  # changing the setting releases what it held
    thread.join(timeout=10)
    assert first[0].status_code == 200 and emu.held() == 0
    assert admin.post("/v2/users/batch", {"requests": [{"uid": "a"}]},
                      headers={"Idempotency-Key": "k2"}).status_code == 200
    assert len(emu.jobs()) == 2


def test_create_delay_keeps_a_request_in_flight(emu: Emulator, admin: Api) -> None:
    emu.configure(create_delay_seconds=0.3)
    started = time.monotonic()
    assert admin.post("/v2/events", {"name": "A"}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_an_empty_idempotency_key_is_no_key(emu: Emulator, admin: Api) -> None:
    body = {"requests": [{"uid": "a"}]}
    for _ in range(2):
        r = admin.post("/v2/users/batch", body, headers={"Idempotency-Key": ""})
        assert r.status_code == 200
    assert [j["idempotency_key"] for j in emu.jobs()] == [None, None]


def _fingerprint(route: str, raw: bytes) -> Fingerprint:
    return Fingerprint(route, raw, orjson.loads(raw))


@pytest.mark.parametrize("settled_first", [False, True])
def test_a_fingerprint_tells_requests_apart_by_route_and_json_not_by_bytes(
    settled_first: bool,
) -> None:
    # Equal bytes settle it at once; other bytes are compared as JSON, whether the first
    # request's canonical form was worked out in the background already or is now.
    sent = b'{"requests": [{"uid": "a", "email": "e@x"}]}'
    first = _fingerprint("/v2/users/batch", sent)
    if settled_first:
        first.settle()
    assert first.same_request(_fingerprint("/v2/users/batch", sent))
    assert first.same_request(
        _fingerprint("/v2/users/batch", b'{"requests":[{"email":"e@x","uid":"a"}]}')
    )
    assert not first.same_request(_fingerprint("/v2/users/batch", b'{"requests":[{"uid":"b"}]}'))
    assert not first.same_request(_fingerprint("/v2/events/batch", sent))


def test_a_stored_fingerprint_is_settled_after_the_answer_without_a_replay(
    emu: Emulator, admin: Api
) -> None:
    # Its canonical form (45 ms for a 15 MB batch) is worked out by the emulator's worker
    # once the create is answered, not while the client waits; the body is let go then.
    admin.post("/v2/users/batch", {"requests": [{"uid": "a"}]}, headers={"Idempotency-Key": "k"})
    stored = emu.state.idempotency.stored["k"].fingerprint
    deadline = time.monotonic() + 10
    while not stored.settled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stored.settled
