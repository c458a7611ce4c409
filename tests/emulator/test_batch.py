"""Batch jobs UB1-UB4 / EB1-EB4 (contract §2, §5): lifecycle, shapes, paging, partial FAILED."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api

RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")


@pytest.mark.parametrize("kind", ["users", "events"])
def test_create_job_answers_processing_metadata_without_finished(admin: Api, kind: str) -> None:
    row = {"uid": "u1"} if kind == "users" else {"name": "Signed Up"}
    r = admin.post(f"/v2/{kind}/batch", {"requests": [row]})
    assert r.status_code == 200
    job = r.json()["job"]
    assert set(job) == {"id", "status", "created"}
    assert job["status"] == "PROCESSING" and RFC3339_Z.match(job["created"])


@pytest.mark.parametrize("kind", ["users", "events"])
def test_status_has_numeric_counters_and_finished_null_until_terminal(
    admin: Api, kind: str
) -> None:
    row = {"uid": "u1"} if kind == "users" else {"name": "Signed Up"}
    job_id = admin.batch(kind, [row])
    first = admin.get(f"/v2/{kind}/batch/{job_id}").json()
    # The seed: finished "have a value if the job status is FAILED or COMPLETED, otherwise
    # it is null" -- present, and null.
    assert first["job"]["status"] == "PROCESSING" and first["job"]["finished"] is None
    assert first["imports"] == 0 and first["errors"] == 0
    done = admin.get(f"/v2/{kind}/batch/{job_id}").json()
    assert done == {"imports": 1, "errors": 0, "job": {**done["job"], "status": "COMPLETED"}}
    assert RFC3339_Z.match(done["job"]["finished"])


def test_processing_polls_n_means_the_n_plus_first_poll_is_terminal(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(processing_polls=3)
    job_id = admin.batch("users", [{"uid": "u1"}])
    statuses = [admin.get(f"/v2/users/batch/{job_id}").json()["job"]["status"] for _ in range(5)]
    assert statuses == ["PROCESSING"] * 3 + ["COMPLETED"] * 2


def test_processing_seconds_zero_finishes_without_polls(emu: Emulator, admin: Api) -> None:
    emu.configure(processing_polls=None, processing_seconds=0.0)
    job_id = admin.batch("users", [{"uid": "u1"}])
    assert admin.get(f"/v2/users/batch/{job_id}").json()["job"]["status"] == "COMPLETED"


def test_processing_seconds_follow_the_injected_clock(emu: Emulator, admin: Api) -> None:
    now = [1_000_000.0]
    emu.configure(processing_polls=None, processing_seconds=30.0, clock=lambda: now[0])
    job_id = admin.batch("users", [{"uid": "u1"}])
    assert admin.get(f"/v2/users/batch/{job_id}").json()["job"]["status"] == "PROCESSING"
    now[0] += 30.0
    body = admin.get(f"/v2/users/batch/{job_id}").json()
    assert body["job"]["status"] == "COMPLETED"
    assert body["job"]["finished"] == "1970-01-12T13:47:10.000Z"


@pytest.mark.parametrize("kind", ["users", "events"])
@pytest.mark.parametrize("which", ["imports", "errors"])
def test_results_answer_202_with_empty_body_while_processing(
    admin: Api, kind: str, which: str
) -> None:
    row = {"uid": "u1"} if kind == "users" else {"name": "Signed Up"}
    job_id = admin.batch(kind, [row])
    r = admin.get(f"/v2/{kind}/batch/{job_id}/{which}")
    assert r.status_code == 202 and r.content == b""


@pytest.mark.parametrize("kind", ["users", "events"])
def test_unknown_job_is_404(admin: Api, kind: str) -> None:
    for suffix in ("", "/imports", "/errors"):
        r = admin.get(f"/v2/{kind}/batch/nope{suffix}")
        assert r.status_code == 404 and r.json()["code"] == "resource_not_found"


def test_a_users_job_id_is_not_an_events_job(admin: Api) -> None:
    job_id = admin.batch("users", [{"uid": "u1"}])
    assert admin.get(f"/v2/events/batch/{job_id}").status_code == 404


def test_results_are_paged_with_token_on_every_page_but_the_last(emu: Emulator, admin: Api) -> None:
    emu.configure(page_size=3)
    job_id = admin.batch("users", [{"uid": f"u{i}"} for i in range(7)])
    admin.finish("users", job_id)
    pages = admin.pages("users", job_id, "imports")
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert all(p["total_records"] == "7" for p in pages)
    tokens = [p["next_page_token"] for p in pages]
    assert all(isinstance(t, str) and t for t in tokens[:2]) and tokens[2] is None
    assert sorted(u["uid"] for p in pages for u in p["results"]) == sorted(
        f"u{i}" for i in range(7)
    )


def test_empty_error_list_has_string_zero_total_and_null_token(admin: Api) -> None:
    job_id = admin.batch("users", [{"uid": "u1"}])
    admin.finish("users", job_id)
    assert admin.get(f"/v2/users/batch/{job_id}/errors").json() == {
        "results": [],
        "total_records": "0",
        "next_page_token": None,
    }


def test_partial_failure_is_failed_and_good_rows_are_imported(admin: Api) -> None:
    rows = [{"uid": "ok1"}, {"uid": "bad", "properties": {"9x": 1}}, {"uid": "ok2"}]
    job_id = admin.batch("users", rows)
    status = admin.finish("users", job_id)
    assert status["job"]["status"] == "FAILED"
    assert (status["imports"], status["errors"]) == (2, 1)
    imports = admin.pages("users", job_id, "imports")[0]["results"]
    assert sorted(u["uid"] for u in imports) == ["ok1", "ok2"]
    errors = admin.pages("users", job_id, "errors")[0]["results"]
    assert errors == [
        {"message": errors[0]["message"], "code": "invalid_argument", "user": rows[1]}
    ]
    assert [u["uid"] for u in admin.get("/v2/users").json()["results"]] == ["ok1", "ok2"]


def test_user_imports_are_the_stored_users(admin: Api) -> None:
    admin.post("/v2/users", {"uid": "u1", "properties": {"a": 1}})
    job_id = admin.batch("users", [{"uid": "u1", "email": "e@x.io", "properties": {"b": "x"}}])
    admin.finish("users", job_id)
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    stored = admin.get("/v2/users", params={"uid": "u1"}).json()["results"][0]
    assert user["id"] == stored["id"]
    assert user["email"] == "e@x.io" and user["properties"] == {"a": 1, "b": "x"}
    # The seed's imports example: no schema / type_conflicts keys when there are none.
    assert "schema" not in user and "type_conflicts" not in user


def test_user_imports_fill_schema_with_include_schema(admin: Api) -> None:
    job_id = admin.batch(
        "users",
        [{"uid": "u1", "properties": {"n": 1, "i": 2}, "schema": {"properties": {"i": "int"}}}],
    )
    admin.finish("users", job_id)
    (user,) = admin.pages("users", job_id, "imports", include_schema="true")[0]["results"]
    assert user["schema"] == {"properties": {"n": "real", "i": "int"}}


def test_batch_upserts_on_uid_and_anonymous_rows_create_users(admin: Api) -> None:
    job_id = admin.batch(
        "users",
        [
            {"uid": "u1", "properties": {"a": 1}},
            {"uid": "u1", "properties": {"a": 2, "b": 1}},
            {"display_name": "anon"},
            {"display_name": "anon"},
        ],
    )
    admin.finish("users", job_id)
    users = admin.get("/v2/users").json()["results"]
    assert len(users) == 3
    assert users[0]["uid"] == "u1" and users[0]["properties"] == {"a": 2, "b": 1}


def test_batch_row_with_unknown_id_fails_with_user_not_found(admin: Api) -> None:
    job_id = admin.batch("users", [{"id": "404404", "display_name": "x"}])
    admin.finish("users", job_id)
    (err,) = admin.pages("users", job_id, "errors")[0]["results"]
    assert err["code"] == "user_not_found" and err["user"] == {"id": "404404", "display_name": "x"}


def test_batch_row_with_known_id_updates_that_user(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1"}).json()["id"]
    job_id = admin.batch("users", [{"id": user_id, "properties": {"k": "v"}}])
    assert admin.finish("users", job_id)["job"]["status"] == "COMPLETED"
    assert admin.get(f"/v2/users/{user_id}").json()["properties"] == {"k": "v"}


def test_batch_row_changing_the_uid_of_an_identified_user_fails(admin: Api) -> None:
    user_id = admin.post("/v2/users", {"uid": "u1"}).json()["id"]
    job_id = admin.batch("users", [{"id": user_id, "uid": "u2"}])
    assert admin.finish("users", job_id)["job"]["status"] == "FAILED"


def test_event_imports_echo_user_session_context_name_timestamp_properties(
    emu: Emulator, admin: Api
) -> None:
    rows = [
        {
            "user": {"uid": "u1"},
            "session": {"use_most_recent": True},
            "name": "A",
            "timestamp": "2022-03-15T14:23:23Z",
            "properties": {"p": 1},
            "context": {"browser": {"url": "https://x.io"}},
        },
        {"session": {"id": "1:2"}, "name": "B", "timestamp": "2022-03-15T14:23:24Z"},
    ]
    job_id = admin.batch("events", rows)
    admin.finish("events", job_id)
    results = admin.pages("events", job_id, "imports")[0]["results"]
    user_id = admin.get("/v2/users", params={"uid": "u1"}).json()["results"][0]["id"]
    assert results == [
        {
            "user": {"id": user_id, "uid": "u1"},
            "context": {"browser": {"url": "https://x.io"}},
            "name": "A",
            "timestamp": "2022-03-15T14:23:23Z",
            "properties": {"p": 1},
        },
        {
            "user": {"id": "1"},
            "session": {"id": "1:2"},
            "name": "B",
            "timestamp": "2022-03-15T14:23:24Z",
            "properties": {},
        },
    ]
    assert [e["name"] for e in emu.events()] == ["A", "B"]


def test_event_without_timestamp_gets_the_server_time(emu: Emulator, admin: Api) -> None:
    emu.configure(clock=lambda: 86400.0)
    job_id = admin.batch("events", [{"name": "A"}])
    admin.finish("events", job_id)
    (event,) = admin.pages("events", job_id, "imports")[0]["results"]
    assert event["timestamp"] == "1970-01-02T00:00:00.000Z"


def test_shared_context_applies_to_rows_and_conflicts_with_row_context(admin: Api) -> None:
    shared = {"context": {"browser": {"url": "https://shared.io"}}}
    rows = [{"name": "A"}, {"name": "B", "context": {"browser": {"url": "https://own.io"}}}]
    job_id = admin.batch("events", rows, shared=shared)
    assert admin.finish("events", job_id)["job"]["status"] == "FAILED"
    (ok,) = admin.pages("events", job_id, "imports")[0]["results"]
    assert ok["context"] == shared["context"]
    (err,) = admin.pages("events", job_id, "errors")[0]["results"]
    assert err["event"] == rows[1] and err["shared"] == shared and err["code"]


def test_event_imports_fill_schema_with_include_schema(admin: Api) -> None:
    job_id = admin.batch(
        "events",
        [{"name": "A", "properties": {"n": 1, "i": 2}, "schema": {"properties": {"i": "int"}}}],
    )
    admin.finish("events", job_id)
    (event,) = admin.pages("events", job_id, "imports", include_schema="true")[0]["results"]
    assert event["schema"] == {"properties": {"n": "real", "i": "int"}}


def test_single_create_event_answers_empty_object_and_stores_it(emu: Emulator, admin: Api) -> None:
    r = admin.post("/v2/events", {"name": "A", "user": {"uid": "u1"}})
    assert r.status_code == 200 and r.json() == {}
    assert [(e["name"], e["user"]["uid"]) for e in emu.events()] == [("A", "u1")]


def test_anonymous_event_creates_a_new_user(emu: Emulator, admin: Api) -> None:
    assert admin.post("/v2/events", {"name": "A"}).status_code == 200
    assert len(emu.users()) == 1 and "uid" not in emu.users()[0]


def test_job_ids_never_repeat_across_resets_or_emulators(emu: Emulator, admin: Api) -> None:
    """Fullstory's job ids are unique: an emulator that starts over (reset, or a new one with
    the same seed) counts jobs from 1 again but hands out new ids."""
    from fs_pandas.emulator import serve

    first = [admin.batch("users", [{"uid": "u1"}]) for _ in range(2)]
    emu.reset()
    after_reset = [admin.batch("users", [{"uid": "u1"}]) for _ in range(2)]
    with serve(seed=emu.config.seed) as other:
        elsewhere = [Api(other, other.api_key).batch("users", [{"uid": "u1"}]) for _ in range(2)]
    ids = first + after_reset + elsewhere
    assert len(set(ids)) == len(ids)


def _checked(emu: Emulator, job_id: str) -> bool:
    """Whether the job's rows have been checked (waits up to 10 s for it)."""
    job = emu.state.queue.jobs[job_id]
    deadline = time.monotonic() + 10
    while job.check_rows is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    return job.check_rows is None


@pytest.mark.parametrize("kind", ["users", "events"])
def test_a_batchs_rows_are_checked_while_it_processes_and_fail_at_its_end(
    emu: Emulator, admin: Api, kind: str
) -> None:
    # The create is answered on the envelope alone; the rows are checked meanwhile, and
    # the bad one is reported with the job's results, as if checked at the create.
    emu.configure(processing_polls=None, processing_seconds=3600)
    good, bad = ({"uid": "u1"}, {"uid": ""}) if kind == "users" else ({"name": "A"}, {})
    job_id = admin.batch(kind, [good, bad])
    assert _checked(emu, job_id)
    assert admin.get(f"/v2/{kind}/batch/{job_id}").json()["job"]["status"] == "PROCESSING"
    emu.configure(processing_polls=1)
    assert admin.finish(kind, job_id)["errors"] == 1


def test_rows_failed_by_the_seeded_faults_are_chosen_at_the_create(
    emu: Emulator, admin: Api
) -> None:
    # Checked later, on another thread, the seeded draws would depend on what else the
    # emulator did meanwhile: with fault rates set, a create checks its rows itself.
    emu.configure(processing_polls=None, processing_seconds=3600, fail_uids={"u2"})
    job_id = admin.batch("users", [{"uid": "u1"}, {"uid": "u2"}])
    job = emu.state.queue.jobs[job_id]
    assert job.check_rows is None and [e is not None for e in job.prefailed] == [False, True]


def test_a_job_whose_time_is_up_finishes_without_waiting_for_a_request(
    emu: Emulator, admin: Api
) -> None:
    # Fullstory finishes a job on its own; a poll then finds it finished, where finishing
    # (applying 50,000 rows) inside the poll would hold that poll and those behind it.
    emu.configure(processing_polls=None, processing_seconds=0.2)
    job = emu.state.queue.jobs[admin.batch("users", [{"uid": "u1"}])]
    deadline = time.monotonic() + 10
    while not job.terminal and time.monotonic() < deadline:
        time.sleep(0.01)  # no request meanwhile
    assert job.terminal and len(job.imports) == 1


def _applied(emu: Emulator, job_id: str) -> bool:
    """Whether all the job's rows have been applied to the store (waits up to 10 s)."""
    job = emu.state.queue.jobs[job_id]
    deadline = time.monotonic() + 10
    while job.applied < job.n_requests and time.monotonic() < deadline:
        time.sleep(0.01)
    return job.applied == job.n_requests


@pytest.mark.parametrize("kind", ["users", "events"])
def test_a_running_jobs_rows_are_applied_while_it_runs_and_counted_at_its_end(
    emu: Emulator, admin: Api, kind: str
) -> None:
    # Applying 50,000 rows at the job's end, under the org's lock, held every request
    # behind it (polls and pages of other jobs) 0.15-0.4 s; Fullstory works while it runs.
    emu.configure(processing_polls=None, processing_seconds=3600)
    rows: list[dict[str, Any]] = (
        [{"uid": f"u{i}"} for i in range(5000)]
        if kind == "users"
        else [{"name": "A", "user": {"uid": f"u{i}"}} for i in range(5000)]
    )
    bad = {"uid": ""} if kind == "users" else {}
    job_id = admin.batch(kind, [*rows, bad])
    assert _applied(emu, job_id)
    status = admin.get(f"/v2/{kind}/batch/{job_id}").json()
    assert status["job"]["status"] == "PROCESSING"
    assert (status["imports"], status["errors"]) == (0, 0)  # counted once finished
    emu.configure(processing_polls=1)
    done = admin.finish(kind, job_id)
    assert (done["imports"], done["errors"]) == (5000, 1)
    assert sum(len(p["results"]) for p in admin.pages(kind, job_id, "imports")) == 5000


def test_jobs_apply_their_rows_in_the_order_they_came(emu: Emulator, admin: Api) -> None:
    # One running slot: the second job waits its turn, and so do its rows, so the uid both
    # jobs hold ends with the second job's values.
    emu.configure(processing_polls=None, processing_seconds=3600, max_running=1)
    first = admin.batch("users", [{"uid": "u1", "properties": {"plan": "free"}}])
    second = admin.batch("users", [{"uid": "u1", "properties": {"plan": "team"}}])
    assert _applied(emu, first)
    emu.state.close()  # the worker has done all it would with both jobs
    assert emu.state.queue.jobs[second].applied == 0
    assert [u["properties"] for u in emu.state.list_users_raw()] == [{"plan": "free"}]
    emu.configure(processing_polls=1)
    admin.finish("users", first)
    admin.finish("users", second)
    assert [u["properties"] for u in emu.state.list_users_raw()] == [{"plan": "team"}]


def test_a_job_from_before_a_reset_applies_nothing_after_it(emu: Emulator, admin: Api) -> None:
    emu.configure(processing_polls=None, processing_seconds=3600)
    with emu.state.reading_create():  # the worker waits, the job unchecked, unapplied
        job_id = admin.batch("users", [{"uid": "u1"}])
        job = emu.state.queue.jobs[job_id]
        emu.reset()
    emu.state.close()
    assert job.check_rows is None  # checked, then found gone
    assert job.applied == 0 and emu.state.list_users_raw() == []
