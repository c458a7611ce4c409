"""The modelled network: ``latency_seconds`` and ``bandwidth_bytes_per_second`` on ``/v2``.

Timings are asserted as lower bounds (what the setting must add) and as generous upper bounds
only where they prove overlap (the machine running the tests may be loaded).
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from fs_pandas.emulator import Emulator, EmulatorConfig, Faults
from fs_pandas.emulator.cli import build_parser, config_from_args, main
from tests.emulator.emu_helpers import Api

# asyncio.sleep never wakes early by more than the clock's resolution; allow for it.
SLACK = 0.02


def timed(call: Any) -> tuple[float, Any]:
    """Seconds a call took, and its result."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def test_latency_applies_to_every_v2_request(emu: Emulator, admin: Api) -> None:
    emu.configure(latency_seconds=0.3)
    calls = (
        lambda: admin.get("/v2/users"),
        lambda: admin.post("/v2/users", {"uid": "a"}),
        lambda: admin.get("/v2/users/batch/nope"),  # a 404 travels too
        lambda: admin.get("/v2beta/users"),
    )
    for call in calls:
        took, r = timed(call)
        assert r.status_code in (200, 404)
        assert took >= 0.3 - SLACK


def test_concurrent_requests_overlap_their_latency(emu: Emulator) -> None:
    emu.configure(latency_seconds=0.5)
    start = threading.Barrier(5)

    def one(_: int) -> float:
        api = Api(emu, emu.api_key)
        try:
            api.get("/_emulator/jobs")  # connect first: time only the request itself
            start.wait()
            took, r = timed(lambda: api.get("/v2/users"))
            assert r.status_code == 200
            return took
        finally:
            api.close()

    took, each = timed(lambda: list(ThreadPoolExecutor(5).map(one, range(5))))
    assert min(each) >= 0.5 - SLACK
    # Served one after another they would take 2.5 s; overlapping, about 0.5 s.
    assert took < 2.0


def test_half_the_latency_passes_before_the_handler_runs(emu: Emulator, admin: Api) -> None:
    emu.configure(latency_seconds=2.0)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(admin.post, "/v2/users/batch", {"requests": [{"uid": "a"}]})
        time.sleep(0.3)
        assert emu.jobs() == []  # still on its way to the server
        r = pending.result()
    assert r.status_code == 200
    assert len(emu.jobs()) == 1


def test_inspection_routes_are_not_delayed(emu: Emulator) -> None:
    emu.configure(latency_seconds=5.0, bandwidth_bytes_per_second=1.0)
    took, r = timed(lambda: requests.get(emu.url + "/_emulator/jobs", timeout=30))
    assert r.status_code == 200
    assert took < 4.0


def test_faults_answer_after_the_latency(emu: Emulator, admin: Api) -> None:
    emu.configure(latency_seconds=0.3, faults=Faults(rate_429=1.0))
    took, r = timed(lambda: admin.get("/v2/users"))
    assert r.status_code == 429
    assert took >= 0.3 - SLACK


def test_bandwidth_delays_the_response_body(emu: Emulator, admin: Api) -> None:
    rows = [{"uid": f"user-{i:05d}", "display_name": f"User number {i}"} for i in range(1000)]
    job = admin.batch("users", rows)
    admin.finish("users", job)
    emu.configure(bandwidth_bytes_per_second=100_000.0)
    took, r = timed(lambda: admin.get(f"/v2/users/batch/{job}/imports"))
    assert r.status_code == 200 and len(r.json()["results"]) == 1000
    assert len(r.content) > 40_000
    assert took >= len(r.content) / 100_000 - SLACK


def test_bandwidth_delays_the_request_body(emu: Emulator, admin: Api) -> None:
    emu.configure(bandwidth_bytes_per_second=100_000.0)
    rows = [{"uid": f"user-{i:05d}", "display_name": "x" * 40} for i in range(1000)]
    body = {"requests": rows}
    took, r = timed(lambda: admin.post("/v2/users/batch", body))
    assert r.status_code == 200
    sent = len(r.request.body or b"")
    assert sent > 50_000
    assert took >= sent / 100_000 - SLACK


def test_configure_takes_effect_and_reset_restores_no_network(emu: Emulator) -> None:
    cfg = emu.configure(latency_seconds=0.05, bandwidth_bytes_per_second=1e6)
    assert (cfg.latency_seconds, cfg.bandwidth_bytes_per_second) == (0.05, 1e6)
    emu.reset()
    assert emu.config.latency_seconds == 0.0
    assert emu.config.bandwidth_bytes_per_second is None


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf, -math.inf])
def test_latency_must_be_finite_and_not_negative(emu: Emulator, value: float) -> None:
    with pytest.raises(ValueError, match="latency_seconds"):
        EmulatorConfig(latency_seconds=value)
    with pytest.raises(ValueError, match="latency_seconds"):
        emu.configure(latency_seconds=value)
    assert emu.config.latency_seconds == 0.0  # a refused setting changes nothing


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan])
def test_bandwidth_must_be_positive_when_set(value: float) -> None:
    with pytest.raises(ValueError, match="bandwidth_bytes_per_second"):
        EmulatorConfig(bandwidth_bytes_per_second=value)


def test_cli_flags_reach_the_config() -> None:
    args = build_parser().parse_args(["--latency", "0.05", "--bandwidth", "1e6"])
    cfg = config_from_args(args)
    assert cfg.latency_seconds == 0.05
    assert cfg.bandwidth_bytes_per_second == 1e6
    defaults = config_from_args(build_parser().parse_args([]))
    assert defaults.latency_seconds == 0.0
    assert defaults.bandwidth_bytes_per_second is None


def test_cli_refuses_a_negative_latency_as_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--port", "0", "--latency", "-1"])
    assert exc.value.code == 2
    assert "latency_seconds" in capsys.readouterr().err
