"""The API key never leaves the client except in its own Authorization header (design §3).

Over real HTTP: the emulator, and small stdlib servers on 127.0.0.1 that play a hostile upstream
(one that echoes the Authorization header back in its error answers) and a proxy (one that
records whether anything was sent to it). Nothing is mocked.
"""

from __future__ import annotations

import base64
import html
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pandas as pd
import pytest

from fs_pandas.client import Client
from fs_pandas.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    FullstoryError,
    PermissionDeniedError,
    RetryExhaustedError,
    TransportError,
)
from fs_pandas.retry import Retrying, RetryPolicy
from fs_pandas.run.result import BatchResult
from tests.error_helpers import shown

SECRET = "na1.Q7zK9wPqLm3Xv8RtSECRET"
# Distinctive pieces of SECRET: none of them may show anywhere the key must not be.
PIECES = ["Q7zK9", "wPqLm", "3Xv8R", "SECRET"]

# ------------------------------------------------------------------------------------ helpers


def echoed_forms(key: str) -> list[str]:
    """The forms in which a server may echo a key: raw, in the header, base64, URL, HTML."""
    forms = [key, f"Basic {key}", quote(key, safe=""), html.escape(key)]
    for raw in (key, f"{key}:", f":{key}", f"Basic {key}"):
        forms += [
            base64.b64encode(raw.encode()).decode(),
            base64.urlsafe_b64encode(raw.encode()).decode(),
        ]
    return forms


def assert_no_secret(text: str, key: str = SECRET) -> None:
    for form in echoed_forms(key):
        assert form.rstrip("=") not in text
    for piece in PIECES:
        assert piece not in text


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, str]] = []  # (method, target, Authorization)
        self.status = 400
        self.mode = "json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    """Answers every request with ``server.status`` and a body echoing the Authorization header.

    ``mode``: ``json`` (Fullstory's ``{message, code}`` with the echo in the message, in nested
    values and in an object key), ``text`` (a long non-JSON body with the key straddling the
    500-character mark), ``reason`` (the echo as the HTTP reason phrase, empty body),
    ``status`` (a 200 whose job status echoes the header: a malformed success).
    """

    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization") or ""
        self.server.requests.append((self.command, self.path, auth))
        key = auth.partition(" ")[2]
        forms = echoed_forms(key) if key else [auth]
        mode, status = self.server.mode, self.server.status
        reason = None
        if mode == "json":
            body = orjson.dumps(
                {
                    "message": f"bad request; you sent Authorization: {auth}; {' '.join(forms)}",
                    "code": "invalid_argument",
                    "details": {"headers": {"Authorization": auth}, auth: forms},
                }
            )
            kind = "application/json"
        elif mode == "text":
            padding = "x" * (500 - 10)  # the key starts 10 characters before the cut at 500
            body = f"{padding}{auth}{padding}".encode()
            kind = "text/plain"
        elif mode == "reason":
            body, kind, reason = b"", "text/plain", f"Bad {auth}"
        else:
            status = 200
            body = orjson.dumps({"job": {"id": "job-1", "status": auth, "created": "now"}})
            kind = "application/json"
        self.send_response(status, reason)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_CONNECT = _answer  # noqa: N815


@pytest.fixture
def upstream() -> Iterator[_Recorder]:
    """A real HTTP server on 127.0.0.1 that echoes the request's Authorization header."""
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def proxy() -> Iterator[_Recorder]:
    """A "proxy" on another 127.0.0.1 port: it records whatever is sent to it, answers 502."""
    server = _Recorder()
    server.status = 502
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def hostile_client(url: str, retries: list[Retrying], **kwargs: Any) -> Client:
    options: dict[str, Any] = {
        "base_url": url,
        "retry": RetryPolicy(total=1),
        "sleep": lambda _: None,
        "on_retry": retries.append,
    }
    return Client(SECRET, **(options | kwargs))


# ------------------------------------------------------------ 1. keys that cannot be sent as is

BAD_CHARACTERS = [
    ("\u200b", "U+200B", "zero width space"),
    ("\u2028", "U+2028", "line separator"),
    ("\u00a0", "U+00A0", "no-break space"),
    ("\ufeff", "U+FEFF", "byte order mark"),
    ("\u00e9", "non-ASCII", "non-ASCII"),
    ("\U0001f511", "non-ASCII", "non-ASCII"),
    ("\x00", "U+0000", "control"),
    ("\x7f", "U+007F", "control"),
    ("\t", "U+0009", "control"),
    ("\n", "U+000A", "control"),
]


@pytest.mark.parametrize(
    ("char", "code", "kind", "where"),
    [
        (*bad, where)
        for bad in BAD_CHARACTERS
        for where in (0, 9, len(SECRET))
        # ASCII whitespace around the key is stripped instead: see below
        if where == 9 or not (bad[0].isascii() and bad[0].isspace())
    ],
)
def test_a_key_that_is_not_printable_ascii_is_refused_saying_what_and_where(
    char: str, code: str, kind: str, where: int
) -> None:
    key = SECRET[:where] + char + SECRET[where:]
    with pytest.raises(ConfigurationError) as caught:
        Client(key, base_url="http://127.0.0.1:1")
    message = str(caught.value)
    assert f"position {where + 1}" in message
    assert code in message and kind in message
    assert_no_secret(shown(caught.value))
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_the_position_counts_the_leading_whitespace_that_is_stripped() -> None:
    with pytest.raises(ConfigurationError, match="position 7 "):
        Client("  \t " + "na\u200b1.abc", base_url="http://127.0.0.1:1")


def test_a_refused_key_reports_how_many_other_characters_are_wrong() -> None:
    with pytest.raises(ConfigurationError, match="2 more"):
        Client("na1.\u200bab\u00a0c\u2028", base_url="http://127.0.0.1:1")


@pytest.mark.parametrize("char", ["\u200b", "\u00a0", "\u2028", "\ufeff", "\u3000"])
def test_invisible_unicode_around_the_key_is_refused_not_stripped(char: str) -> None:
    with pytest.raises(ConfigurationError, match="position"):
        Client(char + SECRET + char, base_url="http://127.0.0.1:1")


@pytest.mark.parametrize("key", ["\u200b", "\u00a0", " \u2028 "])
def test_a_key_of_invisible_unicode_only_is_refused_as_such(key: str) -> None:
    with pytest.raises(ConfigurationError, match="position"):
        Client(key, base_url="http://127.0.0.1:1")


@pytest.mark.parametrize("padding", ["\n", "\r\n", " ", "\t \n", "\x0b\x0c"])
def test_surrounding_ascii_whitespace_is_stripped(emu: Any, padding: str) -> None:
    with Client(padding + emu.api_key + padding, base_url=emu.url) as client:
        job = client.create_job("users", b'{"requests": [{"uid": "u1"}]}', idempotency_key="p")
        assert client.job_status("users", job.id).id == job.id


def test_a_key_that_is_not_a_string_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Client(SECRET.encode(), base_url="http://127.0.0.1:1")  # type: ignore[arg-type]
    assert_no_secret(shown(caught.value))


def test_from_env_refuses_such_a_key_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", SECRET + "\u200b")
    with pytest.raises(ConfigurationError, match="FULLSTORY_API_KEY") as caught:
        Client.from_env(base_url="http://127.0.0.1:1")
    assert f"position {len(SECRET) + 1}" in str(caught.value)
    assert_no_secret(shown(caught.value))


def test_from_env_strips_a_trailing_newline(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.api_key + "\n")
    with Client.from_env(base_url=emu.url) as client:
        assert client.create_job("users", b'{"requests": [{"uid": "u1"}]}', idempotency_key="n")


# ------------------------------------------------- 2. an upstream that echoes the key back


@pytest.mark.parametrize("mode", ["json", "text", "reason"])
@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (500, RetryExhaustedError),
        (429, RetryExhaustedError),
    ],
)
def test_an_error_answer_echoing_the_key_is_scrubbed_everywhere(
    upstream: _Recorder,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    status: int,
    error_class: type[FullstoryError],
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.status, upstream.mode = status, mode
    retries: list[Retrying] = []
    with (
        hostile_client(upstream.url, retries) as client,
        pytest.raises(error_class) as caught,
    ):
        client.create_job("users", b'{"requests": []}', idempotency_key="k")
    assert upstream.requests[0][2] == f"Basic {SECRET}"  # the server did receive the key
    error = caught.value
    assert_no_secret(shown(error))
    assert_no_secret(caplog.text)
    assert_no_secret(repr([r.reason for r in retries]))
    api_error = error.last_error if isinstance(error, RetryExhaustedError) else error
    assert isinstance(api_error, ApiError) and api_error.status == status
    assert "[redacted]" in str(api_error) + repr(api_error.body)


def test_the_scrubbed_body_keeps_its_shape(upstream: _Recorder) -> None:
    with hostile_client(upstream.url, []) as client, pytest.raises(BadRequestError) as caught:
        client.create_job("users", b'{"requests": []}', idempotency_key="k")
    body = caught.value.body
    assert body["code"] == "invalid_argument" and caught.value.code == "invalid_argument"
    assert body["details"]["headers"] == {"Authorization": "[redacted]"}
    assert list(body["details"]) == ["headers", "[redacted]"]
    assert caught.value.message.startswith("bad request; you sent Authorization: [redacted]")


def test_a_success_answer_echoing_the_key_in_a_bad_field_is_scrubbed(upstream: _Recorder) -> None:
    upstream.mode = "status"
    with hostile_client(upstream.url, []) as client, pytest.raises(ApiError) as caught:
        client.job_status("users", "job-1")
    assert "unknown job status" in str(caught.value)
    assert_no_secret(shown(caught.value))


def test_a_key_given_as_a_full_header_value_is_scrubbed_too(upstream: _Recorder) -> None:
    with (
        Client(f"Basic {SECRET}", base_url=upstream.url, sleep=lambda _: None) as client,
        pytest.raises(BadRequestError) as caught,
    ):
        client.create_job("users", b'{"requests": []}', idempotency_key="k")
    assert upstream.requests[0][2] == f"Basic {SECRET}"
    assert_no_secret(shown(caught.value))


def run_against(upstream: _Recorder, tmp_path: Path, **kwargs: Any) -> Any:
    frame = pd.DataFrame({"uid": ["u1", "u2"], "plan": ["pro", "free"]})
    client = hostile_client(upstream.url, [])
    return frame.fullstory.batch_update(
        uid_col="uid", client=client, ledger_dir=tmp_path, poll_interval=0.01, **kwargs
    )


def test_batch_update_raising_an_echoed_400_shows_no_key(
    upstream: _Recorder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BadRequestError) as caught:
        run_against(upstream, tmp_path, progress="text")
    assert "[redacted]" in str(caught.value)
    assert_no_secret(shown(caught.value))
    assert_no_secret(caplog.text)
    display = "".join(capsys.readouterr())
    assert "aborted" in display
    assert_no_secret(display)
    ledgers = list(tmp_path.iterdir())
    assert ledgers
    assert_no_secret("".join(p.read_text() for p in ledgers))


def test_batch_update_aborted_by_echoed_500s_shows_no_key(
    upstream: _Recorder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.status = 500
    result = run_against(upstream, tmp_path, progress="text")
    assert isinstance(result, BatchResult)
    assert result.aborted is not None and "[redacted]" in result.aborted
    assert_no_secret(result.aborted)
    assert_no_secret(repr(result) + result._repr_html_())
    assert_no_secret(caplog.text)
    display = "".join(capsys.readouterr())
    assert "aborted" in display and "[redacted]" in display  # the text display's last line
    assert_no_secret(display)
    assert_no_secret("".join(p.read_text() for p in tmp_path.iterdir()))


# ------------------------------------------------------ 3. proxies and loopback base URLs

PROXY_VARIABLES = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"]
PROXY_VARIABLES += ["ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"]


def only_proxy(monkeypatch: pytest.MonkeyPatch, url: str, *names: str) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in names:
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("NO_PROXY", "example.com")  # set, but naming some other host


@pytest.mark.parametrize(
    "names", [("HTTP_PROXY",), ("http_proxy",), ("ALL_PROXY",), ("all_proxy", "HTTPS_PROXY")]
)
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_base_url_never_goes_through_a_proxy(
    emu: Any,
    proxy: _Recorder,
    monkeypatch: pytest.MonkeyPatch,
    names: tuple[str, ...],
    host: str,
) -> None:
    only_proxy(monkeypatch, proxy.url, *names)
    base_url = emu.url.replace("127.0.0.1", host)
    with Client(emu.api_key, base_url=base_url, retry=RetryPolicy(total=0)) as client:
        job = client.create_job("users", b'{"requests": [{"uid": "u1"}]}', idempotency_key="x")
        assert client.job_status("users", job.id).id == job.id
        assert client.job_status("users", job.id).id == job.id  # the same pooled connection
    assert proxy.requests == []


def test_a_remote_https_base_url_still_honours_https_proxy(
    proxy: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through a proxy, https is tunnelled (CONNECT): the key stays inside TLS. Corporate
    # networks need this. The proxy refuses the tunnel, so nothing leaves this machine.
    only_proxy(monkeypatch, proxy.url, "HTTPS_PROXY")
    client = Client(SECRET, base_url="https://api.fullstory.invalid", retry=RetryPolicy(total=0))
    with client, pytest.raises(RetryExhaustedError) as caught:
        client.job_status("users", "abc")
    assert isinstance(caught.value.last_error, TransportError)
    assert [(m, auth) for m, _, auth in proxy.requests] == [("CONNECT", "")]
    assert_no_secret(shown(caught.value))


# ---------------------------------------------------------- 4. half-built clients and repr


def test_repr_of_a_client_whose_init_never_ran_does_not_raise() -> None:
    text = repr(Client.__new__(Client))
    assert text.startswith("Client(") and "****" in text


def test_a_client_whose_init_failed_half_way_has_a_safe_repr_and_close() -> None:
    client = Client.__new__(Client)
    with pytest.raises(ConfigurationError):
        client.__init__(SECRET, base_url="ftp://example.com")  # type: ignore[misc]
    assert_no_secret(repr(client) + repr(vars(client)))
    client.close()
