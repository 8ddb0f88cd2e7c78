"""``Idempotency-Key`` on every API write that creates money or starts a job (docs/api.md):
invoices, adjustments, billing runs, session packages and refunds (payments keep their
own key, tests/finance/test_api_payments.py). The same key and body answer the first
response and write nothing; the same key with another body is 409
``idempotency_key_reused``; a refused request leaves the key free."""

import datetime
import threading
from decimal import Decimal as D

import pytest
from django.db import connections

from academy.common.models import IdempotencyRecord
from finance.models import BillingRun, Invoice
from finance.selectors import ledger_verify
from tests.factories.academy import finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeTypeFactory
from tests.finance.api_fixtures import V1, money_rows

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def rows() -> dict:
    return {**money_rows(), "BillingRun": BillingRun.objects.count()}


def _invoice(money, amount="12.50"):
    return {"student": str(money.child.pk), "lines": [{"fee_type": str(money.fee_type.pk), "unit_amount": amount}]}


BODIES = {
    "invoices": (_invoice, lambda money: _invoice(money, "13.00"), 201),
    "adjustments": (
        lambda money: {"invoice": str(money.invoice.pk), "kind": "late_fee", "amount": "7.50", "reason": "Late"},
        lambda money: {"invoice": str(money.invoice.pk), "kind": "late_fee", "amount": "8.00", "reason": "Late"},
        201,
    ),
    "billing-runs": (
        lambda money: {"location": str(money.location.pk), "period": "2031-09", "issue_date": TODAY.isoformat()},
        lambda money: {"location": str(money.location.pk), "period": "2031-10", "issue_date": TODAY.isoformat()},
        202,
    ),
    "session-packages": (
        lambda money: {"student": str(money.child.pk), "sessions": 5, "price": "75.50"},
        lambda money: {"student": str(money.child.pk), "sessions": 6, "price": "75.50"},
        201,
    ),
}


@pytest.mark.parametrize("resource", sorted(BODIES))
def test_a_retry_answers_the_first_response_and_writes_nothing(resource, money, as_user):
    body, _other, status = BODIES[resource]
    client = as_user("finance")

    first = client.post(f"{V1}/{resource}/", body(money), format="json", HTTP_IDEMPOTENCY_KEY=f"{resource}-1")
    assert first.status_code == status, first.content
    after_first = rows()
    again = client.post(f"{V1}/{resource}/", body(money), format="json", HTTP_IDEMPOTENCY_KEY=f"{resource}-1")

    assert again.status_code == status and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert rows() == after_first
    assert "Idempotent-Replayed" not in first


@pytest.mark.parametrize("resource", sorted(BODIES))
def test_the_same_key_with_another_body_is_a_409_and_writes_nothing(resource, money, as_user):
    body, other, status = BODIES[resource]
    client = as_user("finance")
    assert client.post(f"{V1}/{resource}/", body(money), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == status
    before = rows()

    response = client.post(f"{V1}/{resource}/", other(money), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert rows() == before


def test_a_refused_request_leaves_the_key_free(money, as_user):
    client = as_user("finance")
    bad = {"student": str(money.child.pk), "lines": [{"fee_type": str(money.fee_type.pk), "unit_amount": "-1"}]}
    assert client.post(f"{V1}/invoices/", bad, format="json", HTTP_IDEMPOTENCY_KEY="fix-and-retry").status_code == 400
    assert not IdempotencyRecord.objects.exists()

    fixed = client.post(f"{V1}/invoices/", _invoice(money), format="json", HTTP_IDEMPOTENCY_KEY="fix-and-retry")

    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed


def test_keys_are_per_user(money, as_user):
    first = as_user("finance").post(f"{V1}/invoices/", _invoice(money), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == 201
    invoices = Invoice.objects.count()
    # another user's request with the same key is their own write
    other = as_user("admin").post(f"{V1}/invoices/", _invoice(money), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert Invoice.objects.count() == invoices + 1


def test_a_key_longer_than_100_characters_is_a_400(money, as_user):
    before = rows()
    response = as_user("finance").post(
        f"{V1}/invoices/", _invoice(money), format="json", HTTP_IDEMPOTENCY_KEY="k" * 101
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert rows() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_issue_one_invoice(location, client_for):
    student = StudentFactory(location=location)
    fee_type = FeeTypeFactory(code="TUITION")
    cashier = finance_user(username="cashier-idem-threads")
    body = {"student": str(student.pk), "lines": [{"fee_type": str(fee_type.pk), "unit_amount": "40.00"}]}
    answers, errors = [], []

    def post():
        try:
            response = client_for(cashier).post(f"{V1}/invoices/", body, format="json", HTTP_IDEMPOTENCY_KEY="one")
            answers.append((response.status_code, response.json().get("id")))
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
    assert {status for status, _id in answers} == {201} and len(answers) == 20
    assert len({invoice_id for _status, invoice_id in answers}) == 1
    assert Invoice.objects.filter(student=student).count() == 1
    assert Invoice.objects.get(student=student).total == D("40.00")
    assert ledger_verify().problems == []
