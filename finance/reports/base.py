"""What the finance reports share: the money expressions over invoice columns, the
students a report lists and the payments that count as collected.

The figures of one invoice (the same as on statements, ``finance.statements``):

- amount due: ``total + amount_adjusted``;
- paid: ``amount_paid`` (payments and account credit applied to it, net of reversals);
- carried forward: for a carried-forward invoice, ``amount due - paid`` (the unpaid
  balance moved to its successor, which bills it again), else 0;
- pending: ``amount due - paid`` of an open invoice (pending, partly paid, overdue);
- overdue: the pending amount of an overdue invoice.

Cancelled invoices count nothing (reversed in the ledger; what was paid on them became
account credit). For the other invoices ``invoiced - paid - carried forward = pending``,
and a student's balance (the ledger) is ``pending - account credit``.
"""

from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce

from academy.common.money import money
from academy.selectors import scoped_to_locations
from finance.models import Invoice, Payment
from students.models import Student

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=12, decimal_places=2)
COUNTED = ~Q(status=Invoice.Status.CANCELLED)


def as_date(value) -> date:
    return value.date() if hasattr(value, "date") else value


def amount_due(prefix: str = ""):
    return ExpressionWrapper(F(f"{prefix}total") + F(f"{prefix}amount_adjusted"), output_field=MONEY)


def unpaid(prefix: str = ""):
    """Amount due less paid (the pending amount of an open invoice)."""
    return ExpressionWrapper(
        F(f"{prefix}total") + F(f"{prefix}amount_adjusted") - F(f"{prefix}amount_paid"), output_field=MONEY
    )


def cents(rows: list[dict], *names: str) -> list[dict]:
    """Round the money ``names`` of every row to cents, in place, on SQLite: it keeps
    money as floating point and hands back sums and differences unrounded (30.03 less
    7e-15). PostgreSQL's NUMERIC sums are exact already."""
    if connection.vendor != "sqlite":
        return rows
    for row in rows:
        for name in names:
            if row.get(name) is not None:
                row[name] = money(row[name])
    return rows


class ReportRows:
    """The rows of a large report, read as they are asked for: ``count()`` (and
    ``len()``) is one COUNT query, a slice (a page: Django's and DRF's paginators) reads
    only those rows, and iterating (the CSV) reads every row once. ``finish(rows,
    everything=...)`` turns the rows read into report rows (the figures read apart,
    for those rows or, with ``everything``, for all); ``totals()`` answers the sums of
    the columns over every row (a few aggregate queries), ``None`` without them."""

    def __init__(self, queryset, finish=None, totals=None):
        self.queryset = queryset
        self._finish = finish or (lambda rows, everything: rows)
        self._totals = totals
        self._count = None
        self._all = None

    def count(self) -> int:
        if self._all is not None:
            return len(self._all)
        if self._count is None:
            self._count = self.queryset.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __bool__(self) -> bool:
        return self.count() > 0

    def __iter__(self):
        if self._all is None:
            self._all = self._finish(list(self.queryset), everything=True)
        return iter(self._all)

    def __getitem__(self, index):
        if self._all is not None or (isinstance(index, int) and index < 0):
            return list(self)[index]
        if isinstance(index, slice):
            return self._finish(list(self.queryset[index]), everything=False)
        found = self._finish(list(self.queryset[index : index + 1]), everything=False)
        if not found:
            raise IndexError(index)
        return found[0]

    def totals(self) -> dict | None:
        return self._totals() if self._totals is not None else None


def money_sum(expression, condition: Q | None = None):
    """``SUM(expression)`` over the rows matching ``condition``, 0.00 when there are none."""
    return Coalesce(Sum(expression, filter=condition), ZERO, output_field=MONEY)


def invoice_money(prefix: str = "") -> dict:
    """The money annotations of a group of invoices (``prefix``: the path to them)."""

    def status(*names):
        return Q(**{f"{prefix}status__in": names})

    counted = ~Q(**{f"{prefix}status": Invoice.Status.CANCELLED})
    return {
        "invoiced": money_sum(amount_due(prefix), counted),
        "paid": money_sum(F(f"{prefix}amount_paid"), counted),
        "carried_forward": money_sum(unpaid(prefix), status(Invoice.Status.CARRIED_FORWARD)),
        "pending": money_sum(unpaid(prefix), status(*Invoice.OPEN_STATUSES)),
        "overdue": money_sum(unpaid(prefix), status(Invoice.Status.OVERDUE)),
    }


def listed(prefix: str = "") -> Q:
    """The students the balance reports list: every student not deleted, and a deleted
    one while money is still owed either way (a receivable never drops out of a report)."""
    return (
        Q(**{f"{prefix}deleted_at__isnull": True})
        | Q(**{f"{prefix}account__balance__gt": 0})
        | Q(**{f"{prefix}account__balance__lt": 0})
    )


def report_students(*, user, location=None):
    """The students of the balance reports at the locations ``user`` may see (their
    current location: a student who moved is reported with all their money where they
    are now), at ``location`` only when given."""
    students = scoped_to_locations(Student.all_objects.filter(listed()), user=user)
    if location is not None:
        students = students.filter(location=location)
    return students


def cleared_payments(*, user, location=None):
    """Money that really arrived: cleared (or needing no check) and not reversed, taken
    at the locations ``user`` may see (at ``location`` only when given)."""
    payments = (
        scoped_to_locations(Payment.objects.all(), user=user)
        .filter(Q(requires_verification=False) | Q(verification__outcome="cleared"))
        .filter(reversal__isnull=True)
    )
    if location is not None:
        payments = payments.filter(location=location)
    return payments
