"""Client: real HTTP against the emulator (never a mocked ``requests``).

Retries are observed through the injected ``sleep`` (a recorder: nothing waits) and through
``on_retry``: the ``sleeps`` and ``retries`` of ``make_client`` (tests/conftest.py). Faults are
switched off from inside ``on_retry``, so "fails, then succeeds" is deterministic without sleeps
or seeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import requests

from fs_pandas.client import Client, IdempotencyConflictError
from fs_pandas.emulator import Faults
from fs_pandas.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryExhaustedError,
    ServerError,
    TransportError,
)
from fs_pandas.models import Job, JobStatus
from fs_pandas.retry import Retrying, RetryPolicy
from tests.error_helpers import error_chain, shown

# ------------------------------------------------------------------------------------ helpers


def users_body(*uids: str) -> bytes:
    rows = [{"uid": uid, "properties": {"plan": "pro", "seats": 3}} for uid in uids]
    return orjson.dumps({"requests": rows})


def wait_until_finished(client: Client, kind: Any, job_id: str) -> Job:
    """Poll status; with ``processing_polls=1`` the second poll is terminal."""
    for _ in range(10):
        job = client.job_status(kind, job_id)
        if job.status.finished:
            return job
    raise AssertionError(f"job {job_id} never finished")


def all_pages(client: Client, job_id: str, what: Any, kind: Any = "users") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(100):  # bounded: a client that ignores page_token must fail, not hang
        page = client.job_page(kind, job_id, what, page_token=token)
        rows.extend(page.results)
        token = page.next_page_token
        if token is None:
            return rows
    raise AssertionError("paging never ended")


def turn_faults_off_after(emu: Any, failures: int, retries: list[Retrying]) -> Callable[..., None]:
    """An on_retry hook that records the retry and clears the faults after ``failures``."""

    def hook(event: Retrying) -> None:
        retries.append(event)
        if len(retries) >= failures:
            emu.configure(faults=Faults())

    return hook


# ------------------------------------------------------------------------ configuration rules


def test_missing_key_says_to_pass_api_key_or_set_the_env_var() -> None:
    with pytest.raises(ConfigurationError, match=r"api_key=.*FULLSTORY_API_KEY"):
        Client(None)


def test_blank_key_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        Client("   ")


def test_key_with_a_newline_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Client("secret\r\nX-Evil: 1")
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://api.fullstory.com", "http://10.0.0.5:8080", "http://127.example.com"]
)
def test_plain_http_to_a_non_loopback_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="unencrypted"):
        Client("k", base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://127.9.9.9", "http://[::1]:9", "http://localhost:1"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert Client("k", base_url=url).base_url == url


@pytest.mark.parametrize("url", ["ftp://api.fullstory.com", "api.fullstory.com", "https://"])
def test_base_url_without_http_scheme_and_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Client("k", base_url=url)


def test_base_url_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        Client("k", base_url="https://user:pw@api.fullstory.com")


def test_trailing_slash_of_base_url_is_dropped() -> None:
    assert Client("k", base_url="https://api.fullstory.com/").base_url == (
        "https://api.fullstory.com"
    )


@pytest.mark.parametrize("timeout", [0, -1, (5.0,), (5.0, 0), "5"])
def test_bad_timeout_is_refused(timeout: Any) -> None:
    with pytest.raises(ConfigurationError):
        Client("k", timeout=timeout)


def test_repr_shows_base_url_and_masks_the_key() -> None:
    text = repr(Client("na1.super-secret", base_url="https://api.fullstory.com"))
    assert "super-secret" not in text
    assert text == "Client(base_url='https://api.fullstory.com', key=****)"


def test_from_env_reads_key_and_base_url(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.api_key)
    monkeypatch.setenv("FULLSTORY_BASE_URL", emu.url)
    with Client.from_env() as client:
        job = client.create_job("users", users_body("u1"), idempotency_key="env-1")
    assert client.base_url == emu.url and job.status is JobStatus.PROCESSING


def test_from_env_defaults_to_the_production_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", "k")
    monkeypatch.delenv("FULLSTORY_BASE_URL", raising=False)
    assert Client.from_env().base_url == "https://api.fullstory.com"


def test_from_env_without_the_variable_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FULLSTORY_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="FULLSTORY_API_KEY"):
        Client.from_env()


def test_from_env_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", "from-env")
    monkeypatch.setenv("FULLSTORY_BASE_URL", "http://evil.example.com")
    client = Client.from_env(api_key="explicit", base_url="http://127.0.0.1:1")
    assert client.base_url == "http://127.0.0.1:1"


def test_client_is_not_read_from_the_environment_outside_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", "from-env")
    with pytest.raises(ConfigurationError):
        Client()


# -------------------------------------------------------------------------------------- auth


def test_key_is_sent_as_basic_and_accepted(client: Client) -> None:
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    assert client.job_status("users", job.id).id == job.id


def test_key_that_already_holds_a_space_is_sent_unchanged(
    emu: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(f"Basic {emu.api_key}")
    assert client.create_job("users", users_body("u1"), idempotency_key="k1").id


def sent_headers(key: str, **options: Any) -> Any:
    """The headers of a request exactly as the client hands it to its transport (the emulator
    does not echo request headers); the transport then refuses it, so nothing goes out."""
    sent = []

    class Recording(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            sent.append(request.headers)
            raise requests.ConnectionError("recorded, not sent")

    session = requests.Session()
    session.mount("http://", Recording())
    client = Client(key, base_url="http://127.0.0.1:1", session=session, **options)
    with pytest.raises(RetryExhaustedError):  # the one attempt "failed to connect"
        client.job_status("users", "x")
    return sent[0]


def test_integration_source_header_is_sent_only_when_configured() -> None:
    no_retry = {"retry": RetryPolicy(total=0)}
    with_source = sent_headers("k", integration_source="acme-etl", **no_retry)
    assert with_source["Integration-Source"] == "acme-etl"
    assert "Integration-Source" not in sent_headers("k", **no_retry)


def test_authorization_header_is_the_word_basic_a_space_and_the_raw_key() -> None:
    headers = sent_headers("na1.abc", retry=RetryPolicy(total=0))
    assert headers["Authorization"] == "Basic na1.abc"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "fs-pandas"


def test_unknown_key_raises_authentication_error_saying_unknown_or_revoked(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    with pytest.raises(AuthenticationError, match="revoked") as caught:
        make_client("na1.not-a-key").job_status("users", "abc")
    assert (caught.value.status, caught.value.code, sleeps) == (401, "unauthorized", [])


def test_standard_key_can_create_a_job_and_read_its_status(
    emu: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(emu.standard_key)
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    assert wait_until_finished(client, "users", job.id).status is JobStatus.COMPLETED


def test_standard_key_reading_imports_is_told_it_needs_admin_or_architect(
    emu: Any, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    client = make_client(emu.standard_key)
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    wait_until_finished(client, "users", job.id)
    with pytest.raises(PermissionDeniedError, match="Admin or Architect") as caught:
        client.job_page("users", job.id, "imports")
    assert (caught.value.status, caught.value.code, sleeps) == (403, "forbidden", [])


def test_standard_key_getting_a_user_is_told_it_needs_admin_or_architect(
    emu: Any, make_client: Callable[..., Client]
) -> None:
    user_id = make_client().create_user({"uid": "u1"})
    with pytest.raises(PermissionDeniedError, match="Admin or Architect"):
        make_client(emu.standard_key).get_user(user_id)


# ------------------------------------------------------------------------- jobs and pages


def test_create_job_returns_a_processing_job(client: Client) -> None:
    job = client.create_job("users", users_body("u1", "u2"), idempotency_key="k1")
    assert (job.kind, job.status, job.imports, job.errors) == ("users", JobStatus.PROCESSING, 0, 0)
    assert job.created.endswith("Z") and job.finished_at is None


def test_create_job_sends_the_idempotency_key(emu: Any, client: Client) -> None:
    client.create_job("users", users_body("u1"), idempotency_key="chunk-0-abc")
    assert [j["idempotency_key"] for j in emu.jobs()] == ["chunk-0-abc"]


def test_create_job_requires_an_idempotency_key(client: Client) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        client.create_job("users", users_body("u1"), idempotency_key="")


def test_unknown_kind_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="kind"):
        client.job_status("accounts", "abc")  # type: ignore[arg-type]


def test_completed_job_status_carries_counters_and_finished_time(client: Client) -> None:
    job = client.create_job("users", users_body("u1", "u2", "u3"), idempotency_key="k1")
    done = wait_until_finished(client, "users", job.id)
    assert (done.status, done.imports, done.errors) == (JobStatus.COMPLETED, 3, 0)
    assert done.finished_at is not None and done.finished_at.endswith("Z")


def test_imports_while_processing_is_a_not_ready_page(client: Client) -> None:
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    page = client.job_page("users", job.id, "imports")
    assert (page.ready, page.results, page.next_page_token) == (False, [], None)


def test_errors_while_processing_is_a_not_ready_page(client: Client) -> None:
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    assert client.job_page("users", job.id, "errors").ready is False


def test_imports_page_of_a_finished_job_lists_users_with_ids(client: Client) -> None:
    job = client.create_job("users", users_body("u1", "u2"), idempotency_key="k1")
    wait_until_finished(client, "users", job.id)
    page = client.job_page("users", job.id, "imports")
    assert page.ready and page.total_records == 2 and page.next_page_token is None
    assert sorted(r["uid"] for r in page.results) == ["u1", "u2"] and all(
        r["id"] for r in page.results
    )


def test_partially_failed_job_has_both_imports_and_errors(emu: Any, client: Client) -> None:
    emu.configure(fail_uids={"bad"})
    job = client.create_job("users", users_body("u1", "bad", "u2"), idempotency_key="k1")
    done = wait_until_finished(client, "users", job.id)
    errors = client.job_page("users", job.id, "errors")
    assert (done.status, done.imports, done.errors) == (JobStatus.FAILED, 2, 1)
    assert [e["user"]["uid"] for e in errors.results] == ["bad"] and errors.results[0]["code"]


def test_pages_are_followed_through_next_page_token(emu: Any, client: Client) -> None:
    emu.configure(page_size=2)
    uids = [f"u{i}" for i in range(5)]
    job = client.create_job("users", users_body(*uids), idempotency_key="k1")
    wait_until_finished(client, "users", job.id)
    rows = all_pages(client, job.id, "imports")
    assert sorted(r["uid"] for r in rows) == uids


def test_total_records_is_an_int_on_every_page(emu: Any, client: Client) -> None:
    emu.configure(page_size=2)
    job = client.create_job("users", users_body("a", "b", "c"), idempotency_key="k1")
    wait_until_finished(client, "users", job.id)
    first = client.job_page("users", job.id, "imports")
    last = client.job_page("users", job.id, "imports", page_token=first.next_page_token)
    assert (first.total_records, len(first.results), first.next_page_token is not None) == (
        3,
        2,
        True,
    )
    assert (last.total_records, len(last.results), last.next_page_token) == (3, 1, None)


# Contract §11.2: the seed sends null, the SDK's mocks "", a proto3 server may leave it out.
@pytest.mark.parametrize("reading", ["null", "empty", "omit"])
def test_the_last_page_ends_paging_whether_its_token_is_null_empty_or_absent(
    emu: Any, client: Client, reading: str
) -> None:
    emu.configure(page_size=2, last_page_token=reading)
    uids = [f"u{i}" for i in range(5)]
    job = client.create_job("users", users_body(*uids), idempotency_key="k1")
    wait_until_finished(client, "users", job.id)
    assert sorted(r["uid"] for r in all_pages(client, job.id, "imports")) == uids
    assert sorted(u["uid"] for u in client.list_users()) == uids


@pytest.mark.parametrize("reading", ["null", "omit"])
def test_finished_is_none_while_processing_whether_null_or_absent(
    emu: Any, client: Client, reading: str
) -> None:
    emu.configure(finished_while_processing=reading)
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    polled = client.job_status("users", job.id)
    assert (polled.status, polled.finished_at) == (JobStatus.PROCESSING, None)
    assert wait_until_finished(client, "users", job.id).finished_at


def test_a_completed_job_with_errors_keeps_its_counters(emu: Any, client: Client) -> None:
    emu.configure(fail_uids={"bad"}, row_error_status="COMPLETED")
    job = client.create_job("users", users_body("u1", "bad"), idempotency_key="k1")
    done = wait_until_finished(client, "users", job.id)
    assert (done.status, done.imports, done.errors) == (JobStatus.COMPLETED, 1, 1)
    assert [e["user"]["uid"] for e in all_pages(client, job.id, "errors")] == ["bad"]


def test_include_schema_asks_for_property_types(client: Client) -> None:
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    wait_until_finished(client, "users", job.id)
    page = client.job_page("users", job.id, "imports", include_schema=True)
    assert page.results[0]["schema"]["properties"]["plan"] == "str"


def test_events_batch_goes_to_the_events_routes(emu: Any, client: Client) -> None:
    body = orjson.dumps({"requests": [{"name": "Signed Up", "user": {"uid": "u1"}}]})
    job = client.create_job("events", body, idempotency_key="e1")
    done = wait_until_finished(client, "events", job.id)
    rows = all_pages(client, job.id, "imports", kind="events")
    assert (done.kind, emu.jobs()[0]["kind"], rows[0]["name"]) == ("events", "events", "Signed Up")


def test_unknown_job_raises_not_found(client: Client, sleeps: list[float]) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.job_status("users", "no-such-job")
    assert (caught.value.status, caught.value.method, sleeps) == (404, "GET", [])
    assert caught.value.path == "/v2/users/batch/no-such-job"


def test_job_id_is_url_encoded_in_the_path(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.job_page("users", "a/b=?c", "errors")
    assert caught.value.path == "/v2/users/batch/a%2Fb%3D%3Fc/errors"


# ---------------------------------------------------------------------------- error mapping


def test_malformed_batch_is_a_bad_request_raised_at_once(
    client: Client, sleeps: list[float], retries: list[Retrying]
) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.create_job("users", b'{"nope": 1}', idempotency_key="k1")
    error = caught.value
    assert (error.status, error.method, error.path) == (400, "POST", "/v2/users/batch")
    assert error.code and error.message and (sleeps, retries) == ([], [])


def test_reused_idempotency_key_with_another_body_is_a_conflict(
    client: Client, sleeps: list[float], retries: list[Retrying]
) -> None:
    client.create_job("users", users_body("u1"), idempotency_key="same")
    with pytest.raises(ConflictError) as caught:
        client.create_job("users", users_body("u2"), idempotency_key="same")
    assert caught.value.status == 422 and caught.value.code == "idempotency_key_mismatch"
    assert not isinstance(caught.value, IdempotencyConflictError)
    assert (sleeps, retries) == ([], [])  # final: it would fail the same way again


def _create_in_thread(emu: Any, body: bytes, key: str) -> tuple[threading.Thread, list[Any]]:
    """POST a batch from another thread (held by ``create_hold``), raw: not our client."""
    out: list[Any] = []
    headers = {
        "Authorization": f"Basic {emu.api_key}",
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }

    def run() -> None:
        out.append(
            requests.post(f"{emu.url}/v2/users/batch", data=body, headers=headers, timeout=30)
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while emu.in_flight() != [key]:
        assert time.monotonic() < deadline, "the first create never got in flight"
        time.sleep(0.005)
    return thread, out


def test_a_create_conflicting_with_one_still_executing_is_retried_after_retry_after(
    emu: Any, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    # Contract §11.6: the same Idempotency-Key while the first request executes answers 409
    # idempotency_conflict; nothing is saved, and the retry gets the first request's answer.
    gate = threading.Event()
    emu.configure(create_hold=gate, retry_after=2)
    body = users_body("u1", "u2")
    thread, first = _create_in_thread(emu, body, "k1")
    seen: list[Retrying] = []

    def release(event: Retrying) -> None:  # the first request finishes while we "wait"
        seen.append(event)
        gate.set()
        thread.join(timeout=10)

    job = make_client(on_retry=release).create_job("users", body, idempotency_key="k1")
    assert first[0].status_code == 200 and job.id == first[0].json()["job"]["id"]
    assert len(emu.jobs()) == 1
    assert sleeps == [2.0] and "idempotency_conflict" in seen[0].reason


def test_a_conflict_that_never_clears_ends_in_retry_exhausted(
    emu: Any, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    gate = threading.Event()
    emu.configure(create_hold=gate)
    body = users_body("u1")
    thread, _ = _create_in_thread(emu, body, "k1")
    try:
        with pytest.raises(RetryExhaustedError) as caught:
            make_client(retry=RetryPolicy(total=2)).create_job("users", body, idempotency_key="k1")
    finally:
        gate.set()
        thread.join(timeout=10)
    last = caught.value.last_error
    assert isinstance(last, IdempotencyConflictError) and last.status == 409
    assert last.retry_after == 1.0 and sleeps == [1.0, 1.0]


def test_same_key_and_body_replays_the_first_job(emu: Any, client: Client) -> None:
    first = client.create_job("users", users_body("u1"), idempotency_key="same")
    again = client.create_job("users", users_body("u1"), idempotency_key="same")
    assert again.id == first.id and len(emu.jobs()) == 1


def test_error_message_carries_fullstorys_message_and_the_request(client: Client) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.create_job("users", b'{"requests": []}', idempotency_key="k1")
    assert str(caught.value).startswith("HTTP 400 [") and "POST /v2/users/batch" in str(
        caught.value
    )


# ------------------------------------------------------------------------------------ retries


def test_429_waits_exactly_retry_after_then_succeeds(
    emu: Any, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    emu.configure(max_in_progress=1, retry_after=7)
    other = make_client()
    blocker = other.create_job("users", users_body("a"), idempotency_key="blocker")

    def finish_blocker(event: Retrying) -> None:  # frees the slot while the client "waits"
        wait_until_finished(other, "users", blocker.id)

    job = make_client(on_retry=finish_blocker).create_job(
        "users", users_body("b"), idempotency_key="k2"
    )
    assert sleeps == [7.0] and job.status is JobStatus.PROCESSING and len(emu.jobs()) == 2


def test_429_retries_report_reason_attempt_and_delay(
    emu: Any, client: Client, retries: list[Retrying], sleeps: list[float]
) -> None:
    emu.configure(faults=Faults(rate_429=1.0), retry_after=3)
    with pytest.raises(RetryExhaustedError):
        client.job_status("users", "abc")
    assert [r.attempt for r in retries] == list(range(1, 9))
    assert [r.delay for r in retries] == sleeps == [3.0] * 8
    assert "429" in retries[0].reason and "too_many_requests" in retries[0].reason


def test_5xx_is_retried_with_backoff_then_succeeds(
    emu: Any, make_client: Callable[..., Client], sleeps: list[float], retries: list[Retrying]
) -> None:
    emu.configure(faults=Faults(rate_5xx=1.0))
    client = make_client(on_retry=turn_faults_off_after(emu, 2, retries))
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    assert job.id and len(emu.jobs()) == 1 and len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.625 and 0.75 <= sleeps[1] <= 1.25  # 0.5 s, 1 s, ±25 %


def test_connection_dropped_after_create_is_retried_and_creates_exactly_one_job(
    emu: Any, make_client: Callable[..., Client], retries: list[Retrying]
) -> None:
    emu.configure(faults=Faults(rate_drop_after=1.0))
    client = make_client(on_retry=turn_faults_off_after(emu, 1, retries))
    job = client.create_job("users", users_body("u1"), idempotency_key="chunk-1")
    jobs = emu.jobs()
    assert len(retries) == 1 and "connection" in retries[0].reason
    assert [(j["id"], j["idempotency_key"]) for j in jobs] == [(job.id, "chunk-1")]


def test_connection_dropped_before_processing_is_retried(
    emu: Any, make_client: Callable[..., Client], retries: list[Retrying]
) -> None:
    emu.configure(faults=Faults(rate_drop_before=1.0))
    client = make_client(on_retry=turn_faults_off_after(emu, 1, retries))
    job = client.create_job("users", users_body("u1"), idempotency_key="chunk-1")
    assert [j["id"] for j in emu.jobs()] == [job.id]


def test_create_user_without_a_key_is_still_created_once_after_a_dropped_answer(
    emu: Any, make_client: Callable[..., Client], retries: list[Retrying]
) -> None:
    emu.configure(faults=Faults(rate_drop_after=1.0))
    client = make_client(on_retry=turn_faults_off_after(emu, 1, retries))
    client.create_user({"display_name": "anonymous, so no upsert"})
    assert len(emu.users()) == 1


def test_retries_used_up_raise_retry_exhausted_with_the_last_error(
    emu: Any, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    emu.configure(faults=Faults(rate_5xx=1.0))
    with pytest.raises(RetryExhaustedError) as caught:
        make_client(retry=RetryPolicy(total=2)).job_status("users", "abc")
    assert caught.value.attempts == 3 and len(sleeps) == 2
    assert isinstance(caught.value.last_error, ServerError)
    assert caught.value.last_error.status == 500


def test_transport_failures_used_up_raise_retry_exhausted(
    emu: Any, make_client: Callable[..., Client]
) -> None:
    emu.configure(faults=Faults(rate_drop_before=1.0))
    with pytest.raises(RetryExhaustedError) as caught:
        make_client(retry=RetryPolicy(total=1)).job_status("users", "abc")
    assert isinstance(caught.value.last_error, TransportError)


def test_no_retries_raises_the_first_429_as_exhausted(
    emu: Any, make_client: Callable[..., Client]
) -> None:
    emu.configure(faults=Faults(rate_429=1.0), retry_after=2)
    with pytest.raises(RetryExhaustedError) as caught:
        make_client(retry=RetryPolicy(total=0)).job_status("users", "abc")
    last = caught.value.last_error
    assert isinstance(last, RateLimitedError) and last.retry_after == 2.0


def test_retry_budget_is_per_request_and_back_to_full_after_a_success(
    emu: Any, make_client: Callable[..., Client], retries: list[Retrying]
) -> None:
    client = make_client(
        retry=RetryPolicy(total=1), on_retry=lambda e: emu.configure(faults=Faults())
    )
    job = client.create_job("users", users_body("u1"), idempotency_key="k1")
    for _ in range(3):  # each request fails once, then succeeds within its own budget of 1
        emu.configure(faults=Faults(rate_5xx=1.0))
        assert client.job_status("users", job.id).id == job.id


def test_read_timeout_is_a_transport_error(emu: Any, make_client: Callable[..., Client]) -> None:
    emu.configure(faults=Faults(rate_slow=1.0, slow_seconds=2.0))
    client = make_client(timeout=(5.0, 0.2), retry=RetryPolicy(total=0))
    with pytest.raises(RetryExhaustedError) as caught:
        client.job_status("users", "abc")
    assert isinstance(caught.value.last_error, TransportError)
    assert "timed out" in str(caught.value.last_error)


# -------------------------------------------------------------------------------- user routes


def test_create_then_get_user(client: Client) -> None:
    user_id = client.create_user({"uid": "u1", "email": "a@example.com"})
    user = client.get_user(user_id)
    assert (user["id"], user["uid"], user["email"]) == (user_id, "u1", "a@example.com")


def test_get_user_with_schema(client: Client) -> None:
    user_id = client.create_user({"uid": "u1", "properties": {"plan": "pro"}})
    assert client.get_user(user_id, include_schema=True)["schema"]["properties"]["plan"] == "str"


def test_get_unknown_user_raises_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.get_user("999")


def test_update_user_merges_properties(client: Client) -> None:
    user_id = client.create_user({"uid": "u1", "properties": {"a": "1"}})
    assert client.update_user(user_id, {"properties": {"b": "2"}}) == user_id
    assert client.get_user(user_id)["properties"] == {"a": "1", "b": "2"}


def test_list_users_follows_every_page_with_the_same_filters(emu: Any, client: Client) -> None:
    emu.configure(page_size=2)
    for i in range(5):
        client.create_user({"uid": f"u{i}", "email": "team@example.com"})
    client.create_user({"uid": "other", "email": "other@example.com"})
    found = list(client.list_users(email="team@example.com"))
    assert sorted(u["uid"] for u in found) == [f"u{i}" for i in range(5)]


def test_list_users_refuses_unknown_filters(client: Client) -> None:
    with pytest.raises(TypeError, match="colour"):
        list(client.list_users(colour="red"))


def test_delete_user_by_uid(emu: Any, client: Client) -> None:
    client.create_user({"uid": "u1"})
    client.create_user({"uid": "u2"})
    client.delete_user(uid="u1")
    assert [u["uid"] for u in emu.users()] == ["u2"]


def test_delete_user_by_id(client: Client) -> None:
    user_id = client.create_user({"uid": "u1"})
    client.delete_user(id=user_id)
    with pytest.raises(NotFoundError):  # the emulator forgets deleted users at once
        client.get_user(user_id)


@pytest.mark.parametrize("kwargs", [{}, {"id": "1", "uid": "u1"}])
def test_delete_user_needs_exactly_one_of_id_or_uid(client: Client, kwargs: Any) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        client.delete_user(**kwargs)


def test_create_event_is_stored(emu: Any, client: Client) -> None:
    client.create_event({"name": "Clicked", "user": {"uid": "u1"}, "properties": {"n": 1}})
    assert [e["name"] for e in emu.events()] == ["Clicked"]


def test_create_event_without_a_name_is_a_bad_request(client: Client) -> None:
    with pytest.raises(BadRequestError):
        client.create_event({"name": ""})


# ----------------------------------------------------------------------------------- secrets


def test_key_never_appears_in_errors_or_logs(
    emu: Any, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "na1.TOP-SECRET-KEY-42"
    caplog.set_level(logging.DEBUG)
    client = make_client(secret, retry=RetryPolicy(total=1))
    errors: list[BaseException] = []
    with pytest.raises(AuthenticationError) as unauthorized:
        client.job_status("users", "abc")
    errors.append(unauthorized.value)
    emu.configure(faults=Faults(rate_drop_before=1.0))
    with pytest.raises(RetryExhaustedError) as dropped:
        client.job_status("users", "abc")
    errors.append(dropped.value)
    emu.configure(faults=Faults(rate_5xx=1.0))
    with pytest.raises(RetryExhaustedError) as failing:
        client.create_job("users", users_body("u1"), idempotency_key="k1")
    errors.append(failing.value)
    assert caplog.records, "the client should log its requests and retries"
    assert all(secret not in shown(e) for e in errors)
    assert secret not in caplog.text and secret not in repr(client)


def test_transport_error_does_not_chain_the_requests_exception(
    emu: Any, make_client: Callable[..., Client]
) -> None:
    # A requests exception holds the prepared request, and with it the Authorization header.
    emu.configure(faults=Faults(rate_drop_before=1.0))
    with pytest.raises(RetryExhaustedError) as caught:
        make_client(retry=RetryPolicy(total=0)).job_status("users", "abc")
    chain = list(error_chain(caught.value))
    assert all(isinstance(e, TransportError | RetryExhaustedError) for e in chain)


def test_api_errors_carry_no_response_object(client: Client) -> None:
    with pytest.raises(ApiError) as caught:
        client.job_status("users", "nope")
    assert set(vars(caught.value)) == {"status", "code", "message", "method", "path", "body"}


def test_a_client_reporting_retries_to_a_callback_leaves_the_original_unchanged(
    emu: Any, make_client: Callable[..., Client], retries: list[Retrying]
) -> None:
    emu.configure(faults=Faults(rate_5xx=1.0))
    client = make_client(retry=RetryPolicy(total=1))
    heard: list[Retrying] = []
    reporting = client.reporting_retries_to(heard.append)
    with pytest.raises(RetryExhaustedError):
        reporting.job_status("users", "abc")
    with pytest.raises(RetryExhaustedError):
        client.job_status("users", "abc")
    assert len(heard) == 1  # only the copy's retry
    assert heard[0].attempt == 1
    assert len(retries) == 2  # the on_retry the client was built with hears both
    reporting.close()  # closes nothing: the connections are the original's
    emu.configure(faults=Faults())
    with pytest.raises(NotFoundError):  # an answer, over the original's open connections
        client.job_status("users", "abc")


def test_a_session_given_to_the_client_carries_its_requests_and_is_never_changed(
    emu: Any,
) -> None:
    sent: list[tuple[str, str | None]] = []

    class CountingAdapter(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            sent.append(
                (f"{request.method} {request.path_url}", request.headers.get("Authorization"))
            )
            return super().send(request, **kwargs)

    session = requests.Session()
    session.mount("http://", CountingAdapter())
    before = (dict(session.headers), session.auth, dict(session.adapters))
    with Client(emu.api_key, base_url=emu.url, session=session) as client:
        client.create_job("users", b'{"requests":[{"uid":"a"}]}', idempotency_key="k1")
    assert sent == [("POST /v2/users/batch", f"Basic {emu.api_key}")]
    assert (dict(session.headers), session.auth, dict(session.adapters)) == before
    # Closing the client left the caller's session open and usable.
    assert session.get(f"{emu.url}/_emulator/jobs", timeout=5).status_code == 200
