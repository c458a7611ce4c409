"""Row-level validation (contract §3.1-§3.3, §9.7): each bad row fails alone and is echoed."""

from __future__ import annotations

from typing import Any

import pytest

from fs_pandas.emulator import Emulator
from tests.emulator.emu_helpers import Api

NESTED_600 = {"a" * 300: {"b" * 300: 1}}  # dotted path 601 chars


def _row_error(admin: Api, kind: str, row: Any, **extra: Any) -> dict[str, Any] | None:
    """Send ``row`` next to a good row; return its error entry (or None if imported)."""
    good = {"uid": "good"} if kind == "users" else {"name": "Good"}
    job_id = admin.batch(kind, [good, row], **extra)
    status = admin.finish(kind, job_id)
    assert status["imports"] >= 1
    errors = admin.pages(kind, job_id, "errors")[0]["results"]
    return errors[0] if errors else None


BAD_USER_ROWS = {
    "name_starts_with_digit": {"uid": "u", "properties": {"1a": 1}},
    "name_starts_with_underscore": {"uid": "u", "properties": {"_a": 1}},
    "name_with_dash": {"uid": "u", "properties": {"a-b": 1}},
    "name_with_dot": {"uid": "u", "properties": {"a.b": 1}},
    "nested_name_invalid": {"uid": "u", "properties": {"a": {"b c": 1}}},
    "name_over_512": {"uid": "u", "properties": {"a" * 513: 1}},
    "dotted_path_over_512": {"uid": "u", "properties": NESTED_600},
    "too_many_properties": {"uid": "u", "properties": {f"p{i}": i for i in range(501)}},
    "array_of_objects": {"uid": "u", "properties": {"a": [{"b": 1}]}},
    "uid_over_256": {"uid": "u" * 257},
    "display_name_over_256": {"uid": "u", "display_name": "d" * 257},
    "email_over_128": {"uid": "u", "email": "e" * 129},
    "uid_not_a_string": {"uid": 5},
    "properties_not_an_object": {"uid": "u", "properties": [1]},
    "unknown_field": {"uid": "u", "nickname": "x"},
    "unknown_schema_type": {"uid": "u", "schema": {"properties": {"a": "integer"}}},
    "row_not_an_object": "just a string",
}

GOOD_USER_ROWS = {
    "name_at_512": {"uid": "u", "properties": {"a" * 512: 1}},
    "value_at_8192_bytes": {"uid": "u", "properties": {"a": "x" * 8192}},
    "value_over_8192_bytes_is_dropped": {"uid": "u", "properties": {"a": "x" * 8193}},
    "500_properties": {"uid": "u", "properties": {f"p{i}": i for i in range(500)}},
    "uid_at_256": {"uid": "u" * 256},
    "email_at_128": {"uid": "u", "email": "e" * 128},
    "array_of_scalars": {"uid": "u", "properties": {"a": [1, 2], "b": ["x"]}},
    "nested_objects": {"uid": "u", "properties": {"a": {"b": {"c": 1}}}},
    "null_value_accepted": {"uid": "u", "properties": {"a": None}},
    "nested_schema_form": {"uid": "u", "properties": {"loc": {"code": 1}},
                           "schema": {"properties": {"loc": {"code": "int"}}}},
    "dotted_schema_form": {"uid": "u", "properties": {"loc": {"code": 1}},
                           "schema": {"properties": {"loc.code": "int"}}},
}


@pytest.mark.parametrize("case", sorted(BAD_USER_ROWS))
def test_bad_user_row_fails_alone_with_code_message_and_echo(admin: Api, case: str) -> None:
    row = BAD_USER_ROWS[case]
    err = _row_error(admin, "users", row)
    assert err is not None, f"{case} was imported"
    assert err["code"] == "invalid_argument" and err["message"]
    assert err["user"] == row


@pytest.mark.parametrize("case", sorted(GOOD_USER_ROWS))
def test_user_row_at_the_limit_is_imported(admin: Api, case: str) -> None:
    assert _row_error(admin, "users", GOOD_USER_ROWS[case]) is None


BAD_EVENT_ROWS = {
    "missing_name": {"user": {"uid": "u"}},
    "empty_name": {"name": ""},
    "user_and_session_id": {"name": "A", "user": {"uid": "u"}, "session": {"id": "1:2"}},
    "user_id_and_uid": {"name": "A", "user": {"uid": "u", "id": "1"}},
    "empty_user": {"name": "A", "user": {}},
    "use_most_recent_without_user": {"name": "A", "session": {"use_most_recent": True}},
    "session_id_and_use_most_recent": {"name": "A", "session": {"id": "1:2",
                                                                "use_most_recent": True}},
    "bad_timestamp": {"name": "A", "timestamp": "yesterday"},
    "timestamp_without_zone": {"name": "A", "timestamp": "2022-03-15T14:23:23"},
    # ISO 8601 but not RFC 3339 (contract §11.8).
    "timestamp_basic_format": {"name": "A", "timestamp": "20220315T142323Z"},
    "timestamp_week_date": {"name": "A", "timestamp": "2022-W11-2T14:23:23Z"},
    "timestamp_ordinal_date": {"name": "A", "timestamp": "2022-074T14:23:23Z"},
    "timestamp_offset_without_colon": {"name": "A", "timestamp": "2022-03-15T14:23:23+0200"},
    "timestamp_hour_only_offset": {"name": "A", "timestamp": "2022-03-15T14:23:23+02"},
    "timestamp_date_only": {"name": "A", "timestamp": "2022-03-15"},
    "timestamp_month_13": {"name": "A", "timestamp": "2022-13-15T14:23:23Z"},
    "session_uid": {"name": "A", "session": {"uid": "s-1"}},
    "user_and_session_uid": {"name": "A", "user": {"uid": "u"}, "session": {"uid": "s-1"}},
    "bad_property_name": {"name": "A", "properties": {"bad name": 1}},
    "array_of_objects": {"name": "A", "properties": {"a": [{"b": 1}]}},
    "unknown_context_field": {"name": "A", "context": {"web": {"url": "x"}}},
    "user_uid_over_256": {"name": "A", "user": {"uid": "u" * 257}},
}

GOOD_EVENT_ROWS = {
    "anonymous": {"name": "A"},
    "user_uid": {"name": "A", "user": {"uid": "u"}},
    "session_id": {"name": "A", "session": {"id": "1:2"}},
    "user_with_use_most_recent": {"name": "A", "user": {"uid": "u"},
                                  "session": {"use_most_recent": True}},
    "fractional_timestamp": {"name": "A", "timestamp": "2022-03-15T14:23:23.123Z"},
    "offset_timestamp": {"name": "A", "timestamp": "2022-03-15T14:23:23+02:00"},
    "negative_offset_timestamp": {"name": "A", "timestamp": "2022-03-15T14:23:23.5-05:30"},
    "microsecond_timestamp": {"name": "A", "timestamp": "2022-03-15T14:23:23.123456Z"},
}


@pytest.mark.parametrize("case", sorted(BAD_EVENT_ROWS))
def test_bad_event_row_fails_alone_with_code_message_and_echo(admin: Api, case: str) -> None:
    row = BAD_EVENT_ROWS[case]
    err = _row_error(admin, "events", row)
    assert err is not None, f"{case} was imported"
    assert err["code"] == "invalid_argument" and err["message"]
    assert err["event"] == row and "shared" not in err


@pytest.mark.parametrize("case", sorted(GOOD_EVENT_ROWS))
def test_valid_event_row_is_imported(admin: Api, case: str) -> None:
    assert _row_error(admin, "events", GOOD_EVENT_ROWS[case]) is None


def test_event_with_unknown_user_id_fails_with_user_not_found(admin: Api) -> None:
    err = _row_error(admin, "events", {"name": "A", "user": {"id": "999"}})
    assert err is not None and err["code"] == "user_not_found"


def test_empty_event_name_on_single_create_is_400_invalid_argument(admin: Api) -> None:
    r = admin.post("/v2/events", {"name": ""})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_argument"
    assert "events must have a non-empty name" in r.json()["message"]


def test_two_identification_forms_on_single_create_is_400(admin: Api) -> None:
    r = admin.post("/v2/events", {"name": "A", "user": {"uid": "u"}, "session": {"id": "1:2"}})
    assert r.status_code == 400


# -- envelope problems: the whole request answers 400 (§9.7) ----------------------------------


@pytest.mark.parametrize("kind", ["users", "events"])
@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_argument"),
        (b"[]", "invalid_argument"),
        (b"{}", "required_field"),
        (b'{"requests": {}}', "invalid_argument"),
        (b'{"requests": []}', "invalid_argument"),
        (b"", "invalid_argument"),
    ],
)
def test_bad_envelope_is_400_and_creates_no_job(
    admin: Api, kind: str, body: bytes, code: str
) -> None:
    r = admin.post(f"/v2/{kind}/batch", data=body)
    assert r.status_code == 400
    assert r.json() == {"message": r.json()["message"], "code": code}
    assert admin.emu.jobs() == []


@pytest.mark.parametrize("kind", ["users", "events"])
def test_more_than_50000_requests_is_400_and_50000_is_accepted(admin: Api, kind: str) -> None:
    row = {"uid": "u"} if kind == "users" else {"name": "A"}
    assert admin.post(f"/v2/{kind}/batch", {"requests": [row] * 50_001}).status_code == 400
    assert admin.post(f"/v2/{kind}/batch", {"requests": [row] * 50_000}).status_code == 200


def test_shared_must_only_hold_context(admin: Api) -> None:
    r = admin.post("/v2/events/batch", {"requests": [{"name": "A"}], "shared": {"user": {}}})
    assert r.status_code == 400


# -- 8,192 bytes per property value (§3.3, §11.5) -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "\u00e9" * 4096,  # 8,192 bytes of UTF-8 (2 each); 8,194 as JSON with quotes
        '"' * 8192,  # 8,192 bytes; 16,386 as escaped JSON
        "\n" * 8192,
        "\x01" * 8192,  # 6 bytes each as JSON (\u0001)
        "\U0001f600" * 2048,  # 4 bytes each
        ["x" * 4096, "y" * 4096],
    ],
    ids=["two_byte_chars", "quotes", "newlines", "control_chars", "emoji", "array"],
)
def test_value_of_8192_utf8_bytes_is_kept_whatever_its_escaped_json_size(
    admin: Api, value: object
) -> None:
    job_id = admin.batch("users", [{"uid": "u", "properties": {"big": value, "small": 1}}])
    assert admin.finish("users", job_id)["job"]["status"] == "COMPLETED"
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    assert user["properties"] == {"big": value, "small": 1}


@pytest.mark.parametrize(
    "value",
    ["x" * 8193, "\u00e9" * 4097, "\U0001f600" * 2049, ["x" * 5000, "y" * 5000]],
    ids=["ascii", "two_byte_chars", "emoji", "array"],
)
def test_value_over_8192_bytes_rejects_the_property_not_the_row(
    emu: Emulator, admin: Api, value: object
) -> None:
    """Create-batch page: "If the value for the property is larger than this limit, the
    property will be rejected" -- the row is imported without it (docs/dev/emulator.md)."""
    rows = [{"uid": "u", "properties": {"big": value, "small": 1, "nest": {"big": value}}}]
    job_id = admin.batch("users", rows)
    status = admin.finish("users", job_id)
    assert (status["job"]["status"], status["imports"], status["errors"]) == ("COMPLETED", 1, 0)
    (user,) = admin.pages("users", job_id, "imports")[0]["results"]
    assert user["properties"] == {"small": 1, "nest": {}}
    assert emu.users()[0]["properties"] == {"small": 1, "nest": {}}


def test_oversize_property_of_an_event_and_of_single_creates_is_dropped(
    emu: Emulator, admin: Api
) -> None:
    big = "x" * 8193
    job_id = admin.batch("events", [{"name": "A", "properties": {"big": big, "k": "v"}}])
    admin.finish("events", job_id)
    (event,) = admin.pages("events", job_id, "imports")[0]["results"]
    assert event["properties"] == {"k": "v"}
    assert admin.post("/v2/events", {"name": "B", "properties": {"big": big}}).status_code == 200
    assert emu.events()[-1]["properties"] == {}
    user_id = admin.post("/v2/users", {"uid": "u", "properties": {"big": big, "k": 1}}).json()["id"]
    assert admin.get(f"/v2/users/{user_id}").json()["properties"] == {"k": 1}


def test_oversize_row_failing_for_another_reason_echoes_the_row_as_sent(admin: Api) -> None:
    row = {"id": "404404", "properties": {"big": "x" * 8193}}
    job_id = admin.batch("users", [row])
    admin.finish("users", job_id)
    (err,) = admin.pages("users", job_id, "errors")[0]["results"]
    assert err["code"] == "user_not_found" and err["user"] == row


# -- session.uid, session.id echo (§11.7, SPEC-E example) ---------------------------------------


def test_session_uid_is_rejected_and_creates_no_anonymous_user(
    emu: Emulator, admin: Api
) -> None:
    err = _row_error(admin, "events", {"name": "A", "session": {"uid": "s-1"}})
    assert err is not None and "session.uid is not supported" in err["message"]
    r = admin.post("/v2/events", {"name": "A", "session": {"uid": "s-1"}})
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"
    # Only the good (anonymous) companion row made a user; nothing for session.uid.
    assert len(emu.users()) == 1 and [e["name"] for e in emu.events()] == ["Good"]


def test_session_id_event_echoes_the_user_of_the_session_too(admin: Api) -> None:
    """SPEC-E imports example: {"user": {"id": "123456789", ...}, "session": {"id":
    "123456789:1298251231"}}: the user id is the session id's device part."""
    user_id = admin.post("/v2/users", {"uid": "xyz123"}).json()["id"]
    rows = [{"name": "A", "session": {"id": f"{user_id}:1298251231"}},
            {"name": "B", "session": {"id": "123456789:1298251231"}}]
    job_id = admin.batch("events", rows)
    admin.finish("events", job_id)
    a, b = admin.pages("events", job_id, "imports")[0]["results"]
    assert a["user"] == {"id": user_id, "uid": "xyz123"}
    assert a["session"] == {"id": f"{user_id}:1298251231"}
    assert b["user"] == {"id": "123456789"} and b["session"] == {"id": "123456789:1298251231"}
    assert list(b)[:2] == ["user", "session"]


# -- include_schema parses booleans the usual ways -----------------------------------------------


@pytest.mark.parametrize(("raw", "filled"), [
    ("true", True), ("TRUE", True), ("True", True), ("1", True),
    ("false", False), ("FALSE", False), ("0", False),
])
def test_include_schema_accepts_true_false_1_0_in_any_case(
    admin: Api, raw: str, filled: bool
) -> None:
    user_id = admin.post("/v2/users", {"uid": "u", "properties": {"n": 1}}).json()["id"]
    job_id = admin.batch("users", [{"uid": "u"}])
    admin.finish("users", job_id)
    got = admin.get(f"/v2/users/{user_id}", params={"include_schema": raw}).json()
    assert (got["schema"] is not None) == filled
    (imported,) = admin.get(f"/v2/users/batch/{job_id}/imports",
                            params={"include_schema": raw}).json()["results"]
    assert ("schema" in imported) == filled
    listed = admin.get("/v2/users", params={"include_schema": raw}).json()["results"]
    assert (listed[0]["schema"] is not None) == filled


@pytest.mark.parametrize("raw", ["yes", "", "2", "t", "truee"])
def test_include_schema_other_values_are_400(admin: Api, raw: str) -> None:
    user_id = admin.post("/v2/users", {"uid": "u"}).json()["id"]
    job_id = admin.batch("events", [{"name": "A"}])
    admin.finish("events", job_id)
    for path in (f"/v2/users/{user_id}", "/v2/users", f"/v2/events/batch/{job_id}/imports"):
        r = admin.get(path, params={"include_schema": raw})
        assert r.status_code == 400 and r.json()["code"] == "invalid_argument", path
        assert "include_schema" in r.json()["message"]
