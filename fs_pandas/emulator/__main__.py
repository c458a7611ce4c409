"""``python -m fs_pandas.emulator``: run the emulator until Ctrl-C."""

from __future__ import annotations

import gc
import sys

from fs_pandas.emulator.cli import main

if __name__ == "__main__":
    # A process of its own, holding every user it was sent: with the default thresholds the
    # collector walks that growing heap again and again while a 50,000-row body is parsed
    # (2-3x the parse itself). Collect young objects less often; cycles are still collected.
    # Only here: an emulator inside someone's notebook leaves their process's settings alone.
    gc.set_threshold(100_000, 50, 20)
    sys.exit(main())
