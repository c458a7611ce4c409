"""A local Fullstory Server API v2 emulator (users, events, batch jobs) for tests and demos.

Layout (like moto): ``state`` holds the org (its store, jobs and one lock) and delegates to
modules that each own one thing (``config``, ``rules``, ``models``, ``paging``...; see the
``state`` module docstring), ``app`` translates HTTP (Starlette), ``server`` hosts it on uvicorn
in a thread, ``faults`` injects seeded failures. It imports nothing from the client side of
fs_pandas: it restates the API contract on its own.

>>> from fs_pandas.emulator import serve, Faults
>>> with serve(processing_polls=1) as emu:  # doctest: +SKIP
...     emu.url, emu.api_key, emu.standard_key
"""

from __future__ import annotations

# The packages of the ``emulator`` extra (fs_pandas.cli knows them too, for its message).
_REQUIRES = ("starlette", "uvicorn")

try:
    from fs_pandas.emulator.cli import main
    from fs_pandas.emulator.config import EmulatorConfig
    from fs_pandas.emulator.faults import Faults
    from fs_pandas.emulator.server import Emulator, serve
except ModuleNotFoundError as exc:
    if (exc.name or "").partition(".")[0] not in _REQUIRES:
        raise
    # Say what to install instead of ending in a bare "No module named 'uvicorn'".
    raise ModuleNotFoundError(
        f"the fs_pandas emulator needs {exc.name}, which is not installed: "
        'pip install "fs-pandas[emulator]"',
        name=exc.name,
    ) from exc

__all__ = ["Emulator", "EmulatorConfig", "Faults", "main", "serve"]
