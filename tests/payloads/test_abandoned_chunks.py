"""A chunk iterator left unfinished (a run that stopped, an iterator dropped) never hangs the
process: when the garbage collector is the one to close it -- at any allocation of any thread,
even inside ``Thread.start()``, which holds threading's own lock -- it does not wait for its
build threads (which need that lock to exit). Run in a child process: a hang is a timeout there,
not a stuck test run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, threading
    import pandas as pd
    from fs_pandas.payloads import plan_users

    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(200_000)], "n": range(200_000)})
    chunks = plan_users(frame, uid_col="uid").chunks(50_000, threads=2)
    next(chunks)  # build threads now run ahead on the next slices
    cycle = [chunks]
    cycle.append(cycle)  # only the collector can free it
    del chunks, cycle
    # Collect as a thread start would, holding the lock a build thread needs to exit.
    with threading._active_limbo_lock:
        gc.collect()
    # And threads still start afterwards.
    started = threading.Thread(target=lambda: None)
    started.start()
    started.join()
    print("ok")
    """
)


def test_an_abandoned_chunk_iterator_collected_inside_a_thread_start_does_not_hang() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
