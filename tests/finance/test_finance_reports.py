"""The finance reports an accountant reads (``finance.reports``): student balances with
the monthly fee billing charges, the location summary as the sum of its students, daily
collections by location and method, monthly revenue by location, the per-year summary
and its reconciliation with the ledger (``verify_install``), each scoped to the user's
locations and read in a fixed number of queries."""

import datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from finance import reports, services
from finance.install_checks import check_ledger_summary
from finance.models import Invoice, StudentAccount
from finance.selectors import account_balance, ledger_verify
from students.services import student_soft_delete, student_update
from tests.factories.academy import (
    AcademicYearFactory,
    GradeLevelFactory,
    LocationFactory,
    SectionFactory,
    TermFactory,
    admin_user,
    finance_user,
    running_term,
)
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory, issue

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
ZERO = D("0.00")
MONEY_FIELDS = ("invoiced", "paid", "carried_forward", "pending", "overdue", "credit")


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def received(day: datetime.date) -> datetime.datetime:
    """Noon on ``day``, or a minute ago if that is later."""
    noon = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
    return min(noon, timezone.now() - datetime.timedelta(minutes=1))


def pay(student, amount, cashier, **kwargs):
    kwargs.setdefault("method", "cash")
    return services.payment_record(
        actor=cashier, student=student, amount=amount, confirm_overpayment=True, **kwargs
    ).payment


def row_of(rows, student) -> dict:
    [row] = [row for row in rows if row["student_id"] == student.pk]
    return row


@pytest.fixture
def north(db):
    return LocationFactory(code="NORTH", name="North campus")


@pytest.fixture
def every_kind(location, cashier):
    """One student with an invoice in every state: paid, partly paid, overdue, cancelled
    after a payment (its money became credit, used on the next invoice), carried forward
    into a new invoice, and an approved discount."""
    student = StudentFactory(location=location)
    paid = issue(student, "100.00", actor=cashier)
    pay(student, "100.00", cashier, allocations=[(paid, "100.00")])
    partial = issue(student, "80.00", actor=cashier)
    pay(student, "30.00", cashier, allocations=[(partial, "30.00")])
    overdue = issue(student, "50.00", actor=cashier, issue_date=days(-60), due_date=days(-30))
    cancelled = issue(student, "40.00", actor=cashier)
    pay(student, "15.00", cashier, allocations=[(cancelled, "15.00")])
    services.invoice_cancel(invoice=cancelled, actor=cashier, reason="Issued twice")  # 15.00 -> overdue invoice
    old = issue(student, "70.00", actor=cashier)
    pay(student, "20.00", cashier, allocations=[(old, "20.00")])
    new = services.invoice_carry_forward(invoice=old, actor=cashier)
    discount = services.adjustment_request(
        invoice=partial, kind="discount", amount="5.00", reason="Sibling", actor=cashier
    )
    services.adjustment_approve(adjustment=discount, actor=finance_user(username="approver"))
    return student, {
        "paid": paid,
        "partial": partial,
        "overdue": overdue,
        "cancelled": cancelled,
        "old": old,
        "new": new,
    }


# --- student balances ---------------------------------------------------------------------


def test_a_students_row_counts_every_invoice_state_and_adds_up(every_kind):
    student, _invoices = every_kind
    # when the report reads the student
    row = row_of(reports.student_balances(user=admin_user()), student)
    # then each status is counted
    assert (
        row["total_invoices"],
        row["paid_invoices"],
        row["partial_invoices"],
        row["overdue_invoices"],
        row["cancelled_invoices"],
        row["carried_forward_invoices"],
        row["pending_invoices"],
    ) == (6, 1, 1, 1, 1, 1, 1)
    # invoiced leaves the cancelled invoice out and holds the carried balance twice (the
    # old invoice and the new one each ask for it), carried forward once
    assert row["total_invoiced"] == D("100.00") + D("75.00") + D("50.00") + D("70.00") + D("50.00")
    assert row["total_paid"] == D("100.00") + D("30.00") + D("15.00") + D("20.00")
    assert row["carried_forward"] == D("50.00")
    assert row["pending"] == D("45.00") + D("35.00") + D("50.00")
    assert row["overdue"] == D("35.00")
    assert row["credit"] == ZERO
    # and the identities an accountant checks hold, against the ledger
    assert row["total_invoiced"] - row["total_paid"] - row["carried_forward"] == row["pending"]
    assert row["balance_due"] == row["pending"] - row["credit"] == account_balance(student=student)
    assert row["balance"] == row["balance_due"]
    assert ledger_verify().ok


def test_credit_is_shown_apart_and_the_balance_is_the_ledger(location, cashier):
    student = StudentFactory(location=location)
    issue(student, "10.00", actor=cashier)
    pay(student, "25.00", cashier)
    row = row_of(reports.student_balances(user=admin_user()), student)
    assert (row["pending"], row["credit"], row["balance_due"]) == (ZERO, D("15.00"), D("-15.00"))
    assert row["balance_due"] == StudentAccount.objects.get(pk=student.pk).balance


def test_every_student_is_listed_and_a_deleted_one_while_money_is_owed(location, cashier):
    quiet = StudentFactory(location=location)  # no money at all
    owing = StudentFactory(location=location)
    issue(owing, "30.00", actor=cashier)
    settled = StudentFactory(location=location)
    issue(settled, "30.00", actor=cashier)
    pay(settled, "30.00", cashier)
    for student in (owing, settled):
        student_soft_delete(student=student, actor=cashier, reason="Left the area")
    rows = {row["student_id"]: row for row in reports.student_balances(user=admin_user())}
    assert rows[quiet.pk]["balance_due"] == ZERO and not rows[quiet.pk]["deleted"]
    assert rows[owing.pk]["deleted"] and rows[owing.pk]["balance_due"] == D("30.00")
    assert settled.pk not in rows


def test_the_monthly_fee_is_what_a_monthly_billing_run_charges(location, north, cashier):
    # given monthly fee structures: location-wide, per grade, per course; and others that do not apply
    fee_type, books = FeeTypeFactory(code="TUITION"), FeeTypeFactory(code="MATERIAL")
    grade, other_grade = GradeLevelFactory(), GradeLevelFactory()
    term = running_term()
    section = SectionFactory(location=location, term=term)
    FeeStructureFactory(location=location, fee_type=fee_type, amount=D("100.00"))
    FeeStructureFactory(location=location, fee_type=fee_type, grade_level=grade, amount=D("50.00"))
    FeeStructureFactory(location=location, fee_type=fee_type, grade_level=other_grade, amount=D("70.00"))
    FeeStructureFactory(location=location, fee_type=books, course=section.course, amount=D("30.00"))
    FeeStructureFactory(location=location, fee_type=books, amount=D("999.00"), frequency="per_term")
    FeeStructureFactory(location=location, fee_type=books, amount=D("888.00"), is_active=False)
    FeeStructureFactory(location=north, fee_type=fee_type, amount=D("120.00"))
    enrolled = StudentFactory(location=location, grade_level=grade)
    EnrollmentFactory(student=enrolled, section=section)
    other = StudentFactory(location=location, grade_level=other_grade)
    away = StudentFactory(location=north, grade_level=grade)
    withdrawn = StudentFactory(location=location, grade_level=grade, status="withdrawn")
    # when the report reads their monthly fee
    rows = reports.student_balances(user=admin_user())
    # then it is the sum of the monthly structures that apply (none for a student not billed)
    fees = {student: row_of(rows, student)["monthly_fee"] for student in (enrolled, other, away, withdrawn)}
    assert fees == {enrolled: D("180.00"), other: D("170.00"), away: D("120.00"), withdrawn: None}
    # and a monthly billing run charges exactly that
    run = services.billing_run_start(location=location, period="2099-01", issue_date=TODAY, actor=cashier)
    services.billing_run_execute(run_pk=run.pk)
    billed = dict(Invoice.objects.filter(billing_run=run).values_list("student_id", "total"))
    assert billed == {enrolled.pk: D("180.00"), other.pk: D("170.00")}


# --- the location summary ---------------------------------------------------------------------


def test_the_location_summary_is_the_sum_of_its_students(every_kind, location, north, cashier):
    _student, _invoices = every_kind
    # given a second student at north with credit, one who moved from main to north, and an inactive one
    credited = StudentFactory(location=north)
    issue(credited, "12.00", actor=cashier)
    pay(credited, "20.00", cashier)
    moved = StudentFactory(location=location)
    issue(moved, "33.00", actor=cashier)
    student_update(student=moved, actor=cashier, data={"location": north}, reason="Moved house")
    StudentFactory(location=north, status="inactive")
    # when the summary is read
    summary = {row["code"]: row for row in reports.location_summary(user=admin_user())}
    balances = reports.student_balances(user=admin_user())
    # then every money figure of a location is the sum of its students' rows
    for code, place in (("MAIN", location), ("NORTH", north)):
        rows = [row for row in balances if row["location_id"] == place.pk]
        row = summary[code]
        assert row["invoiced"] == sum(r["total_invoiced"] for r in rows)
        assert row["collected"] == sum(r["total_paid"] for r in rows)
        for name in ("carried_forward", "pending", "overdue", "credit"):
            assert row[name] == sum(r[name] for r in rows), name
        assert row["balance"] == sum(r["balance_due"] for r in rows) == row["pending"] - row["credit"]
        assert row["outstanding"] == row["pending"]
        assert row["all_students"] == len(rows)
    # and the student who moved is counted where they are now
    assert summary["NORTH"]["pending"] == D("33.00") and summary["NORTH"]["credit"] == D("8.00")
    assert (summary["NORTH"]["all_students"], summary["NORTH"]["active_students"]) == (3, 2)


def test_each_report_narrows_to_one_location_and_a_limited_user_sees_theirs(location, north, cashier):
    here, there = StudentFactory(location=location), StudentFactory(location=north)
    for student in (here, there):
        issue(student, "10.00", actor=cashier, issue_date=days(-40), due_date=days(-20))
        pay(student, "4.00", cashier)
    north_finance = finance_user(username="north-finance", locations=[north])
    everyone = admin_user()
    for user, place in ((everyone, north), (north_finance, None)):
        assert {r["student_id"] for r in reports.student_balances(user=user, location=place)} == {there.pk}
        assert [r["code"] for r in reports.location_summary(user=user, location=place)] == ["NORTH"]
        assert {r["location_name"] for r in reports.invoice_details(user=user, location=place)} == {north.name}
        assert {r["location_name"] for r in reports.payment_history(user=user, location=place)} == {north.name}
        assert {r["location_name"] for r in reports.overdue_invoices(user=user, location=place)["invoices"]} == {
            north.name
        }
        assert {r["location_code"] for r in reports.daily_collections(user=user, location=place)} == {"NORTH"}
        assert {r["location_code"] for r in reports.monthly_revenue_by_location(user=user, location=place)} == {"NORTH"}
        assert {r["student_id"] for r in reports.ledger_summary(user=user, location=place)} == {there.pk}


# --- money over time --------------------------------------------------------------------------


def test_daily_collections_are_grouped_by_day_location_and_method(location, north, cashier):
    here, there = StudentFactory(location=location), StudentFactory(location=north)
    issue(here, "500.00", actor=cashier)
    issue(there, "500.00", actor=cashier)
    pay(here, "10.00", cashier, received_at=received(days(-1)))
    pay(here, "5.00", cashier, received_at=received(days(-1)))
    pay(here, "7.00", cashier, method="card", received_at=received(days(-1)))
    pay(there, "9.00", cashier, received_at=received(days(-1)))
    bounced = pay(here, "50.00", cashier, received_at=received(days(-1)))
    services.payment_reverse(payment=bounced, actor=cashier, reason="Counterfeit")
    pay(here, "40.00", cashier, method="cheque")  # not cleared: not collected
    rows = reports.daily_collections(user=admin_user())
    assert [(r["day"], r["location_code"], r["method"], r["count"], r["amount"]) for r in rows] == [
        (days(-1), "MAIN", "card", 1, D("7.00")),
        (days(-1), "MAIN", "cash", 2, D("15.00")),
        (days(-1), "NORTH", "cash", 1, D("9.00")),
    ]


def test_monthly_revenue_has_a_row_per_month_and_location(location, north, cashier):
    here = StudentFactory(location=location)
    issue(here, "40.00", actor=cashier)
    pay(here, "15.00", cashier)
    cancelled = issue(here, "99.00", actor=cashier)
    services.invoice_cancel(invoice=cancelled, actor=cashier, reason="Mistake")
    rows = reports.monthly_revenue_by_location(user=admin_user(), months=3)
    assert len(rows) == 3 * 2
    assert [(r["month"], r["location_code"]) for r in rows][-2:] == [
        (TODAY.replace(day=1), "MAIN"),
        (TODAY.replace(day=1), "NORTH"),
    ]
    this_month = {r["location_code"]: (r["invoiced"], r["collected"]) for r in rows[-2:]}
    assert this_month == {"MAIN": (D("40.00"), D("15.00")), "NORTH": (ZERO, ZERO)}
    # the totals per month are the dashboard's
    totals = reports.monthly_revenue(user=admin_user(), months=3)
    for total in totals:
        month_rows = [r for r in rows if r["month"] == total["month"]]
        assert total["invoiced"] == sum(r["invoiced"] for r in month_rows)
        assert total["collected"] == sum(r["collected"] for r in month_rows)


# --- the per-year summary -----------------------------------------------------------------


@pytest.fixture
def years(db):
    """2024-25 and 2025-26 with a gap (August 2025) between them, and a term of 2025-26."""
    old = AcademicYearFactory(
        name="2024-25", start_date=datetime.date(2024, 9, 1), end_date=datetime.date(2025, 7, 31), is_current=False
    )
    new = AcademicYearFactory(
        name="2025-26", start_date=datetime.date(2025, 9, 1), end_date=datetime.date(2026, 7, 31), is_current=True
    )
    term = TermFactory(academic_year=new, start_date=datetime.date(2025, 9, 1), end_date=datetime.date(2025, 12, 19))
    return old, new, term


def test_an_invoice_belongs_to_its_year_else_its_terms_else_the_year_of_its_issue_date(location, cashier, years):
    old, new, term = years
    student = StudentFactory(location=location)
    issue(student, "1.00", actor=cashier, academic_year=old, issue_date=datetime.date(2026, 1, 5))  # its own year
    issue(student, "2.00", actor=cashier, term=term, issue_date=datetime.date(2024, 10, 1))  # the term's year
    issue(student, "4.00", actor=cashier, issue_date=datetime.date(2024, 10, 1))  # inside 2024-25
    issue(student, "8.00", actor=cashier, issue_date=datetime.date(2025, 8, 15))  # the gap: 2024-25 had started
    issue(student, "16.00", actor=cashier, issue_date=datetime.date(2026, 9, 1))  # after both: the latest
    issue(student, "32.00", actor=cashier, issue_date=datetime.date(2023, 1, 1))  # before every year: none
    rows = reports.ledger_summary(user=admin_user())
    assert [(row["academic_year_name"], row["invoices"], row["base_fees"]) for row in rows] == [
        ("2024-25", 3, D("13.00")),
        ("2025-26", 2, D("18.00")),
        ("", 1, D("32.00")),
    ]
    assert sum(row["balance"] for row in rows) == account_balance(student=student) == D("63.00")
    only_new = reports.ledger_summary(user=admin_user(), academic_year=new)
    assert [(row["academic_year"], row["base_fees"]) for row in only_new] == [(new.pk, D("18.00"))]


def test_payments_follow_their_invoices_and_unapplied_credit_the_year_it_was_received(location, cashier, years):
    old, new, _term = years
    student = StudentFactory(location=location)
    last_year = issue(student, "100.00", actor=cashier, academic_year=old, issue_date=datetime.date(2025, 3, 1))
    this_year = issue(student, "60.00", actor=cashier, academic_year=new, issue_date=datetime.date(2025, 10, 1))
    # a payment received in 2025-26 pays last year's invoice in part
    pay(student, "30.00", cashier, allocations=[(last_year, "30.00")], received_at=received(datetime.date(2025, 10, 2)))
    # an overpayment received in 2025-26: 70 + 60 open, 150 paid -> 20 credit
    pay(student, "150.00", cashier, received_at=received(datetime.date(2026, 2, 2)))
    rows = {row["academic_year_name"]: row for row in reports.ledger_summary(user=admin_user())}
    assert (rows["2024-25"]["payments"], rows["2024-25"]["credit"], rows["2024-25"]["balance"]) == (
        D("100.00"),
        ZERO,
        ZERO,
    )
    assert (rows["2025-26"]["payments"], rows["2025-26"]["credit"], rows["2025-26"]["balance"]) == (
        D("60.00"),
        D("20.00"),
        D("-20.00"),
    )
    assert this_year.academic_year_id == new.pk
    assert sum(row["balance"] for row in rows.values()) == account_balance(student=student)


def test_a_balance_carried_into_the_new_year_leaves_the_old_one(location, cashier, years):
    old, new, _term = years
    student = StudentFactory(location=location)
    invoice = issue(student, "90.00", actor=cashier, academic_year=old, issue_date=datetime.date(2025, 6, 1))
    pay(student, "40.00", cashier, received_at=received(datetime.date(2025, 6, 20)))
    discount = services.adjustment_request(
        invoice=invoice, kind="discount", amount="10.00", reason="Sibling", actor=cashier
    )
    services.adjustment_approve(adjustment=discount, actor=finance_user(username="approver"))
    services.invoice_carry_forward(
        invoice=invoice, actor=cashier, academic_year=new, issue_date=datetime.date(2025, 9, 1)
    )
    cancelled = issue(student, "25.00", actor=cashier, academic_year=new)
    services.invoice_cancel(invoice=cancelled, actor=cashier, reason="Wrong student")
    rows = {row["academic_year_name"]: row for row in reports.ledger_summary(user=admin_user())}
    old_row, new_row = rows["2024-25"], rows["2025-26"]
    assert (old_row["base_fees"], old_row["adjustments"], old_row["payments"], old_row["carried_forward"]) == (
        D("90.00"),
        D("-10.00"),
        D("40.00"),
        D("40.00"),
    )
    assert old_row["balance"] == ZERO
    assert (new_row["base_fees"], new_row["brought_forward"], new_row["invoices"], new_row["balance"]) == (
        ZERO,
        D("40.00"),
        1,
        D("40.00"),
    )
    assert reports.ledger_summary_reconcile().ok


def test_verify_install_checks_the_summary_against_the_ledger(every_kind, years, cashier):
    student, invoices = every_kind
    # given clean books the check passes
    passed, detail = check_ledger_summary()
    assert passed, detail
    assert "add up to their ledger balances" in detail
    # when an invoice's cached amount drifts from its ledger entries
    Invoice.objects.filter(pk=invoices["partial"].pk).update(amount_adjusted=D("-6.00"))
    # then the check fails and names the student and the year
    passed, detail = check_ledger_summary()
    assert not passed and student.student_number in detail and "ledger entries" in detail
    # and a cached balance that drifts from the ledger is reported too
    Invoice.objects.filter(pk=invoices["partial"].pk).update(amount_adjusted=D("-5.00"))
    StudentAccount.objects.filter(pk=student.pk).update(balance=D("1.00"))
    passed, detail = check_ledger_summary()
    assert not passed and "the account says 1.00" in detail


# --- query counts -------------------------------------------------------------------------


REPORT_CALLS = {
    "student_balances": lambda user: reports.student_balances(user=user),
    "location_summary": lambda user: reports.location_summary(user=user),
    "invoice_details": lambda user: reports.invoice_details(user=user),
    "payment_history": lambda user: reports.payment_history(user=user),
    "overdue_invoices": lambda user: reports.overdue_invoices(user=user),
    "daily_collections": lambda user: reports.daily_collections(user=user),
    "monthly_revenue_by_location": lambda user: reports.monthly_revenue_by_location(user=user),
    "ledger_summary": lambda user: reports.ledger_summary(user=user),
}


def _grow(location, cashier, students: int, term) -> None:
    section = SectionFactory(location=location, term=term)
    FeeStructureFactory(location=location, fee_type=FeeTypeFactory(code="MATERIAL"), course=section.course)
    for n in range(students):
        place = location if n % 2 else LocationFactory()
        student = StudentFactory(location=place, grade_level=GradeLevelFactory())
        EnrollmentFactory(student=student, section=SectionFactory(location=place, term=term))
        issue(student, "20.00", actor=cashier, issue_date=days(-40 - n), due_date=days(-30 - n))
        issue(student, "5.00", actor=cashier)
        pay(student, "30.00" if n % 3 == 0 else "12.00", cashier, received_at=received(days(-n)))


@pytest.mark.parametrize("name", REPORT_CALLS)
def test_each_report_reads_a_fixed_number_of_queries(location, cashier, name, years, django_assert_max_num_queries):
    _old, new, _term = years
    term = running_term(academic_year=new)
    north_finance = finance_user(username="limited", locations=[location])
    FeeStructureFactory(location=location, fee_type=FeeTypeFactory(code="TUITION"))
    _grow(location, cashier, 2, term)
    with CaptureQueriesContext(connection) as small:
        read_all(REPORT_CALLS[name](north_finance))
    with CaptureQueriesContext(connection) as small_page:
        read_page(REPORT_CALLS[name](north_finance))
    _grow(location, cashier, 12, term)
    with django_assert_max_num_queries(len(small)):
        rows = read_all(REPORT_CALLS[name](north_finance))
    with django_assert_max_num_queries(len(small_page)):
        page = read_page(REPORT_CALLS[name](north_finance))
    assert rows and page


def read_all(report) -> list:
    """Every row (what the CSV reads); the overdue report's invoices."""
    return report["invoices"] if isinstance(report, dict) else list(report)


def read_page(report) -> list:
    """What a page reads: the number of rows, the first 5 and the totals of a large report."""
    if isinstance(report, dict):
        return report["invoices"][:5]
    found = report[0:5]
    if isinstance(report, reports.ReportRows):
        assert report.count() >= 1
        report.totals()
    return found
