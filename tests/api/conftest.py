"""Fixtures of the API tests: token clients per actor and a small academy ("world").

Actors of the permission matrix:

- ``office``: office staff limited to the main location (where both families' children are);
- ``other_office``: office staff limited to the north location;
- ``admin``: academy admin (every location);
- ``parent``: the portal login of the guardian of ``children`` (the ``family`` fixture);
- ``other_parent``: the portal login of another family's guardian;
- ``anonymous``: no credentials;
- ``instructor`` (``MATRIX_ACTORS``, with the ``instructor_world`` fixture): an instructor
  of the main location who teaches ``s.section``, where ``child`` is enrolled, and no
  other student (``children[1]`` and ``other_child`` are at their location, not in their
  class). ``ACTORS`` leaves them out for the matrices that have no instructor column yet.
"""

import datetime
from types import SimpleNamespace

import pytest
from django.apps import apps
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy.models import Section
from families.selectors import guardian_recipient_key
from notifications.models import Notification
from tests.factories.academy import (
    AcademicYearFactory,
    ClassSessionFactory,
    CourseFactory,
    FacilityFactory,
    GradeLevelFactory,
    ProgramFactory,
    SectionFactory,
    TermFactory,
    instructor_user,
    roles_ensure,
)
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import GuardianFactory, StudentGuardianFactory
from tests.shared import share_per_module

ACTORS = ("office", "other_office", "admin", "parent", "other_parent", "anonymous")
MATRIX_ACTORS = (*ACTORS, "instructor")

# The tables an API write may touch; "nothing written" compares their row counts.
WRITTEN_MODELS = (
    "academy.Location",
    "academy.Facility",
    "academy.AcademicYear",
    "academy.Term",
    "academy.GradeLevel",
    "academy.Program",
    "academy.Course",
    "academy.Section",
    "academy.ClassSession",
    "students.Student",
    "families.Guardian",
    "families.StudentGuardian",
    "common.NumberSequence",
)


def row_counts() -> dict[str, int]:
    counts = {}
    for label in WRITTEN_MODELS:
        model = apps.get_model(label)
        manager = getattr(model, "all_objects", model._default_manager)
        counts[label] = manager.count()
    counts["history"] = sum(
        apps.get_model(label).history.count() for label in WRITTEN_MODELS if label != "common.NumberSequence"
    )
    return counts


@pytest.fixture(autouse=True)
def roles(db):
    """The role groups with their permissions, as ``migrate`` leaves them (see
    ``roles_ensure``)."""
    roles_ensure()


@pytest.fixture
def client_for(db):
    """``client_for(user)``: an API client sending ``user``'s token (``None``: anonymous)."""

    def make(user):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def structure(location, other_location):
    year = AcademicYearFactory(name="2025-26", is_current=True)
    term = TermFactory(academic_year=year, name="Autumn")
    grade_two = GradeLevelFactory(name="Grade 2", order=2)
    grade_one = GradeLevelFactory(name="Grade 1", order=1, next_grade=grade_two)
    program = ProgramFactory(code="SWIM", name="Swimming")
    course = CourseFactory(program=program, code="SWIM-1", title="Swim level 1", grade_level=grade_one)
    facility = FacilityFactory(location=location, code="POOL", name="Main pool", kind="pool")
    other_facility = FacilityFactory(location=other_location, code="POOL", name="North pool", kind="pool")
    section = SectionFactory(course=course, term=term, location=location, code="A", facility=facility, capacity=10)
    other_section = SectionFactory(course=course, term=term, location=other_location, code="B", capacity=8)
    session = ClassSessionFactory(section=section, date=datetime.date(2025, 9, 8))
    other_session = ClassSessionFactory(section=other_section, date=datetime.date(2025, 9, 8))
    return SimpleNamespace(
        year=year,
        term=term,
        grade_one=grade_one,
        grade_two=grade_two,
        program=program,
        course=course,
        facility=facility,
        other_facility=other_facility,
        section=section,
        other_section=other_section,
        session=session,
        other_session=other_session,
    )


@pytest.fixture
def world(structure, location, other_location, office, other_office, academy_admin, family, other_family):
    """Everything the permission matrix needs. ``child`` has a primary guardian (the
    parent) and a secondary guardian without medical authority (``co_link``)."""
    guardian, children = family
    other_guardian, other_children = other_family
    co_guardian = GuardianFactory(first_name="Chris", last_name="Johnson")
    co_link = StudentGuardianFactory(
        student=children[0], guardian=co_guardian, relationship_type="secondary", relation="Stepfather"
    )
    notification = Notification.objects.create(
        recipient=guardian.portal_user,
        recipient_key=guardian_recipient_key(guardian),
        kind="student_admitted",
        title="Welcome",
        message="Your child was admitted.",
    )
    return SimpleNamespace(
        notification=notification,
        s=structure,
        location=location,
        other_location=other_location,
        users={
            "office": office,
            "other_office": other_office,
            "admin": academy_admin,
            "parent": guardian.portal_user,
            "other_parent": other_guardian.portal_user,
            "anonymous": None,
        },
        guardian=guardian,
        children=children,
        child=children[0],
        primary_link=children[0].guardian_links.get(relationship_type="primary"),
        co_guardian=co_guardian,
        co_link=co_link,
        other_guardian=other_guardian,
        other_child=other_children[0],
    )


@pytest.fixture
def instructor_world(world, location):
    """``world`` with the ``instructor`` actor: they teach ``s.section`` (main location),
    where ``child`` is enrolled; they teach no other student."""
    instructor = instructor_user(username="instructor", locations=[location])
    Section.objects.filter(pk=world.s.section.pk).update(instructor=instructor)
    world.s.section.instructor = instructor
    EnrollmentFactory(student=world.child, section=world.s.section)
    world.users["instructor"] = instructor
    world.instructor = instructor
    world.untaught_child = world.children[1]
    return world


@pytest.fixture
def as_user(world, client_for):
    """``as_user("office")``: a client for one of the matrix actors."""
    return lambda actor: client_for(world.users[actor])


def share_world(namespace: dict, *more) -> None:
    """Build ``world`` (and ``more``, fixtures built on it) once for the module whose
    ``globals()`` is ``namespace``, each test getting its own copy (``tests/shared.py``)."""
    from tests.conftest import two_campuses

    share_per_module(
        namespace,
        *two_campuses(),
        structure,
        world,
        *more,
    )
