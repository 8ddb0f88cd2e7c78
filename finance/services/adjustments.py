"""Adjustments: requested, then approved (reaching the ledger) or rejected."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.services import validated_save
from finance.models import Adjustment, FinancePolicy, Invoice, LedgerEntry
from finance.services.ledger import ZERO, accounts_lock, credit_apply, invoice_refresh_status, ledger_post


@transaction.atomic
def adjustment_request(*, invoice: Invoice, kind: str, amount, reason: str, actor) -> Adjustment:
    """Ask for a discount, concession, scholarship, waiver, extra charge or late fee on
    an open invoice. Nothing reaches the ledger until it is approved."""
    accounts_lock([invoice.student_id])
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise Conflict(f"{invoice.invoice_number} is not open.", code="invoice_not_open")
    adjustment = Adjustment(
        invoice=invoice,
        student_id=invoice.student_id,
        kind=kind,
        amount=amount,
        reason=(reason or "").strip(),
        requested_by=actor,
    )
    return validated_save(adjustment, actor=actor, reason="Requested")


def approval_threshold(location_id) -> Decimal:
    policy = FinancePolicy.objects.filter(location_id=location_id).first()
    return policy.adjustment_approval_threshold if policy else ZERO


@transaction.atomic
def adjustment_approve(*, adjustment: Adjustment, actor, note: str = "") -> Adjustment:
    """Approve an adjustment and post it. Above the location's threshold the approver
    must be another person than the requester. A credit may not exceed what is open."""
    accounts = accounts_lock([adjustment.student_id])
    adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != Adjustment.Status.REQUESTED:
        raise Conflict(f"This adjustment is already {adjustment.status}.", code="already_decided")
    invoice = Invoice.objects.select_for_update().get(pk=adjustment.invoice_id)
    if (
        adjustment.amount > approval_threshold(invoice.location_id)
        and actor is not None
        and adjustment.requested_by_id == actor.pk
    ):
        raise Conflict("Above the approval threshold another person must approve.", code="approver_must_differ")
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise Conflict(f"{invoice.invoice_number} is not open.", code="invoice_not_open")
    if adjustment.kind in Adjustment.CREDIT_KINDS and adjustment.amount > invoice.balance:
        raise ValidationError({"amount": [f"Only {invoice.balance} is open on {invoice.invoice_number}."]})
    adjustment.status = Adjustment.Status.APPROVED
    adjustment.decided_by = actor if actor is not None and actor.is_authenticated else None
    adjustment.decided_at = timezone.now()
    adjustment.decision_note = note[:300]
    validated_save(adjustment, actor=actor, reason="Approved")
    invoice.amount_adjusted += adjustment.signed_amount
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_adjusted", "status", "paid_date", "updated_at"])
    ledger_post(
        accounts[str(adjustment.student_id)],
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=adjustment.signed_amount,
        description=f"{adjustment.get_kind_display()} on {invoice.invoice_number}: {adjustment.reason}",
        actor=actor,
        invoice=invoice,
        adjustment=adjustment,
    )
    credit_apply(student_id=adjustment.student_id, actor=actor)
    return adjustment


@transaction.atomic
def adjustment_reject(*, adjustment: Adjustment, actor, note: str = "") -> Adjustment:
    adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != Adjustment.Status.REQUESTED:
        raise Conflict(f"This adjustment is already {adjustment.status}.", code="already_decided")
    adjustment.status = Adjustment.Status.REJECTED
    adjustment.decided_by = actor
    adjustment.decided_at = timezone.now()
    adjustment.decision_note = note[:300]
    return validated_save(adjustment, actor=actor, reason="Rejected")
