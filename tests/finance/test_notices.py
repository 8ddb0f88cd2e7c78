"""Receipts and payment reminders reach the paying guardian the way they asked, once."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail

from families.models import Guardian
from finance.models import Payment
from finance.notices import payment_reminders_send
from finance.services.payments import payment_record
from finance.tasks import payment_reminders_task
from notifications.models import Delivery, Notification
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 2)
ISSUED = TODAY - datetime.timedelta(days=30)


def _guardian(student) -> Guardian:
    return student.guardian_links.get(relationship_type="primary").guardian


def test_a_payment_sends_a_receipt_by_email_after_commit(student, cashier, django_capture_on_commit_callbacks):
    issue(student, "100.00")
    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_record(student=student, amount=Decimal("60.00"), method="cash", actor=cashier).payment
    notification = Notification.objects.get(kind="payment_received")
    assert notification.recipient_key == f"families.guardian:{_guardian(student).pk}"
    assert payment.receipt_number in notification.title
    assert [m.to for m in mail.outbox] == [[_guardian(student).email]]
    assert payment.receipt_number in mail.outbox[0].body and "60.00" in mail.outbox[0].body


def test_a_cheque_receipt_says_it_waits_for_clearing_and_goes_by_sms_when_asked(student, cashier):
    guardian = _guardian(student)
    Guardian.objects.filter(pk=guardian.pk).update(preferred_communication="sms")
    payment_record(
        student=student,
        amount=Decimal("20.00"),
        method="cheque",
        reference="CHQ 1",
        actor=cashier,
        confirm_overpayment=True,
    )
    notification = Notification.objects.get(kind="payment_received")
    assert "once the cheque has cleared" in notification.message
    assert list(Delivery.objects.filter(notification=notification).values_list("channel", "address")) == [
        ("sms", guardian.phone)
    ]


def test_a_suspended_guardian_is_not_sent_a_receipt(student, cashier):
    Guardian.objects.filter(pk=_guardian(student).pk).update(account_status="suspended")
    payment_record(student=student, amount=Decimal("20.00"), method="cash", actor=cashier, confirm_overpayment=True)
    assert not Delivery.objects.exists()
    assert Payment.objects.count() == 1  # the payment itself is recorded all the same


def test_reminders_before_the_due_date_and_weekly_when_overdue(student, cashier):
    due_soon = issue(student, "10.00", issue_date=ISSUED, due_date=TODAY + datetime.timedelta(days=3))
    week_late = issue(student, "20.00", issue_date=ISSUED, due_date=TODAY - datetime.timedelta(days=8))
    issue(student, "30.00", issue_date=ISSUED, due_date=TODAY - datetime.timedelta(days=9))  # not on a weekly mark
    paid = issue(student, "40.00", issue_date=ISSUED, due_date=TODAY + datetime.timedelta(days=3))
    payment_record(
        student=student, amount=Decimal("40.00"), method="cash", actor=cashier, allocations=[(paid, "40.00")]
    )

    result = payment_reminders_send(today=TODAY)
    assert (result.due_soon, result.overdue) == (1, 1)
    sent = {n.kind: n.metadata["invoice_number"] for n in Notification.objects.exclude(kind="payment_received")}
    assert sent == {"invoice_due_soon": due_soon.invoice_number, "invoice_overdue": week_late.invoice_number}

    # running again the same day tells nobody twice
    again = payment_reminders_send(today=TODAY)
    assert (again.due_soon, again.overdue, again.skipped) == (0, 0, 2)
    # a week later the overdue one is reminded again
    later = payment_reminders_send(today=TODAY + datetime.timedelta(days=7))
    assert later.overdue == 1  # week_late, now 15 days late; the other one (16 days) is not on a weekly mark
    assert (
        Notification.objects.filter(kind="invoice_overdue", metadata__invoice_number=week_late.invoice_number).count()
        == 2
    )


def test_the_reminder_task_runs_on_today(student):
    assert payment_reminders_task() == {"due_soon": 0, "overdue": 0, "skipped": 0}
