"""A graded class around today: one section of a course taught by ``teacher`` at
``location`` in a running term, four students enrolled through the enrollment service,
and the default A-F scale (created by a migration)."""

from decimal import Decimal

import pytest

from academy.roles import OFFICE_STAFF
from enrollment.services import enroll
from grading import services
from tests.factories.academy import (
    CourseFactory,
    ProgramFactory,
    SectionFactory,
    instructor_user,
    running_term,
    staff_user,
)
from tests.factories.families import StudentFactory
from tests.shared import share_per_module


@pytest.fixture
def term(db):
    return running_term(name="Autumn")


@pytest.fixture
def course(db):
    return CourseFactory(code="MATH-5", title="Mathematics 5", program=ProgramFactory(code="ACAD"), credits=3)


@pytest.fixture
def teacher(db):
    return instructor_user(username="teacher")


@pytest.fixture
def registrar(location):
    return staff_user(OFFICE_STAFF, username="registrar")


@pytest.fixture
def second_registrar(location):
    return staff_user(OFFICE_STAFF, username="registrar2")


@pytest.fixture
def section(location, term, course, teacher):
    return SectionFactory(course=course, term=term, location=location, code="A", instructor=teacher, capacity=30)


@pytest.fixture
def students(section, registrar):
    pupils = [StudentFactory(location=section.location, last_name=f"Pupil{i}") for i in range(4)]
    for pupil in pupils:
        enroll(student=pupil, section=section, actor=registrar)
    return pupils


@pytest.fixture
def assessments(section, teacher):
    """Quiz 20, midterm 30, final 50: weights total 100."""
    return [
        services.assessment_create(section=section, actor=teacher, type=kind, title=title, weight=Decimal(w))
        for kind, title, w in (("quiz", "Quiz 1", "20"), ("midterm", "Midterm", "30"), ("final", "Final", "50"))
    ]


@pytest.fixture
def cell():
    def make(assessment, student, score=None, status="scored", **extra):
        return services.Cell(assessment_id=assessment.pk, student_id=student.pk, status=status, score=score, **extra)

    return make


def share_grading(namespace: dict, *more) -> None:
    """Build the graded class (and ``more``, fixtures built on it) once for the module
    whose ``globals()`` is ``namespace``, each test getting its own copy (``tests/shared.py``)."""
    from tests.conftest import location

    share_per_module(namespace, location, term, course, teacher, registrar, second_registrar, section, students, *more)
