"""Finance reports (docs/rules.md, Money): each is one aggregate query scoped to the
locations a user may see, returning rows of plain values ready for a table, a chart,
the API or CSV. Money stays Decimal."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from academy.models import Location
from academy.selectors import scoped_to_locations
from finance.models import Invoice, Payment, StudentAccount

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=12, decimal_places=2)
AGEING_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") else value


def _cleared_payments(user):
    """Money that really arrived: cleared (or needing no check) and not reversed."""
    return (
        scoped_to_locations(Payment.objects.all(), user=user)
        .filter(Q(requires_verification=False) | Q(verification__outcome="cleared"))
        .filter(reversal__isnull=True)
    )


def _open_amount():
    return ExpressionWrapper(F("total") + F("amount_adjusted") - F("amount_paid"), output_field=MONEY)


def student_balances(*, user, location=None) -> list[dict]:
    """Every account with what is owed (negative: credit), largest first."""
    accounts = scoped_to_locations(StudentAccount.objects.all(), user=user, field="student__location_id")
    if location is not None:
        accounts = accounts.filter(student__location=location)
    return list(
        accounts.filter(student__deleted_at__isnull=True)
        .order_by("-balance", "student__student_number")
        .values(
            "balance",
            "student_id",
            student_number=F("student__student_number"),
            first_name=F("student__first_name"),
            last_name=F("student__last_name"),
            location_name=F("student__location__name"),
        )
    )


def location_summary(*, user) -> list[dict]:
    """Per location: students, invoiced, collected, outstanding and overdue."""
    locations = scoped_to_locations(Location.objects.all(), user=user, field="id").order_by("name")
    rows = locations.annotate(
        active_students=Count(
            "students", filter=Q(students__status="active", students__deleted_at__isnull=True), distinct=True
        ),
    ).values("id", "code", "name", "active_students")
    money = {
        row["location_id"]: row
        for row in Invoice.objects.filter(location__in=locations)
        .values("location_id")
        .annotate(
            invoiced=Coalesce(
                Sum(F("total") + F("amount_adjusted"), filter=~Q(status="cancelled")), ZERO, output_field=MONEY
            ),
            collected=Coalesce(Sum("amount_paid", filter=~Q(status="cancelled")), ZERO, output_field=MONEY),
            outstanding=Coalesce(
                Sum(_open_amount(), filter=Q(status__in=Invoice.OPEN_STATUSES)), ZERO, output_field=MONEY
            ),
            overdue=Coalesce(Sum(_open_amount(), filter=Q(status="overdue")), ZERO, output_field=MONEY),
        )
    }
    empty = {"invoiced": ZERO, "collected": ZERO, "outstanding": ZERO, "overdue": ZERO}
    return [{**row, **{k: money.get(row["id"], empty)[k] for k in empty}} for row in rows]


def invoice_details(*, user, status: str | None = None, date_from=None, date_to=None) -> list[dict]:
    invoices = scoped_to_locations(Invoice.objects.all(), user=user)
    if status:
        invoices = invoices.filter(status=status)
    if date_from:
        invoices = invoices.filter(issue_date__gte=date_from)
    if date_to:
        invoices = invoices.filter(issue_date__lte=date_to)
    return list(
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
        .annotate(balance=_open_amount())
    )


def payment_history(*, user, date_from=None, date_to=None) -> list[dict]:
    payments = scoped_to_locations(Payment.objects.all(), user=user)
    if date_from:
        payments = payments.filter(received_at__date__gte=date_from)
    if date_to:
        payments = payments.filter(received_at__date__lte=date_to)
    return list(
        payments.order_by("-received_at").values(
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
    )


def overdue_invoices(*, user, today: date | None = None, location=None) -> dict:
    """Overdue invoices with days overdue, and totals per ageing bucket (0-30, 31-60,
    61-90, 90+ days past due); ``location`` narrows the user's scope to one location."""
    today = today or timezone.localdate()
    invoices = scoped_to_locations(Invoice.objects.filter(status="overdue"), user=user)
    if location is not None:
        invoices = invoices.filter(location=location)
    rows = list(
        invoices.order_by("due_date", "invoice_number")
        .values(
            "id",
            "invoice_number",
            "due_date",
            student_number=F("student__student_number"),
            student_name=F("student__last_name"),
            location_name=F("location__name"),
        )
        .annotate(balance=_open_amount())
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


def daily_collections(*, user, date_from=None, date_to=None) -> list[dict]:
    """Money received per day and method (cleared cheques and transfers only)."""
    date_to = date_to or timezone.localdate()
    date_from = date_from or date_to - timedelta(days=30)
    payments = (
        scoped_to_locations(Payment.objects.all(), user=user)
        .filter(received_at__date__gte=date_from, received_at__date__lte=date_to)
        .filter(Q(requires_verification=False) | Q(verification__outcome="cleared"))
        .filter(reversal__isnull=True)
    )
    return list(
        payments.annotate(day=TruncDate("received_at"))
        .values("day", "method")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("day", "method")
    )


def monthly_revenue(*, user, months: int = 12, today: date | None = None, location=None) -> list[dict]:
    """Per month: amount invoiced (by issue date) and collected (by receipt), for charts;
    ``location`` narrows the user's scope to one location."""
    today = today or timezone.localdate()
    index = today.year * 12 + today.month - 1 - (months - 1)
    start = date(index // 12, index % 12 + 1, 1)
    at = {} if location is None else {"location": location}
    invoiced = {
        _as_date(row["month"]): row["amount"]
        for row in scoped_to_locations(Invoice.objects.exclude(status="cancelled"), user=user)
        .filter(issue_date__gte=start, **at)
        .annotate(month=TruncMonth("issue_date"))
        .values("month")
        .annotate(amount=Sum(F("total") + F("amount_adjusted")))
    }
    collected = {
        _as_date(row["month"]): row["amount"]
        for row in _cleared_payments(user)
        .filter(received_at__date__gte=start, **at)
        .annotate(month=TruncMonth("received_at"))
        .values("month")
        .annotate(amount=Sum("amount"))
    }
    result, month = [], start
    while month <= today:
        result.append(
            {"month": month, "invoiced": invoiced.get(month) or ZERO, "collected": collected.get(month) or ZERO}
        )
        month = (month + timedelta(days=32)).replace(day=1)
    return result


__all__ = [
    "AGEING_BUCKETS",
    "daily_collections",
    "invoice_details",
    "location_summary",
    "monthly_revenue",
    "overdue_invoices",
    "payment_history",
    "student_balances",
]
