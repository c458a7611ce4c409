"""Helpers for the emulator tests: plain ``requests`` against ``emu.url`` (no fs_pandas client)."""

from __future__ import annotations

from typing import Any

import requests

from fs_pandas.emulator import Emulator


class Api:
    """A thin ``requests`` wrapper: base URL + ``Authorization: Basic <key>``."""

    def __init__(self, emu: Emulator, key: str | None) -> None:
        self.emu = emu
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Basic {key}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.emu.url + path, timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        if body is not None:
            kw["json"] = body
        return self.session.post(self.emu.url + path, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.emu.url + path, timeout=30, **kw)

    def batch(self, kind: str, rows: list[Any], **extra: Any) -> str:
        """Create a batch job; return its id."""
        r = self.post(f"/v2/{kind}/batch", {"requests": rows, **extra})
        assert r.status_code == 200, r.text
        return str(r.json()["job"]["id"])

    def finish(self, kind: str, job_id: str) -> dict[str, Any]:
        """Poll the job's status until terminal (deterministic: processing_polls)."""
        for _ in range(100):
            body: dict[str, Any] = self.get(f"/v2/{kind}/batch/{job_id}").json()
            if body["job"]["status"] != "PROCESSING":
                return body
        raise AssertionError("job never finished")

    def pages(self, kind: str, job_id: str, which: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of imports/errors."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            q = dict(params, **({"page_token": token} if token else {}))
            r = self.get(f"/v2/{kind}/batch/{job_id}/{which}", params=q)
            assert r.status_code == 200, r.text
            out.append(r.json())
            token = r.json().get("next_page_token")
            if not token:
                return out

    def close(self) -> None:
        self.session.close()


def stored_counts(emu: Emulator) -> tuple[int, int, int]:
    """How many jobs, users and events the emulator holds once its worker has done what was
    sent so far (a running job's rows are applied in the background)."""
    emu.state.close()  # waits for the worker's queued work; the next job starts it again
    return len(emu.jobs()), len(emu.users()), len(emu.events())
