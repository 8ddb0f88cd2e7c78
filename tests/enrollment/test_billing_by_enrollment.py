"""A billing run bills course and programme fee structures to exactly the students
enrolled in them for the period (``enrollment/billing.py`` answers finance through
``academy.common.registry.enrolled_in``), beside the location-wide ones."""

import datetime
from decimal import Decimal as D

import pytest

from enrollment.models import Enrollment
from finance import services
from finance.models import Invoice, InvoiceLine
from finance.selectors import ledger_verify
from tests.factories.academy import CourseFactory, ProgramFactory, SectionFactory, TermFactory, finance_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(location):
    term = TermFactory(start_date=datetime.date(2026, 9, 1), end_date=datetime.date(2026, 12, 18))
    other_term = TermFactory(
        academic_year=term.academic_year, start_date=datetime.date(2027, 1, 4), end_date=datetime.date(2027, 3, 26)
    )
    music, art = ProgramFactory(code="MUS"), ProgramFactory(code="ART")
    piano, violin = CourseFactory(program=music, code="PIANO"), CourseFactory(program=music, code="VIOLIN")
    painting = CourseFactory(program=art, code="PAINT")
    tuition = FeeTypeFactory(code="TUITION")
    FeeStructureFactory(
        location=location, fee_type=FeeTypeFactory(code="MATERIALS"), amount=D("10.00"), name="Materials"
    )
    FeeStructureFactory(location=location, fee_type=tuition, course=piano, amount=D("80.00"), name="Piano tuition")
    FeeStructureFactory(location=location, fee_type=tuition, course=painting, amount=D("50.00"), name="Painting")
    FeeStructureFactory(
        location=location, fee_type=FeeTypeFactory(code="PROGRAMME"), program=music, amount=D("25.00"), name="Music"
    )

    def enrolled(student, course, *, in_term=term, status=Enrollment.Status.ENROLLED):
        section = SectionFactory(course=course, term=in_term, location=location)
        ended = None if status == Enrollment.Status.ENROLLED else datetime.date(2026, 9, 20)
        return EnrollmentFactory(student=student, section=section, status=status, end_date=ended)

    students = {
        name: StudentFactory(location=location, first_name=name) for name in ("Ana", "Ben", "Cy", "Di", "Ed", "Flo")
    }
    enrolled(students["Ana"], piano)  # materials + piano + music programme
    enrolled(students["Ben"], violin)  # materials + music programme (no violin structure)
    # Cy: enrolled in nothing, materials only
    enrolled(students["Di"], piano, status=Enrollment.Status.WITHDRAWN)  # withdrawn: materials only
    enrolled(students["Ed"], painting, in_term=other_term)  # another term: materials only
    enrolled(students["Flo"], piano)
    enrolled(students["Flo"], painting)  # materials + piano + music + painting
    return location, term, students


def bill_october(location, term, actor, capture):
    """Bill October 2026 for ``term`` (its task run on commit) and answer the run as it ended."""
    with capture(execute=True):
        run = services.billing_run_start(
            location=location,
            period="2026-10",
            issue_date=datetime.date(2026, 10, 1),
            actor=actor,
            academic_year=term.academic_year,
            term=term,
        )
    run.refresh_from_db()
    return run


def test_course_and_programme_structures_bill_the_students_enrolled_in_them(scene, django_capture_on_commit_callbacks):
    location, term, students = scene
    actor = finance_user(username="billing-clerk")
    run = bill_october(location, term, actor, django_capture_on_commit_callbacks)
    assert run.status == "completed" and run.invoices_created == 6
    totals = {invoice.student.first_name: invoice.total for invoice in Invoice.objects.select_related("student")}
    assert totals == {
        "Ana": D("115.00"),
        "Ben": D("35.00"),
        "Cy": D("10.00"),
        "Di": D("10.00"),
        "Ed": D("10.00"),
        "Flo": D("165.00"),
    }
    flo_lines = sorted(InvoiceLine.objects.filter(invoice__student=students["Flo"]).values_list("amount", flat=True))
    assert flo_lines == [D("10.00"), D("25.00"), D("50.00"), D("80.00")]
    assert run.amount_billed == sum(totals.values())
    assert ledger_verify().problems == []

    # the same period again bills nothing, whatever the enrollments
    again = bill_october(location, term, actor, django_capture_on_commit_callbacks)
    assert (again.invoices_created, again.skipped) == (0, 6)
    assert Invoice.objects.count() == 6


def test_without_a_term_the_terms_running_on_the_issue_date_count(scene, django_capture_on_commit_callbacks):
    location, _term, _students = scene
    with django_capture_on_commit_callbacks(execute=True):
        run = services.billing_run_start(
            location=location, period="2027-02", issue_date=datetime.date(2027, 2, 1), actor=finance_user()
        )
    run.refresh_from_db()
    assert run.status == "completed"
    totals = {invoice.student.first_name: invoice.total for invoice in Invoice.objects.select_related("student")}
    # in February only Ed's painting section (the spring term) runs
    assert totals["Ed"] == D("60.00")
    assert totals["Ana"] == totals["Flo"] == D("10.00")
    assert ledger_verify().problems == []
