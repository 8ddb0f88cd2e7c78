"""One FilterSet per list, shared by the staff list and the API: the invoice search, the
adjustment queue's status, session packages (API) and the payment search by student
name (first, last or full), family payments found through the children they paid for.
Lists keep a fixed number of queries with a search."""

from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from finance import services
from finance.models import Adjustment
from finance.services.packages import package_cancel
from students.models import Student
from tests.factories.families import StudentFactory
from tests.factories.finance import SessionPackageFactory
from tests.finance.api_fixtures import V1, share_money
from tests.finance.test_query_counts import assert_fixed_query_counts

share_money(globals())

pytestmark = pytest.mark.django_db


@pytest.fixture
def named(money):
    """The parent's first child is Zephyrine Quillfeather; the other family's child
    Ottoline Brackwater; the family pays 10.00 for every child (a payment with no student)."""
    Student.objects.filter(pk=money.child.pk).update(first_name="Zephyrine", last_name="Quillfeather")
    Student.objects.filter(pk=money.other_child.pk).update(first_name="Ottoline", last_name="Brackwater")
    money.child.refresh_from_db()
    money.other_payment = services.payment_record(
        actor=money.users["finance"], student=money.other_child, amount="20.00", method="cash"
    ).payment
    money.family_payment = services.payment_record(
        actor=money.users["finance"], payer=money.guardian, amount="10.00", method="cash"
    ).payment
    return money


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _staff_rows(response) -> set:
    assert response.status_code == 200
    return {row.pk for row in response.context["page"].object_list}


def _api_rows(response) -> set:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- payments searched by student name ------------------------------------------------------


@pytest.mark.parametrize("term", ["Zephyrine", "quillfeather", "Zephyrine Quillfeather", "zeph quill"])
def test_the_payment_list_finds_a_students_payments_by_name_staff_and_api(named, as_user, term):
    # when the payments are searched by the child's first, last or full name
    staff = _staff_rows(_client(named.users["finance"]).get(reverse("staff:finance-payment-list"), {"search": term}))
    api = _api_rows(as_user("finance").get(f"{V1}/payments/", {"search": term}))
    # then both lists show the child's own payment and the family payment that paid for them
    assert staff == {named.payment.pk, named.family_payment.pk}
    assert api == {str(pk) for pk in staff}


def test_the_payment_search_also_takes_the_receipt_number(named, as_user):
    term = named.other_payment.receipt_number
    assert _api_rows(as_user("finance").get(f"{V1}/payments/", {"search": term})) == {str(named.other_payment.pk)}
    assert _staff_rows(
        _client(named.users["finance"]).get(reverse("staff:finance-payment-list"), {"search": "Brackwater"})
    ) == {named.other_payment.pk}


def test_a_search_does_not_reach_beyond_the_callers_scope(named, as_user):
    # the north office sees neither family
    rows = _api_rows(as_user("other_office").get(f"{V1}/payments/", {"search": "Zephyrine"}))
    assert rows == set()


def test_the_payment_search_box_is_on_the_staff_list(named):
    body = _client(named.users["finance"]).get(reverse("staff:finance-payment-list")).content.decode()
    assert 'name="search"' in body


# --- invoice search -------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["Quillfeather", "zephyrine quill"])
def test_the_invoice_search_is_the_filtersets_staff_and_api(named, as_user, term):
    staff = _staff_rows(_client(named.users["finance"]).get(reverse("staff:finance-invoice-list"), {"search": term}))
    api = _api_rows(as_user("finance").get(f"{V1}/invoices/", {"search": term}))
    assert staff == {named.invoice.pk}
    assert api == {str(named.invoice.pk)}


def test_the_invoice_search_takes_the_invoice_number_and_combines_with_filters(named, as_user):
    number = named.other_invoice.invoice_number
    assert _api_rows(as_user("finance").get(f"{V1}/invoices/", {"search": number})) == {str(named.other_invoice.pk)}
    assert _api_rows(as_user("finance").get(f"{V1}/invoices/", {"search": number, "status": "paid"})) == set()


# --- the adjustment queue -------------------------------------------------------------------


def test_the_adjustment_queue_filters_by_status_through_the_filterset(money, as_user):
    approved = services.adjustment_request(
        invoice=money.invoice, kind="discount", amount=D("5.00"), reason="Goodwill", actor=money.users["finance"]
    )
    services.adjustment_approve(adjustment=approved, actor=money.users["approver"])
    client = _client(money.users["finance"])
    url = reverse("staff:finance-adjustments")
    assert _staff_rows(client.get(url, {"status": "approved"})) == {approved.pk}
    assert _api_rows(as_user("finance").get(f"{V1}/adjustments/", {"status": "approved"})) == {str(approved.pk)}
    # waiting ones first when no ordering is asked for
    assert [row.pk for row in client.get(url).context["page"].object_list] == [money.adjustment.pk, approved.pk]
    # the API's other filters work on the staff queue too
    assert _staff_rows(client.get(url, {"kind": "discount", "invoice": money.invoice.pk})) == {
        money.adjustment.pk,
        approved.pk,
    }


def test_an_unknown_status_is_a_filter_error_not_everything(money):
    response = _client(money.users["finance"]).get(reverse("staff:finance-adjustments"), {"status": "bogus"})
    assert response.status_code == 200
    assert response.context["filter"].errors and "status" in response.context["filter"].errors
    assert list(response.context["page"].object_list) == []
    assert Adjustment.objects.exists()


# --- session packages in the API ------------------------------------------------------------


def test_session_packages_filter_by_student_and_status(money, as_user):
    mine = SessionPackageFactory(student=money.child)
    other = SessionPackageFactory(student=money.other_child)
    cancelled = SessionPackageFactory(student=money.child)
    package_cancel(package=cancelled, actor=money.users["finance"], reason="Changed plans")
    client = as_user("finance")
    assert _api_rows(client.get(f"{V1}/session-packages/", {"student": money.child.pk})) == {
        str(mine.pk),
        str(cancelled.pk),
    }
    assert _api_rows(client.get(f"{V1}/session-packages/", {"status": "cancelled"})) == {str(cancelled.pk)}
    assert str(other.pk) in _api_rows(client.get(f"{V1}/session-packages/", {"status": "active"}))
    # a student outside the caller's scope is a 400 on the parameter
    north = StudentFactory(location=money.other_location)
    refused = as_user("office").get(f"{V1}/session-packages/", {"student": north.pk})
    assert refused.status_code == 400 and "student" in refused.json()


# --- fixed query counts with a search -------------------------------------------------------


def test_searched_staff_lists_cost_the_same_whatever_their_length(money):
    name = money.child.last_name

    def urls(money):
        return {
            "payments": f"{reverse('staff:finance-payment-list')}?search={name}",
            "invoices": f"{reverse('staff:finance-invoice-list')}?search={name}",
            "adjustments": f"{reverse('staff:finance-adjustments')}?status=approved",
        }

    assert_fixed_query_counts(money, _client(money.users["finance"]), urls)


def test_searched_api_lists_cost_the_same_whatever_their_length(money, as_user):
    name = money.child.last_name

    def urls(money):
        return {
            "payments": f"{V1}/payments/?search={name}",
            "invoices": f"{V1}/invoices/?search={name}",
            "session packages": f"{V1}/session-packages/?student={money.child.pk}",
        }

    assert_fixed_query_counts(money, as_user("finance"), urls)
