"""Reading a users job's imports as who was imported (``Client.job_import_ids``).

The reference is ``Client.job_page``: on every answer -- each reading of the last page token,
results null or absent, numbers for ids, results without a uid, malformed pages -- the two must
agree, the faster one only leaving out what the join does not need.
"""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pytest

from fs_pandas.client import Client, _parse_import_ids, _parse_page
from fs_pandas.emulator import Emulator
from fs_pandas.errors import ApiError
from fs_pandas.models import ImportIds, Page


def projection(page: Page) -> ImportIds:
    """What job_import_ids must say of a page job_page parsed."""
    return ImportIds(
        uids=[r.get("uid") for r in page.results],
        ids=[None if r.get("id") is None else str(r["id"]) for r in page.results],
        anonymous=[(i, r) for i, r in enumerate(page.results) if not r.get("uid")],
        total_records=page.total_records,
        next_page_token=page.next_page_token,
    )


PAGES: list[Any] = [
    {"results": [{"uid": "a", "id": "1", "properties": {"x": [1, {"y": None}]}}]},
    {"results": [{"uid": "a", "id": 12345678901234567890}], "next_page_token": "t"},
    {"results": [{"id": "9", "email": "e@x"}, {"uid": "", "id": "8"}], "total_records": "2"},
    {"results": None, "next_page_token": None},
    {"results": [], "next_page_token": ""},
    {"next_page_token": 7},
    {"results": [{"uid": 5, "id": None}], "total_records": 3},
    {"results": [{"uid": "a"}, "not an object"]},
    {"results": {"uid": "a"}},
    ["not", "an", "object"],
    {"results": [{"uid": {"nested": "uid"}}]},
]


@pytest.mark.parametrize("body", PAGES, ids=[f"page{i}" for i in range(len(PAGES))])
def test_import_ids_say_what_the_whole_page_says(body: Any) -> None:
    raw = orjson.dumps(body)
    try:
        page = _parse_page(orjson.loads(raw), where="GET p")
    except ApiError:
        with pytest.raises(ApiError, match="GET p"):
            _parse_import_ids(raw, where="GET p")
        return
    if any(not isinstance(r.get("uid"), str | int | float | None) for r in page.results):
        with pytest.raises(ApiError, match="uid is neither text nor a number"):
            _parse_import_ids(raw, where="GET p")
        return
    assert _parse_import_ids(raw, where="GET p") == projection(page)


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(ApiError, match="not JSON"):
        _parse_import_ids(b"<html>502</html>", where="GET p")


@pytest.mark.parametrize("last_page_token", ["null", "empty", "omit"])
@pytest.mark.parametrize("import_nulls", ["omit", "null"])
def test_every_page_of_a_real_job_reads_as_job_page_reads_it(
    emu: Emulator, client: Client, last_page_token: str, import_nulls: str
) -> None:
    emu.configure(
        page_size=3,
        last_page_token=last_page_token,
        import_nulls=import_nulls,
        processing_polls=1,
    )
    frame = pd.DataFrame({"uid": ["a", None, "c", "d", None], "n": [1, 2, 3, 4, 5]})
    body = orjson.dumps(
        {
            "requests": [
                {"uid": u, "properties": {"n": n}} if u else {"properties": {"n": n}}
                for u, n in zip(frame["uid"], frame["n"], strict=True)
            ]
        }
    )
    job = client.create_job("users", body, idempotency_key=f"k-{last_page_token}-{import_nulls}")
    while not client.job_status("users", job.id).status.finished:
        pass  # the emulator finishes a job after processing_polls status polls
    token = None
    pages = 0
    while True:
        whole = client.job_page("users", job.id, "imports", page_token=token)
        assert whole.ready
        assert client.job_import_ids(job.id, page_token=token) == projection(whole)
        pages += 1
        token = whole.next_page_token
        if token is None:
            break
    assert pages == 2
