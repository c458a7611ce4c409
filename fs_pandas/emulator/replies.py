"""What an emulator operation answers, before it becomes HTTP (``app.py`` does that).

Owns :class:`Reply` (a finished answer), :class:`RefusedError` (a non-2xx answer with its §7 body),
:class:`RowError` (one batch row failed; it goes to ``/errors``, §5.4) and the §7 messages the
emulator answers with word for word. It depends on nothing else in the emulator: every other
module may raise or return these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

# §7 bodies.
MSG_401 = "access is unauthorized"
MSG_403 = "insufficient permissions"
MSG_404 = "Requested resource does not exist"
MSG_429 = "Too many requests. Client has exceeded the rate limit for this endpoint."
MSG_500 = "Server error was encountered"
# The seed's errors example (asynchronous workflows page), word for word.
MSG_EMPTY_UID = "The provided uid parameter can not be empty"
MSG_CONFLICT = (
    "A request with this Idempotency-Key is still being processed; nothing was saved. "
    "Retry once it has finished."
)


@dataclass(frozen=True)
class Reply:
    """A finished answer: status, JSON body (``None`` = empty body) and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class RefusedError(Exception):
    """The emulator refuses a request: a non-2xx answer, its HTTP status, §7 body
    ``{"message", "code"}`` and extra headers. (Not the client's ``fs_pandas.errors.ApiError``:
    the emulator shares nothing with the client.)"""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def reply(self) -> Reply:
        """The error as a :class:`Reply`."""
        return Reply(self.status, {"message": self.message, "code": self.code}, self.headers)


class RowError(Exception):
    """One row failed: its ``code`` and ``message`` go to ``/errors`` (§5.4).

    A single create answers it as a 400 instead (:meth:`as_refused`).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_refused(self) -> RefusedError:
        """The 400 a single create (not a batch row) answers with."""
        return RefusedError(400, self.code, self.message)


def too_many_requests(retry_after: int) -> RefusedError:
    """The §4/§7 429 with its ``Retry-After`` header."""
    return RefusedError(
        429, "too_many_requests", MSG_429, headers={"Retry-After": str(retry_after)}
    )
