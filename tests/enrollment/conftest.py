import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from academy.models import ClassSession, Term
from enrollment.models import Enrollment, WaitlistEntry
from finance.models import Invoice, LedgerEntry
from tests.factories.academy import CourseFactory, SectionFactory, running_term
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory


def rows() -> dict[str, int]:
    """Row counts of every table an enrollment write may touch ("nothing written")."""
    return {
        "enrollments": Enrollment.objects.count(),
        "enrollment history": Enrollment.history.count(),
        "waitlist": WaitlistEntry.objects.count(),
        "waitlist history": WaitlistEntry.history.count(),
        "invoices": Invoice.objects.count(),
        "ledger": LedgerEntry.objects.count(),
    }


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def term(db):
    """An open term running today (a term past its end takes no enrollment)."""
    return running_term(name="Autumn")


def term_running_today(academy):
    """tests/api's small academy (the ``structure`` fixture) with its term, and the sessions in it,
    moved by whole weeks so that the term runs today: a term past its end takes no
    enrollment. Test modules that enroll into the API world override ``structure``
    with it."""
    term = academy.term
    shift = datetime.timedelta(weeks=(timezone.localdate() - term.start_date).days // 7 - 6)
    term.start_date += shift
    term.end_date += shift
    Term.objects.filter(pk=term.pk).update(start_date=term.start_date, end_date=term.end_date)
    for session in (academy.session, academy.other_session):
        session.date += shift
        ClassSession.objects.filter(pk=session.pk).update(date=session.date)
    return academy


@pytest.fixture
def course(db):
    return CourseFactory(code="SWIM-1", title="Swim level 1")


@pytest.fixture
def make_section(location, term, course):
    counter = iter(range(1, 1000))

    def make(capacity=2, **kwargs):
        kwargs.setdefault("term", term)
        kwargs.setdefault("location", location)
        kwargs.setdefault("course", course)
        return SectionFactory(code=f"S{next(counter)}", capacity=capacity, **kwargs)

    return make


@pytest.fixture
def section(make_section):
    """A two-seat section of an open term at the main location."""
    return make_section(capacity=2)


@pytest.fixture
def make_student(location):
    return lambda **kwargs: StudentFactory(location=kwargs.pop("location", location), **kwargs)


@pytest.fixture
def fee_types(db):
    return {code: FeeTypeFactory(code=code) for code in ("ENROLLMENT", "TUITION")}


@pytest.fixture
def enrollment_fee(fee_types, location, course):
    """An ENROLLMENT fee of 50.00 for the course at the main location."""
    return FeeStructureFactory(
        name="Swim enrollment",
        location=location,
        course=course,
        fee_type=fee_types["ENROLLMENT"],
        amount=Decimal("50.00"),
        frequency="once",
    )


# the API tests use the actors and the small academy of tests/api
from tests.api.conftest import as_user, client_for, roles, structure, world  # noqa: E402, F401
