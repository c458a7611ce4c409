"""A local Fullstory Server API v2 emulator (users, events, batch jobs) for tests and demos.

Layout (like moto): ``state`` holds the org and its rules, ``app`` translates HTTP (Starlette),
``server`` hosts it on uvicorn in a thread, ``faults`` injects seeded failures. It imports
nothing from the client side of fs_pandas: it restates the API contract on its own.

>>> from fs_pandas.emulator import serve, Faults
>>> with serve(processing_polls=1) as emu:  # doctest: +SKIP
...     emu.url, emu.api_key, emu.standard_key
"""

from __future__ import annotations

from fs_pandas.emulator.cli import main
from fs_pandas.emulator.faults import Faults
from fs_pandas.emulator.server import Emulator, serve
from fs_pandas.emulator.state import EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig", "Faults", "main", "serve"]
