"""Reports that list documents: invoices with their amounts, payments, and overdue
invoices with their ageing. Each is one query over the documents of the locations a user
may see (the document's own location), narrowed to ``location`` when given."""

from datetime import date

from django.db.models import F
from django.utils import timezone

from academy.selectors import scoped_to_locations
from finance.models import Invoice, Payment
from finance.reports.base import ZERO, ReportRows, cents, money_sum, unpaid

AGEING_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


def _at(queryset, location):
    return queryset if location is None else queryset.filter(location=location)


def invoice_details(*, user, status: str | None = None, date_from=None, date_to=None, location=None) -> ReportRows:
    """Every invoice with its amounts and balance, newest first (read as asked:
    ``ReportRows``; the totals one aggregate)."""
    invoices = _at(scoped_to_locations(Invoice.objects.all(), user=user), location)
    if status:
        invoices = invoices.filter(status=status)
    if date_from:
        invoices = invoices.filter(issue_date__gte=date_from)
    if date_to:
        invoices = invoices.filter(issue_date__lte=date_to)
    rows = (
        invoices.order_by("-issue_date", "-invoice_number")
        .values(
            "id",
            "invoice_number",
            "issue_date",
            "due_date",
            "status",
            "total",
            "amount_adjusted",
            "amount_paid",
            student_number=F("student__student_number"),
            student_name=F("student__last_name"),
            billed_to_name=F("billed_to__last_name"),
            location_name=F("location__name"),
        )
        .annotate(balance=unpaid())
    )
    money = ("total", "amount_adjusted", "amount_paid", "balance")

    def totals():
        found = invoices.aggregate(
            sum_total=money_sum(F("total")),
            sum_amount_adjusted=money_sum(F("amount_adjusted")),
            sum_amount_paid=money_sum(F("amount_paid")),
            sum_balance=money_sum(unpaid()),
        )
        return cents([{name: found[f"sum_{name}"] for name in money}], *money)[0]

    return ReportRows(rows, lambda found, everything: cents(found, "balance"), totals)


def payment_history(*, user, date_from=None, date_to=None, location=None) -> ReportRows:
    """Every payment, newest first (read as asked: ``ReportRows``)."""
    payments = _at(scoped_to_locations(Payment.objects.all(), user=user), location)
    if date_from:
        payments = payments.filter(received_at__date__gte=date_from)
    if date_to:
        payments = payments.filter(received_at__date__lte=date_to)
    rows = payments.order_by("-received_at", "-receipt_number").values(
        "id",
        "receipt_number",
        "received_at",
        "amount",
        "method",
        "reference",
        student_number=F("student__student_number"),
        payer_name=F("payer__last_name"),
        location_name=F("location__name"),
    )
    # no totals: the history lists reversed and uncleared payments too (daily collections
    # total the money that arrived)
    return ReportRows(rows)


def overdue_invoices(*, user, today: date | None = None, location=None) -> dict:
    """Overdue invoices with days overdue, and totals per ageing bucket (0-30, 31-60,
    61-90, 90+ days past due); ``location`` narrows the user's scope to one location."""
    today = today or timezone.localdate()
    invoices = _at(scoped_to_locations(Invoice.objects.filter(status="overdue"), user=user), location)
    rows = cents(
        list(
            invoices.order_by("due_date", "invoice_number")
            .values(
                "id",
                "invoice_number",
                "due_date",
                student_number=F("student__student_number"),
                student_name=F("student__last_name"),
                location_name=F("location__name"),
            )
            .annotate(balance=unpaid())
        ),
        "balance",
    )
    buckets = {name: {"bucket": name, "count": 0, "amount": ZERO} for name, _low, _high in AGEING_BUCKETS}
    for row in rows:
        row["days_overdue"] = (today - row["due_date"]).days
        for name, low, high in AGEING_BUCKETS:
            if row["days_overdue"] >= low and (high is None or row["days_overdue"] <= high):
                buckets[name]["count"] += 1
                buckets[name]["amount"] += row["balance"]
                row["bucket"] = name
                break
    return {"invoices": rows, "buckets": list(buckets.values())}
