"""Recording a payment in the staff portal (one payment per form, whatever the number of
posts), its receipt, and reversing it. Uses the ``money`` academy of
``tests/finance/api_fixtures.py``."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from finance.models import LedgerEntry, Payment, PaymentAllocation, PaymentReversal
from tests.finance.api_fixtures import money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form_key(client, **query) -> str:
    body = client.get(reverse("staff:finance-payment-new"), query).content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)


def test_the_form_preselects_the_student_and_offers_only_visible_ones(money):
    client = client_for(money.users["office"])
    response = client.get(reverse("staff:finance-payment-new"), {"student": money.child.pk})
    form = response.context["form"]
    assert form.initial["student"] == money.child
    assert set(form.fields["student"].queryset) == {money.child, money.children[1], money.other_child}
    assert money.north_child not in form.fields["student"].queryset
    # a student out of scope is simply not preselected
    other = client_for(money.users["other_office"]).get(
        reverse("staff:finance-payment-new"), {"student": money.child.pk}
    )
    assert other.context["form"].initial["student"] is None


@pytest.mark.parametrize("query", [{"student": "junk"}, {"guardian": "12"}, {"student": "1", "guardian": "x"}])
def test_an_id_that_is_not_one_preselects_nothing_and_is_no_500(money, query):
    response = client_for(money.users["office"]).get(reverse("staff:finance-payment-new"), query)
    assert response.status_code == 200
    assert response.context["form"].initial.get("student") is None
    assert response.context["form"].initial.get("guardian") is None


def test_a_student_typed_without_javascript_gets_their_open_invoices(money):
    # given the picker's text box only (no script filled in the chosen id)
    client = client_for(money.users["office"])
    data = {"student_text": money.child.student_number, "amount": "", "method": "cash"}
    # when the form is posted back
    response = client.post(reverse("staff:finance-payment-new"), data)
    # then the allocation section offers the child's open invoice
    form = response.context["form"]
    assert [invoice for invoice, _field in form.allocation_fields()] == [money.invoice]


def test_recording_a_payment_twice_with_the_same_form_makes_one_payment(money):
    client = client_for(money.users["office"])
    key = _form_key(client, student=money.child.pk)
    assert key != _form_key(client)  # every form shown gets its own key
    data = {
        "student": money.child.pk,
        "amount": "60.00",
        "method": "cash",
        "reference": "Desk",
        "notes": "",
        "idempotency_key": key,
    }
    payments = Payment.objects.count()
    first = client.post(reverse("staff:finance-payment-new"), data)
    second = client.post(reverse("staff:finance-payment-new"), data)
    assert Payment.objects.count() == payments + 1
    payment = Payment.objects.get(idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("staff:finance-payment-detail", args=[payment.pk])
    assert payment.collected_by == money.users["office"] and payment.amount == Decimal("60.00")
    money.invoice.refresh_from_db()
    assert money.invoice.amount_paid == Decimal("100.00")

    page = client.get(first["Location"])
    body = page.content.decode()
    assert payment.receipt_number in body
    assert reverse("staff:finance-payment-receipt", args=[payment.pk]) in body
    receipt = client.get(reverse("staff:finance-payment-receipt", args=[payment.pk]))
    assert receipt["Content-Type"] == "application/pdf" and receipt.content.startswith(b"%PDF")


def test_the_same_key_with_another_amount_is_refused(money):
    client = client_for(money.users["finance"])
    key = _form_key(client)
    base = {"student": money.child.pk, "method": "cash", "idempotency_key": key}
    client.post(reverse("staff:finance-payment-new"), {**base, "amount": "10.00"})
    rows = money_rows()
    response = client.post(reverse("staff:finance-payment-new"), {**base, "amount": "20.00"})
    assert response.status_code == 400
    assert "This Idempotency-Key was used for a different request." in response.content.decode()
    assert money_rows() == rows


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5.00", "The amount must be greater than zero."),
        ("0", "The amount must be greater than zero."),
        ("12.345", "Use at most 2 decimal places."),
        ("lots", "Enter an amount such as 150.00."),
    ],
)
def test_an_invalid_amount_is_a_field_error_and_writes_nothing(amount, message, money):
    client = client_for(money.users["office"])
    rows = money_rows()
    response = client.post(
        reverse("staff:finance-payment-new"),
        {"student": money.child.pk, "amount": amount, "method": "cash", "idempotency_key": _form_key(client)},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in errors["amount"]
    assert '<p class="field-error">' in response.content.decode()
    assert money_rows() == rows


def test_nobody_to_pay_for_and_out_of_scope_students_are_refused(money):
    client = client_for(money.users["other_office"])
    rows = money_rows()
    response = client.post(
        reverse("staff:finance-payment-new"),
        {"amount": "5.00", "method": "cash", "idempotency_key": "a"},
    )
    assert response.status_code == 400 and "student" in response.context["form"].errors
    response = client.post(
        reverse("staff:finance-payment-new"),
        {"student": money.child.pk, "amount": "5.00", "method": "cash", "idempotency_key": "b"},
    )
    assert response.status_code == 400 and "student" in response.context["form"].errors
    assert money_rows() == rows


def test_a_family_payment_by_the_paying_guardian(money):
    client = client_for(money.users["finance"])
    response = client.post(
        reverse("staff:finance-payment-new"),
        {"guardian": money.guardian.pk, "amount": "30.00", "method": "card", "idempotency_key": _form_key(client)},
    )
    assert response.status_code == 302
    payment = Payment.objects.get(amount=Decimal("30.00"))
    assert payment.student is None and payment.payer == money.guardian


def test_reversing_a_payment_needs_a_reason(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-payment-reverse", args=[money.payment.pk])
    rows = money_rows()
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "This field is required." in response.context["reverse_form"].errors["reason"]
    assert money_rows() == rows

    response = client.post(url, {"reason": "Entered twice"}, follow=True)
    assert PaymentReversal.objects.filter(payment=money.payment, reason="Entered twice").exists()
    assert "was reversed" in response.content.decode()
    money.invoice.refresh_from_db()
    assert money.invoice.amount_paid == Decimal("0.00")
    assert PaymentAllocation.objects.filter(payment=money.payment, kind="reversal").exists()

    entries = LedgerEntry.objects.count()
    again = client.post(url, {"reason": "Again"}, follow=True)
    assert "This payment is already reversed." in again.content.decode()
    assert LedgerEntry.objects.count() == entries


def test_office_staff_record_but_may_not_reverse(money):
    client = client_for(money.users["office"])
    response = client.get(reverse("staff:finance-payment-detail", args=[money.payment.pk]))
    assert reverse("staff:finance-payment-reverse", args=[money.payment.pk]) not in response.content.decode()
    assert (
        client.post(reverse("staff:finance-payment-reverse", args=[money.payment.pk]), {"reason": "x"}).status_code
        == 403
    )
    assert not PaymentReversal.objects.exists()
