"""Given/when/then tests of the bookkeeping rules: invoices, payments, credit, reversals,
refunds, cancellations. Every test ends with the ledger proving itself."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from academy.common.exceptions import Conflict
from finance import services
from finance.models import Invoice, LedgerEntry, Payment, PaymentAllocation
from finance.selectors import account_balance, ledger_verify
from students.services import student_soft_delete
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ledger_proves_itself():
    yield
    report = ledger_verify()
    assert report.problems == []


def test_issuing_an_invoice_numbers_it_and_posts_each_line(student, cashier):
    invoice = issue(student, "100.00", "50.50", actor=cashier)
    assert invoice.invoice_number.startswith(f"INV-{datetime.date.today().year}-")
    assert len(invoice.invoice_number.split("-")[-1]) == 6
    assert invoice.total == D("150.50") and invoice.status == Invoice.Status.PENDING
    assert invoice.billed_to == student.guardian_links.get().guardian
    entries = list(LedgerEntry.objects.filter(account_id=student.pk))
    assert [e.amount for e in entries] == [D("100.00"), D("50.50")]
    assert [(e.balance_before, e.balance_after) for e in entries] == [(D(0), D("100.00")), (D("100.00"), D("150.50"))]
    assert account_balance(student=student) == D("150.50")


def test_a_payment_pays_the_oldest_due_invoice_first_and_keeps_the_rest_as_credit(student, cashier):
    older = issue(student, "100.00", due_date=datetime.date.today() + datetime.timedelta(days=5))
    newer = issue(student, "80.00", due_date=datetime.date.today() + datetime.timedelta(days=30))
    result = services.payment_record(
        actor=cashier, student=student, amount="200.00", method="cash", confirm_overpayment=True
    )
    older.refresh_from_db()
    newer.refresh_from_db()
    assert result.payment.receipt_number.startswith("RCT-")
    assert older.status == Invoice.Status.PAID and older.paid_date == datetime.date.today()
    assert newer.status == Invoice.Status.PAID
    assert account_balance(student=student) == D("-20.00")  # 20.00 account credit
    # the credit pays the next invoice as soon as it is issued
    third = issue(student, "50.00")
    assert third.amount_paid == D("20.00") and third.status == Invoice.Status.PARTIAL
    assert account_balance(student=student) == D("30.00")


def test_a_partial_payment_leaves_the_invoice_partial(student, cashier):
    invoice = issue(student, "100.00")
    services.payment_record(actor=cashier, student=student, amount="40", method="card")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIAL and invoice.balance == D("60.00") and invoice.paid_date is None


def test_explicit_allocations_are_honoured(student, cashier):
    first, second = issue(student, "100.00"), issue(student, "100.00")
    services.payment_record(
        actor=cashier, student=student, amount="100", method="cash", allocations=[(second, "70.00")]
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.amount_paid == 0 and second.amount_paid == D("70.00")
    assert PaymentAllocation.objects.filter(invoice__isnull=True).get().amount == D("30.00")


def test_allocations_beyond_the_payment_or_to_another_family_are_refused(student, cashier, location):
    invoice = issue(student, "100.00")
    other = issue(StudentFactory(location=location), "100.00")
    with pytest.raises(ValidationError) as error:
        services.payment_record(
            actor=cashier,
            student=student,
            amount="50",
            method="cash",
            allocations=[(invoice, "60.00"), (other, "1.00")],
        )
    assert {"allocations", "allocations[1].invoice"} <= set(error.value.message_dict)
    assert not Payment.objects.exists()


def test_a_family_payment_is_spread_over_every_child_the_guardian_pays_for(location, cashier):
    guardian = GuardianFactory()
    anna, ben = (StudentFactory(location=location, primary_guardian=guardian) for _ in range(2))
    issue(anna, "100.00", due_date=datetime.date.today() + datetime.timedelta(days=3))
    issue(ben, "100.00", due_date=datetime.date.today() + datetime.timedelta(days=10))
    services.payment_record(actor=cashier, payer=guardian, amount="150.00", method="online")
    assert account_balance(student=anna) == D("0.00")
    assert account_balance(student=ben) == D("50.00")


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "1.234", None, "1e20"])
def test_bad_amounts_are_refused_and_nothing_is_written(student, cashier, bad):
    with pytest.raises(ValidationError) as error:
        services.payment_record(actor=cashier, student=student, amount=bad, method="cash")
    assert "amount" in error.value.message_dict
    assert not Payment.objects.exists()


def test_a_cheque_reaches_the_ledger_only_when_it_clears(student, cashier, approver):
    invoice = issue(student, "100.00")
    payment = services.payment_record(
        actor=cashier, student=student, amount="100", method="cheque", reference="CHQ 0042"
    ).payment
    assert payment.requires_verification
    assert account_balance(student=student) == D("100.00")
    services.payment_verify(payment=payment, actor=approver, cleared=True)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and account_balance(student=student) == D("0.00")
    with pytest.raises(Conflict) as error:
        services.payment_verify(payment=payment, actor=approver, cleared=True)
    assert error.value.code == "already_verified"


def test_a_rejected_transfer_never_reaches_the_ledger(student, cashier, approver):
    issue(student, "100.00")
    payment = services.payment_record(actor=cashier, student=student, amount="100", method="bank_transfer").payment
    services.payment_verify(payment=payment, actor=approver, cleared=False, note="not received")
    assert account_balance(student=student) == D("100.00")
    assert not PaymentAllocation.objects.exists()
    with pytest.raises(Conflict) as error:
        services.payment_reverse(payment=payment, actor=approver, reason="bounced")
    assert error.value.code == "payment_not_cleared"


def test_a_reversal_reopens_the_invoice_and_keeps_the_original_payment(student, cashier):
    invoice = issue(student, "100.00")
    payment = services.payment_record(
        actor=cashier, student=student, amount="120", method="cash", confirm_overpayment=True
    ).payment
    services.payment_reverse(payment=payment, actor=cashier, reason="recorded for the wrong family")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.paid_date is None and invoice.amount_paid == 0
    assert account_balance(student=student) == D("100.00")
    assert Payment.objects.filter(pk=payment.pk).exists()
    assert LedgerEntry.objects.filter(kind="reversal").get().amount == D("120.00")
    with pytest.raises(Conflict) as error:
        services.payment_reverse(payment=payment, actor=cashier, reason="again")
    assert error.value.code == "already_reversed"


def test_a_family_payment_is_reversed_after_a_child_it_paid_for_left(location, cashier):
    """A family payment covered two children; one has since left (deleted): reversing it
    puts the money back on both accounts (a KeyError and a 500 before: only the children
    still paid for were locked)."""
    guardian = GuardianFactory()
    anna, ben = (StudentFactory(location=location, primary_guardian=guardian) for _ in range(2))
    issue(anna, "100.00")
    issue(ben, "100.00")
    payment = services.payment_record(actor=cashier, payer=guardian, amount="150.00", method="online").payment
    student_soft_delete(student=anna, actor=cashier, reason="Moved away")

    services.payment_reverse(payment=payment, actor=cashier, reason="bounced")

    assert account_balance(student=anna) == D("100.00")
    assert account_balance(student=ben) == D("100.00")
    assert sum(a.amount for a in PaymentAllocation.objects.filter(payment=payment)) == D("0.00")
    assert ledger_verify().problems == []


def test_credit_can_be_refunded_but_never_more_than_the_credit(student, cashier):
    issue(student, "100.00")
    services.payment_record(actor=cashier, student=student, amount="150", method="cash", confirm_overpayment=True)
    with pytest.raises(Conflict) as error:
        services.refund_record(student=student, amount="60", method="cash", reason="overpaid", actor=cashier)
    assert error.value.code == "insufficient_credit"
    services.refund_record(student=student, amount="50", method="cash", reason="overpaid", actor=cashier)
    assert account_balance(student=student) == D("0.00")


def test_cancelling_an_invoice_reverses_it_and_turns_its_payments_into_credit(student, cashier):
    first = issue(student, "100.00")
    services.payment_record(actor=cashier, student=student, amount="60", method="cash")
    second = issue(student, "40.00")
    services.invoice_cancel(invoice=first, actor=cashier, reason="billed twice")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Invoice.Status.CANCELLED and first.amount_paid == 0
    assert second.status == Invoice.Status.PAID  # the released 60 paid the other invoice
    assert account_balance(student=student) == D("-20.00")
    with pytest.raises(Conflict):
        services.invoice_cancel(invoice=first, actor=cashier, reason="again")


def test_an_idempotency_key_never_records_a_payment_twice(student, cashier):
    issue(student, "100.00")
    kwargs = {
        "actor": cashier,
        "student": student,
        "amount": "100",
        "method": "cash",
        "idempotency_key": "k-1",
        "fingerprint": "a",
    }
    first = services.payment_record(**kwargs)
    again = services.payment_record(**kwargs)
    assert first.created and not again.created and again.payment == first.payment
    with pytest.raises(Conflict) as error:
        services.payment_record(**{**kwargs, "fingerprint": "b"})
    assert error.value.code == "idempotency_key_reused"
    assert Payment.objects.count() == 1


def test_an_external_transaction_id_is_recorded_once(student, cashier):
    issue(student, "20.00")  # owed: no confirmation asked
    services.payment_record(actor=cashier, student=student, amount="10", method="online", external_transaction_id="tx1")
    with pytest.raises(Conflict) as error:
        services.payment_record(
            actor=cashier, student=student, amount="10", method="online", external_transaction_id="tx1"
        )
    assert error.value.code == "duplicate_transaction"


def test_overdue_marking_moves_only_open_invoices_past_due(student, cashier):
    past = issue(student, "10.00", issue_date=datetime.date(2025, 1, 1), due_date=datetime.date(2025, 1, 15))
    future = issue(student, "10.00")
    assert past.status == Invoice.Status.OVERDUE  # issued already late
    Invoice.objects.filter(pk=past.pk).update(status="pending")
    assert services.invoices_mark_overdue() == 1
    past.refresh_from_db()
    future.refresh_from_db()
    assert past.status == Invoice.Status.OVERDUE and future.status == Invoice.Status.PENDING


def test_a_payment_received_in_the_future_is_refused_and_writes_nothing(student, cashier):
    from django.utils import timezone

    issue(student, "10.00")
    before = (Payment.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(ValidationError) as error:
        services.payment_record(
            actor=cashier,
            student=student,
            amount="10.00",
            method="cash",
            received_at=timezone.now() + datetime.timedelta(days=1),
        )
    assert "received_at" in error.value.message_dict
    assert (Payment.objects.count(), LedgerEntry.objects.count()) == before
