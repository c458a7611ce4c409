"""An interrupt is a normal end of a run (issue 11).

Ctrl-C, a ``timeout=`` or ``RunHandle.cancel()`` stop the waiting: the jobs already created keep
running at Fullstory, the unfinished rows come back ``pending`` with their job ids, and a resume
(or the same call again) finishes the run without sending anything twice. The notebook case runs
in a real kernel interrupted through its kernel manager (nbclient); the terminal case through a
real ``python -m fs_pandas`` process and a real SIGINT.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fs_pandas
from fs_pandas.client import Client
from fs_pandas.emulator import Emulator, serve
from fs_pandas.errors import ConfigurationError, FullstoryError, RunInterrupted
from fs_pandas.run import RunHandle
from fs_pandas.run.ledger import read_ledger
from fs_pandas.specs import Pacing

ROWS = 30  # three chunks of ten
FOREVER = 10**6  # processing_polls: a job that never finishes while the test waits


def frame() -> pd.DataFrame:
    return pd.DataFrame({"uid": [f"u{i}" for i in range(ROWS)], "n": range(ROWS)})


def wait_until(condition: Callable[[], bool], *, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def journalled_jobs(ledger_dir: Path) -> int:
    ledgers = fs_pandas.runs(ledger_dir)
    return len(read_ledger(ledgers[0]).jobs) if ledgers else 0


def resume_fast(
    emu: Emulator, client: Client, path: str | os.PathLike[str] | None
) -> fs_pandas.BatchResult:
    """Let the jobs finish, then resume the run against the same frame."""
    assert path is not None
    emu.configure(processing_polls=0)
    options = Pacing(chunk_size=10, poll_interval=0.01)
    return fs_pandas.resume(path, frame(), client=client, progress=False, options=options)


def assert_finished_once(emu: Emulator, result: fs_pandas.BatchResult) -> None:
    assert result.counts == {"imported": ROWS, "failed": 0, "rejected": 0, "pending": 0}
    assert len(emu.jobs()) == 3  # one job per chunk: nothing was created twice
    assert len(emu.users()) == ROWS


# -- RunInterrupted ----------------------------------------------------------------------------


def test_run_interrupted_is_a_fullstory_error_and_a_keyboard_interrupt() -> None:
    assert issubclass(RunInterrupted, FullstoryError)
    assert issubclass(RunInterrupted, KeyboardInterrupt)


# -- timeout= ----------------------------------------------------------------------------------


def test_timeout_stops_waiting_and_raises_with_the_partial_result(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=FOREVER)
    with pytest.raises(RunInterrupted) as caught:
        frame().fullstory.batch_update(
            uid_col="uid",
            client=client,
            chunk_size=10,
            max_jobs_in_flight=2,
            poll_interval=0.02,
            progress=False,
            ledger_dir=tmp_path,
            timeout=0.3,
        )
    exc = caught.value
    assert exc.reason == "timeout"
    assert exc.jobs_running == 2
    assert exc.ledger_path == exc.result.ledger_path
    pending = exc.result.pending
    assert exc.result.counts["pending"] == ROWS
    said = (
        f"Stopped early (timed out after 0.3 s): {ROWS} rows pending; finish with fs_pandas.resume("
    )
    assert said in repr(exc.result)  # the summary says so too, not only the exception
    assert "fs-pandas-stopped" in exc.result._repr_html_()
    # Two chunks have a job at Fullstory; the third was never sent (no job id).
    assert pending["fs_job_id"].notna().sum() == 20
    assert set(pending["fs_job_id"].dropna()) == set(exc.result.job_ids)
    assert "2 jobs still running at Fullstory" in str(exc)
    assert "fs_pandas.resume(" in str(exc)
    assert exc.result.aborted == "timed out after 0.3 s"
    # The traceback starts at the call, not inside the runner or urllib3.
    frames = traceback.extract_tb(exc.__traceback__)
    assert [f.name for f in frames[1:]] == ["batch_update"]
    assert exc.__suppress_context__

    assert_finished_once(emu, resume_fast(emu, client, exc.ledger_path))


def test_timeout_shows_red_text_with_the_jobs_left_and_how_to_finish(
    emu: Emulator, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.configure(processing_polls=FOREVER)
    with pytest.raises(RunInterrupted) as caught:
        frame().fullstory.batch_update(
            uid_col="uid",
            client=client,
            chunk_size=10,
            poll_interval=0.02,
            progress="text",
            ledger_dir=tmp_path,
            timeout=0.3,
        )
    lines = capsys.readouterr().err.splitlines()
    assert "aborted: timed out after 0.3 s" in lines[-2]
    assert lines[-1] == (
        "3 jobs still running at Fullstory, 30 rows pending: finish with "
        f"fs_pandas.resume({caught.value.ledger_path!r}, df), or run the same call again "
        "(within 24 h nothing is sent twice)"
    )


def test_running_the_same_call_again_after_a_timeout_sends_nothing_twice(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=FOREVER)
    options = {"uid_col": "uid", "client": client, "chunk_size": 10}
    with pytest.raises(RunInterrupted):
        frame().fullstory.batch_update(
            **options, poll_interval=0.02, progress=False, ledger_dir=tmp_path, timeout=0.3
        )
    emu.configure(processing_polls=0)
    again = frame().fullstory.batch_update(
        **options, poll_interval=0.01, progress=False, ledger_dir=tmp_path
    )
    assert isinstance(again, fs_pandas.BatchResult)
    assert_finished_once(emu, again)


def test_resume_takes_a_timeout_too(emu: Emulator, client: Client, tmp_path: Path) -> None:
    emu.configure(processing_polls=FOREVER)
    with pytest.raises(RunInterrupted) as first:
        frame().fullstory.batch_update(
            uid_col="uid", client=client, chunk_size=10, poll_interval=0.02, progress=False,
            ledger_dir=tmp_path, timeout=0.2,
        )  # fmt: skip
    path = first.value.ledger_path
    assert path is not None
    options = Pacing(chunk_size=10, poll_interval=0.02)
    with pytest.raises(RunInterrupted) as second:
        fs_pandas.resume(path, frame(), client=client, progress=False, options=options, timeout=0.2)
    assert second.value.reason == "timeout"
    assert second.value.result.counts["pending"] == ROWS
    assert [f.name for f in traceback.extract_tb(second.value.__traceback__)[1:]] == ["resume"]
    assert_finished_once(emu, resume_fast(emu, client, path))


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "5", True])
def test_timeout_must_be_a_positive_number_of_seconds(
    emu: Emulator, client: Client, tmp_path: Path, timeout: object
) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        frame().fullstory.batch_update(
            uid_col="uid", client=client, ledger_dir=tmp_path, timeout=timeout
        )
    assert fs_pandas.runs(tmp_path) == []  # refused before a ledger was written
    assert emu.jobs() == []


# -- RunHandle.cancel() and interrupting wait() -------------------------------------------------


def start_background(
    emu: Emulator, client: Client, tmp_path: Path, *, poll_interval: float
) -> RunHandle:
    emu.configure(processing_polls=FOREVER)
    handle = frame().fullstory.batch_update(
        uid_col="uid",
        client=client,
        chunk_size=10,
        max_jobs_in_flight=2,
        poll_interval=poll_interval,
        progress=False,
        ledger_dir=tmp_path,
        wait=False,
    )
    assert isinstance(handle, RunHandle)
    return handle


def test_cancel_stops_a_background_run_and_wait_returns_the_partial_result(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    # A long poll interval: cancel must cut the wait short, not let it run out.
    handle = start_background(emu, client, tmp_path, poll_interval=30.0)
    wait_until(lambda: journalled_jobs(tmp_path) == 2)
    started = time.monotonic()
    handle.cancel()
    result = handle.wait()
    assert time.monotonic() - started < 5
    assert handle.done()
    assert result.aborted == "cancelled"
    assert result.counts["pending"] == ROWS
    assert result.pending["fs_job_id"].notna().sum() == 20
    assert handle.result() is result  # later calls give the same result
    assert_finished_once(emu, resume_fast(emu, client, handle.ledger_path))


def test_cancelling_a_finished_run_changes_nothing(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    handle = frame().fullstory.batch_update(
        uid_col="uid", client=client, chunk_size=10, poll_interval=0.01,
        progress=False, ledger_dir=tmp_path, wait=False,
    )  # fmt: skip
    assert isinstance(handle, RunHandle)
    result = handle.wait()
    handle.cancel()
    assert handle.wait() is result
    assert result.finished and result.aborted is None


def test_interrupting_wait_stops_a_background_run_and_raises_run_interrupted(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    handle = start_background(emu, client, tmp_path, poll_interval=0.02)
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main

    def interrupt() -> None:
        # The state only moves while wait() consumes events on the main thread: once it shows
        # both jobs, the main thread is inside wait(), where Ctrl-C is expected.
        wait_until(lambda: handle._state.jobs_processing == 2)
        signal.pthread_kill(main, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    try:
        with pytest.raises(RunInterrupted) as caught:
            handle.wait()
    finally:
        interrupter.join()
    assert caught.value.reason == "interrupted"
    assert handle.done()  # the background run was stopped too
    assert caught.value.result.counts["pending"] == ROWS
    assert [f.name for f in traceback.extract_tb(caught.value.__traceback__)[1:]] == ["wait"]
    with pytest.raises(RunInterrupted):
        handle.result()
    assert_finished_once(emu, resume_fast(emu, client, handle.ledger_path))


# -- the command line --------------------------------------------------------------------------


def start_cli(emu: Emulator, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    csv = tmp_path / "users.csv"
    frame().to_csv(csv, index=False)
    env = {
        **os.environ,
        "FULLSTORY_API_KEY": emu.api_key,
        "FULLSTORY_BASE_URL": emu.url,
        "FS_PANDAS_HOME": str(tmp_path / "home"),
    }
    argv = [sys.executable, "-m", "fs_pandas", "users", str(csv), "--uid-col", "uid"]
    argv += ["--chunk-size", "10", "--poll-interval", "0.02", "--no-progress", *extra]
    child = subprocess.Popen(
        argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return child, csv


def test_sigint_to_the_cli_prints_one_line_writes_the_outcomes_and_exits_130(
    emu: Emulator, client: Client, tmp_path: Path
) -> None:
    emu.configure(processing_polls=FOREVER)
    out = tmp_path / "outcomes.csv"
    child, csv = start_cli(emu, tmp_path, "--out", str(out))
    try:
        wait_until(lambda: journalled_jobs(tmp_path / "home" / "runs") == 3)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130
    assert stdout == ""
    [line] = stderr.splitlines()
    assert line.startswith(
        "fs-pandas: interrupted: 3 jobs still running at Fullstory, 30 rows pending; "
        f"outcomes so far written to {out}; finish with: fs-pandas resume "
    )
    table = pd.read_csv(out)
    assert (table["fs_outcome"] == "pending").all() and table["fs_job_id"].notna().all()

    command = shlex.split(line.rsplit("finish with: ", 1)[1])
    assert command[:2] == ["fs-pandas", "resume"] and command[3] == str(csv)
    # Resumed in this process (a second interpreter start costs seconds), from the printed path.
    assert_finished_once(emu, resume_fast(emu, client, command[2]))


def test_cli_timeout_exits_124_with_one_line(emu: Emulator, tmp_path: Path) -> None:
    emu.configure(processing_polls=FOREVER)
    child, _ = start_cli(emu, tmp_path, "--timeout", "0.5")
    try:
        stdout, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 124
    assert stdout == ""
    [line] = stderr.splitlines()
    assert line.startswith("fs-pandas: timed out: 3 jobs still running at Fullstory, 30 rows")


# -- Kernel -> Interrupt in a real notebook kernel ----------------------------------------------

_SETUP = """
import sys
import pandas as pd
import fs_pandas
from fs_pandas.specs import Pacing
client = fs_pandas.Client(api_key={key!r}, base_url={url!r})
frame = pd.DataFrame({{"uid": [f"u{{i}}" for i in range(30)], "n": range(30)}})
"""
_RUN = """
result = frame.fullstory.batch_update(
    uid_col="uid", client=client, chunk_size=10, max_jobs_in_flight=2, poll_interval=0.02,
    ledger_dir={ledger_dir!r},
)
"""
_LOOK = """
stopped = sys.last_value
partial = stopped.result
print(type(stopped).__name__, stopped.reason, partial.counts["pending"],
      partial.pending["fs_job_id"].notna().sum(), stopped.ledger_path == partial.ledger_path)
"""
_RESUME = """
done = fs_pandas.resume(
    stopped.ledger_path, frame, client=client, options=Pacing(chunk_size=10, poll_interval=0.01)
)
print("resumed", done.counts)
"""


@pytest.fixture
def kernel_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Run the four cells in a real kernel, interrupting the second once its two jobs are
    journalled; the emulator lets jobs finish only before the resume cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.manager import KernelManager

    # A kernelspec that runs this interpreter, away from the user's own Jupyter dirs.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        f'{{"argv": {argv!r}, "display_name": "fs_pandas tests", "language": "python"}}'.replace(
            "'", '"'
        )
    )
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    ledger_dir = tmp_path / "runs"
    with serve(processing_polls=FOREVER) as emu:
        sources = [
            _SETUP.format(key=emu.api_key, url=emu.url),
            _RUN.format(ledger_dir=str(ledger_dir)),
            _LOOK,
            _RESUME,
        ]
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src, id=f"c{i}") for i, src in enumerate(sources)]
        client = nbclient.NotebookClient(
            nb,
            timeout=60,
            kernel_name="python3",
            allow_errors=True,
            kernel_manager_class=KernelManager,
        )
        with client.setup_kernel():
            client.execute_cell(nb.cells[0], 0)

            def interrupt() -> None:
                wait_until(lambda: journalled_jobs(ledger_dir) == 2)
                client.km.interrupt_kernel()

            interrupter = threading.Thread(target=interrupt)
            interrupter.start()
            try:
                client.execute_cell(nb.cells[1], 1)
            finally:
                interrupter.join()
            emu.configure(processing_polls=0)
            client.execute_cell(nb.cells[2], 2)
            client.execute_cell(nb.cells[3], 3)
        yield {
            "outputs": [list(cell.outputs) for cell in nb.cells],
            "widgets": list(client.widget_state.values()),
            "jobs": len(emu.jobs()),
            "users": len(emu.users()),
        }


def stream_text(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def test_kernel_interrupt_ends_in_red_with_a_short_run_interrupted_and_resumes(
    kernel_run: dict[str, Any],
) -> None:
    outputs = kernel_run["outputs"]
    [error] = [o for o in outputs[1] if o["output_type"] == "error"]
    assert error["ename"] == "RunInterrupted"
    assert error["evalue"].startswith("Interrupted: 2 jobs still running at Fullstory, 30 of 30")
    shown = "\n".join(error["traceback"])
    # Two rules, the cell, batch_update, the message: nothing of the run or of urllib3.
    assert len(error["traceback"]) == 5
    assert "accessor.py" in error["traceback"][3]
    assert not any(name in shown for name in ("urllib3", "batch.py", "runner.py"))

    # The widget ended red and says what is left and how to finish it.
    # (The first bar and label are the interrupted run's, the second the resume's.)
    bars = [w for w in kernel_run["widgets"] if w.get("_model_name") == "IntProgressModel"]
    assert [bar["bar_style"] for bar in bars] == ["danger", "success"]
    label = next(
        w
        for w in kernel_run["widgets"]
        if w.get("_model_name") == "HTMLModel" and "fs-pandas-progress" in w.get("value", "")
    )
    assert "aborted: interrupted" in label["value"]
    assert "2 jobs still running at Fullstory, 30 rows pending" in label["value"]
    assert "fs_pandas.resume(" in label["value"]

    # The next cell reads the partial result off the exception; the one after finishes the run.
    assert stream_text(outputs[2]).split() == ["RunInterrupted", "interrupted", "30", "20", "True"]
    assert "resumed {'imported': 30, 'failed': 0, 'rejected': 0, 'pending': 0}" in stream_text(
        outputs[3]
    )
    assert kernel_run["jobs"] == 3  # nothing was created twice
    assert kernel_run["users"] == ROWS
