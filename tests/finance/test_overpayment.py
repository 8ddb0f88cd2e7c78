"""A payment above what is owed asks for confirmation before the rest becomes account
credit: the service refuses it (``overpayment_unconfirmed`` on ``amount``, naming what
is owed and the credit it would leave) unless ``confirm_overpayment``; the staff form
then offers a confirmation box, the API a ``confirm_overpayment`` field. Uses the
``money`` academy: the child owes 110.00 (150.00 invoiced, 40.00 paid)."""

import re
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from finance import services
from finance.models import Payment
from finance.selectors import account_balance, ledger_verify
from finance.services.ledger import credit_available
from tests.factories.families import StudentFactory
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def test_an_amount_above_what_is_owed_is_refused_without_confirmation(money):
    # given a student who owes 110.00
    before = money_rows()
    # when 150.00 is recorded without confirmation
    with pytest.raises(ValidationError) as refused:
        services.payment_record(actor=money.users["finance"], student=money.child, amount="150.00", method="cash")
    # then the service says what is owed and what credit it would leave, and writes nothing
    error = refused.value.error_dict["amount"][0]
    assert error.code == "overpayment_unconfirmed"
    assert "owes USD 110.00" in error.message and "USD 40.00 as account credit" in error.message
    assert money_rows() == before


def test_a_confirmed_overpayment_becomes_credit(money):
    result = services.payment_record(
        actor=money.users["finance"], student=money.child, amount="150.00", method="cash", confirm_overpayment=True
    )
    assert result.created and result.payment.amount == D("150.00")
    assert account_balance(student=money.child) == D("-40.00") and credit_available(money.child.pk) == D("40.00")
    assert ledger_verify().problems == []


def test_paying_exactly_what_is_owed_needs_no_confirmation(money):
    result = services.payment_record(actor=money.users["finance"], student=money.child, amount="110.00", method="cash")
    assert result.created and account_balance(student=money.child) == D("0.00")


def test_a_student_owing_nothing_needs_confirmation_for_any_amount(money, location):
    newcomer = StudentFactory(location=location)
    with pytest.raises(ValidationError) as refused:
        services.payment_record(actor=money.users["finance"], student=newcomer, amount="0.01", method="cash")
    assert "Nothing is owed" in refused.value.message_dict["amount"][0]


def test_a_family_payment_counts_what_every_child_owes_and_a_cheque_too(money):
    # the parent's children owe 110.00 (the first) and nothing (the second)
    with pytest.raises(ValidationError) as refused:
        services.payment_record(actor=money.users["finance"], payer=money.guardian, amount="110.01", method="cheque")
    message = refused.value.message_dict["amount"][0]
    # a family's children may be at locations the person recording cannot see: no sums
    assert "more than the family owes" in message and "USD" not in message
    result = services.payment_record(
        actor=money.users["finance"], payer=money.guardian, amount="110.00", method="cheque"
    )
    assert result.created


def test_a_replay_of_a_confirmed_payment_needs_no_confirmation_again(money):
    cashier = money.users["finance"]
    first = services.payment_record(
        actor=cashier, student=money.child, amount="500", method="cash", idempotency_key="k1", confirm_overpayment=True
    )
    again = services.payment_record(
        actor=cashier, student=money.child, amount="500", method="cash", idempotency_key="k1"
    )
    assert not again.created and again.payment == first.payment


# --- the API ------------------------------------------------------------------------------


def _body(money, **changes):
    return {"student": str(money.child.pk), "amount": "150.00", "method": "cash", **changes}


def test_the_api_answers_400_on_amount_without_confirmation(money, as_user):
    before = money_rows()
    response = as_user("finance").post(f"{V1}/payments/", _body(money), format="json")
    assert response.status_code == 400
    assert "USD 40.00 as account credit" in response.json()["amount"][0]
    assert money_rows() == before


def test_the_api_records_a_confirmed_overpayment_and_replays_it_with_or_without_the_flag(money, as_user):
    client = as_user("finance")
    first = client.post(
        f"{V1}/payments/", _body(money, confirm_overpayment=True), format="json", HTTP_IDEMPOTENCY_KEY="over-1"
    )
    assert first.status_code == 201, first.content
    after = money_rows()
    # a retry that drops the flag is the same request: the first payment, nothing new
    again = client.post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="over-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and money_rows() == after
    assert credit_available(money.child.pk) == D("40.00")


def test_a_refused_overpayment_leaves_its_key_free_for_the_confirmed_retry(money, as_user):
    client = as_user("finance")
    refused = client.post(f"{V1}/payments/", _body(money), format="json", HTTP_IDEMPOTENCY_KEY="over-2")
    assert refused.status_code == 400
    confirmed = client.post(
        f"{V1}/payments/", _body(money, confirm_overpayment=True), format="json", HTTP_IDEMPOTENCY_KEY="over-2"
    )
    assert confirmed.status_code == 201 and "Idempotent-Replayed" not in confirmed


# --- the staff form -----------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_staff_form_asks_to_confirm_then_records_the_credit(money):
    client = _client(money.users["finance"])
    url = reverse("staff:finance-payment-new")
    page = client.get(url).content.decode()
    assert 'name="confirm_overpayment"' not in page  # not asked before it matters
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    data = {"student": money.child.pk, "amount": "150.00", "method": "cash", "idempotency_key": key}
    # when 150.00 is posted for 110.00 owed
    asked = client.post(url, data)
    # then the form explains and offers the confirmation box, and nothing is recorded
    assert asked.status_code == 400
    assert "USD 40.00 as account credit" in asked.context["form"].errors["amount"][0]
    assert 'name="confirm_overpayment"' in asked.content.decode()
    assert not Payment.objects.filter(idempotency_key=key).exists()
    # when the box is ticked, the payment is recorded and the rest is credit
    recorded = client.post(url, {**data, "confirm_overpayment": "on"})
    assert recorded.status_code == 302
    assert Payment.objects.get(idempotency_key=key).amount == D("150.00")
    assert credit_available(money.child.pk) == D("40.00")
