"""Every list of the API answers what its OpenAPI schema says, for staff and parents, on
the test seed plus the rows whose fields are null or blank (a payment without a paying
guardian or collector, a credit allocation without an invoice, an undecided adjustment,
a location without an e-mail address). The live-server fuzzing of every operation is
``.ci/schemathesis.sh``; this is its quick, deterministic part in the suite."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy.models import User
from families.models import Guardian
from finance.services.adjustments import adjustment_request
from finance.services.payments import payment_record
from tests.api.openapi_validation import ResponseValidator, openapi_schema
from tests.factories.academy import LocationFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def validator():
    return ResponseValidator(openapi_schema())


def _client(username: str) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=User.objects.get(username=username))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _list_paths(schema) -> list[str]:
    return sorted(
        path
        for path, item in schema["paths"].items()
        if "{" not in path and "get" in item and "200" in item["get"]["responses"]
    )


@pytest.fixture
def seeded(db):
    call_command("seed", env="test", stdout=StringIO())
    admin = User.objects.get(username="admin")
    guardian = Guardian.objects.get(portal_user__username="parent")
    student = guardian.student_links.first().student
    issue(student, "100.00", actor=admin)
    issue(student, "40.00", actor=admin)
    # requested, not decided: no decider yet
    adjustment_request(
        invoice=issue(student, "60.00", actor=admin),
        kind="discount",
        amount=Decimal("5.00"),
        reason="Sibling",
        actor=admin,
    )
    # more than the first invoice: the rest is a credit allocation (no invoice)
    payment_record(actor=admin, amount=Decimal("500.00"), method="cash", student=student, confirm_overpayment=True)
    LocationFactory(code="BLANK", name="No e-mail", email="")


@pytest.mark.parametrize("username", ["admin", "finance", "office", "instructor", "parent"])
def test_every_list_answers_what_its_schema_says(seeded, validator, username):
    client = _client(username)
    problems = []
    checked = 0
    for path in _list_paths(validator.schema):
        response = client.get(path)
        if not response["Content-Type"].startswith("application/json"):
            problems.append(f"GET {path}: {response.status_code} {response['Content-Type']}")
            continue
        try:
            errors = validator.errors(path, "get", response.status_code, response.json())
        except AssertionError as error:
            errors = [str(error)]
        problems += [f"GET {path} ({response.status_code}): {error}" for error in errors[:5]]
        checked += response.status_code == 200
    assert not problems, "\n".join(problems)
    assert checked >= (40 if username == "admin" else 5)


def test_the_fields_that_may_be_null_or_blank_are_declared_so(validator):
    components = validator.schema["components"]["schemas"]
    for component, field in [
        ("Adjustment", "decided_by"),
        ("Payment", "collected_by"),
        ("Payment", "guardian"),
        ("Payment", "guardian_number"),
        ("PaymentAllocation", "invoice_number"),
    ]:
        assert components[component]["properties"][field].get("nullable") is True, (component, field)
    salutation = components["Guardian"]["properties"]["salutation"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in salutation["oneOf"]
    assert {"type": "string", "enum": [""]} in components["Location"]["properties"]["email"]["oneOf"]
    assert "format" not in components["ClassSession"]["properties"]["start_time"]


def test_every_operation_documents_a_400(validator):
    for path, item in validator.schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "delete"):
                assert "400" in operation["responses"], f"{method.upper()} {path}"
