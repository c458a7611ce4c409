"""``python -m fs_pandas.emulator``: run the emulator until Ctrl-C."""

from __future__ import annotations

import sys

from fs_pandas.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
