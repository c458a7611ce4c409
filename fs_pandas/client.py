"""The HTTP client of Fullstory's Server API v2: the only module of fs_pandas that speaks HTTP.

One :class:`Client` holds one keep-alive ``requests.Session``. It authenticates every request
(contract §1), sends and reads JSON, turns error statuses into the :mod:`fs_pandas.errors` tree,
retries what is worth retrying under a :class:`~fs_pandas.retry.RetryPolicy`, and parses answers
into :mod:`fs_pandas.models`. It keeps no other state; the runner decides what to call and when.

The API key is a secret: it is held in one private attribute and never shows up in ``repr``,
a log line, an exception or any attribute of one. A key that cannot travel in a header as it
is (an invisible or non-ASCII character pasted with it) is refused up front, without echoing
it; whatever a server echoes back of it in an error answer is replaced by ``[redacted]``
before any error is built; and a loopback base URL is never reached through a proxy.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import ipaddress
import logging
import math
import numbers
import os
import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NoReturn, get_args
from urllib.parse import quote, quote_plus, urlsplit

import msgspec
import orjson
import requests
import urllib3

from fs_pandas._types import JobKind
from fs_pandas.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    FullstoryError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryExhaustedError,
    ServerError,
    TransportError,
)
from fs_pandas.models import ImportIds, Job, JobStatus, Page
from fs_pandas.retry import Retrying, RetryPolicy, parse_retry_after

__all__ = ["DEFAULT_BASE_URL", "Client", "IdempotencyConflictError"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.fullstory.com"
ENV_API_KEY = "FULLSTORY_API_KEY"
# A job id no job has: reading its results tells the key's permission level (key_access).
_KEY_PROBE = "fs-pandas-key-check"
#: What a key may do: read results (Admin, Architect), only create and poll (Standard), or not
#: known.
KeyAccess = Literal["admin", "standard", "unknown"]
# The key check may not hold a run up: one retry, short backoff, no long Retry-After.
_KEY_PROBE_RETRY = RetryPolicy(total=1, backoff_factor=0.2, max_retry_after=2.0)
# Attempts before giving up on a server that never answered and refuses connections.
_FIRST_CONTACT_ATTEMPTS = 3
ENV_BASE_URL = "FULLSTORY_BASE_URL"

ResultKind = Literal["imports", "errors"]
Timeout = float | tuple[float, float]

_LIST_USER_FILTERS = frozenset({"uid", "email", "display_name", "is_identified", "include_schema"})
_MISSING_KEY = (
    "No Fullstory API key: pass api_key=... to Client(...) or set the FULLSTORY_API_KEY "
    "environment variable and use Client.from_env()."
)
_UNAUTHORIZED_HINT = "Fullstory does not know this API key: it is wrong, or it has been revoked."
_READ_FORBIDDEN_HINT = (
    "Reading data (batch imports/errors results, getting, listing or deleting users) needs an "
    "Admin or Architect API key; this key's permission level is too low (a Standard key can "
    "only create users/events and batch jobs, and read a job's status)."
)
_FORBIDDEN_HINT = "The API key is valid but its permission level is too low for this call."
_MASK = "****"
_REDACTED = "[redacted]"
# Stripped from both ends of a key (a pasted line's newline, a space): ASCII only. Unicode
# "spaces" (no-break, zero-width, line separator...) are refused instead, see _check_api_key.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


# The code of a 409 answered to a request that conflicted with a concurrent one of the same
# Idempotency-Key (contract §11.6; the emulator's reading, Fullstory documents none).
IDEMPOTENCY_CONFLICT = "idempotency_conflict"


@dataclass(frozen=True)
class _Reply:
    """A successful HTTP answer, already decoded."""

    status: int
    body: Any


class _FullstoryAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Basic <key>`` (contract §1) without exposing the key in a repr."""

    def __init__(self, header_value: str) -> None:
        self._header_value = header_value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header_value
        return request

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {_MASK}>"


class _Redactor:
    """Replaces the key, and the forms a server may echo it in, with ``[redacted]``.

    A misbehaving server or proxy may echo the request's ``Authorization`` header in its error
    answer: raw, base64-encoded (the usual ``user:password`` form of Basic auth), URL-, HTML- or
    JSON-escaped. Every error the client builds from an answer passes through here first.
    """

    def __init__(self, key: str, header: str) -> None:
        self._forms = _echoed_forms(key, header)

    def text(self, text: str) -> str:
        for form in self._forms:  # longest first: a form may contain a shorter one
            if form in text:
                text = text.replace(form, _REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with every string in it redacted (JSON-like nesting, object keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return type(value)(self.text(bytes(value).decode("latin-1")).encode("latin-1"))
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if type(value) is tuple:
            return tuple(self.value(v) for v in value)
        return value

    def error(self, error: BaseException) -> None:
        """Redact, in place, the args and attributes of ``error`` and of everything it chains to.

        In place, so that the traceback and the exception's identity are kept.
        """
        seen: set[int] = set()
        todo: list[BaseException | None] = [error]
        while todo:
            current = todo.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            current.args = self.value(current.args)
            for name, attribute in list(vars(current).items()):
                if isinstance(attribute, BaseException):
                    todo.append(attribute)
                else:
                    setattr(current, name, self.value(attribute))
            todo += [current.__cause__, current.__context__]


def _echoed_forms(key: str, header: str) -> tuple[str, ...]:
    secrets = {key, header}
    _, space, credentials = key.partition(" ")  # a full header value: its credentials alone too
    if space and credentials.strip(_ASCII_WHITESPACE):
        secrets.add(credentials.strip(_ASCII_WHITESPACE))
    forms: set[str] = set()
    for secret in secrets:
        escaped = orjson.dumps(secret).decode()[1:-1]
        forms |= {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret), escaped}
        # "Basic " is 6 bytes, a whole number of base64 groups: base64(key) is found inside
        # base64("Basic " + key) too. "key:" and ":key" are the user:password forms.
        for raw in (secret, f"{secret}:", f":{secret}"):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                forms.add(encode(raw.encode()).decode().rstrip("="))
    forms.discard("")
    return tuple(sorted(forms, key=len, reverse=True))


class Client:
    """A connection to Fullstory's Server API v2.

    Parameters
    ----------
    api_key : str
        A Fullstory API key. Sent as ``Authorization: Basic <key>``; a value that already holds a
        space (``"Basic abc"``) is sent unchanged, as the official Node client does. Reading
        batch results needs an Admin or Architect key. ASCII whitespace around the key (the
        newline or spaces that come with a pasted line) is stripped; any other character that
        is not printable ASCII -- a zero-width space, a no-break space, a byte order mark, a
        line separator, a control or non-ASCII character, even at either end -- is refused,
        naming the kind of character and its position but never the key.
    base_url : str, default "https://api.fullstory.com"
        Where the API lives. Plain ``http://`` is refused except to a loopback address
        (``127.0.0.0/8``, ``::1``, ``localhost``), e.g. the local emulator. A loopback address
        is always reached directly: the ``HTTP(S)_PROXY`` / ``ALL_PROXY`` variables apply to
        remote hosts only.
    timeout : float or (float, float), default (5.0, 60.0)
        Seconds to wait to connect and to read an answer (one number sets both).
    retry : RetryPolicy, optional
        How failures are retried; default ``RetryPolicy()``. Each request starts from it afresh.
    on_retry : callable, optional
        Called with a :class:`~fs_pandas.retry.Retrying` before each wait.
    integration_source : str, optional
        Sent as the ``Integration-Source`` header when given (contract §1).
    sleep : callable, default time.sleep
        How to wait between attempts (tests pass a recorder).
    rng : random.Random, optional
        Source of retry jitter.
    session : requests.Session, optional
        The transport: bring your own to mount adapters (a larger connection pool, a custom
        ``HTTPAdapter``, certificates...). fs_pandas never changes it: the key, the headers and
        the proxy rule are given with each request. :meth:`close` leaves a session you gave
        open. Default: a session of the client's own.

    Raises
    ------
    ConfigurationError
        No key, an unusable key, a refused base URL or a bad timeout.

    Examples
    --------
    >>> with Client.from_env() as client:                      # doctest: +SKIP
    ...     job = client.create_job("users", body, idempotency_key=key)
    ...     client.job_status("users", job.id).status
    <JobStatus.PROCESSING: 'PROCESSING'>
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: Timeout = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
        integration_source: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        session: requests.Session | None = None,
    ) -> None:
        # Everything is checked before anything is kept: a client whose __init__ raised holds
        # no key.
        key = _check_api_key(api_key)
        self._base_url = _check_base_url(base_url)
        self._timeout = _check_timeout(timeout)
        self._proxies = _direct_proxies(self._base_url)
        self._retry = retry if retry is not None else RetryPolicy()
        self._on_retry = on_retry
        self._also_on_retry: Callable[[Retrying], None] | None = None
        self._answered = False  # whether the server ever answered this client (any status)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        # Contract §1: the literal word Basic, a space, the raw key; a value that already has a
        # space is taken as a full header value (Node SDK behaviour).
        header = key if " " in key else f"Basic {key}"
        self._key = key
        self._redactor = _Redactor(key, header)
        self._auth = _FullstoryAuth(header)
        self._headers = {"Accept": "application/json", "User-Agent": "fs-pandas"}
        if integration_source:
            self._headers["Integration-Source"] = integration_source
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """Build a client from the environment.

        Reads ``FULLSTORY_API_KEY`` (unless ``api_key=`` is given) and ``FULLSTORY_BASE_URL``
        (unless ``base_url=`` is given). This is the only place fs_pandas reads the environment.

        Parameters
        ----------
        **kwargs
            Any other :class:`Client` argument.

        Raises
        ------
        ConfigurationError
            When no key is given and ``FULLSTORY_API_KEY`` is unset or empty, or when the key
            holds a character that is not printable ASCII (the message names the variable and
            the character's position, never the key). ASCII whitespace around it is stripped.
        """
        if kwargs.get("api_key") is None:
            value = os.environ.get(ENV_API_KEY) or None
            if value is not None:
                value = _check_api_key(value, source=ENV_API_KEY)
            kwargs["api_key"] = value
        if kwargs.get("base_url") is None:
            kwargs["base_url"] = os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        return cls(**kwargs)

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self._base_url

    def __repr__(self) -> str:
        # getattr: a debugger or a traceback may show a client whose __init__ raised.
        return f"Client(base_url={getattr(self, '_base_url', None)!r}, key={_MASK})"

    def reporting_retries_to(self, callback: Callable[[Retrying], None]) -> Client:
        """A client that also reports each retry to ``callback``; this one is left unchanged.

        The two share the connections, the key and every setting (closing the copy closes
        nothing). A run uses it to show "retrying" in its own progress display: two runs on
        one client each hear their own retries, and the user's ``on_retry`` still hears all.
        """
        copy = object.__new__(Client)
        copy.__dict__.update(self.__dict__)
        copy._also_on_retry = callback
        copy._owns_session = False
        return copy

    def close(self) -> None:
        """Close the pooled connections (not those of a session given to the constructor)."""
        session: requests.Session | None = getattr(self, "_session", None)
        if session is not None and getattr(self, "_owns_session", False):
            session.close()  # None when __init__ raised

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------------------- batch jobs

    def create_job(self, kind: JobKind, body: bytes, *, idempotency_key: str) -> Job:
        """Create a batch import job: ``POST /v2/{kind}/batch``.

        Parameters
        ----------
        kind : {"users", "events"}
            Which batch endpoint.
        body : bytes
            The request envelope, already encoded as JSON (``{"requests": [...]}``); sent as is.
        idempotency_key : str
            Sent as ``Idempotency-Key``. Retrying a create after a lost answer is safe only because
            of it: Fullstory replays the first answer instead of creating a second job (§6).

        Returns
        -------
        Job
            The new job, normally ``PROCESSING``.
        """
        _check_kind(kind)
        if not idempotency_key:
            raise ValueError("create_job needs a non-empty idempotency_key (contract §6)")
        reply = self._request(
            "POST",
            f"/v2/{kind}/batch",
            data=body,
            headers={"Idempotency-Key": idempotency_key},
        )
        with self._redacting():  # the answer may echo the key into the error
            return _parse_job(kind, reply.body, where=f"POST /v2/{kind}/batch")

    def key_access(self) -> KeyAccess:
        """What this key may do, asked with one cheap request that sends no data.

        Reads the results of a batch job that cannot exist: an Admin or Architect key is told
        404 (it may read results), a Standard key 403 (it may create jobs and read their
        status, not their results), an unknown key 401.

        Returns
        -------
        {"admin", "standard", "unknown"}
            ``"admin"`` covers Admin and Architect keys; ``"unknown"`` when the answer tells
            neither -- another error status, or no answer after one retry -- and then nothing
            is assumed (a run then meets the trouble, if it lasts, with its own retries).

        Raises
        ------
        AuthenticationError
            The key is unknown or revoked (401).
        """
        path = f"/v2/users/batch/{_KEY_PROBE}/imports"
        try:
            self._request("GET", path, data_read=True, retry=_KEY_PROBE_RETRY)
        except PermissionDeniedError:
            return "standard"
        except NotFoundError:
            return "admin"
        except (AuthenticationError, ConfigurationError):
            raise
        except (ApiError, TransportError, RetryExhaustedError) as exc:
            cause = exc.last_error if isinstance(exc, RetryExhaustedError) else exc
            if isinstance(cause, TransportError) and cause.connect_failed:
                raise self._unreachable(cause) from None
            return "unknown"
        return "admin"  # results of a job that cannot exist: the key may read results

    def _unreachable(self, cause: TransportError) -> TransportError:
        """No connection could be opened at all: most often a wrong base URL, said in one
        line before anything is planned or sent."""
        found = re.search(r"\[Errno -?\d+\] ([^\"')]+)", str(cause))
        reason = found.group(1).strip() if found else "no connection could be opened"
        return TransportError(
            f"cannot reach {self.base_url} ({reason}); check base_url (FULLSTORY_BASE_URL, "
            "--base-url on the command line): nothing was sent",
            connect_failed=True,
        )

    def job_status(self, kind: JobKind, job_id: str) -> Job:
        """Read a batch job's status and counters: ``GET /v2/{kind}/batch/{job_id}``.

        Returns
        -------
        Job
            Status and the ``imports`` / ``errors`` counters (0 when Fullstory omits them).
        """
        _check_kind(kind)
        path = f"/v2/{kind}/batch/{_segment(job_id)}"
        reply = self._request("GET", path)
        with self._redacting():  # the answer may echo the key into the error
            return _parse_job(kind, reply.body, where=f"GET {path}")

    def job_page(
        self,
        kind: JobKind,
        job_id: str,
        what: ResultKind,
        *,
        page_token: str | None = None,
        include_schema: bool = False,
    ) -> Page:
        """Read one page of a job's results: ``GET /v2/{kind}/batch/{job_id}/{imports|errors}``.

        Parameters
        ----------
        kind : {"users", "events"}
        job_id : str
        what : {"imports", "errors"}
        page_token : str, optional
            The previous page's ``next_page_token``; omit for the first page.
        include_schema : bool, default False
            Ask Fullstory to include each property's type.

        Returns
        -------
        Page
            ``ready=False`` (and no results) when Fullstory answers 202: the job is still
            processing, which is "not yet", not an error (contract §5.2).
        """
        _check_kind(kind)
        if what not in get_args(ResultKind):
            raise ValueError(f"what must be 'imports' or 'errors', got {what!r}")
        path = f"/v2/{kind}/batch/{_segment(job_id)}/{what}"
        params = _page_params(page_token=page_token, include_schema=include_schema)
        reply = self._request("GET", path, params=params, data_read=True)
        if reply.status == 202:
            return Page(ready=False)
        with self._redacting():  # the answer may echo the key into the error
            return _parse_page(reply.body, where=f"GET {path}")

    def job_import_ids(
        self, job_id: str, *, page_token: str | None = None, include_schema: bool = False
    ) -> ImportIds:
        """Read one page of a users job's imports as who was imported: each result's ``uid``
        and ``id``, without building the rest of each object (several times faster than
        :meth:`job_page`; a million rows mean a thousand pages). Results without a uid come
        whole (:attr:`ImportIds.anonymous`).

        Parameters and errors are those of :meth:`job_page` for ``("users", job_id,
        "imports")``.
        """
        path = f"/v2/users/batch/{_segment(job_id)}/imports"
        params = _page_params(page_token=page_token, include_schema=include_schema)
        reply = self._request("GET", path, params=params, data_read=True, raw=True)
        if reply.status == 202:
            return ImportIds(ready=False)
        with self._redacting():
            return _parse_import_ids(reply.body, where=f"GET {path}")

    # --------------------------------------------------------------------- single-object routes

    def create_user(self, user: Mapping[str, Any], *, idempotency_key: str | None = None) -> str:
        """Create or update (upsert on ``uid``) one user: ``POST /v2/users``.

        Parameters
        ----------
        user : mapping
            A CreateUserRequest (``uid``, ``display_name``, ``email``, ``properties``, ``schema``).
        idempotency_key : str, optional
            Default: a fresh UUID v4 per call, so that retries of this call are replayed rather
            than applied twice.

        Returns
        -------
        str
            The Fullstory user id.
        """
        key = idempotency_key or str(uuid.uuid4())
        reply = self._request(
            "POST", "/v2/users", data=_dumps(user), headers={"Idempotency-Key": key}
        )
        with self._redacting():  # the answer may echo the key into the error
            return _require_str(reply.body, "id", where="POST /v2/users")

    def get_user(self, id: str, *, include_schema: bool = False) -> dict[str, Any]:
        """Read one user by Fullstory id: ``GET /v2/users/{id}`` (needs an Admin/Architect key)."""
        path = f"/v2/users/{_segment(id)}"
        params = {"include_schema": "true"} if include_schema else None
        reply = self._request("GET", path, params=params, data_read=True)
        with self._redacting():  # the answer may echo the key into the error
            return _require_object(reply.body, where=f"GET {path}")

    def list_users(self, **filters: str | bool) -> Iterator[dict[str, Any]]:
        """Iterate over the users matching ``filters``: ``GET /v2/users``, every page.

        Parameters
        ----------
        **filters
            Any of ``uid``, ``email``, ``display_name``, ``is_identified`` (bool) and
            ``include_schema`` (bool). The same filters are sent with each ``page_token``
            (contract §3.1).

        Yields
        ------
        dict
            One GetUserResponse per user. Needs an Admin/Architect key.
        """
        params = _list_params(filters)
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = dict(params, page_token=token) if token else params
            reply = self._request("GET", "/v2/users", params=query, data_read=True)
            with self._redacting():
                page = _parse_page(reply.body, where="GET /v2/users")
            yield from page.results
            token = page.next_page_token
            if token is None:
                return
            if token in seen:  # the Node SDK stops on a repeated token too; never loop forever
                logger.warning("GET /v2/users returned a page token twice; stopping there")
                return
            seen.add(token)

    def update_user(self, id: str, user: Mapping[str, Any]) -> str:
        """Update one user by Fullstory id: ``POST /v2/users/{id}``; returns the user id.

        No Idempotency-Key exists for this route (contract §6); retrying it is harmless because
        an update merges properties, latest value wins.
        """
        path = f"/v2/users/{_segment(id)}"
        reply = self._request("POST", path, data=_dumps(user))
        with self._redacting():  # the answer may echo the key into the error
            return _require_str(reply.body, "id", where=f"POST {path}")

    def delete_user(self, *, id: str | None = None, uid: str | None = None) -> None:
        """Delete one user, by Fullstory ``id`` or by your ``uid`` (exactly one of them)."""
        if (id is None) == (uid is None):
            raise ValueError("delete_user needs exactly one of id= or uid=")
        if uid is not None:
            self._request("DELETE", "/v2/users", params={"uid": uid}, data_read=True)
        else:
            self._request("DELETE", f"/v2/users/{_segment(str(id))}", data_read=True)

    def create_event(self, event: Mapping[str, Any], *, idempotency_key: str | None = None) -> None:
        """Send one event: ``POST /v2/events``.

        Parameters
        ----------
        event : mapping
            A CreateEventRequest (``name`` is required by Fullstory).
        idempotency_key : str, optional
            Default: a fresh UUID v4 per call, so a retry after a lost answer cannot record the
            event twice.
        """
        key = idempotency_key or str(uuid.uuid4())
        self._request("POST", "/v2/events", data=_dumps(event), headers={"Idempotency-Key": key})

    # -------------------------------------------------------------------------------- plumbing

    @contextmanager
    def _redacting(self) -> Iterator[None]:
        """Scrub the key from any fs_pandas error raised in the block (design §3 "Secrets")."""
        try:
            yield
        except FullstoryError as error:
            self._redactor.error(error)
            raise

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        data_read: bool = False,
        retry: RetryPolicy | None = None,
        raw: bool = False,
    ) -> _Reply:
        """Send one request, retrying under the policy; return the decoded 2xx answer.

        ``data_read`` marks routes that read data, whose 403 needs an Admin/Architect key.
        ``retry`` replaces the client's policy for this request. ``raw`` leaves a 2xx answer's
        body as bytes (the caller decodes it).
        """
        # The budget is per request: start from the configured policy.
        policy = retry if retry is not None else self._retry
        while True:
            try:
                return self._send(
                    method,
                    path,
                    params=params,
                    data=data,
                    headers=headers,
                    data_read=data_read,
                    raw=raw,
                )
            except (ApiError, TransportError) as error:
                if self._never_reachable(error, policy):
                    policy = dataclasses.replace(policy, total=policy.attempts)
                policy = policy.increment(error)  # re-raises non-retryable, raises exhausted
                self._wait(policy, error)

    def _never_reachable(self, error: BaseException, policy: RetryPolicy) -> bool:
        """True when retrying looks pointless: no connection could be opened, the server never
        answered this client, and the first retries already failed so. A wrong base URL is then
        told in seconds rather than after every backoff (about 90 s by default)."""
        return (
            isinstance(error, TransportError)
            and error.connect_failed
            and not self._answered
            and policy.attempts >= _FIRST_CONTACT_ATTEMPTS - 1
        )

    def _wait(self, policy: RetryPolicy, error: BaseException) -> None:
        delay = policy.delay(self._rng)
        event = Retrying(reason=str(error), attempt=policy.attempts, delay=delay)
        logger.info("retry %d in %.2f s after: %s", event.attempt, delay, event.reason)
        if self._on_retry is not None:
            self._on_retry(event)
        if self._also_on_retry is not None:
            self._also_on_retry(event)
        self._sleep(delay)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        data_read: bool,
        raw: bool = False,
    ) -> _Reply:
        """One attempt. Raises ApiError / TransportError; never anything holding the key.

        Scrubbed here, before :meth:`_request` logs the error or reports it as a retry.
        """
        with self._redacting():
            return self._attempt(
                method,
                path,
                params=params,
                data=data,
                headers=headers,
                data_read=data_read,
                raw=raw,
            )

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        data_read: bool,
        raw: bool = False,
    ) -> _Reply:
        all_headers = {**self._headers, **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        logger.debug("%s %s", method, path)
        failure: TransportError | None = None
        try:
            response = self._session.request(
                method,
                self._base_url + path,
                params=params,
                data=data,
                headers=all_headers,
                auth=self._auth,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect could carry the key elsewhere
                # A fresh dict each time: requests adds the environment's proxies into it.
                proxies=dict(self._proxies) if self._proxies is not None else None,
            )
        except requests.RequestException as exc:
            # Built outside this block and raised below, so the requests exception (whose
            # .request holds the Authorization header) is neither __cause__ nor __context__.
            failure = TransportError(
                self._describe_transport(exc, method, path), connect_failed=_connect_failed(exc)
            )
        if failure is not None:
            raise failure
        self._answered = True
        logger.debug("%s %s -> %d", method, path, response.status_code)
        return self._reply(response, method, path, data_read=data_read, raw=raw)

    def _describe_transport(self, exc: requests.RequestException, method: str, path: str) -> str:
        kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        detail = self._redactor.text(str(exc))  # belt and braces: the key never leaks
        return f"{method} {path}: {kind} ({type(exc).__name__}: {detail})"

    def _reply(
        self,
        response: requests.Response,
        method: str,
        path: str,
        *,
        data_read: bool,
        raw: bool = False,
    ) -> _Reply:
        status = response.status_code
        if 200 <= status < 300:
            if raw:
                return _Reply(status, response.content)
            return _Reply(status, _decode_success(response, method, path))
        _raise_for_status(response, method, path, data_read=data_read, redact=self._redactor)


def _connect_failed(exc: requests.RequestException) -> bool:
    """No connection could be opened (refused, unresolvable host), as opposed to one dropped or
    timed out after it was open."""
    if isinstance(exc, requests.ConnectTimeout):
        return False  # a slow network, not a wrong address
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError -> the urllib3 error inside
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


# ------------------------------------------------------------------------------ configuration


def _check_api_key(api_key: str | None, *, source: str = "api_key") -> str:
    """The key without the ASCII whitespace around it; refused unless printable ASCII.

    A header value goes out as Latin-1: a zero-width space or a line separator would fail deep
    inside http.client with a UnicodeEncodeError whose args hold the whole header, and a
    no-break space would be sent and answered 401. No message here shows the key.
    """
    if api_key is None:
        raise ConfigurationError(_MISSING_KEY)
    if not isinstance(api_key, str):
        raise ConfigurationError(
            f"The Fullstory API key must be a str, got {type(api_key).__name__}."
        )
    key = api_key.strip(_ASCII_WHITESPACE)
    if not key:
        raise ConfigurationError(_MISSING_KEY)
    bad = [i for i, c in enumerate(key) if not " " <= c <= "~"]
    if bad:
        lead = len(api_key) - len(api_key.lstrip(_ASCII_WHITESPACE))
        raise ConfigurationError(_bad_key_message(key[bad[0]], lead + bad[0] + 1, bad, source))
    return key


def _bad_key_message(char: str, position: int, bad: list[int], source: str) -> str:
    where = "in FULLSTORY_API_KEY" if source == ENV_API_KEY else "given as api_key="
    others = len(bad) - 1
    more = f" (and {others} more such character{'s' * (others > 1)})" if others else ""
    return (
        f"The Fullstory API key {where} has {_describe_character(char)} at position "
        f"{position} (counting from 1){more}. API keys are printable ASCII only: such "
        "characters usually come with a key copied from a web page, a chat or a document. "
        "Copy the key again from Fullstory's settings, or type it. (The key is not shown.)"
    )


def _describe_character(char: str) -> str:
    """What kind of character this is, e.g. "a zero width space (U+200B)".

    Control, space and invisible characters are named: they cannot be part of a real key. Any
    other non-ASCII character is described by its Unicode category only, never shown.
    """
    code = f"U+{ord(char):04X}"
    category = unicodedata.category(char)
    if char == "\ufeff":
        return f"a byte order mark ({code}, zero width no-break space)"
    if category == "Cc":
        return f"a control character ({code})"
    name = unicodedata.name(char, "").lower()
    if category[0] == "Z":
        return f"a Unicode space character, {name} ({code})"
    if category == "Cf":
        return f"an invisible formatting character, {name} ({code})"
    if category[0] == "C":
        return f"a non-printable character ({code})"  # private use, unassigned, surrogate
    return f"a non-ASCII character (Unicode category {category})"


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"base_url must be an https:// URL (or http:// to this machine), got {base_url!r}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError("base_url must not carry credentials, a query or a fragment")
    if parts.path.rstrip("/").lower().endswith("/v2"):
        # Every path fs_pandas asks for starts with /v2/ already: ".../v2/v2/..." would be a
        # 404 that the key check cannot tell from a job that does not exist.
        root = base_url.strip().rstrip("/")[: -len("/v2")]
        raise ConfigurationError(
            f"base_url is the API's root, without /v2: use {root!r}, not {base_url!r}"
        )
    # Design §3 "Secrets": the key must not travel in clear text, except to this machine.
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"Refusing plain http:// to {parts.hostname!r}: the API key would travel "
            "unencrypted. Use https://, or http:// only to a loopback address."
        )
    return base_url.strip().rstrip("/")


def _direct_proxies(base_url: str) -> dict[str, Any] | None:  # Any: the stubs want str values
    """For a loopback base URL, the ``proxies`` that make requests bypass every proxy.

    requests reads HTTP_PROXY / ALL_PROXY (and NO_PROXY) from the environment; sending a plain
    http:// request meant for this machine through a proxy would hand it the key in clear. A
    None value removes the environment's entry; these are every key requests looks up for a
    URL (scheme://host, scheme, all://host, all). Remote hosts keep the environment's proxies
    (an https request is tunnelled through them: the key stays inside TLS).
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if not _is_loopback(host):
        return None
    keys = {"http", "https", "all", f"all://{host}", f"http://{host}", f"https://{host}"}
    return dict.fromkeys(sorted(keys))


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_timeout(timeout: Timeout) -> tuple[float, float]:
    given: object = timeout
    if isinstance(given, Iterable) and not isinstance(given, str | bytes):
        seconds = [_seconds(t) for t in given]
    else:
        seconds = [_seconds(given)] * 2
    if len(seconds) == 2:
        connect, read = seconds
        if connect is not None and read is not None:
            return (connect, read)
    raise ConfigurationError(
        "timeout must be a positive finite number of seconds or a (connect, read) pair "
        f"of them, got {timeout!r}"
    )


def _seconds(value: object) -> float | None:
    # True is an int to Python, not a timeout to a reader; NaN passes no comparison test.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def _check_kind(kind: str) -> None:
    if kind not in ("users", "events"):
        raise ValueError(f"kind must be 'users' or 'events', got {kind!r}")


# --------------------------------------------------------------------------- encoding helpers


def _segment(value: str) -> str:
    """URL-encode one path segment (job ids such as ``abd123=`` are opaque; contract §2)."""
    if not value:
        raise ValueError("an id must be a non-empty string")
    return quote(str(value), safe="")


def _dumps(obj: Mapping[str, Any]) -> bytes:
    # numpy scalars must never break (or leak into) JSON: design §3 "Types".
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _page_params(*, page_token: str | None, include_schema: bool) -> dict[str, str]:
    params: dict[str, str] = {}
    if page_token:
        params["page_token"] = page_token
    if include_schema:
        params["include_schema"] = "true"  # booleans as "true"/"false" strings (contract §2)
    return params


def _list_params(filters: Mapping[str, str | bool]) -> dict[str, str]:
    unknown = set(filters) - _LIST_USER_FILTERS
    if unknown:
        raise TypeError(
            f"list_users got unknown filters {sorted(unknown)}; "
            f"allowed: {sorted(_LIST_USER_FILTERS)}"
        )
    params: dict[str, str] = {}
    for name, value in filters.items():
        if isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif value is not None:
            params[name] = str(value)
    return params


# ---------------------------------------------------------------------------- decoding helpers


def _decode_success(response: requests.Response, method: str, path: str) -> Any:
    if response.status_code in (202, 204) or not response.content:
        return {}  # 202 on imports/errors has no defined body; the SDK reads 204 as {}
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ApiError(
            f"Fullstory answered {response.status_code} with a body that is not JSON",
            status=response.status_code,
            code="invalid_response",
            method=method,
            path=path,
        ) from None


def _error_body(response: requests.Response, redact: _Redactor) -> tuple[str, str, Any]:
    """Fullstory's ``{"message", "code"}`` (contract §7), tolerating anything else.

    Everything read from the answer is redacted here: a text body before it is cut to 500
    characters, so that the cut cannot leave half of an echoed key behind.
    """
    reason = redact.text(str(response.reason or ""))
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = redact.text(response.text)[:500]
    body = redact.value(body)
    if isinstance(body, dict):
        return str(body.get("message") or reason), str(body.get("code") or ""), body
    return reason, "", body


def _raise_for_status(
    response: requests.Response, method: str, path: str, *, data_read: bool, redact: _Redactor
) -> NoReturn:
    status = response.status_code
    message, code, body = _error_body(response, redact)
    where: dict[str, Any] = {
        "status": status,
        "code": code,
        "method": method,
        "path": path,
        "body": body,
    }
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimitedError(message, retry_after=retry_after, **where)
    if status == 409 and code == IDEMPOTENCY_CONFLICT:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise IdempotencyConflictError(message, retry_after=retry_after, **where)
    if status == 401:
        raise AuthenticationError(f"{message} -- {_UNAUTHORIZED_HINT}", **where)
    if status == 403:
        hint = _READ_FORBIDDEN_HINT if data_read else _FORBIDDEN_HINT
        raise PermissionDeniedError(f"{message} -- {hint}", **where)
    error_class = _error_class(status)
    raise error_class(message, **where)


def _error_class(status: int) -> type[ApiError]:
    if status == 400:
        return BadRequestError
    if status == 404:
        return NotFoundError
    if status in (409, 422):
        return ConflictError
    if 500 <= status < 600:
        return ServerError
    return ApiError


def _malformed(where: str, what: str) -> ApiError:
    return ApiError(
        f"unexpected answer from Fullstory: {what}",
        status=200,
        code="invalid_response",
        method=where.split(" ", 1)[0],
        path=where.split(" ", 1)[-1],
    )


def _require_object(body: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _malformed(where, "expected a JSON object")
    return body


def _require_str(body: Any, name: str, *, where: str) -> str:
    value = _require_object(body, where=where).get(name)
    if not isinstance(value, str) or not value:
        raise _malformed(where, f"no {name!r} in the answer")
    return value


def _parse_job(kind: JobKind, body: Any, *, where: str) -> Job:
    """A Job from ``{"job": {...}}`` (create) or ``{"imports", "errors", "job"}`` (status).

    Missing counters are 0: proto3 JSON omits zero values (contract §9.3). ``finished`` absent,
    ``null`` or ``""`` is "not finished" (contract §11.2).
    """
    meta = _require_object(body, where=where).get("job")
    if not isinstance(meta, dict) or not isinstance(meta.get("id"), str) or not meta["id"]:
        raise _malformed(where, "no job id")  # the Node SDK treats this as an error too
    try:
        status = JobStatus(meta.get("status"))
    except ValueError:
        raise _malformed(where, f"unknown job status {meta.get('status')!r}") from None
    finished = meta.get("finished")
    return Job(
        kind=kind,
        id=meta["id"],
        status=status,
        created=str(meta.get("created") or ""),
        finished_at=str(finished) if finished else None,
        imports=_count(body.get("imports")),
        errors=_count(body.get("errors")),
    )


def _parse_page(body: Any, *, where: str) -> Page:
    """A Page: ``total_records`` is a string (contract §3); missing or null ``results`` is [];
    ``next_page_token`` absent, ``null`` or ``""`` ends the pages (contract §9.2, §11.2)."""
    body = _require_object(body, where=where)
    results = body.get("results")
    if results is None:
        results = []
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise _malformed(where, "'results' is not a list of objects")
    token = body.get("next_page_token")
    return Page(
        results=results,
        total_records=_count(body.get("total_records")),
        next_page_token=None if token is None or token == "" else str(token),
        ready=True,
    )


class _Identity(msgspec.Struct, gc=False):
    """What the join needs of one import: every other member is skipped, not built.

    Not tracked by the garbage collector (text fields hold no cycle): a million of them
    would otherwise set off collections that walk every live object."""

    uid: str | None = None
    id: str | None = None


class _IdentityPage(msgspec.Struct):
    results: list[_Identity] | None = None
    next_page_token: Any = None
    total_records: Any = None


class _AnyIdentity(msgspec.Struct):
    """An import as a server may also write it: a number for an ``id`` (or a ``uid``)."""

    uid: str | int | float | None = None  # anything else is no uid: the page is malformed
    id: Any = None


class _AnyIdentityPage(msgspec.Struct):
    results: list[_AnyIdentity] | None = None
    next_page_token: Any = None
    total_records: Any = None


_decode_identity_page = msgspec.json.Decoder(_IdentityPage).decode
_decode_any_identity_page = msgspec.json.Decoder(_AnyIdentityPage).decode


def _parse_import_ids(body: bytes, *, where: str) -> ImportIds:
    """An :class:`ImportIds` from a page's bytes, under the rules of :func:`_parse_page`."""
    try:
        page: _IdentityPage | _AnyIdentityPage = _decode_identity_page(body)
        ids = [r.id for r in page.results or []]
    except msgspec.ValidationError:  # numbers where text was expected, or worse
        page = _any_identity_page(body, where)
        ids = [None if r.id is None else str(r.id) for r in page.results or []]
    except msgspec.DecodeError:
        raise _malformed(where, "the answer is not JSON") from None
    results = page.results or []
    uids = [r.uid for r in results]  # as given: the join compares them with the uids sent
    anonymous: list[tuple[int, dict[str, Any]]] = []
    if not all(uids):  # results without a uid are matched by content: read those whole
        whole = _parse_page(_loads(body, where), where=where).results
        anonymous = [(i, whole[i]) for i, uid in enumerate(uids) if not uid]
    token = page.next_page_token
    return ImportIds(
        uids=uids,
        ids=ids,
        anonymous=anonymous,
        total_records=_count(page.total_records),
        next_page_token=None if token is None or token == "" else str(token),
    )


def _any_identity_page(body: bytes, where: str) -> _AnyIdentityPage:
    try:
        return _decode_any_identity_page(body)
    except msgspec.ValidationError:
        _parse_page(_loads(body, where), where=where)  # not the expected shape: it says why
        raise _malformed(where, "a result's uid is neither text nor a number") from None


def _loads(body: bytes, where: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _malformed(where, "the answer is not JSON") from None


def _count(value: Any) -> int:
    """A counter that may come as a number or a string (int64 in proto3 JSON); 0 when absent,
    null or unreadable -- counters are never trusted alone (contract §11.3)."""
    if isinstance(value, bool):
        return 0
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError, OverflowError):
        return 0
