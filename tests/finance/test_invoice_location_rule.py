"""A fee structure of another location than the student's cannot be charged on the
student's invoice: ``finance.services.invoice_issue`` refuses it (an error on that line's
``fee_structure``), so the API answers 400 and the staff form shows it on the line; the
API accepted it before (201)."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from finance import services
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def test_the_service_refuses_another_locations_fee_structure(money):
    # given the child (main location) and the north location's fee structure
    before = money_rows()
    # when an invoice charges it
    with pytest.raises(ValidationError) as refused:
        services.invoice_issue(
            student=money.child,
            lines=[
                services.LineSpec(fee_type=money.fee_type, unit_amount="5.00"),
                services.LineSpec(fee_structure=money.north_structure),
            ],
            actor=money.users["finance"],
        )
    # then the second line is refused, naming the structure's location, and nothing is written
    message = refused.value.message_dict["lines[1].fee_structure"][0]
    assert money.north_structure.location.name in message
    assert money_rows() == before


def test_the_students_own_fee_structure_is_charged(money):
    invoice = services.invoice_issue(
        student=money.child, lines=[services.LineSpec(fee_structure=money.structure)], actor=money.users["finance"]
    )
    assert invoice.total == money.structure.amount and invoice.location_id == money.child.location_id


def test_the_api_answers_400_on_the_line_and_writes_nothing(money, as_user):
    # the administrator sees both locations' fee structures
    before = money_rows()
    body = {"student": str(money.child.pk), "lines": [{"fee_structure": str(money.north_structure.pk)}]}
    response = as_user("admin").post(f"{V1}/invoices/", body, format="json")
    assert response.status_code == 400, response.content
    assert "This fee structure is for" in response.json()["lines[0].fee_structure"][0]
    assert money_rows() == before


def test_the_staff_form_shows_the_services_refusal_on_the_line(money):
    client = Client()
    client.force_login(money.users["admin"])
    data = {
        "student": str(money.child.pk),
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "20",
        "lines-0-fee_structure": str(money.north_structure.pk),
    }
    before = money_rows()
    response = client.post(reverse("staff:finance-invoice-new"), data)
    assert response.status_code == 400
    line_errors = response.context["lines"].forms[0].errors
    assert "fee_structure" in line_errors or "This fee structure is for" in response.content.decode()
    assert money_rows() == before
