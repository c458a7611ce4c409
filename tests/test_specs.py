"""Every option of a push is declared once, in fs_pandas.specs, and reaches every surface: the
accessor's keywords (same names, same defaults, documented), the CLI's flags (generated from the
spec, with its help), the ledger (to_json / normalised), and the planner."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import inspect
import zoneinfo
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fs_pandas import cli
from fs_pandas.accessor import FullstoryAccessor
from fs_pandas.emulator import Emulator
from fs_pandas.payloads import plan, plan_events, plan_users
from fs_pandas.specs import EventSpec, Pacing, UserSpec, reference, spec_for

SPECS = [
    pytest.param(UserSpec, FullstoryAccessor.batch_update, "users", id="users"),
    pytest.param(EventSpec, FullstoryAccessor.batch_events, "events", id="events"),
]
# What the accessor takes besides the spec and the pacing: how and where the run happens.
RUN_ARGUMENTS = {"self", "client", "progress", "wait", "ledger_dir", "timeout"}


def fields(cls: Any) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def default(option: dataclasses.Field[Any]) -> Any:
    return inspect.Parameter.empty if option.default is dataclasses.MISSING else option.default


def parser_of(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices[command]
    return parser


@pytest.mark.parametrize(("spec", "method", "command"), SPECS)
def test_the_accessor_takes_every_spec_option_with_the_spec_default(
    spec: Any, method: Any, command: str
) -> None:
    params = inspect.signature(method).parameters
    accessor_only = set(params) - set(fields(spec)) - set(fields(Pacing)) - RUN_ARGUMENTS
    assert not accessor_only, f"declared in the accessor but not in {spec.__name__}"
    for name, option in fields(spec).items():
        assert name in params, f"{spec.__name__}.{name} is not a keyword of {method.__name__}"
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == default(option), name
    for name in set(params) & set(fields(Pacing)):
        assert params[name].default == default(fields(Pacing)[name]), name


@pytest.mark.parametrize(
    ("spec", "method"),
    [
        (UserSpec, FullstoryAccessor.to_requests),
        (EventSpec, FullstoryAccessor.to_event_requests),
    ],
)
def test_the_request_previews_take_exactly_the_spec_options(spec: Any, method: Any) -> None:
    params = dict(inspect.signature(method).parameters)
    params.pop("self")
    assert list(params) == list(fields(spec))
    for name, option in fields(spec).items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == default(option), name
        assert f"``{name}``" in (inspect.getdoc(method) or ""), name


@pytest.mark.parametrize(("spec", "method", "command"), SPECS)
def test_the_accessor_documents_every_option(spec: Any, method: Any, command: str) -> None:
    doc = inspect.getdoc(method) or ""
    for name in [*fields(spec), "chunk_size", "max_jobs_in_flight", "poll_interval"]:
        assert name in doc, f"{method.__name__}'s docstring does not mention {name}"


@pytest.mark.parametrize(("spec", "method", "command"), SPECS)
def test_every_spec_and_pacing_option_has_a_cli_flag_with_its_help_and_default(
    spec: Any, method: Any, command: str
) -> None:
    actions = {a.dest: a for a in parser_of(command)._actions}
    for name, option in {**fields(spec), **fields(Pacing)}.items():
        assert name in actions, f"fs-pandas {command} has no {cli.flag(name)}"
        action = actions[name]
        assert action.option_strings == [cli.flag(name)]
        assert action.help is not None and action.help.startswith(option.metadata["help"])
        assert action.required is (option.default is dataclasses.MISSING)
        if option.metadata["cli"] not in ("flag", "pairs", "schema") and not action.required:
            assert action.default == option.default, name


def parse(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(list(argv))


def test_user_flags_build_the_spec_the_accessor_would() -> None:
    options = parse(
        "users", "f.csv", "--uid-col", "user_id", "--id-col", "fs_id", "--email-col", "mail",
        "--properties", "plan", "seats", "--schema", "seats=int", "--schema", "since=date",
        "--nulls", "null", "--naive-tz", "Europe/Paris", "--duplicates", "reject",
    )  # fmt: skip
    assert cli._from_flags(UserSpec, options) == UserSpec(
        uid_col="user_id",
        id_col="fs_id",
        email_col="mail",
        properties=["plan", "seats"],
        schema={"seats": "int", "since": "date"},
        nulls="null",
        naive_tz="Europe/Paris",
        duplicates="reject",
    )


def test_event_flags_build_the_spec_the_accessor_would() -> None:
    options = parse(
        "events", "f.parquet", "--name-col", "event", "--uid-col", "uid", "--use-most-recent",
        "--context", "browser.url=page", "--context", "location.city=city",
        "--timestamp-col", "ts", "--naive-tz", "none", "--schema", "none",
    )  # fmt: skip
    assert cli._from_flags(EventSpec, options) == EventSpec(
        name_col="event",
        uid_col="uid",
        use_most_recent=True,
        context={"browser.url": "page", "location.city": "city"},
        timestamp_col="ts",
        naive_tz=None,
        schema=None,
    )


def test_no_flags_give_the_default_spec_and_pacing() -> None:
    options = parse("events", "f.csv")
    assert cli._from_flags(EventSpec, options) == EventSpec()
    assert cli._from_flags(Pacing, options) == Pacing()


def test_pacing_flags() -> None:
    options = parse(
        "users", "f.csv", "--uid-col", "u", "--chunk-size", "100", "--max-jobs-in-flight", "2",
        "--max-rows-in-flight", "300", "--poll-interval", "0.5", "--poll-backoff", "2",
        "--max-poll-interval", "5", "--include-schema",
    )  # fmt: skip
    assert cli._from_flags(Pacing, options) == Pacing(
        chunk_size=100,
        max_jobs_in_flight=2,
        max_rows_in_flight=300,
        poll_interval=0.5,
        poll_backoff=2.0,
        max_poll_interval=5.0,
        include_schema=True,
    )


@pytest.mark.parametrize("bad", ["seats", "=int", "seats="])
def test_a_schema_flag_that_is_not_a_pair_is_refused(bad: str) -> None:
    options = parse("users", "f.csv", "--uid-col", "u", "--schema", bad, "--schema", "a=int")
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        cli._from_flags(UserSpec, options)


@pytest.mark.parametrize(
    "spec",
    [
        UserSpec(uid_col="u"),
        UserSpec(uid_col=("who", "uid"), properties={2024: "y2024"}, naive_tz=dt.UTC),
        UserSpec(uid_col=None, properties={"a", "b"}, schema={"a": "int"}, nulls="null"),
        EventSpec(name="Signup", context={"browser.url": "page"}, use_most_recent=False),
        EventSpec(
            name_col="e",
            uid_col="u",
            naive_tz=zoneinfo.ZoneInfo("Europe/Paris"),
            properties=("a", "b"),
        ),
    ],
)
def test_a_spec_comes_back_from_the_ledger_equal(spec: UserSpec | EventSpec) -> None:
    back = spec_for(spec.kind, spec.normalised().options())
    assert back.normalised() == spec.normalised()
    assert type(back) is type(spec)


def test_spec_for_refuses_an_unknown_kind_and_an_option_of_the_other_kind() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        spec_for("sessions", {})
    with pytest.raises(TypeError, match="duplicates"):
        spec_for("events", {"duplicates": "first"})


def test_plan_reads_a_spec_as_the_planners_read_their_keywords() -> None:
    frame = pd.DataFrame({"uid": ["a", "b"], "event": ["Signup", "Login"], "n": [1, 2]})
    users = UserSpec(uid_col="uid", properties=["n"])
    events = EventSpec(name_col="event", uid_col="uid", properties=["n"])
    assert plan(frame, users).requests() == plan_users(frame, **users.options()).requests()
    assert plan(frame, events).requests() == plan_events(frame, **events.options()).requests()


def test_the_cli_sends_what_its_new_flags_say(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FULLSTORY_API_KEY", emu.api_key)
    monkeypatch.setenv("FULLSTORY_BASE_URL", emu.url)
    monkeypatch.setenv("FS_PANDAS_HOME", str(tmp_path / "home"))
    source = tmp_path / "events.parquet"
    pd.DataFrame(
        {
            "uid": ["a", "b"],
            "event": ["Signup", "Login"],
            "when": pd.to_datetime(["2024-01-15 10:00", "2024-07-01 08:00"]),
            "page": ["https://x/1", "https://x/2"],
            "n": [1, 2],
        }
    ).to_parquet(source)
    argv = [
        "events", str(source), "--name-col", "event", "--uid-col", "uid",
        "--timestamp-col", "when", "--naive-tz", "Europe/Paris",
        "--context", "browser.url=page", "--properties", "n", "--nulls", "null",
        "--no-progress", "--poll-interval", "0.01", "--max-jobs-in-flight", "1",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    stored = {e["user"]["uid"]: e for e in emu.events()}
    assert stored["a"]["context"] == {"browser": {"url": "https://x/1"}}
    assert stored["a"]["timestamp"] == "2024-01-15T09:00:00Z"  # Paris in winter: UTC+1
    assert stored["b"]["timestamp"] == "2024-07-01T06:00:00Z"  # and in summer: UTC+2
    assert stored["b"]["properties"] == {"n": 2}


def test_the_options_page_is_the_one_the_specs_generate() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "options.md"
    assert page.read_text(encoding="utf-8") == reference(), "run: bash scripts/options-reference"
    for cls in (UserSpec, EventSpec, Pacing):
        for name in fields(cls):
            assert f"| `{name}` | `{cli.flag(name)}` |" in reference()


@pytest.mark.parametrize(
    ("rows", "per_job", "jobs"),
    [
        (0, 10_000, 0),
        (30, 10_000, 1),  # small frames: one job
        (25_000, 10_000, 3),
        (100_000, 10_000, 10),
        (300_000, 30_000, 10),  # spread over the 10 jobs in flight
        (500_000, 50_000, 10),
        (1_000_000, 50_000, 20),  # at most 50,000 a job
        (1_234_567, 50_000, 25),
    ],
)
def test_by_default_a_runs_rows_are_spread_over_the_jobs_in_flight(
    rows: int, per_job: int, jobs: int
) -> None:
    assert Pacing().rows_per_job(rows) == per_job
    assert -(-rows // per_job) == jobs


def test_rows_per_job_are_the_chunk_size_when_set_and_follow_the_jobs_in_flight() -> None:
    assert Pacing(chunk_size=7).rows_per_job(300_000) == 7
    assert Pacing(max_jobs_in_flight=4).rows_per_job(100_000) == 25_000
    assert Pacing(max_jobs_in_flight=1).rows_per_job(300_000) == 50_000
