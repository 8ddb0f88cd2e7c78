"""Issuing an invoice by hand in the staff portal: lines from fee structures or custom,
everything saved with its ledger entries, or nothing."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from finance.models import Invoice, LedgerEntry
from tests.finance.api_fixtures import money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

URL = "staff:finance-invoice-new"


def client_for(user, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _data(student, *lines, **extra) -> dict:
    data = {
        "student": str(student.pk),
        "lines-TOTAL_FORMS": "4",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "20",
        **extra,
    }
    for index, line in enumerate(lines):
        data.update({f"lines-{index}-{name}": value for name, value in line.items()})
    return data


def test_an_invoice_from_a_structure_and_a_custom_line(money):
    client = client_for(money.users["finance"])
    before = Invoice.objects.count()
    response = client.post(
        reverse(URL),
        _data(
            money.child,
            {"fee_structure": str(money.structure.pk)},
            {"fee_type": str(money.fee_type.pk), "description": "Swim cap", "unit_amount": "7.50", "quantity": "2"},
            description="Term extras",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.latest("created_at")
    assert Invoice.objects.count() == before + 1
    assert response["Location"] == reverse("staff:finance-invoice-detail", args=[invoice.pk])
    assert invoice.student == money.child and invoice.total == Decimal("165.00")
    assert sorted(invoice.lines.values_list("description", "amount")) == [
        (money.structure.name, Decimal("150.00")),
        ("Swim cap", Decimal("15.00")),
    ]
    assert LedgerEntry.objects.filter(invoice=invoice).count() == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"description": "No type", "unit_amount": "5.00"}, "Choose a fee type"),
        ({"fee_type": "FEE", "unit_amount": "0"}, "Ensure this value is greater than or equal to 0.01"),
        ({"fee_type": "FEE"}, "Enter the amount of a custom line"),
        ({"fee_structure": "NORTH"}, "This fee structure is for"),
    ],
)
def test_bad_lines_are_errors_on_the_line_and_nothing_is_written(money, line, message):
    line = {
        key: str(money.fee_type.pk) if value == "FEE" else str(money.north_structure.pk) if value == "NORTH" else value
        for key, value in line.items()
    }
    client = client_for(money.users["admin"])  # sees both locations' fee structures
    before = money_rows()
    response = client.post(reverse(URL), _data(money.child, line))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert money_rows() == before


def test_an_invoice_without_lines_is_refused(money):
    before = money_rows()
    response = client_for(money.users["finance"]).post(reverse(URL), _data(money.child))
    assert response.status_code == 400 and "Add at least one line" in response.content.decode()
    assert money_rows() == before


def test_who_may_issue_invoices(money):
    url = reverse(URL)
    assert client_for(money.users["finance"]).get(url).status_code == 200
    assert client_for(money.users["office"]).get(url).status_code == 403  # office records payments only
    response = client_for(money.users["parent"]).get(url)
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    # a student can be chosen in advance from their record
    body = client_for(money.users["finance"]).get(url, {"student": money.child.pk}).content.decode()
    assert f'<input type="hidden" name="student" id="id_student" value="{money.child.pk}"' in body  # the picker


def test_csrf_is_enforced(money):
    before = money_rows()
    response = client_for(money.users["finance"], csrf=True).post(
        reverse(URL), _data(money.child, {"fee_structure": str(money.structure.pk)})
    )
    assert response.status_code == 403
    assert money_rows() == before
