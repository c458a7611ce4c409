"""A server that was never reached is given up on quickly: a wrong base URL is told in seconds,
not after every backoff. Once the server has answered, a lost connection has the whole budget."""

from __future__ import annotations

import pickle
import socket

import pytest

from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, Faults
from fs_pandas.errors import NotFoundError, RetryExhaustedError, TransportError
from fs_pandas.retry import RetryPolicy


def closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_to_a_server_never_reached_gives_up_after_three_attempts() -> None:
    sleeps: list[float] = []
    client = Client("k", base_url=f"http://127.0.0.1:{closed_port()}", sleep=sleeps.append)
    with pytest.raises(RetryExhaustedError) as caught:
        client.job_status("users", "x")
    assert caught.value.attempts == 3 and len(sleeps) == 2
    last = caught.value.last_error
    assert isinstance(last, TransportError) and last.connect_failed
    assert pickle.loads(pickle.dumps(last)).connect_failed


def test_a_dropped_connection_after_the_server_answered_keeps_the_whole_budget(
    emu: Emulator,
) -> None:
    sleeps: list[float] = []
    client = Client(emu.api_key, base_url=emu.url, sleep=sleeps.append, retry=RetryPolicy(total=5))
    with pytest.raises(NotFoundError):  # the server answers: it was reached
        client.job_status("users", "nope")
    emu.configure(faults=Faults(rate_drop_before=1.0))
    with pytest.raises(RetryExhaustedError) as caught:
        client.job_status("users", "nope")
    assert caught.value.attempts == 6  # the configured budget, not the first-contact cap
    last = caught.value.last_error
    assert isinstance(last, TransportError) and not last.connect_failed


@pytest.mark.parametrize("suffix", ["/v2", "/v2/", "/V2"])
def test_a_base_url_with_the_api_version_is_refused_with_the_root_to_use(suffix: str) -> None:
    from fs_pandas.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        Client("na1.key", base_url=f"https://api.fullstory.com{suffix}")
    assert str(caught.value).startswith(
        "base_url is the API's root, without /v2: use 'https://api.fullstory.com', not "
    )
