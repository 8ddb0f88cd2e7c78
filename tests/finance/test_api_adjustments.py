"""adjustments/: requested, then approved by another person (posted to the ledger) or rejected."""

from decimal import Decimal as D

import pytest

from finance.models import Adjustment
from finance.selectors import account_balance, ledger_verify
from tests.factories.finance import FinancePolicyFactory
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def test_requesting_an_adjustment_writes_nothing_to_the_ledger(money, as_user):
    body = {"invoice": str(money.invoice.pk), "kind": "late_fee", "amount": "7.50", "reason": "Paid late"}
    response = as_user("finance").post(f"{V1}/adjustments/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["amount"], data["signed_amount"], data["requested_by"]) == (
        "requested",
        "7.50",
        "7.50",
        "cashier",
    )
    assert account_balance(student=money.child) == D("110.00")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "2.001"}, "amount"),
        ({"kind": "gift"}, "kind"),
        ({"reason": ""}, "reason"),
        ({"invoice": "00000000-0000-0000-0000-000000000000"}, "invoice"),
    ],
)
def test_bad_requests_are_field_errors(money, as_user, changes, field):
    body = {"invoice": str(money.invoice.pk), "kind": "discount", "amount": "5.00", "reason": "Why", **changes}
    before = money_rows()
    response = as_user("finance").post(f"{V1}/adjustments/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert money_rows() == before


def test_the_requester_cannot_approve_their_own_adjustment(money, as_user):
    before = money_rows()
    response = as_user("finance").post(f"{V1}/adjustments/{money.adjustment.pk}/approve/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "approver_must_differ"
    assert money_rows() == before
    money.adjustment.refresh_from_db()
    assert money.adjustment.status == Adjustment.Status.REQUESTED


def test_below_the_locations_threshold_the_requester_may_approve(money, as_user):
    FinancePolicyFactory(location=money.location, adjustment_approval_threshold=D("50.00"))
    response = as_user("finance").post(f"{V1}/adjustments/{money.adjustment.pk}/approve/", {}, format="json")
    assert response.status_code == 200, response.content


def test_another_person_approves_and_the_invoice_and_ledger_follow(money, as_user):
    url = f"{V1}/adjustments/{money.adjustment.pk}/approve/"
    response = as_user("approver").post(url, {"note": "OK"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["decided_by"], data["decision_note"]) == ("approved", "approver", "OK")
    invoice = as_user("finance").get(f"{V1}/invoices/{money.invoice.pk}/").json()
    assert (invoice["adjusted"], invoice["balance"]) == ("-10.00", "100.00")
    assert account_balance(student=money.child) == D("100.00")
    again = as_user("approver").post(url, {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert ledger_verify().problems == []


def test_rejecting_posts_nothing(money, as_user):
    response = as_user("approver").post(
        f"{V1}/adjustments/{money.adjustment.pk}/reject/", {"note": "No"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert account_balance(student=money.child) == D("110.00")
    approve = as_user("approver").post(f"{V1}/adjustments/{money.adjustment.pk}/approve/", {}, format="json")
    assert approve.status_code == 409 and approve.json()["code"] == "already_decided"


def test_a_credit_beyond_what_is_open_is_refused_on_approval(money, as_user):
    body = {"invoice": str(money.invoice.pk), "kind": "waiver", "amount": "500.00", "reason": "Hardship"}
    created = as_user("finance").post(f"{V1}/adjustments/", body, format="json").json()
    before = money_rows()
    response = as_user("approver").post(f"{V1}/adjustments/{created['id']}/approve/", {}, format="json")
    assert response.status_code == 400 and "amount" in response.json()
    assert money_rows() == before


def test_adjustments_on_a_closed_invoice_are_conflicts(money, as_user):
    as_user("finance").post(f"{V1}/invoices/{money.other_invoice.pk}/cancel/", {"reason": "Void"}, format="json")
    body = {"invoice": str(money.other_invoice.pk), "kind": "discount", "amount": "5.00", "reason": "x"}
    response = as_user("finance").post(f"{V1}/adjustments/", body, format="json")
    assert response.status_code == 409 and response.json()["code"] == "invoice_not_open"


def test_who_may_see_and_decide_adjustments(money, as_user):
    url = f"{V1}/adjustments/{money.adjustment.pk}/"
    assert as_user("finance").get(url).status_code == 200
    assert as_user("admin").get(url).status_code == 200
    assert as_user("office").get(url).status_code == 403  # office staff hold no adjustment permission
    assert as_user("parent").get(url).status_code == 403
    assert as_user("office").post(f"{url}approve/", {}, format="json").status_code == 403
    assert as_user("anonymous").get(url).status_code == 401
    assert as_user("finance").patch(url, {"amount": "1.00"}, format="json").status_code == 405


def test_the_adjustment_list_costs_the_same_whatever_its_length(money, as_user, django_assert_max_num_queries):
    client = as_user("approver")
    for rows in (3, 30):
        while Adjustment.objects.count() < rows:
            as_user("finance").post(
                f"{V1}/adjustments/",
                {"invoice": str(money.invoice.pk), "kind": "discount", "amount": "1.00", "reason": "r"},
                format="json",
            )
        with django_assert_max_num_queries(7):
            response = client.get(f"{V1}/adjustments/?page_size=100&status=requested")
        assert response.json()["count"] >= rows
