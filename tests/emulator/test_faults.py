"""Fault injection (seeded): 429, 5xx, slow, dropped connections, row errors, fail_uids."""

from __future__ import annotations

import time

import pytest
import requests

from fs_pandas.emulator import Emulator, Faults
from tests.emulator.emu_helpers import Api

BODY = {"requests": [{"uid": "a"}]}


def test_rate_429_answers_429_with_retry_after_and_does_not_process(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(faults=Faults(rate_429=1.0), retry_after=3)
    r = admin.post("/v2/users/batch", BODY)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert r.json()["code"] == "too_many_requests"
    assert emu.jobs() == []


def test_rate_5xx_answers_500_server_error_and_does_not_process(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(faults=Faults(rate_5xx=1.0))
    r = admin.post("/v2/users/batch", BODY)
    assert r.status_code == 500
    assert r.json() == {"message": "Server error was encountered", "code": "server_error"}
    assert emu.jobs() == []


def test_drop_before_closes_the_socket_without_response_and_does_not_process(
    emu: Emulator,
) -> None:
    emu.configure(faults=Faults(rate_drop_before=1.0))
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.url + "/v2/users/batch", json=BODY,
                      headers={"Authorization": f"Basic {emu.api_key}"}, timeout=10)
    assert emu.jobs() == []


def test_drop_after_processes_the_request_then_closes_without_response(emu: Emulator) -> None:
    emu.configure(faults=Faults(rate_drop_after=1.0))
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.url + "/v2/users/batch", json=BODY,
                      headers={"Authorization": f"Basic {emu.api_key}"}, timeout=10)
    assert len(emu.jobs()) == 1


def test_retry_after_a_lost_response_with_the_same_key_replays_the_job(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(faults=Faults(rate_drop_after=1.0))
    with pytest.raises(requests.ConnectionError):
        admin.post("/v2/users/batch", BODY, headers={"Idempotency-Key": "k"})
    emu.configure(faults=Faults())
    r = admin.post("/v2/users/batch", BODY, headers={"Idempotency-Key": "k"})
    assert r.json()["job"]["id"] == emu.jobs()[0]["id"] and len(emu.jobs()) == 1


def test_a_dropped_connection_does_not_break_the_server(emu: Emulator, admin: Api) -> None:
    emu.configure(faults=Faults(rate_drop_before=1.0))
    with pytest.raises(requests.ConnectionError):
        admin.get("/v2/users")
    emu.configure(faults=Faults())
    assert admin.get("/v2/users").status_code == 200


def test_slow_requests_are_delayed_by_slow_seconds(emu: Emulator, admin: Api) -> None:
    # A lower bound only (the delay is an asyncio.sleep): this cannot flake on a busy machine.
    emu.configure(faults=Faults(rate_slow=1.0, slow_seconds=0.3))
    start = time.monotonic()
    r = admin.get("/v2/users")
    assert r.status_code == 200 and time.monotonic() - start >= 0.3


def test_faults_never_apply_to_inspection_routes(emu: Emulator) -> None:
    emu.configure(faults=Faults(rate_drop_before=1.0, rate_5xx=1.0))
    assert requests.get(emu.url + "/_emulator/jobs", timeout=10).json() == []
    assert requests.post(emu.url + "/_emulator/reset", timeout=10).status_code == 200


def test_request_faults_are_reproducible_from_the_seed(emu: Emulator, admin: Api) -> None:
    def sequence() -> list[int]:
        emu.configure(faults=Faults(rate_429=0.5, seed=42))
        return [admin.get("/v2/users").status_code for _ in range(20)]

    first = sequence()
    assert first == sequence() and set(first) == {200, 429}


def test_row_error_rate_fails_rows_with_row_error_code(emu: Emulator, admin: Api) -> None:
    emu.configure(faults=Faults(row_error_rate=1.0, row_error_code="boom"))
    job_id = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    assert admin.finish("users", job_id)["errors"] == 2
    errors = admin.pages("users", job_id, "errors")[0]["results"]
    assert [(e["code"], e["user"]) for e in errors] == [("boom", {"uid": "a"}),
                                                        ("boom", {"uid": "b"})]


def test_row_errors_are_reproducible_from_the_seed(emu: Emulator, admin: Api) -> None:
    def failed() -> list[str]:
        emu.configure(faults=Faults(row_error_rate=0.5, seed=7))
        job_id = admin.batch("users", [{"uid": f"u{i}"} for i in range(40)])
        admin.finish("users", job_id)
        return sorted(e["user"]["uid"] for e in admin.pages("users", job_id, "errors")[0][
            "results"])

    first = failed()
    assert 0 < len(first) < 40 and first == failed()


def test_fail_uids_fail_user_rows_and_events_of_those_uids(emu: Emulator, admin: Api) -> None:
    emu.configure(fail_uids={"bad"}, faults=Faults(row_error_code="nope"))
    ujob = admin.batch("users", [{"uid": "bad"}, {"uid": "good"}])
    ejob = admin.batch("events", [{"name": "A", "user": {"uid": "bad"}},
                                  {"name": "B", "user": {"uid": "good"}}])
    for kind, job_id in (("users", ujob), ("events", ejob)):
        status = admin.finish(kind, job_id)
        assert (status["job"]["status"], status["imports"], status["errors"]) == ("FAILED", 1, 1)
        (err,) = admin.pages(kind, job_id, "errors")[0]["results"]
        assert err["code"] == "nope"
    assert [u["uid"] for u in emu.users()] == ["good"]


def test_faults_apply_to_v2beta_too(emu: Emulator, admin: Api) -> None:
    emu.configure(faults=Faults(rate_429=1.0))
    assert admin.get("/v2beta/users").status_code == 429


def test_fault_rates_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_429"):
        Faults(rate_429=1.5)
