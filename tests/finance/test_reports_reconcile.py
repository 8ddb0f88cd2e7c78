"""The finance reports reconcile with the invoices and the ledger whatever the money
history (hypothesis).

A history is a random sequence of real ``finance.services`` calls on a small academy of
two locations and two academic years (with a gap between them and a term): invoices
issued (in a year, a term, or dated only; past due or not; before every year), paid in
part, in full or beyond (credit), by the family or by cheque (cleared or bounced),
adjusted (discounts and charges), cancelled after payments, carried forward one by one
or in bulk into the new year, payments reversed, credit refunded, overdue marking, a
student moving to the other location and a student deleted. Calls the services refuse
are part of the history too (they change nothing). After the history:

- each location's row of the location summary is the sum of its students' rows of the
  student balances (every money figure and the number of students);
- each student's balance due is the ledger (the cached account balance and the sum of
  its entries), and ``pending - credit``; ``ledger_verify`` is clean;
- invoiced, paid, carried forward, pending and overdue are the sums over the student's
  invoices, and ``invoiced - paid - carried forward = pending``;
- the per-year summary summed over a student's years is the ledger balance, and each
  year's figures are the sums over the invoices of that year (the year rule worked out
  here in Python) and the credit of the payments received in it; the reconciliation
  ``verify_install`` runs is clean;
- the statement's invoice totals are the same sums, and its closing balance the ledger;
- a finance user limited to one location reads exactly that location's rows.
"""

import datetime
from decimal import ROUND_DOWN
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from academy.common.exceptions import Conflict
from academy.common.money import money
from finance import reports, services
from finance.models import Invoice, LedgerEntry, Payment, PaymentAllocation, StudentAccount
from finance.reports.per_year import SUMMARY_FIELDS, academic_year_for, academic_years
from finance.selectors import ledger_verify, statement_for_student
from finance.services.ledger import credit_available
from students.models import Student
from students.services import student_soft_delete, student_update
from tests.factories.academy import AcademicYearFactory, TermFactory, admin_user, finance_user
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db
ZERO = D("0.00")
TODAY = timezone.localdate()
OLD_YEAR_DAY = datetime.date(2025, 3, 3)  # inside 2024-25
GAP_DAY = datetime.date(2025, 8, 14)  # between the years: 2024-25 had started
BEFORE_EVERY_YEAR = datetime.date(2023, 5, 5)

# SQLite keeps money as floating point: sums read back through SQL (``ledger_verify``)
# carry float noise with arbitrary cents, so there amounts are quarters, which add up
# exactly (as in test_money_state_machine.py); PostgreSQL draws any cents.
STEP = D("0.25") if connection.vendor == "sqlite" else D("0.01")
cents = st.integers(min_value=1, max_value=int(200 / STEP)).map(lambda n: n * STEP)
index = st.integers(0, 50)
ISSUE_DATES = {
    "today": (TODAY, TODAY + datetime.timedelta(days=14)),
    "past due": (TODAY - datetime.timedelta(days=40), TODAY - datetime.timedelta(days=10)),
    "old year": (OLD_YEAR_DAY, OLD_YEAR_DAY + datetime.timedelta(days=30)),
    "gap": (GAP_DAY, GAP_DAY + datetime.timedelta(days=14)),
    "before every year": (BEFORE_EVERY_YEAR, BEFORE_EVERY_YEAR + datetime.timedelta(days=14)),
}
RECEIVED = {"now": None, "old year": OLD_YEAR_DAY, "gap": GAP_DAY}

OPERATION = st.one_of(
    st.tuples(
        st.just("issue"),
        index,
        st.lists(cents, min_size=1, max_size=2),
        st.sampled_from(["none", "old", "new", "term"]),
        st.sampled_from(list(ISSUE_DATES)),
    ),
    st.tuples(
        st.just("pay"), index, cents, st.sampled_from(["cash", "card", "cheque"]), st.sampled_from(list(RECEIVED))
    ),
    st.tuples(st.just("pay_invoice"), index, cents),
    st.tuples(st.just("pay_family"), cents),
    st.tuples(st.just("verify"), index, st.booleans()),
    st.tuples(st.just("reverse"), index),
    st.tuples(st.just("refund"), index, st.integers(1, 4)),
    st.tuples(st.just("adjust"), index, st.sampled_from(["discount", "waiver", "extra_charge", "late_fee"]), cents),
    st.tuples(st.just("cancel"), index),
    st.tuples(st.just("carry"), index),
    st.tuples(st.just("carry_all"), index),
    st.tuples(st.just("mark_overdue")),
    st.tuples(st.just("move"), index),
    st.tuples(st.just("delete"), index),
)
HISTORY = st.lists(OPERATION, min_size=4, max_size=22)


class _Rollback(Exception):
    pass


@pytest.fixture
def academy(location, other_location):
    old = AcademicYearFactory(
        name="2024-25", start_date=datetime.date(2024, 9, 1), end_date=datetime.date(2025, 7, 31), is_current=False
    )
    new = AcademicYearFactory(
        name="2025-26", start_date=datetime.date(2025, 9, 1), end_date=datetime.date(2026, 7, 31), is_current=True
    )
    term = TermFactory(academic_year=new, start_date=datetime.date(2025, 9, 1), end_date=datetime.date(2025, 12, 19))
    cashier = finance_user(username="reconcile-cashier")
    approver = finance_user(username="reconcile-approver")
    north_finance = finance_user(username="reconcile-north", locations=[other_location])
    return {
        "locations": (location, other_location),
        "years": {"old": old, "new": new, "term": term},
        "cashier": cashier,
        "approver": approver,
        "north_finance": north_finance,
    }


class History:
    """Plays operations on a few students; a call the services refuse changes nothing
    (each call is its own savepoint)."""

    def __init__(self, academy):
        self.academy = academy
        self.cashier, self.approver = academy["cashier"], academy["approver"]
        main, north = academy["locations"]
        self.guardian = GuardianFactory(last_name="Family")
        twins = [StudentFactory(location=main, primary_guardian=self.guardian) for _ in range(2)]
        self.students = [*twins, StudentFactory(location=north), StudentFactory(location=main)]
        self.invoices: list = []
        self.payments: list = []
        self.refused = 0

    def student(self, i):
        return Student.all_objects.get(pk=self.students[i % len(self.students)].pk)

    def invoice(self, i):
        return Invoice.objects.get(pk=self.invoices[i % len(self.invoices)]) if self.invoices else None

    def payment(self, i):
        return Payment.objects.get(pk=self.payments[i % len(self.payments)]) if self.payments else None

    def run(self, operation):
        try:
            with transaction.atomic():
                getattr(self, f"do_{operation[0]}")(*operation[1:])
        except (ValidationError, Conflict):
            self.refused += 1

    def _paid(self, payment):
        if payment is not None:
            self.payments.append(payment.pk)

    def do_issue(self, i, amounts, year, when):
        issue_date, due_date = ISSUE_DATES[when]
        years = self.academy["years"]
        scope = {"academic_year": years[year]} if year in ("old", "new") else {}
        if year == "term":
            scope = {"term": years["term"]}
        invoice = issue(
            self.student(i),
            *[str(a) for a in amounts],
            actor=self.cashier,
            issue_date=issue_date,
            due_date=due_date,
            **scope,
        )
        self.invoices.append(invoice.pk)

    def _received(self, when):
        day = RECEIVED[when]
        return None if day is None else timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))

    def do_pay(self, i, amount, method, when):
        result = services.payment_record(
            actor=self.cashier,
            student=self.student(i),
            amount=amount,
            method=method,
            received_at=self._received(when),
            confirm_overpayment=True,
        )
        self._paid(result.payment)

    def do_pay_invoice(self, i, amount):
        invoice = self.invoice(i)
        if invoice is None:
            return
        result = services.payment_record(
            actor=self.cashier,
            student=invoice.student,
            amount=amount,
            method="cash",
            allocations=[(invoice, amount)],
            confirm_overpayment=True,
        )
        self._paid(result.payment)

    def do_pay_family(self, amount):
        result = services.payment_record(
            actor=self.cashier, payer=self.guardian, amount=amount, method="cash", confirm_overpayment=True
        )
        self._paid(result.payment)

    def do_verify(self, i, cleared):
        payment = self.payment(i)
        if payment is not None:
            services.payment_verify(payment=payment, actor=self.cashier, cleared=cleared)

    def do_reverse(self, i):
        payment = self.payment(i)
        if payment is not None:
            services.payment_reverse(payment=payment, actor=self.cashier, reason="Bounced")

    def do_refund(self, i, quarters):
        student = self.student(i)
        available = credit_available(student.pk)
        amount = (available * quarters / 4 / STEP).to_integral_value(ROUND_DOWN) * STEP
        if amount > ZERO:
            services.refund_record(student=student, amount=amount, method="cash", reason="Asked", actor=self.cashier)

    def do_adjust(self, i, kind, amount):
        invoice = self.invoice(i)
        if invoice is None:
            return
        adjustment = services.adjustment_request(
            invoice=invoice, kind=kind, amount=amount, reason="Decided", actor=self.cashier
        )
        services.adjustment_approve(adjustment=adjustment, actor=self.approver)

    def do_cancel(self, i):
        invoice = self.invoice(i)
        if invoice is not None:
            services.invoice_cancel(invoice=invoice, actor=self.cashier, reason="Issued in error")

    def do_carry(self, i):
        invoice = self.invoice(i)
        if invoice is not None:
            new = services.invoice_carry_forward(
                invoice=invoice, actor=self.cashier, academic_year=self.academy["years"]["new"]
            )
            self.invoices.append(new.pk)

    def do_carry_all(self, i):
        student = self.student(i)
        carried = services.invoices_carry_forward(
            descriptions={student.pk: "Carried forward to the new year"},
            actor=self.cashier,
            academic_year=self.academy["years"]["new"],
        )
        numbers = [c.new_number for c in carried]
        self.invoices += list(Invoice.objects.filter(invoice_number__in=numbers).values_list("pk", flat=True))

    def do_mark_overdue(self):
        services.invoices_mark_overdue()

    def do_move(self, i):
        student = self.student(i)
        if student.deleted_at is not None:
            return  # a deleted student is edited by nobody
        main, north = self.academy["locations"]
        student_update(
            student=student, actor=self.cashier, data={"location": north if student.location_id == main.pk else main}
        )

    def do_delete(self, i):
        student = self.student(i)
        if student.deleted_at is None:
            student_soft_delete(student=student, actor=self.cashier, reason="Left")


# --- the figures worked out here, from the rows themselves ---------------------------------


def _invoice_year(invoice, years):
    if invoice.academic_year_id:
        return invoice.academic_year_id
    if invoice.term_id:
        return invoice.term.academic_year_id
    year = academic_year_for(invoice.issue_date, years)
    return year.pk if year else None


def expected_for(student, years) -> tuple[dict, dict]:
    """(the student's figures, {year id: that year's figures}) from their invoices and
    allocations, one row at a time."""
    figures = dict.fromkeys(("invoiced", "paid", "carried_forward", "pending", "overdue"), ZERO)
    per_year: dict = {}

    def year_row(key):
        return per_year.setdefault(key, dict.fromkeys(SUMMARY_FIELDS, ZERO))

    counts: dict = {}
    for invoice in Invoice.objects.filter(student=student).select_related("term"):
        counts[invoice.status] = counts.get(invoice.status, 0) + 1
        if invoice.status == Invoice.Status.CANCELLED:
            year_row(_invoice_year(invoice, years))
            continue
        unpaid = invoice.total + invoice.amount_adjusted - invoice.amount_paid
        figures["invoiced"] += invoice.total + invoice.amount_adjusted
        figures["paid"] += invoice.amount_paid
        row = year_row(_invoice_year(invoice, years))
        row["brought_forward" if invoice.carried_from_id else "base_fees"] += invoice.total
        row["adjustments"] += invoice.amount_adjusted
        row["payments"] += invoice.amount_paid
        if invoice.status == Invoice.Status.CARRIED_FORWARD:
            figures["carried_forward"] += unpaid
            row["carried_forward"] += unpaid
        if invoice.status in Invoice.OPEN_STATUSES:
            figures["pending"] += unpaid
        if invoice.status == Invoice.Status.OVERDUE:
            figures["overdue"] += unpaid
    figures["credit"] = ZERO
    credit: dict = {}
    for allocation in PaymentAllocation.objects.filter(student=student, invoice__isnull=True).select_related("payment"):
        figures["credit"] += allocation.amount
        year = academic_year_for(timezone.localdate(allocation.payment.received_at), years)
        credit[year.pk if year else None] = credit.get(year.pk if year else None, ZERO) + allocation.amount
    for year, amount in credit.items():
        if amount != ZERO:  # a year's credit used up entirely leaves no trace
            year_row(year)["credit"] = amount
    figures["counts"] = counts
    return figures, per_year


def check_the_books(history, academy):
    admin = admin_user(username="reconcile-admin")
    years = academic_years()
    balances = {row["student_id"]: row for row in reports.student_balances(user=admin)}
    summary = {row["id"]: row for row in reports.location_summary(user=admin)}
    per_year = reports.ledger_summary(user=admin)
    ledger = dict(
        LedgerEntry.objects.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )
    accounts = dict(StudentAccount.objects.values_list("pk", "balance"))

    for seeded in history.students:
        student = Student.all_objects.get(pk=seeded.pk)
        balance = accounts.get(student.pk, ZERO)
        assert balance == money(ledger.get(student.pk) or ZERO)
        listed = student.deleted_at is None or balance != ZERO
        assert (student.pk in balances) == listed
        if not listed:
            continue
        row = balances[student.pk]
        figures, years_expected = expected_for(student, years)
        # the balance due is the ledger, and pending less credit
        assert row["balance_due"] == balance == row["pending"] - row["credit"]
        # the figures are the sums over the invoices
        assert (row["total_invoiced"], row["total_paid"]) == (figures["invoiced"], figures["paid"])
        for name in ("carried_forward", "pending", "overdue", "credit"):
            assert row[name] == figures[name], name
        assert row["total_invoiced"] - row["total_paid"] - row["carried_forward"] == row["pending"]
        assert row["total_invoices"] == sum(figures["counts"].values())
        for status, count in figures["counts"].items():
            assert row[f"{status}_invoices"] == count
        assert row["location_id"] == student.location_id
        # the per-year summary: each year's figures and their sum
        mine = {r["academic_year"]: r for r in per_year if r["student_id"] == student.pk}
        assert set(mine) == set(years_expected)
        for year, expected in years_expected.items():
            for name, value in expected.items():
                assert mine[year][name] == value, (year, name)
        assert sum((r["balance"] for r in mine.values()), ZERO) == balance
        # the statement's invoice totals say the same, and its closing balance is the ledger
        statement = statement_for_student(student=student)
        totals = statement.invoice_totals
        assert (totals.invoiced, totals.paid, totals.carried_forward, totals.pending, totals.overdue) == (
            row["total_invoiced"],
            row["total_paid"],
            row["carried_forward"],
            row["pending"],
            row["overdue"],
        )
        assert statement.closing_balance == balance == totals.pending - row["credit"]

    # each location is the sum of its students
    for place in academy["locations"]:
        rows = [row for row in balances.values() if row["location_id"] == place.pk]
        line = summary[place.pk]
        assert line["all_students"] == len(rows)
        assert line["invoiced"] == sum((r["total_invoiced"] for r in rows), ZERO)
        assert line["collected"] == sum((r["total_paid"] for r in rows), ZERO)
        for name in ("carried_forward", "pending", "overdue", "credit"):
            assert line[name] == sum((r[name] for r in rows), ZERO), name
        assert line["balance"] == sum((r["balance_due"] for r in rows), ZERO) == line["pending"] - line["credit"]

    # a finance user of one location reads that location's rows, the same figures
    _main, north = academy["locations"]
    limited = academy["north_finance"]
    assert reports.location_summary(user=limited) == [summary[north.pk]]
    assert {r["student_id"] for r in reports.student_balances(user=limited)} == {
        pk for pk, row in balances.items() if row["location_id"] == north.pk
    }

    report = ledger_verify()
    assert report.ok, report.problems
    reconciled = reports.ledger_summary_reconcile()
    assert reconciled.ok, reconciled.problems


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(history=HISTORY)
def test_the_reports_reconcile_with_the_invoices_and_the_ledger(history, academy):
    try:
        with transaction.atomic():
            played = History(academy)
            for operation in history:
                played.run(operation)
            check_the_books(played, academy)
            raise _Rollback
    except _Rollback:
        pass


def test_a_history_with_every_kind_of_money_reconciles(academy):
    """One fixed history through every operation (the random ones may miss some)."""
    played = History(academy)
    for operation in [
        ("issue", 0, [D("100.00"), D("20.00")], "old", "old year"),
        ("issue", 0, [D("50.00")], "none", "past due"),
        ("issue", 1, [D("80.00")], "term", "today"),
        ("issue", 2, [D("60.00")], "none", "gap"),
        ("issue", 3, [D("10.00")], "none", "before every year"),
        ("pay_invoice", 0, D("30.00")),
        ("pay", 2, D("90.00"), "cash", "gap"),  # 30.00 credit, received in the gap
        ("pay", 1, D("25.00"), "cheque", "now"),
        ("verify", 2, True),
        ("pay_family", D("40.00")),
        ("adjust", 1, "discount", D("5.00")),
        ("adjust", 2, "late_fee", D("7.50")),
        ("carry", 0),
        ("pay_invoice", 4, D("4.00")),
        ("cancel", 4),  # paid in part: the 4.00 becomes credit
        ("refund", 2, 2),  # half of the 30.00 credit
        ("reverse", 1),  # the payment of the gap: its invoice reopens, the rest of its credit goes
        ("mark_overdue",),
        ("move", 3),
        ("carry_all", 1),
        ("delete", 2),
    ]:
        played.run(operation)
    assert Invoice.objects.filter(status=Invoice.Status.CARRIED_FORWARD).exists()
    assert Invoice.objects.filter(status=Invoice.Status.CANCELLED).exists()
    assert PaymentAllocation.objects.filter(kind="refund").exists()
    assert PaymentAllocation.objects.filter(kind="reversal").exists()
    assert PaymentAllocation.objects.filter(kind="released").exists()
    assert Invoice.objects.filter(carried_from__isnull=False, academic_year=academy["years"]["new"]).count() >= 2
    check_the_books(played, academy)
