"""What finance tells families: a receipt when a payment is recorded, a reminder a few
days before an invoice falls due, and a reminder each week it stays overdue.

Every message goes to the guardian who pays (the payer of a payment, the guardian an
invoice is billed to) over the channels they asked for (``families.selectors.
guardian_recipient``) and to their portal inbox. Each carries a dedupe key, so the daily
job can run twice, or be retried, without telling anybody twice.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from families.models import StudentGuardian
from families.selectors import billing_link_for, guardian_recipient
from finance.models import Invoice, Payment
from notifications.models import Notification
from notifications.services import notify

DUE_SOON_DAYS = 3  # remind this many days before the due date
OVERDUE_EVERY_DAYS = 7  # then once a week while the invoice stays open after it


def _currency() -> str:
    return getattr(settings, "CURRENCY", "")


# How a payment method reads in a sentence to a family ("paid in cash", "paid by UPI"):
# the method's label, never its code.
PAID_BY = {
    Payment.Method.CASH: "in cash",
    Payment.Method.CARD: "by card",
    Payment.Method.BANK_TRANSFER: "by bank transfer",
    Payment.Method.ONLINE: "online",
    Payment.Method.CHEQUE: "by cheque",
    Payment.Method.UPI: "by UPI",
    Payment.Method.CREDIT_NOTE: "by credit note",
    Payment.Method.CREDIT_CARD: "by credit card",
    Payment.Method.DEBIT_CARD: "by debit card",
    Payment.Method.OTHER: "by another method",
}


def payment_method_words(method: str) -> tuple[str, str]:
    """(how it was paid, what it was): ``("by UPI", "UPI")``, ``("by bank transfer",
    "bank transfer")``; a label in capitals (an acronym) keeps them."""
    label = dict(Payment.Method.choices).get(method, method)
    noun = label if label.isupper() else label.lower()
    return PAID_BY.get(method, f"by {noun}"), noun


@dataclass(frozen=True)
class ReceiptNotice:
    """Who is told of a payment, read before the payment is numbered (``payment_record``
    takes the receipt number last, so it reads nothing while holding the series lock)."""

    guardian: object
    recipient: object


def payment_receipt_prepare(*, payment: Payment) -> ReceiptNotice | None:
    """Whom ``payment_receipt_notify`` tells of ``payment`` (its location loaded too), or
    ``None`` when nobody is to be told. Needs no receipt number yet."""
    link = None
    if payment.student_id:
        link = billing_link_for(student=payment.student)
        if payment.payer is not None and (link is None or link.guardian_id != payment.payer_id):
            link = StudentGuardian.objects.filter(student_id=payment.student_id, guardian=payment.payer).first()
    guardian = payment.payer or (link.guardian if link else None)
    if guardian is None:
        return None
    # A link whose "receives communications" is off: the portal inbox only, no e-mail/SMS.
    recipient = guardian_recipient(guardian, link=link)
    if not recipient.channels and recipient.user is None:
        return None
    payment.location  # noqa: B018 (loaded now, not under the receipt number's lock)
    return ReceiptNotice(guardian=guardian, recipient=recipient)


_NOT_PREPARED = object()


def payment_receipt_notify(*, payment: Payment, actor=None, notice=_NOT_PREPARED) -> bool:
    """Tell the payer that ``payment`` was received (call inside the recording
    transaction: the deliveries go out after commit). Returns whether anybody was told.
    ``notice``: what ``payment_receipt_prepare`` answered, if the caller asked it first."""
    if notice is _NOT_PREPARED:
        notice = payment_receipt_prepare(payment=payment)
    if notice is None:
        return False
    guardian, recipient = notice.guardian, notice.recipient
    paid_by, method_noun = payment_method_words(payment.method)
    context = {
        "guardian_name": guardian.full_name,
        "receipt_number": payment.receipt_number,
        "amount": payment.amount,
        "currency": _currency(),
        "method": payment.get_method_display(),
        "paid_by": paid_by,  # "by UPI", "in cash"
        "method_noun": method_noun,  # "UPI", "cheque"
        "received_on": timezone.localtime(payment.received_at).date(),
        "pending_verification": payment.requires_verification,
        "student_name": payment.student.full_name if payment.student_id else "",
    }
    result = notify(
        kind="payment_received",
        recipients=[recipient],
        context=context,
        metadata={"payment": str(payment.pk), "receipt_number": payment.receipt_number},
        actor=actor,
        location=payment.location,
        type=Notification.Type.SUCCESS,
        dedupe_key=f"payment_received:{payment.pk}",
    )
    return bool(result.created)


@dataclass
class ReminderResult:
    due_soon: int = 0
    overdue: int = 0
    skipped: int = 0  # already told under the same key, or nobody to tell


def _invoice_reminder(invoice: Invoice, *, kind: str, dedupe_key: str, today: date, links: dict) -> bool:
    guardian = invoice.billed_to
    if guardian is None:
        return False
    # "receives communications" off on the guardian's link to the child: the portal
    # inbox only, no e-mail or SMS
    recipient = guardian_recipient(guardian, link=links.get((invoice.student_id, guardian.pk)))
    if not recipient.channels and recipient.user is None:
        return False
    context = {
        "guardian_name": guardian.full_name,
        "student_name": invoice.student.full_name,
        "invoice_number": invoice.invoice_number,
        "balance": invoice.balance,
        "currency": _currency(),
        "due_date": invoice.due_date,
        "days_overdue": (today - invoice.due_date).days,
    }
    result = notify(
        kind=kind,
        recipients=[recipient],
        context=context,
        metadata={"invoice": str(invoice.pk), "invoice_number": invoice.invoice_number},
        location=invoice.location,
        type=Notification.Type.WARNING if kind == "invoice_overdue" else Notification.Type.INFO,
        priority=Notification.Priority.HIGH if kind == "invoice_overdue" else Notification.Priority.MEDIUM,
        dedupe_key=dedupe_key,
    )
    return bool(result.created)


def payment_reminders_send(*, today: date | None = None) -> ReminderResult:
    """The daily reminders: invoices due in ``DUE_SOON_DAYS`` days, and open invoices a
    whole number of weeks past their due date. The invoices are read in one query."""
    today = today or timezone.localdate()
    due_soon = today + timedelta(days=DUE_SOON_DAYS)
    overdue_days = [today - timedelta(days=days) for days in range(1, 366, OVERDUE_EVERY_DAYS)]
    invoices = (
        Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES)
        .filter(Q(due_date=due_soon) | Q(due_date__in=overdue_days))
        .not_disputed()  # no reminder while the family disputes the invoice
        .select_related("student", "billed_to", "billed_to__portal_user", "location")
        .order_by("due_date", "invoice_number")
    )
    invoices = list(invoices)
    links = {
        (link.student_id, link.guardian_id): link
        for link in StudentGuardian.objects.filter(
            student_id__in={invoice.student_id for invoice in invoices},
            guardian_id__in={invoice.billed_to_id for invoice in invoices},
        )
    }
    result = ReminderResult()
    for invoice in invoices:
        if invoice.due_date == due_soon:
            told = _invoice_reminder(
                invoice,
                kind="invoice_due_soon",
                dedupe_key=f"invoice_due_soon:{invoice.pk}",
                today=today,
                links=links,
            )
            result.due_soon += told
        else:
            week = (today - invoice.due_date).days // OVERDUE_EVERY_DAYS
            told = _invoice_reminder(
                invoice,
                kind="invoice_overdue",
                dedupe_key=f"invoice_overdue:{invoice.pk}:{week}",
                today=today,
                links=links,
            )
            result.overdue += told
        result.skipped += not told
    return result
