"""Late fees per location policy: charged once per invoice after the grace days, through
the ledger, never on a paid or cancelled invoice."""

import datetime
from decimal import Decimal

import pytest

from finance.models import Adjustment, FinancePolicy, Invoice, LedgerEntry
from finance.selectors import account_balance, ledger_verify
from finance.services.adjustments import adjustment_reject
from finance.services.late_fees import late_fee_candidates, late_fees_apply
from finance.services.payments import payment_record
from finance.tasks import late_fees_task
from tests.factories.families import StudentFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db

DUE = datetime.date(2026, 1, 10)


@pytest.fixture
def policy(location):
    return FinancePolicy.objects.create(location=location, late_fee_amount=Decimal("15.00"), late_fee_grace_days=5)


def _invoice(student, amount="100.00", due=DUE):
    return issue(student, amount, issue_date=due - datetime.timedelta(days=30), due_date=due)


def test_a_late_fee_is_charged_once_after_the_grace_days(policy, student):
    invoice = _invoice(student)
    assert late_fees_apply(today=DUE + datetime.timedelta(days=5)).charged == 0  # still in grace
    result = late_fees_apply(today=DUE + datetime.timedelta(days=6))
    assert (result.charged, result.skipped) == (1, 0)
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("115.00")
    fee = Adjustment.objects.get(invoice=invoice)
    assert fee.kind == "late_fee" and fee.status == "approved" and fee.amount == Decimal("15.00")
    assert fee.requested_by is None and fee.decided_by is None
    assert LedgerEntry.objects.filter(adjustment=fee, amount=Decimal("15.00")).count() == 1
    assert account_balance(student=student) == Decimal("115.00")

    # the next day's run (and the task) charge nothing more
    assert late_fees_apply(today=DUE + datetime.timedelta(days=7)).charged == 0
    assert late_fees_task() == {"charged": 0, "skipped": 0}
    assert Adjustment.objects.filter(invoice=invoice).count() == 1
    assert ledger_verify().ok


def test_no_late_fee_on_paid_or_cancelled_invoices_or_without_a_policy(
    policy, student, location, other_location, cashier
):
    paid = _invoice(student, "50.00")
    payment_record(student=student, amount=Decimal("50.00"), method="cash", actor=cashier)
    elsewhere = _invoice(StudentFactory(location=other_location))  # no policy there
    cancelled = _invoice(StudentFactory(location=location))
    Invoice.objects.filter(pk=cancelled.pk).update(status=Invoice.Status.CANCELLED)
    assert late_fees_apply(today=DUE + datetime.timedelta(days=30)).charged == 0
    assert not Adjustment.objects.filter(invoice__in=[paid, elsewhere, cancelled]).exists()


def test_a_rejected_late_fee_can_be_charged_again(policy, student, approver):
    invoice = _invoice(student)
    late_fees_apply(today=DUE + datetime.timedelta(days=10))
    assert Adjustment.objects.get(invoice=invoice).status == "approved"
    assert list(late_fee_candidates(today=DUE + datetime.timedelta(days=11))) == []
    # a late fee someone asked for by hand blocks the automatic one until it is rejected
    other = _invoice(StudentFactory(location=student.location), due=DUE)
    pending = Adjustment.objects.create(
        invoice=other, student=other.student, kind="late_fee", amount=Decimal("15.00"), reason="manual"
    )
    assert other not in late_fee_candidates(today=DUE + datetime.timedelta(days=11))
    adjustment_reject(adjustment=pending, actor=approver, note="waived by phone")
    assert other in late_fee_candidates(today=DUE + datetime.timedelta(days=11))
    assert late_fees_apply(today=DUE + datetime.timedelta(days=11)).charged == 1


def test_the_candidates_are_one_query(policy, student, django_assert_num_queries):
    for _ in range(3):
        _invoice(student)
    with django_assert_num_queries(2):  # the policies, then the invoices
        assert len(list(late_fee_candidates(today=DUE + datetime.timedelta(days=10)))) == 3
