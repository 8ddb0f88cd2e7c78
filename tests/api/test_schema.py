"""The OpenAPI schema validates without a single warning, documents the error responses
of every operation, and the docs render."""

import io

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_spectacular_validates_without_warnings_or_errors(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "schema.yml"
    GENERATOR_STATS.reset()
    # --fail-on-warn turns any warning or error into an exception (a failed test)
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stdout=out, stderr=err)
    assert "Warning" not in err.getvalue() + out.getvalue()
    assert "Error" not in err.getvalue() + out.getvalue()
    assert not GENERATOR_STATS
    assert target.stat().st_size > 0


@pytest.fixture(scope="module")
def schema():
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi", stdout=out)
    return yaml.safe_load(out.getvalue())


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                yield path, method, operation


def test_every_operation_documents_its_errors(schema):
    for path, method, operation in _operations(schema):
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}"
        if path == "/api/v1/auth/token/":
            assert codes == {"200", "400"}, where
            continue
        assert "401" in codes, where
        if path in ("/api/v1/me/", "/api/v1/auth/token/rotate/", "/api/v1/auth/token/revoke/"):
            continue  # the caller's own: no permission to refuse, no input
        assert "403" in codes, where
        if "{id}" in path:
            assert "404" in codes, where
        if method in ("post", "patch"):
            assert {"400", "409"} <= codes, where
        if method == "delete":
            assert "409" in codes, where


def test_error_bodies_are_described(schema):
    components = schema["components"]["schemas"]
    assert components["Conflict"]["properties"].keys() == {"detail", "code"}
    assert components["Error"]["properties"].keys() == {"detail"}
    assert components["ValidationError"]["additionalProperties"]["items"]["type"] == "string"


def test_no_put_anywhere(schema):
    assert not [path for path, method, _ in _operations(schema) if method == "put"]


def test_resources_of_api_md_are_all_there(schema):
    for resource in (
        "locations",
        "academic-years",
        "terms",
        "grade-levels",
        "programs",
        "courses",
        "sections",
        "class-sessions",
        "students",
        "guardians",
        "student-guardians",
    ):
        item = schema["paths"][f"/api/v1/{resource}/"]
        assert {"get", "post"} <= set(item), resource
        assert "patch" in schema["paths"][f"/api/v1/{resource}/{{id}}/"], resource
    assert "delete" in schema["paths"]["/api/v1/student-guardians/{id}/"]
    assert "get" in schema["paths"]["/api/v1/students/{id}/guardians/"]
    assert "post" in schema["paths"]["/api/v1/students/{id}/primary-guardian/"]


def test_student_schema_marks_staff_only_fields_as_optional(schema):
    student = schema["components"]["schemas"]["Student"]
    for name in ("internal_notes", "allergies", "medications", "medical_conditions"):
        assert name in student["properties"]
        assert name not in student["required"]
    assert "student_number" in student["required"]


def test_primary_guardian_is_an_id_or_a_new_guardian(schema):
    field = schema["components"]["schemas"]["StudentCreateRequest"]["properties"]["primary_guardian"]
    kinds = field["oneOf"]
    assert {"type": "string", "format": "uuid"}.items() <= kinds[0].items()
    assert kinds[1]["$ref"].endswith("/GuardianInputRequest")


def test_schema_and_docs_are_served():
    client = APIClient()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/students/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
