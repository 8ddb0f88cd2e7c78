"""Writes of the finance app. Every money write is one transaction that first locks the
``StudentAccount`` rows it touches (in ascending student id order), then writes
append-only rows and ledger entries. See ``finance.models`` for the bookkeeping rules."""

from finance.services.adjustments import adjustment_approve, adjustment_reject, adjustment_request
from finance.services.billing import billing_run_execute, billing_run_start
from finance.services.invoices import (
    LineSpec,
    invoice_cancel,
    invoice_carry_forward,
    invoice_issue,
    invoices_carry_forward,
    invoices_mark_overdue,
)
from finance.services.payments import (
    PaymentResult,
    RefundResult,
    payment_record,
    payment_reverse,
    payment_verify,
    refund_record,
)
from finance.services.policies import finance_policy_save
from finance.services.records import (
    accounting_refs_import,
    invoice_accounting_ref_set,
    invoice_dispute,
    invoice_dispute_resolve,
    invoice_notes_set,
    payment_accounting_ref_set,
)

__all__ = [
    "LineSpec",
    "PaymentResult",
    "RefundResult",
    "accounting_refs_import",
    "adjustment_approve",
    "adjustment_reject",
    "adjustment_request",
    "billing_run_execute",
    "billing_run_start",
    "finance_policy_save",
    "invoice_accounting_ref_set",
    "invoice_cancel",
    "invoice_carry_forward",
    "invoice_dispute",
    "invoice_dispute_resolve",
    "invoice_issue",
    "invoice_notes_set",
    "invoices_carry_forward",
    "invoices_mark_overdue",
    "payment_accounting_ref_set",
    "payment_record",
    "payment_reverse",
    "payment_verify",
    "refund_record",
]
