"""Readings of ambiguous parts of the API as settings (docs/dev/emulator.md, "Readings"): the
default is the seed's; each other reading changes the answer as described."""

from __future__ import annotations

from typing import Any

import pytest

from fs_pandas.emulator import Emulator, EmulatorConfig, serve
from fs_pandas.emulator.cli import build_parser, config_from_args
from tests.emulator.emu_helpers import Api


def _errors(admin: Api, kind: str, rows: list[Any], **extra: Any) -> list[dict[str, Any]]:
    job_id = admin.batch(kind, rows, **extra)
    admin.finish(kind, job_id)
    return admin.pages(kind, job_id, "errors")[0]["results"]


# -- (a) error echoes -----------------------------------------------------------------------------


def test_error_echo_raw_by_default_rerendered_as_the_spec_example(
    emu: Emulator, admin: Api
) -> None:
    rows = [{"uid": "", "properties": {"score": 1.0, "ratio": 0.5}},
            {"uid": "u", "nickname": "x", "properties": {"n": 2.0}}]
    job_id = admin.batch("users", rows)
    admin.finish("users", job_id)
    raw = admin.get(f"/v2/users/batch/{job_id}/errors")
    assert [e["user"] for e in raw.json()["results"]] == rows
    assert b'"score":1.0' in raw.content.replace(b" ", b"")

    emu.configure(error_echo="rerendered")
    again = admin.get(f"/v2/users/batch/{job_id}/errors")
    first, second = (e["user"] for e in again.json()["results"])
    assert first == {"uid": "", "properties": {"score": 1, "ratio": 0.5},
                     "schema": None, "type_conflicts": None}
    assert b'"score":1,' in again.content.replace(b" ", b"")
    assert second == {"uid": "u", "properties": {"n": 2}, "schema": None,
                      "type_conflicts": None}  # the unknown field is gone


def test_rerendered_event_echo_drops_unknown_fields_and_renumbers(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(error_echo="rerendered")
    shared = {"context": {"location": {"latitude": 33.0}}}
    errors = _errors(admin, "events", [{"name": "", "properties": {"n": 3.0}, "extra": 1}],
                     shared=shared)
    assert errors[0]["event"] == {"name": "", "properties": {"n": 3}}
    assert errors[0]["shared"] == {"context": {"location": {"latitude": 33}}}


# -- (b) shuffled results -------------------------------------------------------------------------


def test_results_in_request_order_by_default_shuffled_stably_when_set(
    emu: Emulator, admin: Api
) -> None:
    emu.configure(page_size=7)
    uids = [f"u{i:02d}" for i in range(30)]
    job_id = admin.batch("users", [{"uid": u} for u in uids])
    admin.finish("users", job_id)

    def order() -> list[str]:
        return [r["uid"] for p in admin.pages("users", job_id, "imports") for r in p["results"]]

    assert order() == uids
    emu.configure(shuffle_results=True)
    shuffled = order()
    assert shuffled != uids and sorted(shuffled) == uids
    assert order() == shuffled  # the same order on every pass, so paging stays consistent


def test_shuffled_errors_keep_every_row(emu: Emulator, admin: Api) -> None:
    emu.configure(shuffle_results=True, page_size=3)
    rows = [{"uid": "", "email": f"e{i}@x.io"} for i in range(10)]
    job_id = admin.batch("users", rows)
    admin.finish("users", job_id)
    got = [e["user"] for p in admin.pages("users", job_id, "errors") for e in p["results"]]
    assert got != rows and sorted(got, key=str) == sorted(rows, key=str)


# -- (c) COMPLETED with errors --------------------------------------------------------------------


def test_job_with_row_errors_is_failed_by_default_completed_when_set(
    emu: Emulator, admin: Api
) -> None:
    job_id = admin.batch("users", [{"uid": "a"}, {"uid": ""}])
    done = admin.finish("users", job_id)
    assert (done["job"]["status"], done["imports"], done["errors"]) == ("FAILED", 1, 1)
    emu.configure(row_error_status="COMPLETED")
    again = admin.get(f"/v2/users/batch/{job_id}").json()
    assert (again["job"]["status"], again["imports"], again["errors"]) == ("COMPLETED", 1, 1)
    assert emu.jobs()[0]["status"] == "COMPLETED"
    assert len(admin.pages("users", job_id, "errors")[0]["results"]) == 1


# -- (d) finished while processing ----------------------------------------------------------------


@pytest.mark.parametrize(("reading", "present"), [("null", True), ("omit", False)])
def test_finished_while_processing_null_or_omitted(
    emu: Emulator, admin: Api, reading: str, present: bool
) -> None:
    emu.configure(finished_while_processing=reading)
    job_id = admin.batch("events", [{"name": "A"}])
    job = admin.get(f"/v2/events/batch/{job_id}").json()["job"]
    assert job["status"] == "PROCESSING" and ("finished" in job) == present
    assert job.get("finished") is None
    assert isinstance(admin.get(f"/v2/events/batch/{job_id}").json()["job"]["finished"], str)


# -- (e) the last page's token --------------------------------------------------------------------


@pytest.mark.parametrize(("reading", "expected"), [("null", None), ("empty", ""),
                                                    ("omit", "absent")])
def test_last_page_token_null_empty_or_absent(
    emu: Emulator, admin: Api, reading: str, expected: str | None
) -> None:
    emu.configure(last_page_token=reading, page_size=1)
    job_id = admin.batch("users", [{"uid": "a"}, {"uid": "b"}])
    admin.finish("users", job_id)
    first = admin.get(f"/v2/users/batch/{job_id}/imports").json()
    assert first["next_page_token"]
    last = admin.get(f"/v2/users/batch/{job_id}/imports",
                     params={"page_token": first["next_page_token"]}).json()
    assert last.get("next_page_token", "absent") == expected
    listed = admin.get("/v2/users", params={"page_token": admin.get("/v2/users").json()[
        "next_page_token"]}).json()
    assert listed.get("next_page_token", "absent") == expected


# -- user imports: keys absent (seed) or null (spec) ----------------------------------------------


def test_user_imports_omit_schema_by_default_null_when_set(emu: Emulator, admin: Api) -> None:
    job_id = admin.batch("users", [{"uid": "a"}])
    admin.finish("users", job_id)
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    assert set(user) == {"id", "uid", "properties"}
    emu.configure(import_nulls="null")
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    assert user["schema"] is None and user["type_conflicts"] is None


# -- oversize values: the property (default) or the row -------------------------------------------


def test_oversize_value_fails_the_row_under_that_reading(emu: Emulator, admin: Api) -> None:
    emu.configure(oversize_value="fail_row")
    row = {"uid": "u", "properties": {"big": "\u00e9" * 4097}}
    (err,) = _errors(admin, "users", [row])
    assert err["code"] == "invalid_argument" and err["user"] == row
    assert "8192" in err["message"]
    ok = {"uid": "v", "properties": {"big": "\u00e9" * 4096}}
    assert _errors(admin, "users", [ok]) == []


# -- settable at start-up, validated --------------------------------------------------------------


def test_readings_are_settable_at_startup_and_from_the_command_line() -> None:
    args = build_parser().parse_args(["--row-error-status", "COMPLETED", "--last-page-token",
                                      "empty", "--shuffle-results", "--error-echo",
                                      "rerendered", "--create-delay-seconds", "0.5"])
    cfg = config_from_args(args)
    assert (cfg.row_error_status, cfg.last_page_token, cfg.shuffle_results, cfg.error_echo,
            cfg.create_delay_seconds) == ("COMPLETED", "empty", True, "rerendered", 0.5)
    defaults = config_from_args(build_parser().parse_args([]))
    assert (defaults.error_echo, defaults.row_error_status, defaults.finished_while_processing,
            defaults.last_page_token, defaults.import_nulls, defaults.oversize_value) == (
        "raw", "FAILED", "null", "null", "omit", "drop_property")
    with serve(processing_polls=1, finished_while_processing="omit") as emu:
        api = Api(emu, emu.api_key)
        job_id = api.batch("users", [{"uid": "a"}])
        assert "finished" not in api.get(f"/v2/users/batch/{job_id}").json()["job"]
        emu.configure(finished_while_processing="null")
        emu.reset()  # back to the start-up reading
        assert emu.config.finished_while_processing == "omit"
        api.close()


@pytest.mark.parametrize("setting", ["error_echo", "row_error_status", "last_page_token",
                                     "finished_while_processing", "import_nulls",
                                     "oversize_value"])
def test_unknown_reading_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match=setting):
        EmulatorConfig(**{setting: "sometimes"})
