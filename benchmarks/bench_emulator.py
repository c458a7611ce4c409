"""Throughput of the emulator: create + poll + page through 50,000 users and 50,000 events.

Run: ``python benchmarks/bench_emulator.py`` (``--no-baseline``: the real emulator only). Prints
rows/s for the real emulator (orjson) and for a naive baseline measured in the same run: the
same emulator with the stdlib ``json`` module swapped in for parsing and serialising (what the
emulator would cost without orjson). The client side parses with orjson in both runs, so only
the server differs; the emulator runs in a child process so that client and server do not share
a GIL or a heap (a 50,000-user org in the same heap makes every garbage collection of the client
slower). Each figure is the best of 3; besides the whole round trip it prints rows/s of each
phase: create (the POST: with ``processing_seconds=0`` the rows are validated *and* applied to
the org within it), status (polling until the job is terminal) and paging (every page of imports
and errors).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any
from unittest import mock

import orjson
import requests

from fs_pandas.emulator import serve

ROWS = 50_000


def user_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "uid": f"user-{i}",
            "display_name": f"User {i}",
            "email": f"u{i}@example.com",
            "properties": {
                "plan": "paid" if i % 2 else "free",
                "spent": i * 1.5,
                "visits": i % 17,
                "active": bool(i % 3),
                "tags": ["a", "b"],
                "address": {"city": "Atlanta", "zip": "30301"},
            },
        }
        for i in range(n)
    ]


def event_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "user": {"uid": f"user-{i % 1000}"},
            "name": "Order Completed",
            "timestamp": "2024-05-01T12:00:00Z",
            "properties": {"order_id": i, "total": i * 0.25, "currency": "USD", "items": [1, 2, 3]},
        }
        for i in range(n)
    ]


def run_job(url: str, key: str, kind: str, rows: list[dict[str, Any]]) -> tuple[float, ...]:
    """Seconds to create, to poll to the end (the job's rows are applied then), to page through
    imports and errors, and in all."""
    session = requests.Session()
    session.headers["Authorization"] = f"Basic {key}"
    body = orjson.dumps({"requests": rows})
    start = time.perf_counter()
    job = orjson.loads(session.post(f"{url}/v2/{kind}/batch", data=body, timeout=60).content)[
        "job"
    ]["id"]
    created = time.perf_counter()
    while (
        orjson.loads(session.get(f"{url}/v2/{kind}/batch/{job}", timeout=60).content)["job"][
            "status"
        ]
        == "PROCESSING"
    ):
        pass
    finished = time.perf_counter()
    seen = 0
    for which in ("imports", "errors"):
        token = None
        while True:
            params = {"page_token": token} if token else {}
            page = orjson.loads(
                session.get(
                    f"{url}/v2/{kind}/batch/{job}/{which}", params=params, timeout=60
                ).content
            )
            seen += len(page["results"])
            token = page.get("next_page_token")
            if not token:
                break
    end = time.perf_counter()
    assert seen == len(rows), (seen, len(rows))
    return created - start, finished - created, end - finished, end - start


@contextmanager
def stdlib_json() -> Iterator[None]:
    """Swap orjson for the stdlib json module inside the emulator (the naive baseline)."""

    def dumps(obj: Any, option: int | None = None) -> bytes:
        return json.dumps(obj, sort_keys=bool(option), separators=(",", ":")).encode()

    with (
        mock.patch("fs_pandas.emulator.app.orjson.loads", json.loads),
        mock.patch("fs_pandas.emulator.app.orjson.dumps", dumps),
        mock.patch("fs_pandas.emulator.rules.orjson.dumps", dumps),
        mock.patch("fs_pandas.emulator.properties.orjson.dumps", dumps),
        mock.patch("fs_pandas.emulator.idempotency.orjson.dumps", dumps),
    ):
        yield


def serve_forever(stdlib: bool) -> None:
    """Server side (a child process): run the emulator, print its URL and key, serve."""
    with (
        stdlib_json() if stdlib else nullcontext(),
        serve(processing_seconds=0.0, page_size=1000) as emu,
    ):
        print(emu.url, emu.api_key, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


@contextmanager
def child_emulator(stdlib: bool) -> Iterator[tuple[str, str]]:
    """Run the emulator in its own process, so the client does not share its GIL or heap."""
    args = [sys.executable, __file__, "--serve"] + (["--stdlib-json"] if stdlib else [])
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url, key = proc.stdout.readline().split()
        yield url, key
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def measure(label: str, *, stdlib: bool) -> None:
    users, events = user_rows(ROWS), event_rows(ROWS)
    with child_emulator(stdlib) as (url, key):
        for kind, rows in (("users", users), ("events", events)):
            # Best of 3, phase by phase.
            create, finish, paging, total = map(
                min, zip(*(run_job(url, key, kind, rows) for _ in range(3)), strict=True)
            )
            print(
                f"{label:<22} {kind:<7} {ROWS:>6} rows  {total * 1000:7.0f} ms  "
                f"{ROWS / total:>10,.0f} rows/s  (create {ROWS / create:,.0f}, "
                f"status {ROWS / finish:,.0f}, paging {ROWS / paging:,.0f} rows/s)",
                flush=True,
            )
            requests.post(f"{url}/_emulator/reset", timeout=60)


def main() -> None:
    if "--serve" in sys.argv:
        serve_forever("--stdlib-json" in sys.argv)
        return
    measure("emulator (orjson)", stdlib=False)
    if "--no-baseline" not in sys.argv:
        measure("baseline (stdlib json)", stdlib=True)


if __name__ == "__main__":
    main()
