"""What one payment costs: its queries, and how few of them run while the receipt
number series is locked (from ``number_next`` to the commit, concurrent payments wait)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance import services
from finance.models import Invoice, LedgerEntry, Payment
from finance.selectors import ledger_verify
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

# Measured (SQLite test settings): 54 service / 61 API queries before the receipt number
# was taken last and the redundant reads were cut; 39 / 46 after; 19 / 26 once the
# receipt's notification stopped querying for what its caller had just read (its rows and
# its check constraints), the number series answered its value in the UPDATE and the
# guardian's portal login came with the link; 19 / 24 once the API answered a new payment
# from memory instead of reading it back.
SERVICE_QUERIES = 19
API_QUERIES = 24
# From the number series UPDATE to the end, savepoints aside: the number (1), the payment,
# its allocation, its ledger entry and account (4), and the receipt notification with its
# delivery (2). Before: 23, the invoice look-ups and updates and the reads of the
# receipt's recipient included; then 16.
LOCKED_QUERIES = 7


def _statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def test_recording_a_payment_takes_a_fixed_number_of_queries(money):
    # given a warm connection and a student with an open invoice
    services.payment_record(actor=money.users["finance"], student=money.other_child, amount="1.00", method="cash")
    # when a cash payment is recorded
    with CaptureQueriesContext(connection) as queries:
        services.payment_record(
            actor=money.users["finance"],
            student=money.child,
            amount="1.00",
            method="cash",
            idempotency_key="queries-1",
            fingerprint="f",
        )
    # then it costs no more queries than measured
    assert len(queries.captured_queries) <= SERVICE_QUERIES, "\n".join(_statements(queries))


def test_the_receipt_number_is_taken_last(money):
    # when a payment is recorded
    with CaptureQueriesContext(connection) as queries:
        payment = services.payment_record(
            actor=money.users["finance"], student=money.child, amount="5.00", method="cash"
        ).payment
    statements = _statements(queries)
    number = next(i for i, sql in enumerate(statements) if sql.startswith('UPDATE "common_numbersequence"'))
    # then every read and the invoice update come before the number series is locked
    before, after = statements[:number], statements[number:]
    assert any(sql.startswith('UPDATE "finance_invoice"') for sql in before)
    assert any('FROM "families_studentguardian"' in sql for sql in before)  # the receipt's recipient
    assert not any(sql.startswith('UPDATE "finance_invoice"') for sql in after)
    assert len(after) <= LOCKED_QUERIES, "\n".join(after)
    # and the payment is whole: numbered, allocated, in the ledger
    assert payment.receipt_number.startswith("RCT-")
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    money.invoice.refresh_from_db()
    assert money.invoice.amount_paid == money.payment.amount + payment.amount
    assert ledger_verify().problems == []


def test_the_api_records_a_payment_in_a_fixed_number_of_queries(money, as_user):
    client = as_user("finance")
    body = {"student": str(money.other_child.pk), "amount": "1.00", "method": "cash"}
    assert client.post(f"{V1}/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="warm").status_code == 201
    body = {"student": str(money.child.pk), "amount": "1.00", "method": "cash"}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{V1}/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="api-queries")
    assert response.status_code == 201, response.content
    assert len(queries.captured_queries) <= API_QUERIES, "\n".join(_statements(queries))


def test_a_lost_idempotency_race_rolls_back_the_invoice_and_the_number(money, monkeypatch):
    # given a first payment under a key
    first = services.payment_record(
        actor=money.users["finance"], student=money.child, amount="2.00", method="cash", idempotency_key="race"
    ).payment
    paid_before = Invoice.objects.get(pk=money.invoice.pk).amount_paid
    payments_before = Payment.objects.count()
    # when a concurrent request with the same key got past the first look-up (simulated:
    # the look-up misses once) and then loses the insert to the unique key
    real_filter = Payment.objects.filter
    calls = {"n": 0}

    def filter_missing_once(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        if kwargs.get("idempotency_key") == "race" and calls["n"] == 0:
            calls["n"] += 1
            return queryset.none()
        return queryset

    monkeypatch.setattr(Payment.objects, "filter", filter_missing_once)
    result = services.payment_record(
        actor=money.users["finance"], student=money.child, amount="2.00", method="cash", idempotency_key="race"
    )
    # then the first payment is answered and nothing of the second attempt remains
    assert calls["n"] == 1
    assert result.created is False and result.payment.pk == first.pk
    assert Payment.objects.count() == payments_before
    assert Invoice.objects.get(pk=money.invoice.pk).amount_paid == paid_before
    next_payment = services.payment_record(
        actor=money.users["finance"], student=money.child, amount="1.00", method="cash"
    ).payment
    assert int(next_payment.receipt_number[-6:]) == int(first.receipt_number[-6:]) + 1  # no gap
    assert ledger_verify().problems == []


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "200.00", "method": "cash", "confirm_overpayment": True},  # its invoice and then account credit
        {"amount": "30.00", "method": "cheque"},  # nothing allocated until it clears
    ],
)
def test_the_answer_to_a_new_payment_is_the_payment_as_read_back(money, as_user, body):
    # the create answer is built from memory, not read back: it must equal a read
    client = as_user("finance")
    response = client.post(f"{V1}/payments/", {"student": str(money.child.pk), **body}, format="json")
    assert response.status_code == 201
    assert client.get(f"{V1}/payments/{response.json()['id']}/").json() == response.json()


def test_the_answer_to_a_family_payment_is_the_payment_as_read_back(money, as_user):
    client = as_user("finance")
    body = {"guardian": str(money.guardian.pk), "amount": "500.00", "method": "card", "confirm_overpayment": True}
    response = client.post(f"{V1}/payments/", body, format="json")
    assert response.status_code == 201 and len(response.json()["allocations"]) >= 2
    assert client.get(f"{V1}/payments/{response.json()['id']}/").json() == response.json()
