"""Org caps (contract §4): 100 running, 429 at 200 jobs / 500,000 rows in progress, queueing."""

from __future__ import annotations

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api

TOO_MANY = {"message": "Too many requests. Client has exceeded the rate limit for this endpoint.",
            "code": "too_many_requests"}


def test_defaults_are_the_documented_caps(emu: Emulator) -> None:
    cfg = emu.config
    assert (cfg.max_running, cfg.max_in_progress, cfg.max_rows_in_progress) == (100, 200, 500_000)
    assert cfg.max_batch_requests == 50_000


def test_create_at_max_in_progress_is_429_with_retry_after(emu: Emulator, admin: Api) -> None:
    emu.configure(max_in_progress=2, processing_polls=5, retry_after=7)
    admin.batch("users", [{"uid": "a"}])
    admin.batch("events", [{"name": "A"}])
    r = admin.post("/v2/users/batch", {"requests": [{"uid": "c"}]})
    assert r.status_code == 429 and r.json() == TOO_MANY
    assert r.headers["Retry-After"] == "7"
    assert len(emu.jobs()) == 2


def test_create_at_max_rows_in_progress_is_429(emu: Emulator, admin: Api) -> None:
    emu.configure(max_rows_in_progress=3, processing_polls=5)
    admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    assert admin.post("/v2/users/batch", {"requests": [{"uid": "c"}]}).status_code == 200
    r = admin.post("/v2/users/batch", {"requests": [{"uid": "d"}]})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"


def test_a_finished_job_frees_its_place(emu: Emulator, admin: Api) -> None:
    emu.configure(max_in_progress=1, processing_polls=0)
    first = admin.batch("users", [{"uid": "a"}])
    assert admin.post("/v2/users/batch", {"requests": [{"uid": "b"}]}).status_code == 429
    admin.finish("users", first)
    assert admin.post("/v2/users/batch", {"requests": [{"uid": "b"}]}).status_code == 200


def test_single_creates_are_not_subject_to_batch_caps(emu: Emulator, admin: Api) -> None:
    emu.configure(max_in_progress=1, processing_polls=5)
    admin.batch("users", [{"uid": "a"}])
    assert admin.post("/v2/users", {"uid": "b"}).status_code == 200
    assert admin.post("/v2/events", {"name": "A"}).status_code == 200


def test_jobs_beyond_max_running_wait_and_their_polls_do_not_count(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(max_running=1, processing_polls=1)
    first = admin.batch("users", [{"uid": "a"}])
    second = admin.batch("users", [{"uid": "b"}])

    def poll(job_id: str) -> str:
        return str(admin.get(f"/v2/users/batch/{job_id}").json()["job"]["status"])

    assert [poll(second) for _ in range(3)] == ["PROCESSING"] * 3  # queued
    assert [poll(first), poll(first)] == ["PROCESSING", "COMPLETED"]
    assert [poll(second), poll(second)] == ["PROCESSING", "COMPLETED"]


def test_queued_job_starts_when_a_running_one_finishes_in_time(
    emu: Emulator, admin: Api
) -> None:
    now = [1000.0]
    emu.configure(max_running=1, processing_polls=None, processing_seconds=10.0,
                  clock=lambda: now[0])
    first = admin.batch("users", [{"uid": "a"}])
    second = admin.batch("users", [{"uid": "b"}])
    now[0] = 1015.0  # first done at 1010; second started at 1010, runs until 1020
    statuses = {j["id"]: j["status"] for j in emu.jobs()}
    assert statuses == {first: "COMPLETED", second: "PROCESSING"}
    now[0] = 1020.0
    assert admin.get(f"/v2/users/batch/{second}").json()["job"]["status"] == "COMPLETED"
