"""Page tokens and pages of results (§5.3, §9.4, §11.9).

Owns the opaque ``next_page_token``: the next offset, bound to a *scope* (:func:`token_scope`:
a digest of the seed, the org's reset epoch and the listing that issued it: job, result kind,
endpoint or list filters), so a token sent back with another request, or after a reset, is a 400.
:func:`page_of` slices a result list into one page and renders only that page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from fs_pandas.emulator.config import LastPageToken
from fs_pandas.emulator.replies import JsonDict, RefusedError


def token_scope(seed: int, epoch: int, *parts: str) -> str:
    """What a page token is bound to (§11.9): a digest of the listing that issued it."""
    text = "|".join((str(seed), str(epoch), *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def encode_token(scope: str, offset: int) -> str:
    """Opaque page token (§11.9): the next offset, bound to the listing that issued it."""
    return base64.urlsafe_b64encode(f"{scope}:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str | None, scope: str) -> int:
    """Offset of a page token; 400 ``invalid_argument`` when it is not one of ours or was
    issued for another job, result kind, endpoint or filter."""
    if token is None or token == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        issued_for, _, offset = raw.rpartition(":")
        valid = bool(issued_for) and offset.isdigit()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        valid = False
    if not valid:
        raise RefusedError(400, "invalid_argument", f"invalid page_token {token!r}")
    if issued_for != scope:
        raise RefusedError(
            400,
            "invalid_argument",
            "page_token was issued for another job, result kind or filter; "
            "send it back only with the request that returned it",
        )
    return int(offset)


def page_of(
    rows: Sequence[Any],
    token: str | None,
    page_size: int,
    render: Callable[[Any], JsonDict],
    *,
    scope: str,
    last_token: LastPageToken,
) -> JsonDict:
    """One page: ``results``, ``total_records`` as a string, ``next_page_token`` (on the last
    page ``null``, ``""`` or absent, per ``last_token``)."""
    start = decode_token(token, scope)
    if start > len(rows):
        raise RefusedError(400, "invalid_argument", "page_token is past the end of the results")
    end = start + page_size
    body: JsonDict = {
        "results": [render(r) for r in rows[start:end]],
        "total_records": str(len(rows)),
    }
    if end < len(rows):
        body["next_page_token"] = encode_token(scope, end)
    elif last_token == "null":  # the seed's errors example ends with "next_page_token": null
        body["next_page_token"] = None
    elif last_token == "empty":  # the SDK's mocks
        body["next_page_token"] = ""
    return body
