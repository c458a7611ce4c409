"""The docs work as written.

* Every ```python block of README.md and docs/**/*.md runs: a page's blocks run in order, in one
  fresh Python process (as a reader pastes them into one notebook or script), in a temporary
  working directory, with ``FS_PANDAS_HOME`` there and ``FULLSTORY_API_KEY`` /
  ``FULLSTORY_BASE_URL`` naming the test session's emulator (a reader sets them where the kernel
  starts). Output and fragments that are not meant to run are ```text, never ```python.
* Every ``fs-pandas`` command in a ```bash block names a real subcommand and real flags; the
  first two of usage.md's terminal examples run against the emulator.
* Every relative link resolves to a file of the repository (and a ``#fragment`` to a heading).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fs_pandas import cli
from fs_pandas.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Pages that speak of `df` (and `clicks` / `events`) as the reader's own frames get these frames
# first: the only code the test adds. One frame of users and one of events, with every column
# those pages name (README: user_id, email, event, ts; usage.md: name, plan, seats, page, city;
# payloads.md: at, width).
READERS_FRAMES = """\
import pandas as pd

df = pd.DataFrame({
    "user_id": ["u1", "u2", "u3"],
    "name": ["Ana", "Bo", "Cy"],
    "email": ["ana@example.com", "bo@example.com", "cy@example.com"],
    "plan": ["free", "team", "free"],
    "seats": [1, 5, 2],
})
ts = pd.to_datetime(["2024-05-01T12:00:00Z", "2024-05-01T12:01:00Z", "2024-05-01T12:02:00Z"])
clicks = events = pd.DataFrame({
    "event": ["Signed Up", "Clicked", "Clicked"],
    "user_id": ["u1", "u2", "u1"],
    "ts": ts,
    "at": ts,
    "page": ["/signup", "/home", "/pricing"],
    "city": ["Paris", "Lyon", "Paris"],
    "width": [1280, 1920, 1280],
})
del ts
"""
PRELUDES = {
    "README.md": READERS_FRAMES,
    "docs/usage.md": READERS_FRAMES,
    "docs/payloads.md": READERS_FRAMES,
}

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", flags=re.S | re.M)


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def blocks(text: str, lang: str) -> list[tuple[int, str]]:
    """``(line, code)`` of each fenced block of ``lang`` in a page's text."""
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == lang
    ]


def page_blocks(page: Path, lang: str) -> list[tuple[int, str]]:
    return blocks(page.read_text(encoding="utf-8"), lang)


def program(label: str, text: str, prelude: str = "") -> str:
    """The prelude, then each block compiled under its page and line, so a traceback names them."""
    parts = [prelude]
    for line, code in blocks(text, "python"):
        padded = "\n" * (line - 1) + code
        parts.append(f"exec(compile({padded!r}, {label!r}, 'exec'))")
    return "\n".join(parts)


RUNNABLE = [name(page) for page in PAGES if page_blocks(page, "python")]


def test_the_pages_with_python_examples_are_found() -> None:
    assert {"README.md", "docs/getting-started.md", "docs/usage.md"} <= set(RUNNABLE)
    assert set(PRELUDES) <= set(RUNNABLE)


def run(code: str, cwd: Path, emu: Emulator) -> subprocess.CompletedProcess[str]:
    return run_argv([sys.executable, "-c", code], cwd, emu)


def run_argv(argv: list[str], cwd: Path, emu: Emulator) -> subprocess.CompletedProcess[str]:
    env = {
        "FS_PANDAS_HOME": str(cwd),
        "FULLSTORY_API_KEY": emu.api_key,
        "FULLSTORY_BASE_URL": emu.url,
        "PATH": os.environ.get("PATH", ""),
    }
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("page", RUNNABLE)
def test_every_python_example_of_the_page_runs(page: str, tmp_path: Path, emu: Emulator) -> None:
    code = program(page, (ROOT / page).read_text(encoding="utf-8"), PRELUDES.get(page, ""))
    done = run(code, tmp_path, emu)
    assert done.returncode == 0, f"{page}:\n{done.stderr}"
    if page == "docs/getting-started.md":  # the first run prints every row's outcome
        assert "{'imported': 3, 'failed': 0, 'rejected': 0, 'pending': 0}" in done.stdout
    if page == "README.md":  # the first example writes the errors file; users and events went in
        assert (tmp_path / "errors.parquet").is_file()
        assert {job["kind"] for job in emu.jobs()} == {"users", "events"}


def test_a_failing_example_fails_and_names_its_page_and_line(tmp_path: Path, emu: Emulator) -> None:
    text = "```python\nx = 1\n```\n\nsome text\n\n```python\nraise ValueError(x + 2)\n```\n"
    done = run(program("pages/broken.md", text), tmp_path, emu)
    assert done.returncode == 1
    assert 'File "pages/broken.md", line 8' in done.stderr
    assert "ValueError: 3" in done.stderr


# -- shell examples ----------------------------------------------------------------------------


def commands() -> list[tuple[str, str]]:
    """``(page:line, command)`` of every ``fs-pandas`` command in a ```bash block."""
    found = []
    for page in PAGES:
        for line, code in page_blocks(page, "bash"):
            joined = code.replace("\\\n", " ")
            for offset, command in enumerate(joined.splitlines()):
                command = command.split("#", 1)[0].strip()
                command = command.replace("python -m fs_pandas.emulator", "fs-pandas emulator")
                if command.startswith("fs-pandas"):
                    found.append((f"{name(page)}:{line + offset}", command))
    return found


@functools.cache
def help_text(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.main([*args, "--help"])
    return out.getvalue()


def test_every_fs_pandas_command_in_the_docs_names_real_flags() -> None:
    found = commands()
    assert len(found) >= 6, found
    subcommands = help_text()
    for where, command in found:
        words = command.split()
        sub = words[1]
        assert re.search(rf"\b{sub}\b", subcommands), f"{where}: no subcommand {sub!r}"
        flags = set(re.findall(r"--[a-z][a-z-]*", help_text(sub)))
        for word in words[2:]:
            if word.startswith("--"):
                assert word.split("=")[0] in flags, f"{where}: {sub} has no flag {word}"


def test_the_terminal_examples_of_usage_run_against_the_emulator(
    tmp_path: Path, emu: Emulator
) -> None:
    """The first two commands of usage.md's "From a terminal", on files the test writes: the
    reader's customers.csv and events.parquet."""
    pd.DataFrame({"user_id": ["u1", "u2"], "email": ["a@example.com", "b@example.com"]}).to_csv(
        tmp_path / "customers.csv", index=False
    )
    pd.DataFrame(
        {"event": ["Clicked"], "user_id": ["u1"], "ts": pd.to_datetime(["2024-05-01T12:00:00Z"])}
    ).to_parquet(tmp_path / "events.parquet")
    usage = [command for where, command in commands() if where.startswith("docs/usage.md:")]
    found = {command.split()[2]: command for command in usage if len(command.split()) > 2}
    for file in ("customers.csv", "events.parquet"):
        argv = shlex.split(found[file])[1:]
        main = "import sys; from fs_pandas.cli import main; sys.exit(main(sys.argv[1:]))"
        done = run_argv([sys.executable, "-c", main, *argv], tmp_path, emu)
        assert done.returncode == 0, f"{found[file]}\n{done.stderr}"
    assert pd.read_parquet(tmp_path / "outcomes.parquet")["fs_outcome"].tolist() == [
        "imported",
        "imported",
    ]
    assert [job["kind"] for job in emu.jobs()] == ["users", "events"]


def test_every_repository_file_a_shell_example_names_exists() -> None:
    missing = []
    for page in PAGES:
        for _, code in page_blocks(page, "bash"):
            for word in re.findall(
                r"(?<![\w/.-])((?:scripts|\.ci|notebooks|tests|benchmarks)/[\w/.-]+)", code
            ):
                if not (ROOT / word).exists():
                    missing.append(f"{name(page)}: {word}")
    assert not missing, missing


# -- links --------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`[^`\n]*`")


def anchors(page: Path) -> set[str]:
    """GitHub's ids of the page's headings."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        slugs.add(slug)
    return slugs


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The page's relative links that name no file under ``root``, or no heading of the page."""
    broken = []
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if root not in file.parents or not file.exists():
            broken.append(target)
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{target} (no such heading)")
    return broken


def test_every_relative_link_resolves() -> None:
    broken = {name(page): links for page in PAGES if (links := broken_links(page))}
    assert not broken


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text(
        "# A `real` heading, with commas\n\n```text\n# not a heading\n```\n"
    )
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md#a-real-heading-with-commas), [web](https://example.com), `[code](nowhere.md)`,\n"
        "[gone](missing.md), [no heading](b.md#not-a-heading), [out](../../outside.md)\n"
    )
    assert broken_links(page, tmp_path) == [
        "missing.md",
        "b.md#not-a-heading (no such heading)",
        "../../outside.md",
    ]


def test_no_doc_or_comment_names_a_docs_page_that_does_not_exist() -> None:
    missing = []
    for top in ("fs_pandas", "tests", "scripts", "benchmarks", "docs", "README.md"):
        files = [ROOT / top] if top.endswith(".md") else (ROOT / top).rglob("*")
        for file in files:
            if not file.is_file() or file.suffix not in {".py", ".md", ""}:
                continue
            for mention in re.findall(
                r"\bdocs/[\w/.-]+\.md", file.read_text(encoding="utf-8", errors="replace")
            ):
                if not (ROOT / mention).is_file():
                    missing.append(f"{file.relative_to(ROOT)}: {mention}")
    assert not missing, missing


def test_no_doc_points_outside_the_repository() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, name(page)
        assert not re.search(r"\]\(/|/(?:work|root|home|Users)/\w", text), name(page)
