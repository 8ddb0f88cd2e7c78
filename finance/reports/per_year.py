"""The per-student, per-academic-year summary of fees, adjustments, payments and
balance (seed "ledger summary"), and its reconciliation with the ledger.

Which academic year money belongs to:

- an invoice: its ``academic_year`` (billing runs set the run's year or the student's;
  invoices issued by hand the student's year at the time), else its term's year, else
  the year whose dates hold its issue date, else the latest year that started before
  it; an invoice issued before every year has no year (``academic_year`` empty);
- what was paid on an invoice (payments and account credit applied to it, net of
  reversals) belongs to the invoice's year;
- account credit not applied to any invoice (an overpayment, money released by a
  cancelled invoice, less refunds) belongs to the year its payment was received in,
  by the same date rule: the family paid it then, for nothing yet.

Per student and year: ``base_fees`` (the totals of its invoices, cancelled ones and
balances brought forward left out), ``brought_forward`` (the totals of the invoices that
carry an earlier invoice's balance), ``adjustments`` (approved, signed: discounts
negative), ``payments`` (paid on its invoices), ``carried_forward`` (unpaid balances
moved on to a later invoice), ``credit`` (unapplied, as above) and ``balance``:

    balance = base_fees + brought_forward + adjustments - payments - carried_forward - credit

Summed over a student's years this is the student's balance: the cached account
balance and the sum of the ledger (``ledger_summary_reconcile`` proves it, and each
year's figure against the ledger entries of the year's invoices). A cancelled invoice
counts nothing: its ledger reversal undid it.
"""

import datetime
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, Count, F, Q, Sum, UUIDField, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from academy.common.money import money
from academy.models import AcademicYear
from finance.models import Invoice, LedgerEntry, PaymentAllocation, StudentAccount
from finance.reports.base import ZERO, money_sum, report_students, unpaid

SUMMARY_FIELDS = ("base_fees", "brought_forward", "adjustments", "payments", "carried_forward", "credit")
STUDENT_VALUES = {
    "student_number": F("student__student_number"),
    "first_name": F("student__first_name"),
    "last_name": F("student__last_name"),
    "location_name": F("student__location__name"),
}


def academic_years() -> list[AcademicYear]:
    return list(AcademicYear.objects.order_by("-start_date", "name"))


def academic_year_for(day: datetime.date, years: list[AcademicYear]) -> AcademicYear | None:
    """The year whose dates hold ``day``, else the latest year that started before it
    (``years`` newest first, as ``academic_years`` reads them)."""
    for year in years:
        if year.start_date <= day <= year.end_date:
            return year
    return next((year for year in years if year.start_date <= day), None)


def _year_by_date(path: str, years: list[AcademicYear], *, moment: bool = False):
    """SQL for ``academic_year_for`` of the date (or, ``moment``, the local date of the
    time) at ``path``: the same rule, as a CASE over the few academic years."""

    def starts(day):
        if not moment:
            return day
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))

    def bounds(year):
        if moment:
            return {
                f"{path}__gte": starts(year.start_date),
                f"{path}__lt": starts(year.end_date + datetime.timedelta(1)),
            }
        return {f"{path}__gte": year.start_date, f"{path}__lte": year.end_date}

    whens = [When(Q(**bounds(year)), then=Value(year.pk)) for year in years]
    whens += [When(Q(**{f"{path}__gte": starts(year.start_date)}), then=Value(year.pk)) for year in years]
    if not whens:
        return Value(None, output_field=UUIDField())
    return Case(*whens, default=None, output_field=UUIDField())


def invoice_year(years: list[AcademicYear], prefix: str = ""):
    """The academic year of an invoice (at ``prefix``), as SQL (the module docstring
    says the rule)."""
    return Coalesce(
        F(f"{prefix}academic_year_id"),
        F(f"{prefix}term__academic_year_id"),
        _year_by_date(f"{prefix}issue_date", years),
        output_field=UUIDField(),
    )


def credit_year(years: list[AcademicYear]):
    """The academic year of an allocation's payment (for unapplied credit), as SQL."""
    return _year_by_date("payment__received_at", years, moment=True)


def _summary(invoices, credit_allocations, years: list[AcademicYear], academic_year=None) -> dict:
    """(student id, year id) -> the row, from two aggregate queries."""
    # SQLite keeps money as floating point: its sums are rounded to cents here
    exact = money if connection.vendor == "sqlite" else (lambda value: value)
    invoices = invoices.annotate(year=invoice_year(years))
    credit_allocations = credit_allocations.annotate(year=credit_year(years))
    if academic_year is not None:
        invoices = invoices.filter(year=academic_year.pk)
        credit_allocations = credit_allocations.filter(year=academic_year.pk)
    counted = ~Q(status=Invoice.Status.CANCELLED)
    carried_in = Q(carried_from__isnull=False)
    names = {year.pk: year.name for year in years}
    rows: dict = {}

    def row_for(values):
        key = (values["student_id"], values["year"])
        if key not in rows:
            rows[key] = {
                "student_id": values["student_id"],
                **{name: values[name] for name in STUDENT_VALUES},
                "academic_year": values["year"],
                "academic_year_name": names.get(values["year"], ""),
                "invoices": 0,
                **dict.fromkeys(SUMMARY_FIELDS, ZERO),
            }
        return rows[key]

    for values in (
        invoices.values("student_id", "year", **STUDENT_VALUES)
        .annotate(
            invoice_count=Count("id", filter=counted),
            base=money_sum(F("total"), counted & ~carried_in),
            brought=money_sum(F("total"), counted & carried_in),
            adjusted=money_sum(F("amount_adjusted"), counted),
            paid=money_sum(F("amount_paid"), counted),
            carried=money_sum(unpaid(), Q(status=Invoice.Status.CARRIED_FORWARD)),
        )
        .order_by()
    ):
        row = row_for(values)
        row.update(
            invoices=values["invoice_count"],
            base_fees=exact(values["base"]),
            brought_forward=exact(values["brought"]),
            adjustments=exact(values["adjusted"]),
            payments=exact(values["paid"]),
            carried_forward=exact(values["carried"]),
        )
    for values in (
        credit_allocations.values("student_id", "year", **STUDENT_VALUES).annotate(total=Sum("amount")).order_by()
    ):
        if exact(values["total"]) != ZERO:
            row_for(values)["credit"] = exact(values["total"])
    for row in rows.values():
        row["balance"] = (
            row["base_fees"]
            + row["brought_forward"]
            + row["adjustments"]
            - row["payments"]
            - row["carried_forward"]
            - row["credit"]
        )
    return rows


def ledger_summary(*, user, location=None, academic_year=None) -> list[dict]:
    """Per student (of the balance reports: ``report_students``) and academic year:
    base fees, brought forward, adjustments, payments, carried forward, unapplied credit
    and balance, by student number then year (oldest first, no year last); only
    ``academic_year``'s rows when given. Three queries."""
    years = academic_years()
    students = report_students(user=user, location=location).values("pk")
    rows = _summary(
        Invoice.objects.filter(student__in=students),
        PaymentAllocation.objects.filter(invoice__isnull=True, student__in=students),
        years,
        academic_year,
    )
    starts = {year.pk: year.start_date for year in years}
    never = datetime.date.max
    return sorted(rows.values(), key=lambda row: (row["student_number"], starts.get(row["academic_year"], never)))


@dataclass
class Reconciliation:
    students: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_summary_reconcile() -> Reconciliation:
    """Prove the per-year summary of every student (deleted ones too) against the ledger:

    - the balances of a student's years add up to the account's cached balance and to
      the sum of its ledger entries;
    - each year's balance equals the ledger entries of the year's invoices (lines,
      adjustments, cancellations, carried balances) less what was allocated to them,
      less the year's unapplied credit: the year's figure read from the append-only
      records instead of the invoices' cached amounts.
    """
    report = Reconciliation()
    years = academic_years()
    rows = _summary(Invoice.objects.all(), PaymentAllocation.objects.filter(invoice__isnull=True), years)
    report.rows = len(rows)
    names = {year.pk: year.name for year in years}
    by_ledger: dict = {}
    entries = (
        LedgerEntry.objects.filter(invoice__isnull=False)
        .annotate(year=invoice_year(years, "invoice__"))
        .values("account_id", "year")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for values in entries:
        key = (values["account_id"], values["year"])
        by_ledger[key] = by_ledger.get(key, ZERO) + money(values["total"])
    applied = (
        PaymentAllocation.objects.filter(invoice__isnull=False)
        .annotate(year=invoice_year(years, "invoice__"))
        .values("student_id", "year")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for values in applied:
        key = (values["student_id"], values["year"])
        by_ledger[key] = by_ledger.get(key, ZERO) - money(values["total"])
    for (student_id, year), row in rows.items():
        by_ledger[student_id, year] = by_ledger.get((student_id, year), ZERO) - row["credit"]
    totals: dict = {}
    for (student_id, year), row in rows.items():
        totals[student_id] = totals.get(student_id, ZERO) + row["balance"]
        expected = by_ledger.get((student_id, year), ZERO)
        if row["balance"] != expected:
            report.problems.append(
                f"student {row['student_number']} {names.get(year, 'without a year')}: summary balance "
                f"{row['balance']} but its invoices' ledger entries less allocations and credit say {expected}"
            )
    for (student_id, year), expected in by_ledger.items():
        if (student_id, year) not in rows and expected != ZERO:
            report.problems.append(
                f"student {student_id} {names.get(year, 'without a year')}: "
                f"no summary row but the ledger says {expected}"
            )
    ledger = dict(
        LedgerEntry.objects.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )
    accounts = dict(StudentAccount.objects.values_list("student_id", "balance"))
    for student_id in set(totals) | set(accounts):
        summed = totals.get(student_id, ZERO)
        cached = accounts.get(student_id, ZERO)
        entries_total = money(ledger.get(student_id) or ZERO)
        if not (summed == cached == entries_total):
            report.problems.append(
                f"student {student_id}: the years add up to {summed}, the account says {cached} "
                f"and the ledger {entries_total}"
            )
    report.students = len(set(totals) | set(accounts))
    return report
