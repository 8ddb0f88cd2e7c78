"""invoices/: issue through the invoice service, filters, cancel (409 when not open), PDF."""

import datetime
from decimal import Decimal as D

import pytest

from finance.models import Invoice
from finance.selectors import account_balance, ledger_verify
from tests.factories.finance import FeeTypeFactory, issue
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def _body(money, **changes):
    return {
        "student": str(money.child.pk),
        "lines": [
            {"fee_structure": str(money.structure.pk)},
            {
                "fee_type": str(FeeTypeFactory(code="EXAM").pk),
                "description": "Exam",
                "unit_amount": "12.50",
                "quantity": 2,
            },
        ],
        "issue_date": "2025-09-01",
        "due_date": "2025-09-15",
        **changes,
    }


def test_issuing_an_invoice_numbers_it_and_posts_it_to_the_ledger(money, as_user):
    response = as_user("finance").post(f"{V1}/invoices/", _body(money), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["invoice_number"].startswith("INV-")
    assert data["student"] == str(money.child.pk)
    assert data["billed_to"] == str(money.guardian.pk)
    assert (data["total"], data["paid"], data["balance"], data["adjusted"]) == ("175.00", "0.00", "175.00", "0.00")
    assert data["status"] == "overdue"  # due in the past
    assert sorted((line["description"], line["quantity"], line["amount"]) for line in data["lines"]) == [
        ("Exam", 2, "25.00"),
        ("Monthly tuition", 1, "150.00"),
    ]
    assert account_balance(student=money.child) == D("110.00") + D("175.00")
    assert ledger_verify().problems == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"description": "x", "unit_amount": "5.00"}]}, "lines[0].fee_type"),
        ({"lines": [{"fee_type": "00000000-0000-0000-0000-000000000000", "unit_amount": "5"}]}, "lines[0].fee_type"),
        ({"lines": [{"fee_structure": "00000000-0000-0000-0000-000000000000"}]}, "lines[0].fee_structure"),
        ({"student": None}, "student"),
        ({"due_date": "2025-08-01"}, "due_date"),
        ({"issue_date": "yesterday"}, "issue_date"),
    ],
)
def test_bad_input_is_a_field_error_and_writes_nothing(money, as_user, changes, field):
    body = _body(money, **changes)
    before = money_rows()
    response = as_user("finance").post(f"{V1}/invoices/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert money_rows() == before


@pytest.mark.parametrize(("amount", "field"), [("-1.00", "lines[0].unit_amount"), ("1.001", "lines[0].unit_amount")])
def test_line_amounts_must_be_positive_cents(money, as_user, amount, field):
    body = _body(money, lines=[{"fee_type": str(money.fee_type.pk), "unit_amount": amount}])
    response = as_user("finance").post(f"{V1}/invoices/", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_another_locations_fee_structure_or_student_is_a_field_error(money, as_user):
    client = as_user("admin")  # sees everything: the structure exists, but office staff may not issue
    assert client.post(f"{V1}/invoices/", _body(money), format="json").status_code == 201
    assert as_user("office").post(f"{V1}/invoices/", _body(money), format="json").status_code == 403


def test_cancelling_voids_an_open_invoice_and_refuses_a_closed_one(money, as_user):
    client = as_user("finance")
    url = f"{V1}/invoices/{money.invoice.pk}/cancel/"
    before = money_rows()
    assert client.post(url, {}, format="json").status_code == 400  # a reason is required
    assert money_rows() == before
    response = client.post(url, {"reason": "Billed twice"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "cancelled" and data["balance"] == "0.00" and data["cancel_reason"] == "Billed twice"
    assert account_balance(student=money.child) == D("-40.00")  # what was paid is now credit
    before = money_rows()
    again = client.post(url, {"reason": "Again"}, format="json")
    assert again.status_code == 409
    assert again.json() == {"detail": "A cancelled invoice cannot be cancelled.", "code": "invoice_not_open"}
    assert money_rows() == before
    assert ledger_verify().problems == []


def test_invoices_cannot_be_changed_or_deleted(money, as_user):
    client = as_user("finance")
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{V1}/invoices/{money.invoice.pk}/", {}, format="json").status_code == 405


def test_the_invoice_pdf(money, as_user):
    response = as_user("parent").get(f"{V1}/invoices/{money.invoice.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert as_user("other_parent").get(f"{V1}/invoices/{money.invoice.pk}/pdf/").status_code == 404


def test_filters(money, as_user):
    client = as_user("finance")
    late = issue(money.children[1], "20.00", issue_date=datetime.date(2025, 1, 1), due_date=datetime.date(2025, 1, 31))

    def numbers(query):
        response = client.get(f"{V1}/invoices/?{query}")
        assert response.status_code == 200, response.content
        return {row["invoice_number"] for row in response.json()["results"]}

    assert numbers(f"student={money.child.pk}") == {money.invoice.invoice_number}
    assert numbers(f"location={money.other_location.pk}") == {money.north_invoice.invoice_number}
    assert numbers("status=overdue") == {late.invoice_number}
    assert numbers("due_date_after=2025-01-01&due_date_before=2025-02-01") == {late.invoice_number}
    assert numbers(f"invoice_number={late.invoice_number}") == {late.invoice_number}
    assert client.get(f"{V1}/invoices/?status=lost").status_code == 400
    assert client.get(f"{V1}/invoices/?due_date_after=soon").status_code == 400
    assert client.get(f"{V1}/invoices/?student={money.north_child.pk}").json()["count"] == 1


def test_each_reader_sees_their_own_scope(money, as_user):
    def numbers(actor):
        return {row["invoice_number"] for row in as_user(actor).get(f"{V1}/invoices/").json()["results"]}

    assert numbers("parent") == {money.invoice.invoice_number}
    assert numbers("other_parent") == {money.other_invoice.invoice_number}
    assert numbers("office") == {money.invoice.invoice_number, money.other_invoice.invoice_number}
    assert numbers("other_office") == {money.north_invoice.invoice_number}
    assert as_user("other_parent").get(f"{V1}/invoices/{money.invoice.pk}/").status_code == 404
    assert as_user("other_office").get(f"{V1}/invoices/{money.invoice.pk}/").status_code == 404
    detail = as_user("parent").get(f"{V1}/invoices/{money.invoice.pk}/").json()
    assert (detail["total"], detail["paid"], detail["balance"]) == ("150.00", "40.00", "110.00")


@pytest.mark.parametrize("actor", ["finance", "parent"])
def test_the_invoice_list_costs_the_same_whatever_its_length(money, as_user, django_assert_max_num_queries, actor):
    client = as_user(actor)
    for rows in (3, 30):
        while Invoice.objects.filter(student=money.child).count() < rows:
            issue(money.child, "5.00", "6.00")
        with django_assert_max_num_queries(8):
            response = client.get(f"{V1}/invoices/?page_size=100")
        assert response.status_code == 200
        assert response.json()["count"] >= rows
