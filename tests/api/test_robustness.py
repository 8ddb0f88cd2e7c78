"""Bad requests the API must answer in its own JSON error shape (docs/api.md, Errors):
a body too large (413), a body that is not JSON (400 ``non_field_errors``), query values
that are not valid (400 on that parameter, never silently ignored), an id that is not
a UUID or a path that does not exist (JSON 404), and OPTIONS (never a 500)."""

import json

import pytest
from django.test import override_settings

from academy.models import AuditLog, Location

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def admin_client(client_for, academy_admin):
    return client_for(academy_admin)


def _json(response) -> dict:
    assert response["Content-Type"].startswith(JSON), response["Content-Type"]
    return json.loads(response.content)


# --- request bodies -------------------------------------------------------------------


def test_a_body_over_the_upload_limit_is_a_json_413_and_nothing_is_written(admin_client):
    # given a JSON body over the 2.5 MB Django reads into memory at most
    body = json.dumps({"code": "BIG", "name": "x" * 3_000_000})
    count = Location.objects.count()
    # when it is posted
    response = admin_client.post("/api/v1/locations/", body, content_type=JSON)
    # then a JSON 413 says so, and no location was created
    assert response.status_code == 413
    data = _json(response)
    assert data["code"] == "request_too_large"
    assert "2560 KiB" in data["detail"]
    assert Location.objects.count() == count


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_the_413_names_the_configured_limit(admin_client):
    response = admin_client.post("/api/v1/locations/", json.dumps({"name": "x" * 2000}), content_type=JSON)
    assert response.status_code == 413
    assert _json(response) == {
        "detail": "The request body is larger than the 1 KiB the API accepts.",
        "code": "request_too_large",
    }


@pytest.mark.parametrize(
    "body",
    [b'{"code": "X", "name": ', b"not json at all", b"\xc6\xff\x00", b'{"code": "X"}}'],
    ids=["truncated", "text", "not-utf8", "trailing"],
)
def test_a_body_that_is_not_json_is_a_400_in_the_field_error_shape(admin_client, body):
    response = admin_client.post("/api/v1/locations/", body, content_type=JSON)
    assert response.status_code == 400
    data = _json(response)
    assert list(data) == ["non_field_errors"]
    assert len(data["non_field_errors"]) == 1
    assert data["non_field_errors"][0].startswith("JSON parse error")


def test_a_json_body_that_is_a_list_is_a_400_in_the_field_error_shape(admin_client):
    response = admin_client.post("/api/v1/locations/", "[1, 2]", content_type=JSON)
    assert response.status_code == 400
    data = _json(response)
    assert all(isinstance(messages, list) for messages in data.values())
    assert all(isinstance(message, str) for messages in data.values() for message in messages)


def test_a_nul_character_in_a_body_is_a_400_and_the_audit_log_still_records_the_request(admin_client):
    before = AuditLog.objects.count()
    # (JSON escapes: a NUL character and a lone surrogate)
    body = '{"code": "N\\u0000L", "name": "Nul \\udab1"}'
    response = admin_client.post("/api/v1/locations/", body, content_type=JSON)
    assert response.status_code == 400
    assert "code" in _json(response)
    assert AuditLog.objects.count() == before + 1
    logged = AuditLog.objects.latest("created_at").request_data
    assert "\x00" not in logged["code"]


# --- query values ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["maybe", "yes", "2", "TRUE!"])
def test_a_boolean_filter_with_another_value_is_a_400_on_that_parameter(admin_client, location, value):
    response = admin_client.get("/api/v1/locations/", {"is_active": value})
    assert response.status_code == 400
    assert _json(response) == {"is_active": ["Must be true or false."]}


@pytest.mark.parametrize(("value", "expected"), [("true", 1), ("false", 0), ("True", 1), ("", 1)])
def test_a_boolean_filter_takes_true_and_false(admin_client, location, value, expected):
    response = admin_client.get("/api/v1/locations/", {"is_active": value})
    assert response.status_code == 200
    assert _json(response)["count"] == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "A page size is a whole number from 1."),
        ("0", "A page size is a whole number from 1."),
        ("-5", "A page size is a whole number from 1."),
        ("2.5", "A page size is a whole number from 1."),
        ("501", "A page holds at most 500 rows."),
    ],
)
def test_a_page_size_that_is_not_a_whole_number_up_to_the_maximum_is_a_400(admin_client, location, value, message):
    response = admin_client.get("/api/v1/locations/", {"page_size": value})
    assert response.status_code == 400
    assert _json(response) == {"page_size": [message]}


def test_a_page_size_up_to_the_maximum_is_taken(admin_client, location, other_location):
    response = admin_client.get("/api/v1/locations/", {"page_size": "1"})
    assert response.status_code == 200
    data = _json(response)
    assert (data["count"], len(data["results"])) == (2, 1)
    assert admin_client.get("/api/v1/locations/", {"page_size": "500"}).status_code == 200
    assert _json(admin_client.get("/api/v1/locations/", {"page_size": ""}))["count"] == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "A page is a whole number from 1."),
        ("0", "A page is a whole number from 1."),
        ("3", "Page 3 is past the last page (2)."),
    ],
)
def test_a_page_that_is_not_a_page_of_the_list_is_a_400(admin_client, location, other_location, value, message):
    response = admin_client.get("/api/v1/locations/", {"page_size": "1", "page": value})
    assert response.status_code == 400
    assert _json(response) == {"page": [message]}


def test_pages_of_a_list_and_the_last_one(admin_client, location, other_location):
    second = _json(admin_client.get("/api/v1/locations/", {"page_size": "1", "page": "2"}))
    last = _json(admin_client.get("/api/v1/locations/", {"page_size": "1", "page": "last"}))
    assert second["results"] == last["results"]
    assert second["next"] is None
    # an empty list still has its first page
    empty = admin_client.get("/api/v1/locations/", {"is_active": "false", "page": "1"})
    assert empty.status_code == 200
    assert _json(empty)["results"] == []


@pytest.mark.parametrize("path", ["/api/v1/locations/", "/api/v1/me/", "/api/v1/reports/student-balances/"])
def test_an_unknown_format_is_a_400_on_format(admin_client, location, path):
    response = admin_client.get(path, {"format": "xyz"})
    assert response.status_code == 400
    assert list(_json(response)) == ["format"]
    assert "Unknown format 'xyz'" in _json(response)["format"][0]


def test_a_file_format_is_taken_only_where_the_resource_offers_it(admin_client, family):
    _guardian, children = family
    # a report is JSON or CSV
    assert admin_client.get("/api/v1/reports/student-balances/", {"format": "csv"})["Content-Type"].startswith(
        "text/csv"
    )
    response = admin_client.get("/api/v1/reports/student-balances/", {"format": "pdf"})
    assert response.status_code == 400
    assert _json(response) == {"format": ["Unknown format 'pdf': use json, csv."]}
    # a statement is JSON, PDF or CSV
    response = admin_client.get(f"/api/v1/students/{children[0].pk}/statement/", {"format": "xlsx"})
    assert response.status_code == 400
    assert _json(response) == {"format": ["Unknown format 'xlsx': use json, pdf, csv."]}
    assert admin_client.get(f"/api/v1/students/{children[0].pk}/statement/", {"format": "json"}).status_code == 200


def test_format_json_is_the_default(admin_client, location):
    response = admin_client.get("/api/v1/locations/", {"format": "json"})
    assert response.status_code == 200
    assert _json(response)["count"] == 1


# --- paths and methods ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/locations/not-a-uuid/", "/api/v1/students/0.5/statement/", "/api/v1/no-such-resource/"],
)
def test_a_path_that_names_nothing_is_a_json_404(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 404
    assert _json(response) == {"detail": "Not found."}


def test_outside_the_api_a_missing_page_is_still_html(admin_client):
    response = admin_client.get("/staff/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/v1/accounting-refs/import/", "/api/v1/locations/", "/api/v1/me/"])
def test_options_describes_the_resource_without_a_server_error(admin_client, path):
    response = admin_client.options(path)
    assert response.status_code == 200
    data = _json(response)
    assert {"name", "renders", "parses"} <= set(data)
    assert "actions" not in data
