import datetime
from decimal import Decimal

import pytest

from tests.factories.academy import AcademicYearFactory, CourseFactory, SectionFactory, TermFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory


@pytest.fixture
def term(db):
    return TermFactory(academic_year=AcademicYearFactory(), name="Autumn")


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


TODAY = datetime.date(2025, 8, 25)


# the API tests use the actors and the small academy of tests/api
from tests.api.conftest import as_user, client_for, roles, structure, world  # noqa: E402, F401
