"""Late fees: once an invoice is still open ``late_fee_grace_days`` after its due date,
the location's ``FinancePolicy.late_fee_amount`` is charged on it, once.

A late fee is an adjustment of kind ``late_fee`` requested and approved by the system
(``requested_by`` and ``decided_by`` empty), so it reaches the ledger and the invoice
like any other extra charge. "Once per invoice" is the partial unique index
``one_late_fee_per_invoice`` (a rejected late fee does not count): two workers running
the job at once cannot both charge it; the loser's savepoint rolls back and it moves on.
An invoice with an open dispute is not charged until the dispute is resolved.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from academy.common.exceptions import Conflict
from finance.models import Adjustment, FinancePolicy, Invoice
from finance.services.adjustments import adjustment_approve, adjustment_request


@dataclass
class LateFeeResult:
    charged: int = 0
    skipped: int = 0  # charged meanwhile by another run, or no longer open


def late_fee_candidates(*, today: date | None = None):
    """Open invoices past due plus their location's grace days with no late fee yet and
    no open dispute, with the policy's amount (``late_fee``) annotated: one query."""
    today = today or timezone.localdate()
    charged = Adjustment.objects.filter(invoice=OuterRef("pk"), kind=Adjustment.Kind.LATE_FEE).exclude(
        status=Adjustment.Status.REJECTED
    )
    invoices = Invoice.objects.none()
    for policy in FinancePolicy.objects.filter(late_fee_amount__gt=0):
        due_before = today - timedelta(days=policy.late_fee_grace_days)
        invoices = invoices | Invoice.objects.filter(
            location_id=policy.location_id, status__in=Invoice.OPEN_STATUSES, due_date__lt=due_before
        )
    # a disputed invoice is charged nothing until the dispute is resolved
    return invoices.filter(~Exists(charged)).not_disputed().order_by("due_date", "invoice_number")


def late_fees_apply(*, today: date | None = None) -> LateFeeResult:
    """Charge every late fee that is due (a daily beat job). Each invoice is its own
    transaction: one invoice that cannot be charged does not hold back the others."""
    today = today or timezone.localdate()
    amounts = dict(FinancePolicy.objects.values_list("location_id", "late_fee_amount"))
    result = LateFeeResult()
    for invoice in late_fee_candidates(today=today).only("pk", "location_id", "due_date", "invoice_number"):
        try:
            with transaction.atomic():
                adjustment = adjustment_request(
                    invoice=invoice,
                    kind=Adjustment.Kind.LATE_FEE,
                    amount=amounts[invoice.location_id],
                    reason=f"Late fee: due {invoice.due_date:%d %b %Y}, still open on {today:%d %b %Y}",
                    actor=None,
                )
                adjustment_approve(adjustment=adjustment, actor=None, note="Charged by the late-fee policy")
        except (IntegrityError, ValidationError, Conflict):
            result.skipped += 1
        else:
            result.charged += 1
    return result
