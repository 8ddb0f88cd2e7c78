"""payments/: append-only money through the API, with Idempotency-Key replay and conflict,
receipts, reversals and verification."""

import threading
from decimal import Decimal as D

import pytest
from django.db import connections

from finance.models import Invoice, Payment, PaymentReversal
from finance.selectors import account_balance, ledger_verify
from tests.factories.academy import finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, money_rows

pytestmark = pytest.mark.django_db


def _body(money, **changes):
    return {"student": str(money.child.pk), "amount": "25.00", "method": "cash", "reference": "desk", **changes}


def test_recording_a_payment_allocates_it_and_answers_the_receipt_number(money, as_user):
    # given the child's invoice with 110.00 open (150.00 - 40.00)
    client = as_user("finance")
    # when the cashier records 25.00
    response = client.post(f"{V1}/payments/", _body(money), format="json")
    # then the payment is numbered, allocated to the invoice and shown with money as strings
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["receipt_number"].startswith("RCT-")
    assert data["amount"] == "25.00"
    assert data["method"] == "cash"
    assert data["verification"] == "not_required" and data["reversed"] is False
    assert [(a["invoice_number"], a["amount"], a["kind"]) for a in data["allocations"]] == [
        (money.invoice.invoice_number, "25.00", "payment")
    ]
    money.invoice.refresh_from_db()
    assert money.invoice.amount_paid == D("65.00") and money.invoice.status == Invoice.Status.PARTIAL
    assert account_balance(student=money.child) == D("85.00")
    assert ledger_verify().problems == []


def test_a_family_payment_by_guardian_spreads_over_the_children(money, as_user):
    second_invoice = issue(money.children[1], "30.00")
    body = {"guardian": str(money.guardian.pk), "amount": "140.00", "method": "card"}
    response = as_user("finance").post(f"{V1}/payments/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["student"] is None and data["guardian"] == str(money.guardian.pk)
    covered = {a["invoice_number"]: a["amount"] for a in data["allocations"]}
    assert covered == {money.invoice.invoice_number: "110.00", second_invoice.invoice_number: "30.00"}


def test_explicit_allocations_are_followed_and_the_rest_becomes_credit(money, as_user):
    body = _body(money, amount="50.00", allocations=[{"invoice": str(money.invoice.pk), "amount": "20.00"}])
    response = as_user("finance").post(f"{V1}/payments/", body, format="json")
    assert response.status_code == 201, response.content
    kinds = sorted((a["invoice"] is None, a["amount"]) for a in response.json()["allocations"])
    assert kinds == [(False, "20.00"), (True, "30.00")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "10.005"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"method": "barter"}, "method"),
        ({"student": None}, "student"),
        ({"student": "00000000-0000-0000-0000-000000000000"}, "student"),
        ({"student": "not-a-uuid"}, "student"),
        (
            {"allocations": [{"invoice": "00000000-0000-0000-0000-000000000000", "amount": "5.00"}]},
            "allocations[0].invoice",
        ),
        ({"allocations": [{"amount": "5.00"}]}, "allocations[0].invoice"),
    ],
)
def test_bad_input_is_a_field_error_and_writes_nothing(money, as_user, changes, field):
    before = money_rows()
    response = as_user("finance").post(f"{V1}/payments/", _body(money, **changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert money_rows() == before


def test_allocations_beyond_the_payment_or_to_another_family_are_refused(money, as_user):
    client = as_user("finance")
    before = money_rows()
    too_much = _body(money, allocations=[{"invoice": str(money.invoice.pk), "amount": "30.00"}])
    response = client.post(f"{V1}/payments/", too_much, format="json")
    assert response.status_code == 400 and "allocations" in response.json()
    elsewhere = _body(money, allocations=[{"invoice": str(money.other_invoice.pk), "amount": "5.00"}])
    response = client.post(f"{V1}/payments/", elsewhere, format="json")
    assert response.status_code == 400 and "allocations[0].invoice" in response.json()
    assert money_rows() == before


def test_a_student_outside_the_callers_locations_is_a_field_error(money, client_for, other_location):
    north_cashier = finance_user(username="north-cashier")
    north_cashier.locations.add(other_location)
    before = money_rows()
    response = client_for(north_cashier).post(f"{V1}/payments/", _body(money), format="json")
    assert response.status_code == 400 and "student" in response.json()
    assert money_rows() == before


def test_the_same_idempotency_key_and_body_replays_the_first_payment(money, as_user):
    client = as_user("finance")
    first = client.post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    count = Payment.objects.count()
    again = client.post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["receipt_number"] == first.json()["receipt_number"]
    assert Payment.objects.count() == count
    assert account_balance(student=money.child) == D("85.00")


def test_the_same_idempotency_key_with_another_body_is_a_conflict(money, as_user, client_for):
    client = as_user("finance")
    client.post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    before = money_rows()
    response = client.post(f"{V1}/payments/", _body(money, amount="26.00"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    # another user with the same key and body does not get the first user's payment either
    response = as_user("approver").post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_reused"
    assert money_rows() == before


def test_an_overlong_idempotency_key_is_a_field_error(money, as_user):
    before = money_rows()
    response = as_user("finance").post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert money_rows() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_payments_cannot_be_changed_or_deleted(money, as_user, method):
    response = getattr(as_user("finance"), method)(f"{V1}/payments/{money.payment.pk}/", {}, format="json")
    assert response.status_code == 405
    assert Payment.objects.filter(pk=money.payment.pk, amount=D("40.00")).exists()


def test_the_receipt_is_a_pdf(money, as_user):
    response = as_user("finance").get(f"{V1}/payments/{money.payment.pk}/receipt/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert money.payment.receipt_number in response["Content-Disposition"]


def test_a_parent_gets_their_own_receipt_but_not_another_familys(money, as_user):
    assert as_user("parent").get(f"{V1}/payments/{money.payment.pk}/receipt/").status_code == 200
    assert as_user("other_parent").get(f"{V1}/payments/{money.payment.pk}/receipt/").status_code == 404


def test_reversing_a_payment_keeps_it_and_puts_the_money_back(money, as_user):
    client = as_user("finance")
    response = client.post(f"{V1}/payments/{money.payment.pk}/reverse/", {"reason": "Bounced"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["reversed"] is True and data["amount"] == "40.00"
    assert sorted(a["amount"] for a in data["allocations"]) == ["-40.00", "40.00"]
    assert account_balance(student=money.child) == D("150.00")
    # twice is a conflict; without a reason is a field error; neither writes anything
    before = money_rows()
    again = client.post(f"{V1}/payments/{money.payment.pk}/reverse/", {"reason": "Again"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"
    no_reason = client.post(f"{V1}/payments/{money.north_payment.pk}/reverse/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    assert money_rows() == before
    assert PaymentReversal.objects.count() == 1


def test_office_staff_record_payments_but_cannot_reverse_them(money, as_user):
    client = as_user("office")
    assert client.post(f"{V1}/payments/", _body(money), format="json").status_code == 201
    response = client.post(f"{V1}/payments/{money.payment.pk}/reverse/", {"reason": "x"}, format="json")
    assert response.status_code == 403


def test_a_cheque_waits_for_verification_before_it_reaches_the_account(money, as_user):
    client = as_user("finance")
    response = client.post(f"{V1}/payments/", _body(money, method="cheque", amount="30.00"), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["verification"] == "pending" and data["allocations"] == []
    assert account_balance(student=money.child) == D("110.00")
    verified = client.post(f"{V1}/payments/{data['id']}/verify/", {"cleared": True}, format="json")
    assert verified.status_code == 200, verified.content
    assert verified.json()["verification"] == "cleared"
    assert account_balance(student=money.child) == D("80.00")
    again = client.post(f"{V1}/payments/{data['id']}/verify/", {"cleared": True}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_verified"


def test_lists_are_scoped_and_filterable(money, as_user):
    ids = lambda response: {row["id"] for row in response.json()["results"]}  # noqa: E731
    assert ids(as_user("parent").get(f"{V1}/payments/")) == {str(money.payment.pk)}
    assert ids(as_user("other_parent").get(f"{V1}/payments/")) == set()
    assert ids(as_user("office").get(f"{V1}/payments/")) == {str(money.payment.pk)}
    assert ids(as_user("other_office").get(f"{V1}/payments/")) == {str(money.north_payment.pk)}
    finance = as_user("finance")
    assert ids(finance.get(f"{V1}/payments/")) == {str(money.payment.pk), str(money.north_payment.pk)}
    assert ids(finance.get(f"{V1}/payments/?student={money.north_child.pk}")) == {str(money.north_payment.pk)}
    assert ids(finance.get(f"{V1}/payments/?location={money.location.pk}")) == {str(money.payment.pk)}
    assert ids(finance.get(f"{V1}/payments/?method=card")) == set()
    assert finance.get(f"{V1}/payments/?student=nope").status_code == 400
    assert as_user("other_office").get(f"{V1}/payments/{money.payment.pk}/").status_code == 404


@pytest.mark.parametrize("actor", ["finance", "parent"])
def test_the_payment_list_costs_the_same_whatever_its_length(money, as_user, django_assert_max_num_queries, actor):
    client = as_user(actor)
    for rows in (3, 30):
        while Payment.objects.filter(student=money.child).count() < rows:
            issue(money.child, "5.00")
            client_finance = as_user("finance")
            client_finance.post(f"{V1}/payments/", _body(money, amount="5.00"), format="json")
        with django_assert_max_num_queries(9):
            response = client.get(f"{V1}/payments/?page_size=100")
        assert response.status_code == 200
        assert response.json()["count"] >= rows


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_idempotency_key_record_one_payment(location, client_for):
    student = StudentFactory(location=location)
    cashier = finance_user(username="cashier-threads")
    issue(student, "100.00")
    body = {"student": str(student.pk), "amount": "60.00", "method": "cash"}
    statuses, errors = [], []

    def post():
        try:
            client = client_for(cashier)
            response = client.post(f"{V1}/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
            statuses.append((response.status_code, response.json().get("id")))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(statuses) == 20
    assert {status for status, _id in statuses} == {201}
    assert len({payment_id for _status, payment_id in statuses}) == 1
    assert Payment.objects.count() == 1
    assert account_balance(student=student) == D("40.00")
    assert ledger_verify().problems == []
