"""Database-level guarantees and the rules around adjustments, holds and concurrency."""

import threading
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from academy.common.exceptions import Conflict
from finance import services
from finance.models import (
    Adjustment,
    FeeStructure,
    Invoice,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    StudentAccount,
)
from finance.selectors import account_balance, hold_for, ledger_verify
from tests.factories.academy import finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory, FinancePolicyFactory, issue

APPEND_ONLY = [
    ("finance_payment", "amount = amount + 1"),
    ("finance_paymentallocation", "amount = amount + 1"),
    ("finance_paymentverification", "outcome = 'rejected'"),
    ("finance_paymentreversal", "reason = 'edited'"),
    ("finance_refund", "amount = amount + 1"),
    ("finance_ledgerentry", "description = 'edited'"),
]


@pytest.fixture
def paid_student(db, student, cashier):
    issue(student, "100.00")
    services.payment_record(actor=cashier, student=student, amount="100", method="cash")
    return student


@pytest.fixture
def every_money_record(paid_student, cashier, approver):
    """At least one row in each append-only table: a cash payment with its allocation
    and ledger entries, a verified cheque, a reversed payment and a refund of credit."""
    cheque = services.payment_record(
        actor=cashier, student=paid_student, amount="40", method="cheque", confirm_overpayment=True
    ).payment
    services.payment_verify(payment=cheque, actor=approver, cleared=True)  # 40.00 of credit
    mistake = services.payment_record(
        actor=cashier, student=paid_student, amount="5", method="cash", confirm_overpayment=True
    ).payment
    services.payment_reverse(payment=mistake, actor=approver, reason="Entered twice")
    services.refund_record(student=paid_student, amount="15", method="cash", reason="Overpaid", actor=cashier)
    return paid_student


def _table_rows() -> dict:
    with connection.cursor() as cursor:
        counts = {}
        for table, _change in APPEND_ONLY:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "change"), APPEND_ONLY)
def test_the_database_refuses_update_and_delete_on_money_records(every_money_record, table, change):
    before = _table_rows()
    assert before[table] > 0
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {change}")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    with pytest.raises(DatabaseError), transaction.atomic():
        Payment.objects.all().delete()
    assert _table_rows() == before
    assert ledger_verify().problems == []


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("table", [table for table, _change in APPEND_ONLY])
def test_postgres_refuses_truncate_of_money_records(every_money_record, table):
    before = _table_rows()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle pending FK checks first
        cursor.execute("SET LOCAL academy.allow_truncate = 'off'")
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert _table_rows() == before


@pytest.mark.django_db
def test_database_constraints_hold_without_the_services(student):
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            receipt_number="RCT-X",
            student=student,
            location=student.location,
            amount=0,
            method="cash",
            received_at="2025-01-01T00:00Z",
        )
    invoice = issue(student, "10.00")
    with pytest.raises(IntegrityError), transaction.atomic():  # paid date exactly when paid
        Invoice.objects.filter(pk=invoice.pk).update(status="paid")
    with pytest.raises(IntegrityError), transaction.atomic():  # never paid beyond its amount
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=D("10.01"))


@pytest.mark.django_db
def test_one_active_fee_structure_per_scope_and_fee_type(location):
    FeeStructureFactory(location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeStructureFactory(location=location)
    FeeStructureFactory(location=location, is_active=False)  # an inactive one may coexist
    FeeStructureFactory(location=location, fee_type=FeeTypeFactory(code="EXAM"))  # another fee type
    assert FeeStructure.objects.count() == 3


@pytest.mark.django_db
def test_verify_ledger_reports_a_tampered_cache(paid_student, capsys):
    call_command("verify_ledger")
    assert "0 discrepancies" in capsys.readouterr().out
    StudentAccount.objects.filter(pk=paid_student.pk).update(balance=D("5.00"))
    with pytest.raises(CommandError):
        call_command("verify_ledger")
    out = capsys.readouterr().out
    assert "DISCREPANCY" in out and "cached balance 5.00" in out


@pytest.mark.django_db
def test_adjustments_reach_the_ledger_only_when_approved(student, cashier, approver):
    invoice = issue(student, "100.00")
    FinancePolicyFactory(location=student.location, adjustment_approval_threshold=D("20.00"))
    adjustment = services.adjustment_request(
        invoice=invoice, kind="scholarship", amount=D("30.00"), reason="merit", actor=cashier
    )
    assert account_balance(student=student) == D("100.00")
    with pytest.raises(Conflict) as error:  # above the threshold: another person must approve
        services.adjustment_approve(adjustment=adjustment, actor=cashier)
    assert error.value.code == "approver_must_differ"
    services.adjustment_approve(adjustment=adjustment, actor=approver)
    invoice.refresh_from_db()
    assert invoice.amount_adjusted == D("-30.00") and invoice.balance == D("70.00")
    assert account_balance(student=student) == D("70.00")
    with pytest.raises(Conflict):
        services.adjustment_reject(adjustment=adjustment, actor=approver)
    # below the threshold the requester may approve their own
    small = services.adjustment_request(
        invoice=invoice, kind="late_fee", amount=D("5.00"), reason="late", actor=cashier
    )
    services.adjustment_approve(adjustment=small, actor=cashier)
    assert account_balance(student=student) == D("75.00")
    assert ledger_verify().problems == []


@pytest.mark.django_db
def test_an_adjustment_needs_a_reason_and_a_credit_cannot_exceed_the_open_amount(student, cashier, approver):
    invoice = issue(student, "50.00")
    with pytest.raises(ValidationError) as error:
        services.adjustment_request(invoice=invoice, kind="waiver", amount=D("10.00"), reason=" ", actor=cashier)
    assert "reason" in error.value.message_dict
    big = services.adjustment_request(invoice=invoice, kind="waiver", amount=D("60.00"), reason="x", actor=cashier)
    with pytest.raises(ValidationError):
        services.adjustment_approve(adjustment=big, actor=approver)
    big.refresh_from_db()
    assert big.status == Adjustment.Status.REQUESTED and account_balance(student=student) == D("50.00")


@pytest.mark.django_db
def test_a_full_waiver_settles_the_invoice(student, cashier, approver):
    invoice = issue(student, "50.00")
    waiver = services.adjustment_request(
        invoice=invoice, kind="waiver", amount=D("50.00"), reason="hardship", actor=cashier
    )
    services.adjustment_approve(adjustment=waiver, actor=approver)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.paid_date is not None


@pytest.mark.django_db
def test_hold_for_answers_by_the_location_policy(student, cashier):
    assert hold_for(student=student, action="transcripts") is None  # no policy
    FinancePolicyFactory(location=student.location, hold_threshold=D("50.00"), block_transcripts=True)
    issue(student, "60.00")
    hold = hold_for(student=student, action="transcripts")
    assert hold is not None and hold.outstanding == D("60.00") and "60.00" in hold.message
    assert hold_for(student=student, action="enrollment") is None  # not blocked by this policy
    services.payment_record(actor=cashier, student=student, amount="20", method="cash")
    assert hold_for(student=student, action="transcripts") is None  # 40.00 is under the threshold
    with pytest.raises(ValueError):
        hold_for(student=student, action="lunch")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_on_one_account_never_lose_an_update(location):
    """20 threads each record a different payment on one account at the same moment."""
    student = StudentFactory(location=location)
    cashier = finance_user(username="cashier")
    issue(student, *["10.00"] * 20)
    amounts = [D("3.00") + D(n) / 100 for n in range(1, 21)]  # 3.01 .. 3.20, all different
    start = threading.Barrier(len(amounts))
    errors = []

    def pay(amount):
        try:
            start.wait(timeout=30)
            services.payment_record(actor=cashier, student=student, amount=amount, method="cash")
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    paid = sum(amounts, D("0.00"))
    assert paid == D("62.10")
    assert sorted(Payment.objects.values_list("amount", flat=True)) == amounts
    assert account_balance(student=student) == D("200.00") - paid
    assert sum(LedgerEntry.objects.filter(account_id=student.pk).values_list("amount", flat=True)) == D("200.00") - paid
    assert StudentAccount.objects.get(pk=student.pk).entry_count == 20 + 20  # 20 invoice lines, 20 payments
    assert sum(a.amount for a in PaymentAllocation.objects.all()) == paid
    assert sum(Invoice.objects.values_list("amount_paid", flat=True)) == paid
    receipts = sorted(int(n.split("-")[-1]) for n in Payment.objects.values_list("receipt_number", flat=True))
    assert receipts == list(range(receipts[0], receipts[0] + 20))  # gapless
    assert ledger_verify().problems == []
