"""The core every money service shares: locking accounts, posting ledger entries,
moving credit and keeping invoice status in step."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from academy.common.money import money
from finance.models import Invoice, LedgerEntry, PaymentAllocation, StudentAccount

ZERO = Decimal("0.00")


def accounts_lock(student_ids) -> dict:
    """Lock the accounts of ``student_ids`` (created if missing) in ascending id order,
    so concurrent money writes on overlapping families never deadlock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("accounts_lock must run inside a transaction")
    ids = sorted({str(pk) for pk in student_ids})
    if len(ids) == 1:  # the usual case: lock it in one query if it exists (nothing else is locked yet)
        locked = list(StudentAccount.objects.select_for_update().filter(pk=ids[0]))
        if locked:
            return {ids[0]: locked[0]}
    existing = {str(pk) for pk in StudentAccount.objects.filter(pk__in_array=ids).values_list("pk", flat=True)}
    missing = [StudentAccount(student_id=pk) for pk in ids if pk not in existing]
    if missing:  # one INSERT; an account a concurrent transaction created meanwhile is left alone
        StudentAccount.objects.bulk_create(missing, ignore_conflicts=True)
    locked = StudentAccount.objects.select_for_update().filter(pk__in_array=ids).order_by("pk")
    return {str(account.pk): account for account in locked}


def ledger_post(
    account: StudentAccount, *, kind: str, amount, description: str, actor, effective_date=None, **sources
) -> LedgerEntry:
    """Append one entry to a locked account and move its cached balance with it.
    ``effective_date`` is the document's date (statements sort by it); default today."""
    amount = money(amount)
    if amount == ZERO:
        raise ValueError("a ledger entry moves money")
    entry = LedgerEntry.objects.create(
        account=account,
        seq=account.entry_count + 1,
        kind=kind,
        amount=amount,
        balance_before=account.balance,
        balance_after=account.balance + amount,
        effective_date=effective_date or timezone.localdate(),
        description=description[:300],
        created_by=actor if actor is not None and actor.is_authenticated else None,
        **sources,
    )
    account.balance = entry.balance_after
    account.entry_count = entry.seq
    account.save(update_fields=["balance", "entry_count", "updated_at"])
    return entry


def invoice_refresh_status(invoice: Invoice, *, today=None) -> Invoice:
    """Derive PENDING / PARTIAL / PAID / OVERDUE from the cached amounts and the date.
    Cancelled and carried-forward invoices stay as they are."""
    if invoice.status in (Invoice.Status.CANCELLED, Invoice.Status.CARRIED_FORWARD):
        return invoice
    today = today or timezone.localdate()
    if invoice.amount_paid >= invoice.amount_due:
        status = Invoice.Status.PAID
    elif invoice.due_date < today:
        status = Invoice.Status.OVERDUE
    elif invoice.amount_paid > ZERO:
        status = Invoice.Status.PARTIAL
    else:
        status = Invoice.Status.PENDING
    if not invoice.can_become(status):
        raise ValueError(f"invoice {invoice} cannot go from {invoice.status} to {status}")
    invoice.status = status
    if status == Invoice.Status.PAID:
        invoice.paid_date = invoice.paid_date or today
    else:
        invoice.paid_date = None
    return invoice


def invoice_move_paid(invoice: Invoice, amount) -> None:
    """Add ``amount`` (may be negative) to a locked invoice's paid amount and save."""
    invoice.amount_paid = money(invoice.amount_paid + amount)
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_paid", "status", "paid_date", "updated_at"])


def credit_by_payment(student_id) -> list[tuple]:
    """``(payment_id, amount)`` of the student's account credit, oldest payment first."""
    rows = (
        PaymentAllocation.objects.filter(student_id=student_id, invoice__isnull=True)
        .values("payment_id")
        .annotate(amount=Sum("amount"))
        .filter(amount__gt=0)
        .order_by("payment__received_at", "payment__receipt_number")
    )
    return [(row["payment_id"], row["amount"]) for row in rows]


def credit_available(student_id) -> Decimal:
    total = PaymentAllocation.objects.filter(student_id=student_id, invoice__isnull=True).aggregate(
        total=Sum("amount")
    )["total"]
    return money(total or 0)


def credit_apply(*, student_id, actor) -> Decimal:
    """Use the student's account credit on their open invoices, oldest due first. Moving
    credit changes no balance, so it writes allocations but no ledger entry."""
    credit = credit_by_payment(student_id)
    if not credit:
        return ZERO
    applied = ZERO
    invoices = list(
        Invoice.objects.select_for_update().open().filter(student_id=student_id).order_by("due_date", "invoice_number")
    )
    for invoice in invoices:
        while credit and invoice.balance > ZERO:
            payment_id, available = credit[0]
            amount = min(available, invoice.balance)
            PaymentAllocation.objects.bulk_create(
                [
                    PaymentAllocation(
                        payment_id=payment_id,
                        student_id=student_id,
                        invoice=None,
                        amount=-amount,
                        kind=PaymentAllocation.Kind.CREDIT_APPLIED,
                        created_by=actor_or_none(actor),
                    ),
                    PaymentAllocation(
                        payment_id=payment_id,
                        student_id=student_id,
                        invoice=invoice,
                        amount=amount,
                        kind=PaymentAllocation.Kind.CREDIT_APPLIED,
                        created_by=actor_or_none(actor),
                    ),
                ]
            )
            invoice_move_paid(invoice, amount)
            applied += amount
            if amount == available:
                credit.pop(0)
            else:
                credit[0] = (payment_id, available - amount)
    return applied


def actor_or_none(actor):
    return actor if actor is not None and actor.is_authenticated else None
