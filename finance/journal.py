"""The journal for the bookkeeping: every ledger movement of a period as double entry.

Each ledger entry becomes two lines, a debit and a credit of the same amount, so the
debits of any export equal its credits:

- an invoice line: debit ``Receivables``, credit ``Revenue:<fee type code>``;
- a cancelled invoice: debit ``Revenue:cancelled invoices``, credit ``Receivables``;
- a payment: debit ``Cash`` (cash) or ``Bank:<method>`` (every other method), credit
  ``Receivables``; its reversal the other way round;
- a refund (credit paid back): debit ``Receivables``, credit ``Cash``/``Bank:<method>``;
- an adjustment: ``Adjustments:<kind>`` against ``Receivables`` (an extra charge or late
  fee credits it, a discount, concession, scholarship or waiver debits it);
- a balance carried forward: both sides are shown, through the clearing account
  ``Balance carried forward`` (the old invoice's balance leaves ``Receivables`` into it,
  the new invoice's line brings it back), which therefore nets to zero.

The entries are read in one query (streamed in chunks, memory stays flat) for the
locations the user may see: an entry belongs to the location of its invoice or payment,
else (a refund) to its student's.
"""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.db.models import F
from django.db.models.functions import Coalesce

from academy.selectors import location_list
from finance.models import LedgerEntry

HEADER = ["date", "entry", "account", "debit", "credit", "reference", "accounting_ref", "description"]
RECEIVABLES = "Receivables"
CARRIED = "Balance carried forward"
CHUNK = 2000


def money_account(method: str | None) -> str:
    return "Cash" if method == "cash" else f"Bank:{method or 'unknown'}"


def journal_entries(*, user, date_from: date, date_to: date, locations=None):
    """The ledger entries of the period (effective date, inclusive) in the caller's
    locations (``locations``: only these, each one the caller may see), as dicts."""
    visible = location_list(user=user)
    if locations:
        visible = visible.filter(pk__in=[location.pk for location in locations])
    return (
        LedgerEntry.objects.annotate(
            entry_location=Coalesce(
                F("invoice__location_id"), F("payment__location_id"), F("account__student__location_id")
            )
        )
        .filter(effective_date__gte=date_from, effective_date__lte=date_to, entry_location__in=visible.values("pk"))
        .order_by("effective_date", "id")
        .values(
            "id",
            "kind",
            "amount",
            "effective_date",
            "description",
            "invoice__invoice_number",
            "invoice__accounting_ref",
            "invoice_line__fee_type__code",
            "payment__receipt_number",
            "payment__method",
            "payment__accounting__ref",
            "adjustment__kind",
            "refund__method",
            "refund__reference",
            "refund_id",
        )
    )


def _sides(entry: dict) -> tuple[str, str]:
    """(debit account, credit account) of a ledger entry."""
    kind, positive = entry["kind"], entry["amount"] > 0
    if kind == LedgerEntry.Kind.INVOICE_LINE:
        revenue = f"Revenue:{entry['invoice_line__fee_type__code'] or 'other'}"
        return (RECEIVABLES, revenue) if positive else (revenue, RECEIVABLES)
    if kind == LedgerEntry.Kind.INVOICE_CANCELLED:
        revenue = "Revenue:cancelled invoices"
        return (revenue, RECEIVABLES) if not positive else (RECEIVABLES, revenue)
    if kind in (LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REVERSAL):
        cash = money_account(entry["payment__method"])
        return (cash, RECEIVABLES) if not positive else (RECEIVABLES, cash)
    if kind == LedgerEntry.Kind.REFUND:
        cash = money_account(entry["refund__method"])
        return (RECEIVABLES, cash) if positive else (cash, RECEIVABLES)
    if kind == LedgerEntry.Kind.ADJUSTMENT:
        adjustment = f"Adjustments:{entry['adjustment__kind'] or 'other'}"
        return (RECEIVABLES, adjustment) if positive else (adjustment, RECEIVABLES)
    if kind == LedgerEntry.Kind.CARRY_FORWARD:
        return (RECEIVABLES, CARRIED) if positive else (CARRIED, RECEIVABLES)
    return (RECEIVABLES, "Suspense") if positive else ("Suspense", RECEIVABLES)


def _reference(entry: dict) -> tuple[str, str]:
    """(the document's number, its accounting reference)."""
    if entry["payment__receipt_number"]:
        return entry["payment__receipt_number"], entry["payment__accounting__ref"] or ""
    if entry["refund_id"]:
        return entry["refund__reference"] or f"refund {entry['refund_id']}", ""
    return entry["invoice__invoice_number"] or "", entry["invoice__accounting_ref"] or ""


def journal_lines(entries) -> Iterator[list]:
    """Two lines (debit, credit) per ledger entry, amounts as "0.00" strings."""
    for entry in entries.iterator(chunk_size=CHUNK) if hasattr(entries, "iterator") else entries:
        amount = abs(Decimal(entry["amount"])).quantize(Decimal("0.01"))
        debit, credit = _sides(entry)
        reference, accounting_ref = _reference(entry)
        common = (entry["effective_date"].isoformat(), entry["id"])
        tail = (reference, accounting_ref, entry["description"])
        yield [*common, debit, f"{amount}", "", *tail]
        yield [*common, credit, "", f"{amount}", *tail]
