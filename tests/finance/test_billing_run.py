import datetime
from decimal import Decimal as D

import pytest
from django.db.models import Sum

from finance import services
from finance.models import BillingRun, Invoice, LedgerEntry
from finance.selectors import account_balance, ledger_verify
from tests.factories.academy import GradeLevelFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory

pytestmark = pytest.mark.django_db
SEPT = datetime.date.today()


@pytest.fixture
def billed_location(location):
    grade_one, grade_two = GradeLevelFactory(name="G1", order=1), GradeLevelFactory(name="G2", order=2)
    FeeStructureFactory(location=location, grade_level=grade_one, amount=D("100.00"), name="G1 tuition")
    FeeStructureFactory(location=location, grade_level=grade_two, amount=D("120.00"), name="G2 tuition")
    FeeStructureFactory(
        location=location, fee_type=FeeTypeFactory(code="TRANSPORT"), amount=D("20.00"), name="Transport"
    )  # every grade
    students = [StudentFactory(location=location, grade_level=grade) for grade in [grade_one] * 3 + [grade_two] * 2]
    return location, students


def run_period(location, cashier, period="2026-09"):
    """Start a run; the caller's capture context runs its task on commit."""
    return services.billing_run_start(location=location, period=period, issue_date=SEPT, actor=cashier)


def test_a_billing_run_invoices_every_active_student_from_the_fee_structures(
    billed_location, cashier, django_capture_on_commit_callbacks
):
    location, _students = billed_location
    StudentFactory(location=location, status="inactive")  # not billed
    with django_capture_on_commit_callbacks(execute=True):
        run = run_period(location, cashier)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED and run.percent == 100
    assert (run.total, run.processed, run.invoices_created, run.skipped) == (5, 5, 5, 0)
    assert run.amount_billed == D("3") * D("120.00") + D("2") * D("140.00")
    totals = sorted(Invoice.objects.values_list("total", flat=True))
    assert totals == [D("120.00")] * 3 + [D("140.00")] * 2
    numbers = sorted(int(n[-6:]) for n in Invoice.objects.values_list("invoice_number", flat=True))
    assert numbers == list(range(numbers[0], numbers[0] + 5))  # gapless block
    assert LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] == run.amount_billed
    assert Invoice.objects.first().history.exists()
    assert ledger_verify().problems == []


def test_running_the_same_period_twice_creates_nothing_new(
    billed_location, cashier, django_capture_on_commit_callbacks
):
    location, _students = billed_location
    with django_capture_on_commit_callbacks(execute=True):
        run_period(location, cashier)
    with django_capture_on_commit_callbacks(execute=True):
        again = run_period(location, cashier)
    again.refresh_from_db()
    assert (again.invoices_created, again.skipped) == (0, 5)
    assert Invoice.objects.count() == 5
    # and re-executing a completed run does nothing at all
    services.billing_run_execute(run_pk=again.pk)
    assert Invoice.objects.count() == 5
    assert ledger_verify().problems == []


def test_account_credit_pays_the_new_invoices(billed_location, cashier, django_capture_on_commit_callbacks):
    location, students = billed_location
    services.payment_record(actor=cashier, student=students[0], amount="50.00", method="cash", confirm_overpayment=True)
    with django_capture_on_commit_callbacks(execute=True):
        run_period(location, cashier)
    invoice = Invoice.objects.get(student=students[0])
    assert invoice.amount_paid == D("50.00") and invoice.status == Invoice.Status.PARTIAL
    assert account_balance(student=students[0]) == D("70.00")
    assert ledger_verify().problems == []


def test_a_billing_run_shows_up_as_failed_when_it_breaks(
    billed_location, cashier, monkeypatch, django_capture_on_commit_callbacks
):
    location, _students = billed_location

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("finance.services.billing._bill_chunk", boom)
    # the run's job records the failure: the request that queued it goes on
    with django_capture_on_commit_callbacks(execute=True):
        run_period(location, cashier)
    run = BillingRun.objects.select_related("job").get()
    assert run.status == BillingRun.Status.FAILED and "disk full" in run.error
    assert run.job.state == "failed" and "disk full" in run.job.message
    assert not Invoice.objects.exists()
