"""The quickstart in a real browser: JupyterLab + headless Debian Chromium driven by Playwright.

Runs every cell through the Run menu and checks what an analyst sees: the progress widgets
drawn and full (100 %), the run summaries on screen. Two small notebooks written here show a
``wait=False`` run: its bar moving in its own cell while the kernel is idle, and a run whose
``wait()`` is interrupted from the Kernel menu ending red with how to finish it. Saves
screenshots to ``test-output/browser/`` at the repo root.

Set up for a machine with no display and a closed network: an isolated JupyterLab on
127.0.0.1, no news or update checks, and a wait for the kernel session before Run All (the
toolbar says "idle" before a kernel is attached, and Run All then does nothing).

Skipped, with the reason, when the machine has no ``/usr/bin/chromium`` or cannot import
playwright or jupyterlab. Never runs ``playwright install``: it launches Debian's browser.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.notebooks.notebook_helpers import KERNEL_NAME, NOTEBOOK, write_kernelspec

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Keep every lookup on loopback: without it Chromium still resolves Google hosts.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
# Bars in the quickstart: batch_update, retry_failed, batch_events, a background run in the
# cell that starts it and the same bar again under the cell that waits for it.
RUNS = 5
START_SECONDS = 60.0
RUN_ALL_MS = 120_000


def _missing_requirement() -> str | None:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no browser: {CHROMIUM} is missing (apt-get install -y chromium)"
    for module in ("playwright", "jupyterlab"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not importable (install the 'browser' extra)"
    return None


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its base URL and token."""

    url: str
    token: str

    def api(self, path: str, *, method: str = "GET", body: Any = None) -> Any:
        headers = {"Authorization": f"token {self.token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_settings(settings_dir: Path) -> None:
    """User settings: no news toast, and every cell kept in the DOM (no windowing)."""
    values = {
        # The "get notified about Jupyter news?" toast would cover every screenshot.
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        # Windowed notebooks detach cells scrolled out of view; the test reads every cell.
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, value in values.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


def _lab_command(root: Path, home: Path, port: int, token: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # otherwise jupyter refuses to start as root
    return command


def _lab_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def _wait_until_up(lab: Lab, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}; see {log}")
        try:
            lab.api("/api/status")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)  # an external process starting up: nothing to wait on but its port
    pytest.fail(f"jupyter lab did not answer within {START_SECONDS:.0f} s; see {log}")


def _stop(lab: Lab, process: subprocess.Popen[bytes]) -> None:
    try:
        lab.api("/api/shutdown", method="POST")  # stops the kernels too
        process.wait(timeout=10)
    except (urllib.error.URLError, ConnectionError, subprocess.TimeoutExpired):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is None:
                process.send_signal(sig)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    continue


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving a copy of the quickstart from a temp dir, isolated from the user's
    Jupyter config, data, runtime and settings."""
    missing = _missing_requirement()
    if missing:
        pytest.skip(f"browser test skipped: {missing}")
    home = tmp_path_factory.mktemp("lab")
    root = home / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    for name, cells in BACKGROUND_NOTEBOOKS.items():
        _write_notebook(root / name, cells)
    write_kernelspec(home / "data")
    _write_settings(home / "settings")
    lab = Lab(url=f"http://127.0.0.1:{_free_port()}", token=os.urandom(16).hex())
    port = int(lab.url.rsplit(":", 1)[1])
    log = home / "jupyterlab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _lab_command(root, home, port, lab.token),
            env=_lab_env(home),
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(lab, process, log)
            # Start the notebook's kernel now, so that it boots while the browser starts and
            # loads the page; JupyterLab attaches the page to this session (same path).
            _start_kernel(lab, NOTEBOOK.name)
            yield lab
        finally:
            _stop(lab, process)


def _start_kernel(lab: Lab, name: str) -> None:
    body = {"path": name, "name": name, "type": "notebook", "kernel": {"name": KERNEL_NAME}}
    lab.api("/api/sessions", method="POST", body=body)


def _kernel_attached(lab: Lab, name: str) -> bool:
    for session in lab.api("/api/sessions"):
        kernel = session.get("kernel") or {}
        if (
            session.get("path", "").endswith(name)
            and kernel.get("connections", 0) >= 1
            and kernel.get("execution_state") == "idle"
        ):
            return True
    return False


def _wait_for_kernel(lab: Lab, page: Any, name: str) -> None:
    """Wait for the notebook's session to have a connected, idle kernel, then for the status
    bar's "Idle": before that, Run All does nothing or a "Select Kernel" dialog appears."""
    deadline = time.monotonic() + START_SECONDS
    while not _kernel_attached(lab, name):
        if time.monotonic() > deadline:
            pytest.fail(f"no kernel session for the notebook: {lab.api('/api/sessions')}")
        page.wait_for_timeout(100)
    page.wait_for_function(
        "() => (document.querySelector('#jp-main-statusbar')?.textContent || '').includes('Idle')"
    )


def _run_all(page: Any) -> None:
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()


_ALL_CELLS_RAN = """() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent || ''));
}"""


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _open(lab: Lab, browser: Any, name: str) -> Any:
    """A page showing notebook ``name`` with its kernel attached and idle."""
    page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    page.set_default_timeout(60_000)
    # A workspace per notebook: the default one would reopen the notebooks of other pages.
    workspace = Path(name).stem
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    _wait_for_kernel(lab, page, name)
    return page


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Any) -> Any:
    """The quickstart opened in Chromium, after Run All has finished every cell."""
    page = _open(lab, browser, NOTEBOOK.name)
    _run_all(page)
    page.wait_for_function(_ALL_CELLS_RAN, timeout=RUN_ALL_MS)
    return page


def _screenshot(page: Any, locator: Any, name: str) -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    path = OUTPUT_DIR / name
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def test_every_cell_ran_without_an_error(page: Any) -> None:
    # JupyterLab renders a cell's exception as stderr text holding IPython's "Traceback".
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert stderr.filter(has_text="Traceback").count() == 0


def test_each_run_draws_a_progress_bar_that_reaches_100_percent(page: Any) -> None:
    from playwright.sync_api import expect

    bars = page.locator(".jp-OutputArea .widget-hprogress .progress-bar")
    expect(bars).to_have_count(RUNS)
    for i in range(RUNS):
        # The bar has no aria value: at 100 % its inline width is exactly "100%".
        expect(bars.nth(i)).to_have_attribute("style", re.compile(r"width:\s*100%"))


def test_progress_labels_say_how_each_run_finished(page: Any) -> None:
    from playwright.sync_api import expect

    labels = page.locator("div.fs-pandas-progress[data-state]")
    expect(labels).to_have_count(RUNS)
    # batch_update ends amber (2 refused, 3 rejected); the retry and the events end green.
    expect(labels.nth(0)).to_have_attribute("data-state", "warning")
    expect(labels.nth(0)).to_contain_text("finished with 2 failed, 3 rejected")
    expect(labels.nth(1)).to_have_attribute("data-state", "success")
    expect(labels.nth(2)).to_have_attribute("data-state", "success")
    # The background run (3 rejected again) and the same bar under the cell that waited.
    for i in (3, 4):
        expect(labels.nth(i)).to_have_attribute("data-state", "warning")
        expect(labels.nth(i)).to_contain_text("finished with 3 rejected")


def test_run_summary_table_is_visible(page: Any) -> None:
    from playwright.sync_api import expect

    summaries = page.locator(".jp-OutputArea .fs-pandas-result")
    expect(summaries).to_have_count(3)  # batch_update, retry_failed and batch_events show theirs
    first = summaries.first
    first.scroll_into_view_if_needed()
    expect(first).to_be_visible()
    expect(first.locator("table").first).to_be_visible()
    expect(first).to_contain_text("demo_refused")


def test_screenshot_shows_the_finished_widget_and_the_summary(page: Any) -> None:
    widget = page.locator(".jp-OutputArea .widget-hprogress").first
    path = _screenshot(page, widget, "quickstart-batch-update.png")
    summary = page.locator(".jp-OutputArea .fs-pandas-result").first
    summary.screenshot(path=str(OUTPUT_DIR / "quickstart-summary.png"))
    print(f"screenshot: {OUTPUT_DIR / 'quickstart-summary.png'}")
    assert path.stat().st_size > 0


# -- a run in the background -------------------------------------------------------------------

_BACKGROUND_SETUP = """
import tempfile
import pandas as pd
import fs_pandas
from fs_pandas.emulator import Emulator, EmulatorConfig

emu = Emulator(EmulatorConfig(processing_seconds={seconds})).start()
client = fs_pandas.Client(api_key=emu.api_key, base_url=emu.url)
frame = pd.DataFrame({{"user_id": [f"u-{{i}}" for i in range(1000)], "plan": "team"}})
"""
_BACKGROUND_START = """
handle = frame.fullstory.batch_update(
    uid_col="user_id", client=client, chunk_size=100, max_jobs_in_flight=1,
    poll_interval=0.1, ledger_dir=tempfile.mkdtemp(), wait=False,
)
handle
"""
MOVING, INTERRUPTED = "background.ipynb", "interrupted.ipynb"
MID_RUN_PNG = "background-run-mid-run.png"
# Playwright's expect() waits 5 s by default; a loaded machine draws later than that.
EXPECT_MS = 30_000
BACKGROUND_NOTEBOOKS = {
    # Ten jobs one after the other, about a second each: the bar has seconds to move while
    # the kernel is idle (every cell has run).
    MOVING: [_BACKGROUND_SETUP.format(seconds=1.0), _BACKGROUND_START],
    # Jobs that never end within the test, and a cell that waits for them.
    INTERRUPTED: [
        _BACKGROUND_SETUP.format(seconds=3600),
        _BACKGROUND_START,
        "result = handle.wait()",
    ],
}


def _write_notebook(path: Path, sources: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(s.strip(), id=f"c{i}") for i, s in enumerate(sources)]
    nbformat.write(nb, path)


_BAR_WIDTH = """(i) => {
  const bar = document.querySelectorAll('.jp-OutputArea .widget-hprogress .progress-bar')[i];
  const width = bar ? parseFloat(bar.style.width) : NaN;
  return width;
}"""
_IDLE = "() => (document.querySelector('#jp-main-statusbar')?.textContent || '').includes('Idle')"


def test_a_background_runs_bar_moves_in_its_cell_while_the_kernel_is_idle(
    lab: Lab, browser: Any
) -> None:
    from playwright.sync_api import expect

    _start_kernel(lab, MOVING)
    page = _open(lab, browser, MOVING)
    _run_all(page)
    page.wait_for_function(_ALL_CELLS_RAN, timeout=RUN_ALL_MS)
    page.wait_for_function(_IDLE)
    # Every cell has run and the kernel is idle: the bar moves on its own, from the run's thread.
    page.wait_for_function(f"() => ({_BAR_WIDTH})(0) > 0 && ({_BAR_WIDTH})(0) < 100")
    label = page.locator("div.fs-pandas-progress[data-state]")
    expect(label).to_have_count(1, timeout=EXPECT_MS)
    expect(label).to_have_attribute("data-state", "running", timeout=EXPECT_MS)
    # The label's HTML is replaced at every draw: aim the screenshot at the bar, which stays.
    _screenshot(page, page.locator(".jp-OutputArea .widget-hprogress").first, MID_RUN_PNG)
    page.wait_for_function(f"() => ({_BAR_WIDTH})(0) === 100", timeout=RUN_ALL_MS)
    expect(label).to_have_attribute("data-state", "success", timeout=EXPECT_MS)
    expect(label).to_contain_text("imported 1,000", timeout=EXPECT_MS)


def test_an_interrupted_wait_ends_red_and_says_how_to_finish(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    _start_kernel(lab, INTERRUPTED)
    page = _open(lab, browser, INTERRUPTED)
    _run_all(page)
    # The wait cell runs: a second view of the same bar under it; one job is processing.
    labels = page.locator("div.fs-pandas-progress[data-state]")
    expect(labels).to_have_count(2, timeout=RUN_ALL_MS)  # the kernel imports, then runs
    expect(labels.nth(1)).to_contain_text("1 processing", timeout=RUN_ALL_MS)
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-item[data-command='kernelmenu:interrupt']").click()
    page.wait_for_function(_ALL_CELLS_RAN, timeout=RUN_ALL_MS)
    for i in (0, 1):
        expect(labels.nth(i)).to_have_attribute("data-state", "danger", timeout=EXPECT_MS)
        unfinished = labels.nth(i).locator(".fs-pandas-unfinished")
        expect(unfinished).to_contain_text("resume", timeout=EXPECT_MS)
    error = page.locator(".jp-OutputArea-output", has_text="RunInterrupted")
    expect(error).to_contain_text("fs_pandas.resume(", timeout=EXPECT_MS)
    _screenshot(page, error, "interrupted-run.png")
