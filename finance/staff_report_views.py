"""The staff portal's finance reports page: one table per report (``finance.reports``)
with totals, charts where money moves over time, and the same rows as CSV. For finance
staff and administrators (``finance.view_studentaccount``); every report covers the
locations the user may see, or the one chosen with ``?location=`` (another is a form
error, 400)."""

from datetime import date, timedelta
from decimal import Decimal

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from academy.common.charts import stacked_bar_chart
from academy.common.csv_stream import streamed_csv
from academy.views import query_without, staff_layout_context, staff_permission_required
from finance import reports
from finance.models import Invoice, Payment
from finance.staff_forms import ReportFilterForm
from students.models import Student

PAGE_SIZE = 25
DAILY_CHART_DAYS = 62  # a longer period is charted per month


def _money(value) -> str:
    return f"{value:,.2f}"


STUDENT = [
    ("student_number", "Student", "text"),
    ("last_name", "Last name", "text"),
    ("first_name", "First name", "text"),
    ("location_name", "Location", "text"),
]

# Each report: its title, its columns (name, label, kind), the filters it reads and how
# its rows are read. Kinds: text, money and count (totalled in the footer), number,
# date, datetime, month, flag, and the codes shown by their label (method,
# invoice_status, student_status); the CSV keeps the codes.
REPORTS = {
    "student-balances": {
        "title": "Student balances",
        "help": (
            "Per student: invoiced less paid less carried forward is pending; the balance due is pending less "
            "account credit (the ledger). Cancelled invoices count nothing."
        ),
        "columns": [
            *STUDENT,
            ("grade", "Grade", "text"),
            ("status", "Status", "student_status"),
            ("deleted", "Deleted", "flag"),
            ("monthly_fee", "Monthly fee", "money"),
            ("total_invoiced", "Invoiced", "money"),
            ("total_paid", "Paid", "money"),
            ("carried_forward", "Carried forward", "money"),
            ("pending", "Pending", "money"),
            ("overdue", "Overdue", "money"),
            ("credit", "Credit", "money"),
            ("balance_due", "Balance due", "money"),
            ("total_invoices", "Invoices", "count"),
            ("pending_invoices", "Pending", "count"),
            ("partial_invoices", "Partly paid", "count"),
            ("paid_invoices", "Paid", "count"),
            ("overdue_invoices", "Overdue", "count"),
            ("cancelled_invoices", "Cancelled", "count"),
            ("carried_forward_invoices", "Carried forward", "count"),
        ],
        "rows": lambda user, f: reports.student_balances(user=user, location=f["location"]),
    },
    "location-summary": {
        "title": "Location summary",
        "help": "Each location is the sum of its students' balances (students by their current location).",
        "columns": [
            ("code", "Code", "text"),
            ("name", "Location", "text"),
            ("all_students", "All students", "count"),
            ("active_students", "Active students", "count"),
            ("invoiced", "Invoiced", "money"),
            ("collected", "Collected", "money"),
            ("carried_forward", "Carried forward", "money"),
            ("pending", "Pending", "money"),
            ("overdue", "Overdue", "money"),
            ("credit", "Credit", "money"),
            ("balance", "Balance due", "money"),
        ],
        "rows": lambda user, f: reports.location_summary(user=user, location=f["location"]),
    },
    "invoice-details": {
        "title": "Invoice details",
        "period": True,
        "columns": [
            ("invoice_number", "Invoice", "text"),
            ("issue_date", "Issued", "date"),
            ("due_date", "Due", "date"),
            ("status", "Status", "invoice_status"),
            ("student_number", "Student", "text"),
            ("student_name", "Student name", "text"),
            ("billed_to_name", "Billed to", "text"),
            ("location_name", "Location", "text"),
            ("total", "Total", "money"),
            ("amount_adjusted", "Adjusted", "money"),
            ("amount_paid", "Paid", "money"),
            ("balance", "Balance", "money"),
        ],
        "rows": lambda user, f: reports.invoice_details(
            user=user, location=f["location"], date_from=f["date_from"], date_to=f["date_to"]
        ),
    },
    "payment-history": {
        "title": "Payment history",
        "period": True,
        "columns": [
            ("receipt_number", "Receipt", "text"),
            ("received_at", "Received", "datetime"),
            ("method", "Method", "method"),
            ("reference", "Reference", "text"),
            ("student_number", "Student", "text"),
            ("payer_name", "Payer", "text"),
            ("location_name", "Location", "text"),
            ("amount", "Amount", "money"),
        ],
        "rows": lambda user, f: reports.payment_history(
            user=user, location=f["location"], date_from=f["date_from"], date_to=f["date_to"]
        ),
    },
    "overdue-invoices": {
        "title": "Overdue invoices",
        "columns": [
            ("invoice_number", "Invoice", "text"),
            ("due_date", "Due", "date"),
            ("days_overdue", "Days overdue", "number"),
            ("bucket", "Ageing", "text"),
            ("student_number", "Student", "text"),
            ("student_name", "Student name", "text"),
            ("location_name", "Location", "text"),
            ("balance", "Balance", "money"),
        ],
        "rows": lambda user, f: reports.overdue_invoices(user=user, location=f["location"])["invoices"],
    },
    "daily-collections": {
        "title": "Daily collections",
        "period": True,
        "help": "Money received (cleared, not reversed) per day, location and method; the last 30 days by default.",
        "columns": [
            ("day", "Day", "date"),
            ("location_code", "Code", "text"),
            ("location_name", "Location", "text"),
            ("method", "Method", "method"),
            ("count", "Payments", "count"),
            ("amount", "Amount", "money"),
        ],
        "rows": lambda user, f: reports.daily_collections(
            user=user, location=f["location"], date_from=f["date_from"], date_to=f["date_to"]
        ),
    },
    "monthly-revenue": {
        "title": "Monthly revenue",
        "help": (
            "Per month and location over the last twelve months: invoiced (amounts due of the invoices issued, "
            "not cancelled) and collected (payments received, cleared, not reversed)."
        ),
        "columns": [
            ("month", "Month", "month"),
            ("location_code", "Code", "text"),
            ("location_name", "Location", "text"),
            ("invoiced", "Invoiced", "money"),
            ("collected", "Collected", "money"),
        ],
        "rows": lambda user, f: reports.monthly_revenue_by_location(user=user, location=f["location"]),
    },
    "ledger-summary": {
        "title": "Per-year summary",
        "academic_year": True,
        "help": (
            "Per student and academic year: base fees + brought forward + adjustments - payments - carried forward "
            "- unapplied credit = balance; a student's years add up to their balance. An invoice belongs to its "
            "academic year (else its term's, else the year holding its issue date), what was paid on it to the same "
            "year, and credit not applied to any invoice to the year its payment was received in."
        ),
        "columns": [
            *STUDENT,
            ("academic_year_name", "Academic year", "text"),
            ("invoices", "Invoices", "count"),
            ("base_fees", "Base fees", "money"),
            ("brought_forward", "Brought forward", "money"),
            ("adjustments", "Adjustments", "money"),
            ("payments", "Payments", "money"),
            ("carried_forward", "Carried forward", "money"),
            ("credit", "Credit", "money"),
            ("balance", "Balance", "money"),
        ],
        "rows": lambda user, f: reports.ledger_summary(
            user=user, location=f["location"], academic_year=f["academic_year"]
        ),
    },
}

# codes the report pages show by their label ("UPI", "Bank transfer"); the CSV keeps the code
CODE_LABELS = {
    "method": dict(Payment.Method.choices),
    "invoice_status": dict(Invoice.Status.choices),
    "student_status": dict(Student.Status.choices),
}
TOTALLED = ("money", "count")


def _shown(value, kind: str):
    return CODE_LABELS[kind].get(value, value) if kind in CODE_LABELS else value


def _cell(value, kind: str):
    if value is None:
        return ""
    if kind == "money":
        return f"{value:.2f}"
    if kind == "month":
        return value.strftime("%Y-%m")
    if kind in ("date", "datetime"):
        return value.isoformat()
    if kind == "flag":
        return "yes" if value else ""
    return value


def _totals(columns, rows) -> list | None:
    """The footer: the sum of every money and count column over all the rows; for a
    large report (``finance.reports.ReportRows``) its own totals (read by SQL, not row by
    row), none when it has none."""
    if not rows:
        return None
    if isinstance(rows, reports.ReportRows):
        found = rows.totals()
        if found is None:
            return None
        return [(found[name], kind) if name in found else ("", kind) for name, _label, kind in columns]
    return [
        (sum((row.get(name) or 0 for row in rows), Decimal("0.00") if kind == "money" else 0), kind)
        if kind in TOTALLED
        else ("", kind)
        for name, _label, kind in columns
    ]


# --- charts --------------------------------------------------------------------------


def _series(rows, key_of, name_of, value: str) -> list[tuple[str, dict]]:
    """``(name, {key: sum of value})`` per distinct ``name_of(row)``, in first-seen order."""
    series: dict = {}
    for row in rows:
        values = series.setdefault(name_of(row), {})
        key = key_of(row)
        values[key] = values.get(key, 0) + row[value]
    return list(series.items())


def _months_between(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _collection_charts(rows, filters) -> list[dict]:
    """Collections over the period stacked by method and by location: per day up to
    ``DAILY_CHART_DAYS`` days, per month beyond."""
    last = filters["date_to"] or timezone.localdate()
    first = filters["date_from"] or last - timedelta(days=30)
    if (last - first).days < DAILY_CHART_DAYS:
        keys = [first + timedelta(days=n) for n in range((last - first).days + 1)]

        def key_of(row):
            return row["day"]

        every, label = "day", lambda day: f"{day:%-d %b}"
    else:
        keys = _months_between(first, last)

        def key_of(row):
            return row["day"].replace(day=1)

        every, label = "month", None
    methods = CODE_LABELS["method"]
    by_method = sorted(_series(rows, key_of, lambda row: methods.get(row["method"], row["method"]), "amount"))
    by_location = _series(rows, key_of, lambda row: row["location_name"], "amount")
    return [
        {
            "id": f"collections-by-{name}",
            "title": f"Collected per {every} by {name}",
            "chart": stacked_bar_chart(keys, series, label_format=label, value_format=_money),
        }
        for name, series in (("method", by_method), ("location", sorted(by_location)))
    ]


def _revenue_charts(rows, filters) -> list[dict]:
    """Invoiced and collected per month, stacked by location, on one scale."""
    keys = sorted({row["month"] for row in rows})
    months: dict = {}
    for row in rows:
        invoiced, collected = months.get(row["month"], (0, 0))
        months[row["month"]] = (invoiced + row["invoiced"], collected + row["collected"])
    top = max((max(pair) for pair in months.values()), default=0)
    return [
        {
            "id": f"revenue-{value}",
            "title": f"{label} per month by location (one scale for both)",
            "chart": stacked_bar_chart(
                keys,
                _series(rows, lambda row: row["month"], lambda row: row["location_name"], value),
                value_format=_money,
                top=top,
            ),
        }
        for value, label in (("invoiced", "Invoiced"), ("collected", "Collected"))
    ]


CHARTS = {"daily-collections": _collection_charts, "monthly-revenue": _revenue_charts}


# --- the page --------------------------------------------------------------------------


@staff_permission_required("finance.view_studentaccount")
def report_view(request):
    slug = request.GET.get("report", "student-balances")
    if slug not in REPORTS:
        raise Http404("No such report.")
    report = REPORTS[slug]
    form = ReportFilterForm(request.GET, user=request.user)
    valid = form.is_valid()
    filters = dict.fromkeys(("date_from", "date_to", "location", "academic_year"))
    if valid:
        filters.update({name: value for name, value in form.cleaned_data.items() if value})
        if not report.get("period"):
            filters.update(date_from=None, date_to=None)
    rows = report["rows"](request.user, filters) if valid else []
    columns = report["columns"]
    if request.GET.get("format") == "csv" and valid:
        return streamed_csv(
            [name for name, _label, _kind in columns],
            ([_cell(row.get(name), kind) for name, _label, kind in columns] for row in rows),
            filename=f"{slug}-{timezone.localdate():%Y%m%d}.csv",
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **staff_layout_context(request),
        "reports": [(key, value["title"]) for key, value in REPORTS.items()],
        "slug": slug,
        "report": report,
        "form": form,
        "columns": columns,
        "table": [[(_shown(row.get(name), kind), kind) for name, _label, kind in columns] for row in page.object_list],
        "totals": _totals(columns, rows),
        "charts": CHARTS[slug](rows, filters) if valid and slug in CHARTS and rows else [],
        "page": page,
        "query": query_without(request, "page"),
        "csv_query": query_without(request, "page", "format"),
    }
    return render(request, "staff/finance_reports.html", context, status=200 if valid else 400)
