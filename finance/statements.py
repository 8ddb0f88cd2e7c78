"""Invoice statements: each invoice of a student, of a family or of every student at a
location in a period, with what it asks for, what was paid, what was carried forward
and what is still pending, and totals that add up.

One code path for every interface: the staff pages, the parent portal, the PDFs, the
CSV downloads and the API all read ``InvoiceRow``s and ``InvoiceTotals`` from here, so
their figures cannot disagree.

The figures of one invoice (its stored status decides):

- ``amount_due``: total + approved adjustments (``Invoice.amount_due``);
- ``paid``: what payments and account credit paid on it (``amount_paid``);
- ``carried_forward``: for a carried-forward invoice, the unpaid balance that moved to
  its successor (``amount_due - paid``), else 0. The successor bills that amount again
  and carries it from then on, so the old invoice has nothing pending;
- ``pending``: ``amount_due - paid`` for an open invoice (pending, partly paid,
  overdue), 0 for a paid, cancelled or carried-forward one;
- ``overdue``: the pending amount of an invoice whose status is overdue, else 0.

Totals count every invoice but the cancelled ones (listed, never counted: a cancelled
invoice was reversed in the ledger and what was paid on it became account credit).
For the counted invoices ``invoiced - paid - carried_forward = pending`` holds, row by
row and in total, and ``overdue`` is part of ``pending``. When an invoice and its
successor are both in a period, ``invoiced`` holds the carried balance twice (each
invoice asked for it) and ``carried_forward`` once, so ``pending`` holds it once.

Statuses and amounts are as they stand now; the period chooses invoices by issue date.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import F, QuerySet
from django.utils import timezone

from academy.common.money import money
from academy.models import Location
from academy.selectors import academic_year_current, location_list
from finance.models import Invoice

ZERO = Decimal("0.00")
STATUS_LABELS = dict(Invoice.Status.choices)
_VALUES = (
    "id",
    "invoice_number",
    "student_id",
    "issue_date",
    "due_date",
    "status",
    "total",
    "amount_adjusted",
    "amount_paid",
)
_REFERENCES = {
    "carried_from_number": F("carried_from__invoice_number"),
    "carried_to_number": F("carried_to__invoice_number"),
}


@dataclass(frozen=True)
class StatementStudent:
    """The student of a group of a location statement (read with the invoices)."""

    pk: object
    student_number: str
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class InvoiceRow:
    """One invoice on a statement (the module docstring says what each amount means)."""

    invoice_id: object
    invoice_number: str
    student_id: object
    issue_date: date
    due_date: date
    status: str
    amount_due: Decimal
    paid: Decimal
    carried_forward: Decimal
    pending: Decimal
    overdue: Decimal
    carried_from_number: str = ""
    carried_to_number: str = ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def counted(self) -> bool:
        """Whether the row counts in the totals (a cancelled invoice is only listed)."""
        return self.status != Invoice.Status.CANCELLED

    @property
    def is_overdue(self) -> bool:
        return self.status == Invoice.Status.OVERDUE


def invoice_row(values: dict) -> InvoiceRow:
    """The statement row of one invoice, from its stored amounts and status."""
    status = values["status"]
    amount_due = money(values["total"] + values["amount_adjusted"])
    paid = money(values["amount_paid"])
    unpaid = amount_due - paid
    pending = unpaid if status in Invoice.OPEN_STATUSES else ZERO
    return InvoiceRow(
        invoice_id=values["id"],
        invoice_number=values["invoice_number"],
        student_id=values["student_id"],
        issue_date=values["issue_date"],
        due_date=values["due_date"],
        status=status,
        amount_due=amount_due,
        paid=paid,
        carried_forward=unpaid if status == Invoice.Status.CARRIED_FORWARD else ZERO,
        pending=pending,
        overdue=pending if status == Invoice.Status.OVERDUE else ZERO,
        carried_from_number=values.get("carried_from_number") or "",
        carried_to_number=values.get("carried_to_number") or "",
    )


@dataclass(frozen=True)
class InvoiceTotals:
    """The totals of statement rows: cancelled invoices are counted in ``cancelled``
    only. ``invoiced - paid - carried_forward == pending``; ``overdue`` is part of
    ``pending``."""

    invoices: int = 0
    cancelled: int = 0
    invoiced: Decimal = ZERO
    paid: Decimal = ZERO
    carried_forward: Decimal = ZERO
    pending: Decimal = ZERO
    overdue: Decimal = ZERO

    @classmethod
    def of(cls, rows) -> "InvoiceTotals":
        counted = [row for row in rows if row.counted]
        return cls(
            invoices=len(counted),
            cancelled=len(rows) - len(counted),
            invoiced=sum((row.amount_due for row in counted), ZERO),
            paid=sum((row.paid for row in counted), ZERO),
            carried_forward=sum((row.carried_forward for row in counted), ZERO),
            pending=sum((row.pending for row in counted), ZERO),
            overdue=sum((row.overdue for row in counted), ZERO),
        )


def _in_period(invoices: QuerySet, date_from, date_to) -> QuerySet:
    if date_from is not None:
        invoices = invoices.filter(issue_date__gte=date_from)
    if date_to is not None:
        invoices = invoices.filter(issue_date__lte=date_to)
    return invoices


def invoice_rows_by_student(*, student_ids, date_from=None, date_to=None) -> dict:
    """Student id -> the rows of their invoices issued in the period (every invoice
    without one), by issue date then number: one query whatever their number."""
    ids = list(student_ids)
    by_student: dict = {pk: [] for pk in ids}
    if not ids:
        return by_student
    invoices = _in_period(Invoice.objects.filter(student_id__in=ids), date_from, date_to)
    for values in invoices.order_by("issue_date", "invoice_number").values(*_VALUES, **_REFERENCES):
        by_student[values["student_id"]].append(invoice_row(values))
    return by_student


# --- the location ("school") statement ---------------------------------------------------


@dataclass(frozen=True)
class StudentInvoices:
    """One student's invoices on a location statement, with their subtotals."""

    student: StatementStudent
    invoices: list[InvoiceRow]

    @property
    def totals(self) -> InvoiceTotals:
        return InvoiceTotals.of(self.invoices)


@dataclass
class LocationStatement:
    """Every invoice a location issued in a period, by student (last name, first name,
    number), each student's by issue date, with subtotals per student and totals."""

    location: Location
    date_from: date | None
    date_to: date | None
    period_label: str
    students: list[StudentInvoices]
    totals: InvoiceTotals = field(default_factory=InvoiceTotals)


def location_statement_period(*, date_from=None, date_to=None, today: date | None = None) -> tuple:
    """``(date_from, date_to, label)``: the dates asked for (either end may be open) or,
    when neither is given, the current academic year (what a bursar reconciles: a
    year's billing and collections, older unpaid invoices included), else the current
    calendar month when no year is current."""
    if date_from is not None or date_to is not None:
        return date_from, date_to, ""
    year = academic_year_current()
    if year is not None:
        return year.start_date, year.end_date, f"Academic year {year.name}"
    today = today or timezone.localdate()
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last, f"{first:%B %Y}"


def location_statement(*, location: Location, date_from=None, date_to=None) -> LocationStatement:
    """The statement of ``location`` (``location_statement_period`` decides the period
    when no date is given): one query whatever the number of students and invoices.
    Invoices count for the location that issued them, wherever the student is now."""
    date_from, date_to, label = location_statement_period(date_from=date_from, date_to=date_to)
    invoices = _in_period(Invoice.objects.filter(location=location), date_from, date_to)
    groups: list[StudentInvoices] = []
    rows: list[InvoiceRow] = []
    current = None
    for values in invoices.order_by(
        "student__last_name",
        "student__first_name",
        "student__student_number",
        "student_id",
        "issue_date",
        "invoice_number",
    ).values(
        *_VALUES,
        **_REFERENCES,
        student_number=F("student__student_number"),
        first_name=F("student__first_name"),
        last_name=F("student__last_name"),
    ):
        if current is None or current.student.pk != values["student_id"]:
            student = StatementStudent(
                pk=values["student_id"],
                student_number=values["student_number"],
                first_name=values["first_name"],
                last_name=values["last_name"],
            )
            current = StudentInvoices(student=student, invoices=[])
            groups.append(current)
        row = invoice_row(values)
        current.invoices.append(row)
        rows.append(row)
    return LocationStatement(
        location=location,
        date_from=date_from,
        date_to=date_to,
        period_label=label,
        students=groups,
        totals=InvoiceTotals.of(rows),
    )


def location_statement_filename(statement: LocationStatement) -> str:
    """``statement-MAIN-20250901-20260831`` (without the extension)."""
    ends = [f"{day:%Y%m%d}" if day else "open" for day in (statement.date_from, statement.date_to)]
    return "-".join(["statement", statement.location.code, *ends])


def location_for_statement(*, user, pk) -> Location | None:
    """The location ``pk`` if ``user`` may see it (staff limited to other locations:
    ``None``, which the views answer with 404)."""
    return location_list(user=user).filter(pk=pk).first()


# --- CSV --------------------------------------------------------------------------------

CSV_HEADER = [
    "line",
    "student_number",
    "student_name",
    "invoice_number",
    "issue_date",
    "due_date",
    "status",
    "amount_due",
    "paid",
    "carried_forward",
    "pending",
    "overdue",
    "carried_from",
    "carried_to",
]


def _amounts(item) -> list[str]:
    return [
        f"{value:.2f}"
        for value in (
            item.amount_due if isinstance(item, InvoiceRow) else item.invoiced,
            item.paid,
            item.carried_forward,
            item.pending,
            item.overdue,
        )
    ]


def statement_csv_rows(groups, totals: InvoiceTotals):
    """The rows of a statement's CSV (after ``CSV_HEADER``): per student an ``invoice``
    line per invoice and a ``subtotal`` line, then one ``total`` line. ``groups``:
    ``(student, rows, subtotals)``. Amounts have two places; a subtotal or total line
    has the number of invoices it counts in ``invoice_number``."""
    for student, rows, subtotals in groups:
        for row in rows:
            yield [
                "invoice",
                student.student_number,
                student.full_name,
                row.invoice_number,
                row.issue_date.isoformat(),
                row.due_date.isoformat(),
                row.status,
                *_amounts(row),
                row.carried_from_number,
                row.carried_to_number,
            ]
        yield [
            "subtotal",
            student.student_number,
            student.full_name,
            subtotals.invoices,
            "",
            "",
            "",
            *_amounts(subtotals),
            "",
            "",
        ]
    yield ["total", "", "", totals.invoices, "", "", "", *_amounts(totals), "", ""]


def location_statement_csv_rows(statement: LocationStatement):
    groups = ((group.student, group.invoices, group.totals) for group in statement.students)
    return statement_csv_rows(groups, statement.totals)


def student_statement_csv_rows(statement):
    """The CSV rows of a student statement (``finance.selectors.Statement``: one
    student) or of a family statement (``FamilyStatement``: every child)."""
    children = statement.statements if hasattr(statement, "statements") else [statement]
    groups = ((child.student, child.invoices, child.invoice_totals) for child in children)
    return statement_csv_rows(groups, statement.invoice_totals)
