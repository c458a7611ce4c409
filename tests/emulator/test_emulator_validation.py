"""Row-level validation (contract §3.1-§3.3, §9.7): each bad row fails alone and is echoed."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Api

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
    "value_over_8192_bytes": {"uid": "u", "properties": {"a": "x" * 8191}},
    "list_value_over_8192_bytes": {"uid": "u", "properties": {"a": ["x" * 5000, "y" * 5000]}},
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
    "value_at_8192_bytes": {"uid": "u", "properties": {"a": "x" * 8190}},  # 8190 + 2 quotes
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
