"""What staff write on invoices and payments besides money: notes (for the family, and
internal), disputes and their resolution, and the accounting references of the
external bookkeeping (one by one, or imported from a CSV all-or-nothing).

Each write locks the row it changes and records who and why in its history. None of
them moves money or touches the ledger.
"""

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.services import record_history
from finance.models import Invoice, Payment, PaymentAccountingRef
from finance.services.ledger import actor_or_none

REF_MAX = 100
IMPORT_MAX_ROWS = 5000
IMPORT_KINDS = ("invoice", "payment")


def _text(value, *, field: str, max_length: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: ["Enter text."]})
    value = value.strip()
    if max_length is not None and len(value) > max_length:
        raise ValidationError({field: [f"At most {max_length} characters."]})
    return value


def _reason(reason, field: str, message: str) -> str:
    reason = _text(reason, field=field, max_length=300)
    if not reason:
        raise ValidationError({field: [message]})
    return reason


def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


# --- notes ------------------------------------------------------------------------------


@transaction.atomic
def invoice_notes_set(*, invoice: Invoice, actor, notes=None, internal_notes=None, reason: str = "") -> Invoice:
    """Change an invoice's ``notes`` (the family reads them) and/or ``internal_notes``
    (staff only); ``None`` leaves one as it is. Any status: notes explain, they move no
    money. The history row says who changed them and why."""
    if notes is None and internal_notes is None:
        raise ValidationError({"notes": ["Give the notes, the internal notes or both."]})
    notes = None if notes is None else _text(notes, field="notes", max_length=5000)
    internal_notes = None if internal_notes is None else _text(internal_notes, field="internal_notes", max_length=5000)
    reason = _text(reason, field="reason", max_length=300)
    invoice = _locked(invoice)
    changed = []
    if notes is not None and notes != invoice.notes:
        invoice.notes = notes
        changed.append("notes")
    if internal_notes is not None and internal_notes != invoice.internal_notes:
        invoice.internal_notes = internal_notes
        changed.append("internal_notes")
    if changed:
        what = " and ".join("internal notes" if name == "internal_notes" else name for name in changed)
        record_history(invoice, actor=actor, reason=f"Changed the {what}" + (f": {reason}" if reason else ""))
        invoice.save(update_fields=[*changed, "updated_at"])
    return invoice


# --- disputes ---------------------------------------------------------------------------


@transaction.atomic
def invoice_dispute(*, invoice: Invoice, reason: str, actor) -> Invoice:
    """Mark an open invoice disputed: until resolved it is charged no late fee and its
    family gets no payment reminder. 409 ``already_disputed`` / ``invoice_not_open``."""
    reason = _reason(reason, "reason", "Say why the invoice is disputed.")
    invoice = _locked(invoice)
    if invoice.is_disputed:
        raise Conflict(f"{invoice.invoice_number} is already disputed.", code="already_disputed")
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise Conflict(f"A {invoice.get_status_display().lower()} invoice cannot be disputed.", code="invoice_not_open")
    invoice.disputed_at = timezone.now()
    invoice.dispute_reason = reason
    invoice.disputed_by = actor_or_none(actor)
    # a new dispute of an invoice disputed before: the earlier one stays in the history
    invoice.dispute_resolved_at = None
    invoice.dispute_resolved_by = None
    invoice.dispute_resolution = ""
    record_history(invoice, actor=actor, reason=f"Disputed: {reason}")
    invoice.save()
    return invoice


@transaction.atomic
def invoice_dispute_resolve(*, invoice: Invoice, resolution: str, actor) -> Invoice:
    """Close the invoice's open dispute, saying how; late fees and reminders apply again.
    409 ``not_disputed`` when there is no open dispute."""
    resolution = _reason(resolution, "resolution", "Say how the dispute was resolved.")
    invoice = _locked(invoice)
    if not invoice.is_disputed:
        raise Conflict(f"{invoice.invoice_number} is not disputed.", code="not_disputed")
    invoice.dispute_resolved_at = timezone.now()
    invoice.dispute_resolved_by = actor_or_none(actor)
    invoice.dispute_resolution = resolution
    record_history(invoice, actor=actor, reason=f"Dispute resolved: {resolution}")
    invoice.save()
    return invoice


# --- accounting references --------------------------------------------------------------


def _ref(value) -> str:
    ref = _text(value, field="accounting_ref", max_length=REF_MAX)
    if any(not character.isprintable() for character in ref):
        raise ValidationError({"accounting_ref": ["Use printable characters only."]})
    return ref


@transaction.atomic
def invoice_accounting_ref_set(*, invoice: Invoice, accounting_ref: str, actor) -> Invoice:
    """Set (or, blank, clear) the invoice's id in the external bookkeeping; another
    invoice's reference is a 400 on ``accounting_ref``."""
    ref = _ref(accounting_ref)
    invoice = _locked(invoice)
    if ref and Invoice.objects.filter(accounting_ref=ref).exclude(pk=invoice.pk).exists():
        raise ValidationError({"accounting_ref": ["Another invoice has this accounting reference."]})
    if ref != invoice.accounting_ref:
        invoice.accounting_ref = ref
        record_history(invoice, actor=actor, reason=f"Accounting reference: {ref or 'cleared'}")
        invoice.save(update_fields=["accounting_ref", "updated_at"])
    return invoice


@transaction.atomic
def payment_accounting_ref_set(*, payment: Payment, accounting_ref: str, actor) -> PaymentAccountingRef:
    """Set (or, blank, clear) the payment's id in the external bookkeeping, in
    ``PaymentAccountingRef``: the payment row itself is never updated."""
    ref = _ref(accounting_ref)
    if ref and PaymentAccountingRef.objects.filter(ref=ref).exclude(payment_id=payment.pk).exists():
        raise ValidationError({"accounting_ref": ["Another payment has this accounting reference."]})
    record = PaymentAccountingRef.objects.select_for_update().filter(payment_id=payment.pk).first()
    if record is None:
        record = PaymentAccountingRef(payment_id=payment.pk)
    elif record.ref == ref:
        return record
    record.ref = ref
    record.set_by = actor_or_none(actor)
    record.set_at = timezone.now()
    record_history(record, actor=actor, reason=f"Accounting reference: {ref or 'cleared'}")
    record.save()
    return record


@dataclass
class ImportResult:
    invoices: int = 0
    payments: int = 0


def _import_rows(content) -> list[dict]:
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": ["The file is not UTF-8 text."]}) from None
    reader = csv.DictReader(io.StringIO(content))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if not {"kind", "number", "accounting_ref"} <= set(header):
        raise ValidationError({"file": ["The first line must name the columns kind, number and accounting_ref."]})
    reader.fieldnames = header
    rows = []
    for row in reader:
        if len(rows) == IMPORT_MAX_ROWS:
            raise ValidationError({"file": [f"At most {IMPORT_MAX_ROWS} rows per file."]})
        rows.append({name: (row.get(name) or "").strip() for name in ("kind", "number", "accounting_ref")})
    if not rows:
        raise ValidationError({"file": ["The file has no rows."]})
    return rows


@transaction.atomic
def accounting_refs_import(*, content, actor, invoices, payments) -> ImportResult:
    """Set accounting references from a CSV (``kind,number,accounting_ref``: kind
    ``invoice`` with an invoice number, or ``payment`` with a receipt number).

    All or nothing: every row is checked first (the kind, a number the caller may see
    — ``invoices`` and ``payments`` are the caller's querysets —, a reference, no
    reference twice, none another record already has); any error is a 400 with one
    message per row (``row 3``: line 3 of the file, the header being line 1) and
    nothing is written. The checks read a fixed number of queries whatever the size of
    the file; then each row is set (and locked) through the one-record services."""
    rows = _import_rows(content)
    errors: dict[str, list[str]] = {}
    wanted = {kind: {row["number"] for row in rows if row["kind"].lower() == kind} for kind in IMPORT_KINDS}
    found_invoices = {
        invoice.invoice_number: invoice for invoice in invoices.filter(invoice_number__in=wanted["invoice"])
    }
    found_payments = {
        payment.receipt_number: payment for payment in payments.filter(receipt_number__in=wanted["payment"])
    }
    refs = {kind: {row["accounting_ref"] for row in rows if row["kind"].lower() == kind} for kind in IMPORT_KINDS}
    taken_invoice = dict(
        Invoice.objects.filter(accounting_ref__in=refs["invoice"] - {""}).values_list(
            "accounting_ref", "invoice_number"
        )
    )
    taken_payment = dict(
        PaymentAccountingRef.objects.filter(ref__in=refs["payment"] - {""}).values_list(
            "ref", "payment__receipt_number"
        )
    )
    seen: dict[tuple[str, str], int] = {}
    seen_numbers: dict[tuple[str, str], int] = {}
    for line, row in enumerate(rows, start=2):
        kind, number, ref = row["kind"].lower(), row["number"], row["accounting_ref"]
        messages = []
        if kind not in IMPORT_KINDS:
            messages.append("The kind must be invoice or payment.")
        elif not number:
            messages.append("The number is missing.")
        else:
            if (kind, number) in seen_numbers:
                messages.append(f"{number} is already on row {seen_numbers[(kind, number)]}.")
            seen_numbers.setdefault((kind, number), line)
            found = (found_invoices if kind == "invoice" else found_payments).get(number)
            if found is None:
                messages.append(f"No {kind} {number}.")
            try:
                ref = _ref(ref)
            except ValidationError as error:
                messages += error.message_dict["accounting_ref"]
            else:
                if not ref:
                    messages.append("The accounting reference is missing.")
                elif (kind, ref) in seen:
                    messages.append(f"The accounting reference {ref} is already on row {seen[(kind, ref)]}.")
                else:
                    seen[(kind, ref)] = line
                    holder = (taken_invoice if kind == "invoice" else taken_payment).get(ref)
                    if holder is not None and holder != number:
                        messages.append(f"The accounting reference {ref} is already on {holder}.")
        if messages:
            errors[f"row {line}"] = messages
    if errors:
        raise ValidationError(errors)
    result = ImportResult()
    for row in rows:
        kind, number, ref = row["kind"].lower(), row["number"], row["accounting_ref"]
        if kind == "invoice":
            invoice_accounting_ref_set(invoice=found_invoices[number], accounting_ref=ref, actor=actor)
            result.invoices += 1
        else:
            payment_accounting_ref_set(payment=found_payments[number], accounting_ref=ref, actor=actor)
            result.payments += 1
    return result
