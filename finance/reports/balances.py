"""Where every student stands (seed report "student balance") and the same money per
location ("school summary"). A location's row is the sum of its students' rows: both
read the same students (``report_students``) and the same invoice expressions."""

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from academy.common.registry import enrolled_in
from academy.models import Location
from academy.selectors import scoped_to_locations
from finance.models import FeeStructure, Invoice, PaymentAllocation
from finance.reports.base import MONEY, ZERO, ReportRows, cents, invoice_money, listed, money_sum, report_students
from finance.services.billing import structure_applies

INVOICE_STATUSES = tuple(Invoice.Status.values)


STUDENT_FIELDS = {
    "student_id": F("id"),
    "location_code": F("location__code"),
    "location_name": F("location__name"),
    "grade": F("grade_level__name"),
    "deleted_at_value": F("deleted_at"),
}
COUNTS = {f"{status}_invoices": Count("pk", filter=Q(status=status)) for status in INVOICE_STATUSES}
AMOUNTS = {f"total_{name}" if name in ("invoiced", "paid") else name: value for name, value in invoice_money().items()}
EMPTY = {"total_invoices": 0, **dict.fromkeys(COUNTS, 0), **dict.fromkeys(AMOUNTS, ZERO)}


def student_balances(*, user, location=None, today=None) -> ReportRows:
    """Per student: number, name, location, grade, the monthly fee that applies, what was
    invoiced, paid, carried forward, pending and overdue, the account credit, the balance
    due (the ledger: ``pending - credit``) and the number of invoices in each status;
    largest balance first.

    Read as asked (``ReportRows``): a page is the page's students (one query, by balance),
    their invoice figures and credit (one query each), the monthly fee structures (one),
    and one more per location that bills monthly fees by course or programme (who is
    enrolled in what); every row the same queries over all of them; the totals three
    aggregates."""
    today = today or timezone.localdate()
    students = report_students(user=user, location=location)
    ordered = (
        students.annotate(balance_due=Coalesce(F("account__balance"), ZERO, output_field=MONEY))
        .order_by("-balance_due", "student_number")
        .values(
            "balance_due",
            "student_number",
            "first_name",
            "last_name",
            "status",
            "location_id",
            "grade_level_id",
            "academic_year_id",
            **STUDENT_FIELDS,
        )
    )

    def finish(rows, everything):
        if not rows:
            return rows
        of = (
            {"student__in": students.values("pk")}
            if everything
            else {"student_id__in": [r["student_id"] for r in rows]}
        )
        figures = {
            values.pop("student_id"): values
            for values in Invoice.objects.filter(**of)
            .values("student_id")
            .annotate(total_invoices=Count("pk"), **COUNTS, **AMOUNTS)
            .order_by()
        }
        credit = dict(
            PaymentAllocation.objects.filter(invoice__isnull=True, **of)
            .values("student_id")
            .annotate(total=Sum("amount"))
            .values_list("student_id", "total")
            .order_by()
        )
        fees = _monthly_fees(rows, user=user, location=location, today=today)
        for row in rows:
            row.update(figures.get(row["student_id"], EMPTY))
            row["credit"] = credit.get(row["student_id"]) or ZERO
            row["balance"] = row["balance_due"]  # the name the API had first
            row["deleted"] = row.pop("deleted_at_value") is not None
            row["monthly_fee"] = fees.get(row["student_id"])
        return cents(rows, "balance_due", "balance", "credit", *AMOUNTS)

    def totals():
        found = Invoice.objects.filter(student__in=students.values("pk")).aggregate(
            total_invoices=Count("pk"), **COUNTS, **AMOUNTS
        )
        found["credit"] = PaymentAllocation.objects.filter(
            invoice__isnull=True, student__in=students.values("pk")
        ).aggregate(total=money_sum(F("amount")))["total"]
        found["balance_due"] = students.aggregate(total=money_sum(F("account__balance")))["total"]
        return cents([found], "credit", "balance_due", *AMOUNTS)[0]

    return ReportRows(ordered, finish, totals)


def _monthly_fees(rows, *, user, location, today) -> dict:
    """Student id -> the monthly fee a monthly billing run for the student's academic
    year would charge them (the sum of the active monthly fee structures that apply:
    ``finance.services.billing``), for students a run bills (active, not deleted)."""
    structures = scoped_to_locations(
        FeeStructure.objects.filter(is_active=True, frequency=FeeStructure.Frequency.MONTHLY, term__isnull=True),
        user=user,
    )
    if location is not None:
        structures = structures.filter(location=location)
    by_location: dict = {}
    for structure in structures.only(
        "location_id", "academic_year_id", "grade_level_id", "course_id", "program_id", "amount"
    ):
        by_location.setdefault(structure.location_id, []).append(structure)
    billed = [row for row in rows if row["status"] == "active" and not row["deleted_at_value"]]
    if not billed:
        return {}
    enrolled: dict = {}
    for location_id, found in by_location.items():
        if any(s.course_id or s.program_id for s in found):
            ids = [row["student_id"] for row in billed if row["location_id"] == location_id]
            if ids:
                enrolled.update(enrolled_in(ids, location=location_id, academic_year=None, term=None, on=today))
    nothing = (frozenset(), frozenset())
    memo: dict = {}
    fees = {}
    for row in billed:
        courses, programs = enrolled.get(row["student_id"], nothing)
        key = (
            row["location_id"],
            row["academic_year_id"],
            row["grade_level_id"],
            frozenset(courses),
            frozenset(programs),
        )
        if key not in memo:
            memo[key] = sum(
                (
                    s.amount
                    for s in by_location.get(row["location_id"], ())
                    if (s.academic_year_id is None or row["academic_year_id"] in (None, s.academic_year_id))
                    and structure_applies(s, row["grade_level_id"], key[3], key[4])
                ),
                ZERO,
            )
        fees[row["student_id"]] = memo[key]
    return fees


def location_summary(*, user, location=None) -> list[dict]:
    """Per location (by name): the students the balance report lists there
    (``all_students``) and the active ones, what was invoiced, collected (paid on
    invoices), carried forward, pending (``outstanding``, its first name) and overdue,
    the account credit and the balance due: each the sum of the location's rows of
    ``student_balances``. Three queries."""
    locations = scoped_to_locations(Location.objects.all(), user=user, field="pk")
    if location is not None:
        locations = locations.filter(pk=location.pk)
    rows = list(
        locations.order_by("name", "code")
        .annotate(
            all_students=Count("students", filter=listed("students__")),
            active_students=Count("students", filter=Q(students__status="active", students__deleted_at__isnull=True)),
            balance=money_sum(F("students__account__balance"), listed("students__")),
        )
        .values("id", "code", "name", "all_students", "active_students", "balance")
    )
    students = report_students(user=user, location=location)
    by_location = {
        row.pop("student__location_id"): row
        for row in Invoice.objects.filter(student__in=students.values("pk"))
        .values("student__location_id")
        .annotate(**invoice_money())
    }
    credit = dict(
        PaymentAllocation.objects.filter(invoice__isnull=True, student__in=students.values("pk"))
        .values("student__location_id")
        .annotate(total=Sum("amount"))
        .values_list("student__location_id", "total")
    )
    empty = {"invoiced": ZERO, "paid": ZERO, "carried_forward": ZERO, "pending": ZERO, "overdue": ZERO}
    for row in rows:
        found = by_location.get(row["id"], empty)
        row.update(
            invoiced=found["invoiced"],
            collected=found["paid"],
            carried_forward=found["carried_forward"],
            pending=found["pending"],
            outstanding=found["pending"],
            overdue=found["overdue"],
            credit=credit.get(row["id"]) or ZERO,
        )
    return cents(
        rows, "balance", "invoiced", "collected", "carried_forward", "pending", "outstanding", "overdue", "credit"
    )
