"""A small class academy around today: a swimming programme, one section with three
past sessions and two ahead, students enrolled through the enrollment service."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from enrollment.services import enroll
from tests.factories.academy import (
    AcademicYearFactory,
    ClassSessionFactory,
    CourseFactory,
    ProgramFactory,
    SectionFactory,
    TermFactory,
    instructor_user,
)
from tests.factories.families import StudentFactory


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def term(db, today):
    return TermFactory(
        academic_year=AcademicYearFactory(),
        name="Now",
        start_date=today - timedelta(days=60),
        end_date=today + timedelta(days=60),
    )


@pytest.fixture
def program(db):
    return ProgramFactory(code="SWIM", name="Swimming")


@pytest.fixture
def course(program):
    return CourseFactory(code="SWIM-1", title="Swim level 1", program=program)


@pytest.fixture
def coach(db):
    return instructor_user(username="coach")


@pytest.fixture
def make_section(location, term, course, coach):
    counter = iter(range(1, 1000))

    def make(capacity=10, **kwargs):
        kwargs.setdefault("term", term)
        kwargs.setdefault("location", location)
        kwargs.setdefault("course", course)
        kwargs.setdefault("instructor", coach)
        return SectionFactory(code=f"S{next(counter)}", capacity=capacity, **kwargs)

    return make


@pytest.fixture
def section(make_section):
    return make_section()


def add_sessions(section, today, offsets):
    return [
        ClassSessionFactory(
            section=section, date=today + timedelta(days=offset), start_time=time(16), end_time=time(17)
        )
        for offset in offsets
    ]


@pytest.fixture
def sessions(section, today):
    """Three past sessions (21, 14 and 7 days ago) and two ahead (7 and 14 days on)."""
    return add_sessions(section, today, (-21, -14, -7, 7, 14))


@pytest.fixture
def make_student(location):
    return lambda **kwargs: StudentFactory(location=kwargs.pop("location", location), **kwargs)


@pytest.fixture
def enrolled(section, sessions, make_student, office, today):
    """``enrolled(n)``: n students enrolled in the section since the term began
    (5 sessions each)."""

    def make(n=1, **kwargs):
        result = []
        for _ in range(n):
            student = make_student()
            result.append(
                enroll(
                    student=student, section=section, actor=office, enrollment_date=today - timedelta(days=50), **kwargs
                )
            )
        return result

    return make


# the API tests use the actors and the small academy of tests/api
from tests.api.conftest import as_user, client_for, roles, structure, world  # noqa: E402, F401
