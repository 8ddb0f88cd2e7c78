"""Money over time: what was collected per day (by location and method) and what was
invoiced and collected per month (by location). Collected means cleared (a cheque or
transfer once verified) and not reversed, by the payment's location and receipt date;
invoiced means amount due (total and adjustments) of invoices not cancelled, by the
invoice's location and issue date."""

from datetime import date, timedelta

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from academy.models import Location
from academy.selectors import scoped_to_locations
from finance.models import Invoice
from finance.reports.base import ZERO, amount_due, as_date, cents, cleared_payments


def daily_collections(*, user, date_from=None, date_to=None, location=None) -> list[dict]:
    """Money received per day, location and method (the last 30 days unless a period is
    given), by day, then location name, then method."""
    date_to = date_to or timezone.localdate()
    date_from = date_from or date_to - timedelta(days=30)
    payments = cleared_payments(user=user, location=location).filter(
        received_at__date__gte=date_from, received_at__date__lte=date_to
    )
    rows = list(
        payments.annotate(day=TruncDate("received_at"))
        .values("day", "location_id", "method")
        .annotate(
            location_code=F("location__code"),
            location_name=F("location__name"),
            count=Count("id"),
            amount=Sum("amount"),
        )
        .order_by("day", "location_name", "location_id", "method")
    )
    return cents(rows, "amount")


def _first_month(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _months(start: date, today: date) -> list[date]:
    found, month = [], start
    while month <= today:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def monthly_revenue(*, user, months: int = 12, today: date | None = None, location=None) -> list[dict]:
    """Per month: amount invoiced (by issue date) and collected (by receipt), for charts;
    ``location`` narrows the user's scope to one location."""
    today = today or timezone.localdate()
    start = _first_month(today, months)
    at = {} if location is None else {"location": location}
    invoiced = {
        as_date(row["month"]): row["amount"]
        for row in scoped_to_locations(Invoice.objects.exclude(status="cancelled"), user=user)
        .filter(issue_date__gte=start, **at)
        .annotate(month=TruncMonth("issue_date"))
        .values("month")
        .annotate(amount=Sum(amount_due()))
    }
    collected = {
        as_date(row["month"]): row["amount"]
        for row in cleared_payments(user=user, location=location)
        .filter(received_at__date__gte=start)
        .annotate(month=TruncMonth("received_at"))
        .values("month")
        .annotate(amount=Sum("amount"))
    }
    rows = [
        {"month": month, "invoiced": invoiced.get(month) or ZERO, "collected": collected.get(month) or ZERO}
        for month in _months(start, today)
    ]
    return cents(rows, "invoiced", "collected")


def monthly_revenue_by_location(*, user, months: int = 12, today: date | None = None, location=None) -> list[dict]:
    """Per month and location (every month of the period for every location the user may
    see, or ``location``): amount invoiced and collected; by month, then location name.
    Three queries."""
    today = today or timezone.localdate()
    start = _first_month(today, months)
    locations = scoped_to_locations(Location.objects.all(), user=user, field="pk")
    if location is not None:
        locations = locations.filter(pk=location.pk)
    places = list(locations.order_by("name", "code").values("id", "code", "name"))
    at = {} if location is None else {"location": location}
    invoiced = {
        (row["location_id"], as_date(row["month"])): row["amount"]
        for row in scoped_to_locations(Invoice.objects.exclude(status="cancelled"), user=user)
        .filter(issue_date__gte=start, **at)
        .annotate(month=TruncMonth("issue_date"))
        .values("location_id", "month")
        .annotate(amount=Sum(amount_due()))
    }
    collected = {
        (row["location_id"], as_date(row["month"])): row["amount"]
        for row in cleared_payments(user=user, location=location)
        .filter(received_at__date__gte=start)
        .annotate(month=TruncMonth("received_at"))
        .values("location_id", "month")
        .annotate(amount=Sum("amount"))
    }
    rows = [
        {
            "month": month,
            "location_id": place["id"],
            "location_code": place["code"],
            "location_name": place["name"],
            "invoiced": invoiced.get((place["id"], month)) or ZERO,
            "collected": collected.get((place["id"], month)) or ZERO,
        }
        for month in _months(start, today)
        for place in places
    ]
    return cents(rows, "invoiced", "collected")
