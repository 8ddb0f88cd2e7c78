"""Benchmark of the pages people open most: the staff student list (with and without a
search, and its CSV export) and the parent dashboard, through the whole Django stack;
with ``--part money``, the invoice and payment lists (staff and API) and the parent's
money pages; with ``--part reports``, every finance report (staff page, CSV and API).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench DEBUG=1 \\
        .venv/bin/python bench/portal_pages.py [--runs 30] [--part pages|reports|all]

Run ``bench/students_list.py`` first: it builds the students (100,000 by default) and
the ``bench-office`` login this script uses. This script adds one parent login
(``bench-parent``) for the guardian of the first family. It prints, per page, the
median and 95th-percentile server time over ``--runs`` requests (after two warm-up
requests) and the number of queries of one request. The CSV export is timed for the
whole download of every visible student.

``--part reports`` adds money once (skipped when invoices exist): monthly fee structures
(a location-wide tuition and one per grade), two monthly billing runs per location (last
month, past due and marked overdue, and this month) and payments through
``payment_record`` for ``--paying`` of the active students (cash, card or UPI, received
over the last 45 days; in full, in part or beyond what is owed), and a ``bench-finance``
login (finance role, every location). Then, per report, it prints the same figures for
the staff page (page 1), the staff CSV (every row) and the API (page 1 of 50), and the
staff page for one location. See bench/README.md.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.config.settings")
os.environ.setdefault("HTTPS", "0")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

BENCH_OFFICE = "bench-office"
BENCH_PARENT = "bench-parent"
BENCH_FINANCE = "bench-finance"
REPORTS = (
    "student-balances",
    "location-summary",
    "invoice-details",
    "payment-history",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
    "ledger-summary",
)


def parent_login():
    """A portal login for the guardian of the first bench family (made once)."""
    from django.contrib.auth.models import Group

    from academy.models import User
    from academy.roles import PARENT
    from families.models import Guardian

    user = User.objects.filter(username=BENCH_PARENT).first()
    if user is None:
        guardian = Guardian.objects.filter(portal_user__isnull=True).order_by("guardian_number").first()
        with transaction.atomic():
            user = User.objects.create_user(username=BENCH_PARENT, email=guardian.email)
            user.groups.add(Group.objects.get(name=PARENT))
            Guardian.objects.filter(pk=guardian.pk).update(portal_user=user)
    return user


def measure(client: Client, path: str, params: dict, runs: int, *, stream: bool = False) -> tuple:
    def call():
        response = client.get(path, params)
        assert response.status_code == 200, (path, response.status_code)
        if stream:
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

    call(), call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        size = call()
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        call()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(queries), size


def finance_login():
    """A finance login without location limits (made once)."""
    from academy.models import User
    from academy.roles import FINANCE
    from academy.services import user_assign_role

    user = User.objects.filter(username=BENCH_FINANCE).first()
    if user is None:
        user = User.objects.create_user(username=BENCH_FINANCE, password=None)
        user_assign_role(user=user, role=FINANCE)
    return user


def ensure_money(paying: float) -> None:
    """Invoices and payments for the reports, once (see the module docstring)."""
    import datetime
    import random
    from decimal import Decimal
    from unittest import mock

    from django.db.models import F, Sum
    from django.utils import timezone

    from academy.models import AcademicYear, GradeLevel, Location
    from finance import services
    from finance.models import FeeStructure, FeeType, Invoice
    from finance.tasks import billing_run_task
    from students.models import Student

    if Invoice.objects.exists():
        print(f"money: {Invoice.objects.count():,} invoices already present, nothing added")
        return
    started = time.perf_counter()
    cashier = finance_login()
    tuition, _ = FeeType.objects.get_or_create(code="TUITION", defaults={"name": "Tuition"})
    materials, _ = FeeType.objects.get_or_create(code="MATERIAL", defaults={"name": "Material"})
    grades = list(GradeLevel.objects.filter(name__startswith="Bench grade").order_by("order"))
    locations = list(Location.objects.filter(code__startswith="BENCH-").order_by("code"))
    for location in locations:
        FeeStructure.objects.create(
            name="Materials", location=location, fee_type=materials, amount=Decimal("12.50"), frequency="monthly"
        )
        for number, grade in enumerate(grades):
            FeeStructure.objects.create(
                name=f"Tuition {grade.name}",
                location=location,
                fee_type=tuition,
                grade_level=grade,
                amount=Decimal("150.00") + 10 * number,
                frequency="monthly",
            )
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    year = AcademicYear.objects.filter(is_current=True).first()
    for location in locations:
        for month in (last_month, this_month):
            with mock.patch("academy.jobs.job_queue"):  # the run's job: executed below, here
                run = services.billing_run_start(
                    location=location, period=f"{month:%Y-%m}", issue_date=month, actor=cashier, academic_year=year
                )
            billing_run_task(str(run.pk))
    services.invoices_mark_overdue()
    print(f"money: {Invoice.objects.count():,} invoices billed ({time.perf_counter() - started:.1f} s)", flush=True)
    rng = random.Random(7)
    students = list(Student.objects.active().order_by("pk").values_list("pk", flat=True))
    chosen = [pk for pk in students if rng.random() < paying]
    owed = dict(
        Invoice.objects.open()
        .filter(student_id__in_array=chosen)
        .values_list("student_id")
        .annotate(total=Sum(F("total") + F("amount_adjusted") - F("amount_paid")))
    )
    with mock.patch("finance.services.payments.payment_receipt_notify", lambda **kwargs: False):
        for count, pk in enumerate(chosen, 1):
            due = owed.get(pk) or Decimal("50.00")
            share = rng.choice((Decimal("1.00"), Decimal("1.00"), Decimal("0.50"), Decimal("1.20")))
            services.payment_record(
                actor=cashier,
                student=Student.objects.get(pk=pk),
                amount=(due * share).quantize(Decimal("0.01")),
                method=rng.choice(("cash", "cash", "card", "upi")),
                received_at=timezone.now() - datetime.timedelta(days=rng.randrange(45), minutes=1),
                confirm_overpayment=True,
            )
            if count % 2000 == 0:
                print(f"money: {count:,} / {len(chosen):,} payments", flush=True)
    with connection.cursor() as cursor:
        tables = ("finance_invoice", "finance_payment", "finance_paymentallocation", "finance_ledgerentry")
        for table in tables if connection.vendor == "postgresql" else ():
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"money: {len(chosen):,} payments; done in {time.perf_counter() - started:.1f} s", flush=True)


def part_reports(args) -> int:
    """Every report: the staff page, its CSV and the API, as the finance login."""
    from academy.models import Location
    from students.models import Student

    ensure_money(args.paying)
    finance = finance_login()
    staff, api = Client(), Client()
    staff.force_login(finance)
    api.force_login(finance)
    one = Location.objects.filter(code__startswith="BENCH-").order_by("code").first()
    print(f"\nreports: {Student.all_objects.count():,} students; {args.runs} requests per figure (CSV fewer)\n")
    print(f"  {'report':<44}{'median ms':>10}{'p95 ms':>9}{'queries':>9}{'bytes':>12}")
    csv_runs = max(3, args.runs // 10)
    for name in REPORTS:
        figures = [
            (f"{name}: staff page 1", staff, "/staff/finance/reports/", {"report": name}, args.runs, False),
            (
                f"{name}: staff page, one location",
                staff,
                "/staff/finance/reports/",
                {"report": name, "location": str(one.pk)} if one else {"report": name},
                args.runs,
                False,
            ),
            (
                f"{name}: CSV (every row)",
                staff,
                "/staff/finance/reports/",
                {"report": name, "format": "csv"},
                csv_runs,
                True,
            ),
            (f"{name}: API page 1 (50)", api, f"/api/v1/reports/{name}/", {"page_size": 50}, args.runs, False),
        ]
        for label, client, path, params, runs, stream in figures:
            median, p95, queries, size = measure(client, path, params, runs, stream=stream)
            print(f"  {label:<44}{median:>10.1f}{p95:>9.1f}{queries:>9}{size:>12,}", flush=True)
    return 0


def part_money(args) -> int:
    """The invoice and payment lists (staff pages and API) and the parent's money pages,
    on the money ``ensure_money`` adds: the lists must cost the same at any size."""
    from finance.models import Invoice, Payment

    ensure_money(args.paying)
    finance = finance_login()
    staff, api, parent = Client(), Client(), Client()
    staff.force_login(finance)
    api.force_login(finance)
    parent.force_login(parent_login())
    print(
        f"\nmoney: {Invoice.objects.count():,} invoices, {Payment.objects.count():,} payments; "
        f"{args.runs} requests per figure\n"
    )
    print(f"  {'page':<44}{'median ms':>10}{'p95 ms':>9}{'queries':>9}{'bytes':>12}")
    pages = [
        ("staff invoice list, page 1", staff, "/staff/finance/invoices/", {}),
        ("staff invoice list, page 40", staff, "/staff/finance/invoices/", {"page": 40}),
        ("staff invoice list, overdue", staff, "/staff/finance/invoices/", {"status": "overdue"}),
        ("staff invoice list, search 'garc'", staff, "/staff/finance/invoices/", {"search": "garc"}),
        ("API invoices, page 1 (50)", api, "/api/v1/invoices/", {"page_size": 50}),
        ("API invoices, overdue (50)", api, "/api/v1/invoices/", {"page_size": 50, "status": "overdue"}),
        ("staff payment list, page 1", staff, "/staff/finance/payments/", {}),
        ("staff payment list, page 40", staff, "/staff/finance/payments/", {"page": 40}),
        ("API payments, page 1 (50)", api, "/api/v1/payments/", {"page_size": 50}),
        ("parent money page", parent, "/portal/money/", {}),
        ("parent statement", parent, "/portal/money/statement/", {}),
    ]
    for label, client, path, params in pages:
        median, p95, queries, size = measure(client, path, params, args.runs)
        print(f"  {label:<44}{median:>10.1f}{p95:>9.1f}{queries:>9}{size:>12,}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--part",
        choices=("pages", "money", "reports", "all"),
        default="pages",
        help="what to measure (default pages; all = pages, money and reports)",
    )
    parser.add_argument(
        "--paying", type=float, default=0.3, help="share of active students given a payment (reports, default 0.3)"
    )
    args = parser.parse_args()
    if args.part == "reports":
        return part_reports(args)
    if args.part == "money":
        return part_money(args)

    from academy.models import User
    from students.models import Student

    office = User.objects.filter(username=BENCH_OFFICE).first()
    if office is None:
        print("no bench-office login: run bench/students_list.py first")
        return 1
    staff, parent = Client(), Client()
    staff.force_login(office)
    parent.force_login(parent_login())
    print(f"students in the database: {Student.objects.count():,}; {args.runs} requests per figure\n")
    print(f"  {'page':<44}{'median ms':>10}{'p95 ms':>9}{'queries':>9}{'bytes':>12}")
    pages = [
        ("staff dashboard", staff, "/staff/", {}, False),
        ("staff student list, page 1", staff, "/staff/students/", {}, False),
        ("staff student list, page 40", staff, "/staff/students/", {"page": 40}, False),
        ("staff student list, search 'garc'", staff, "/staff/students/", {"search": "garc"}, False),
        ("staff student list, search '2025-1234'", staff, "/staff/students/", {"search": "2025-1234"}, False),
        ("staff list, search as you type (htmx)", staff, "/staff/students/", {"search": "garc", "_hx": 1}, False),
        ("parent dashboard", parent, "/portal/", {}, False),
    ]
    for label, client, path, params, stream in pages:
        if params.pop("_hx", None):
            client.defaults["HTTP_HX_REQUEST"] = "true"
        median, p95, queries, size = measure(client, path, params, args.runs, stream=stream)
        client.defaults.pop("HTTP_HX_REQUEST", None)
        print(f"  {label:<44}{median:>10.1f}{p95:>9.1f}{queries:>9}{size:>12,}")
    median, p95, queries, size = measure(staff, "/staff/students/export.csv", {}, max(3, args.runs // 10), stream=True)
    print(f"  {'CSV export of every student (streamed)':<44}{median:>10.1f}{p95:>9.1f}{queries:>9}{size:>12,}")
    if args.part == "all":
        return part_money(args) or part_reports(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
