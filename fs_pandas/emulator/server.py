"""Hosts the emulator app on uvicorn in a background thread; :func:`serve` is the handle.

The HTTP protocol is uvicorn's h11 protocol with one addition: each connection's transport is
recorded by client address, so the fault middleware can abort a socket (a real dropped
connection, no HTTP response at all).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from fs_pandas.emulator.app import build_app
from fs_pandas.emulator.config import EmulatorConfig
from fs_pandas.emulator.replies import JsonDict
from fs_pandas.emulator.state import OrgState

logger = logging.getLogger(__name__)

_START_TIMEOUT = 10.0


def _protocol_class(transports: dict[Any, asyncio.BaseTransport]) -> type[asyncio.Protocol]:
    """An h11 protocol class that records its transport in ``transports`` (per server)."""

    class RecordingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            transports[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            transports.pop(self.client, None)
            super().connection_lost(exc)

    return RecordingH11Protocol


class Emulator:
    """A running (or startable) emulator: the handle returned by :func:`serve`.

    Parameters
    ----------
    config : EmulatorConfig
        Start-up settings; :meth:`reset` restores them.
    host : str
        Interface to listen on (loopback by default).
    port : int
        Port; 0 picks a free one.
    """

    def __init__(self, config: EmulatorConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = OrgState(config)
        self.host = host
        self._port = port
        self._transports: dict[Any, asyncio.BaseTransport] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the socket, start uvicorn in a daemon thread, wait until it accepts."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP; without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._sock = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.state, transports=self._transports),
            http=_protocol_class(self._transports),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fs-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        logger.info("Fullstory emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread and the org's row-checking thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self.state.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> Emulator:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- the handle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, no trailing slash, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def api_key(self) -> str:
        """The Admin key (send as ``Authorization: Basic <key>``)."""
        return self.state.config.api_key

    @property
    def standard_key(self) -> str:
        """The Standard key: create and status only; reading results or users is 403."""
        return self.state.config.standard_key

    @property
    def config(self) -> EmulatorConfig:
        """The current settings."""
        return self.state.config

    def jobs(self) -> list[JsonDict]:
        """Every job in creation order: ``kind, id, status, requests, idempotency_key``."""
        return self.state.list_jobs()

    def users(self) -> list[JsonDict]:
        """Every stored user (``id, uid, display_name, email, properties, schema, ...``)."""
        return self.state.list_users_raw()

    def events(self) -> list[JsonDict]:
        """Every stored event, in the order stored."""
        return self.state.list_events_raw()

    def in_flight(self) -> list[str]:
        """The ``Idempotency-Key`` values of create requests executing right now."""
        return sorted(self.state.in_flight)

    def held(self) -> int:
        """How many create requests wait on ``create_delay_seconds`` / ``create_hold``."""
        return self.state.held

    def reset(self) -> None:
        """Clear users, events, jobs, idempotency keys and restore the start-up settings."""
        self.state.reset()

    def configure(self, **settings: Any) -> EmulatorConfig:
        """Change settings at run time (any :class:`EmulatorConfig` field); returns them."""
        return self.state.configure(**settings)

    def __repr__(self) -> str:
        return f"Emulator(url={self.url!r}, running={self.running})"


@contextmanager
def serve(*, host: str = "127.0.0.1", port: int = 0, **settings: Any) -> Iterator[Emulator]:
    """Run an emulator in a background thread for the duration of a ``with`` block.

    Parameters
    ----------
    host : str
        Interface to listen on; loopback unless told otherwise.
    port : int
        Port to bind; 0 (default) picks a free port.
    **settings
        Any :class:`~fs_pandas.emulator.EmulatorConfig` field: ``processing_polls``,
        ``processing_seconds``, ``page_size``, ``faults``, ``seed``, ``fail_uids``, caps,
        ``retry_after``, ``clock``, keys...

    Yields
    ------
    Emulator
        The handle: ``url``, ``api_key``, ``standard_key``, ``jobs()``, ``users()``,
        ``events()``, ``reset()``, ``configure(**settings)``.

    Examples
    --------
    >>> from fs_pandas.emulator import serve
    >>> with serve(processing_polls=1) as emu:  # doctest: +SKIP
    ...     print(emu.url)
    """
    emulator = Emulator(EmulatorConfig().replace(**settings), host=host, port=port).start()
    try:
        yield emulator
    finally:
        emulator.stop()
