"""Idempotency keys (§6): stored answers to replay, and keys of requests still executing.

Owns the rules of an ``Idempotency-Key``: a stored answer is replayed for the key's TTL; the
same key with another request (its :class:`Fingerprint` differs) is a 422; a key whose
first request is still executing is a 409 with ``Retry-After``, and nothing is saved for it;
retryable answers (429, 5xx) are not stored. Not thread-safe on its own: ``OrgState`` calls it
under the org's lock.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import orjson

from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.replies import MSG_CONFLICT, RefusedError, Reply


def canonical(body: Any) -> bytes:
    """A stable fingerprint of a JSON body (key order and whitespace do not matter)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()


class Fingerprint:
    """What a request under an ``Idempotency-Key`` is told apart by (§6): its route and its
    body, whose key order and whitespace do not matter.

    Equal bytes are the same body, and a retry sends the same bytes: a digest of them
    settles it. Other bytes are compared by their :func:`canonical` form, 45 ms of work for a
    15 MB batch, which no create waits for: it is worked out when first compared, or by
    :meth:`settle` after the answer (then the parsed body is let go).
    """

    def __init__(self, route: str, raw: bytes, body: Any) -> None:
        self.route = route
        self.digest = hashlib.sha256(raw).digest()
        self._body = body
        self._canonical: bytes | None = None
        self._lock = threading.Lock()

    def settle(self) -> bytes:
        """The canonical form of the body (worked out once)."""
        with self._lock:
            if self._canonical is None:
                self._canonical, self._body = canonical(self._body), None
            return self._canonical

    @property
    def settled(self) -> bool:
        """Whether the canonical form is known (and the body let go)."""
        return self._canonical is not None

    def same_request(self, other: Fingerprint) -> bool:
        """Whether ``other`` is this request again: same route, same JSON body."""
        return self.route == other.route and (
            self.digest == other.digest or self.settle() == other.settle()
        )


@dataclass(frozen=True)
class Stored:
    """An idempotency record (§6): when it was stored, what request, what answer."""

    at: float
    fingerprint: Fingerprint
    reply: Reply


class IdempotencyStore:
    """The org's idempotency keys: stored answers and keys in flight."""

    def __init__(self) -> None:
        self.stored: dict[str, Stored] = {}
        self.in_flight: dict[str, int] = {}  # Idempotency-Key -> requests executing with it

    def begin(self, key: str, fingerprint: Fingerprint, config: EmulatorConfig) -> Reply | None:
        """Look ``key`` up before executing (§6): the stored answer to replay, or ``None``
        after marking the key in flight (the caller then executes and calls :meth:`end`).

        Raises 409 ``idempotency_conflict`` while another request with the key is executing
        ("conflicted with another that was executing concurrently": nothing saved), and 422
        ``idempotency_key_mismatch`` for a stored key with a different request.
        """
        if self.in_flight.get(key):
            raise RefusedError(
                409,
                "idempotency_conflict",
                MSG_CONFLICT,
                headers={"Retry-After": str(config.retry_after)},
            )
        stored = self.stored.get(key)
        if stored is not None and config.clock() - stored.at < config.idempotency_ttl_seconds:
            if not stored.fingerprint.same_request(fingerprint):
                raise RefusedError(
                    422,
                    "idempotency_key_mismatch",
                    "Idempotency-Key was already used with a different request",
                )
            return stored.reply
        self.in_flight[key] = 1
        return None

    def end(
        self, key: str, fingerprint: Fingerprint, reply: Reply | None, config: EmulatorConfig
    ) -> None:
        """The request with ``key`` finished: store its answer unless it is retryable (429,
        5xx: the newer staging semantics) or there is none; the key is no longer in flight."""
        self.in_flight.pop(key, None)
        if reply is not None and reply.status != 429 and reply.status < 500:
            self.stored[key] = Stored(config.clock(), fingerprint, reply)
