import datetime
from decimal import Decimal as D

import pytest

from finance import documents, services
from finance.selectors import statement_for_guardian, statement_for_student
from tests.factories.academy import LocationFactory
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db
JAN, FEB, MAR = datetime.date(2026, 1, 5), datetime.date(2026, 2, 5), datetime.date(2026, 3, 5)


def at(day):
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)


@pytest.fixture
def history(location, cashier):
    guardian = GuardianFactory()
    anna = StudentFactory(location=location, primary_guardian=guardian, first_name="Anna")
    ben = StudentFactory(location=LocationFactory(code="NORTH"), primary_guardian=guardian, first_name="Ben")
    issue(anna, "100.00", issue_date=JAN, due_date=JAN + datetime.timedelta(days=20))
    services.payment_record(actor=cashier, student=anna, amount="100", method="cash", received_at=at(JAN))
    issue(anna, "110.00", issue_date=FEB, due_date=FEB + datetime.timedelta(days=20))
    services.payment_record(actor=cashier, student=anna, amount="50", method="card", received_at=at(MAR))
    issue(ben, "80.00", issue_date=FEB, due_date=FEB + datetime.timedelta(days=20))
    return guardian, anna, ben


def test_a_student_statement_has_opening_entries_and_closing_balance(history):
    _guardian, anna, _ben = history
    statement = statement_for_student(student=anna, date_from=FEB, date_to=MAR)
    assert statement.opening_balance == D("0.00")  # January: invoiced 100, paid 100
    assert [(line.debit, line.credit) for line in statement.lines] == [(D("110.00"), 0), (0, D("50.00"))]
    assert statement.closing_balance == D("60.00")
    assert statement.lines[-1].balance == statement.closing_balance
    everything = statement_for_student(student=anna)
    assert len(everything.lines) == 4 and everything.closing_balance == D("60.00")
    assert statement_for_student(student=anna, date_to=JAN).closing_balance == D("0.00")


def test_a_family_statement_covers_every_child_the_guardian_pays_for_across_locations(history):
    guardian, anna, ben = history
    family = statement_for_guardian(guardian=guardian)
    assert {s.student for s in family.statements} == {anna, ben}
    assert family.closing_balance == D("140.00")


def test_receipt_invoice_and_statement_render_as_pdf(history, cashier):
    guardian, anna, _ben = history
    payment = anna.payments.order_by("received_at").first()
    unattended = services.payment_record(actor=None, student=anna, amount="1", method="online").payment
    for pdf in (
        documents.receipt_pdf(payment),
        documents.receipt_pdf(unattended),  # recorded by the system: no collector
        documents.invoice_pdf(anna.invoices.first()),
        documents.statement_pdf(statement_for_guardian(guardian=guardian)),
    ):
        assert pdf.startswith(b"%PDF") and len(pdf) > 2000
