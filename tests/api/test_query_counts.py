"""Every list endpoint costs a fixed number of queries, whatever the number of rows:
the same bound holds with 3 rows and with 30 (NetBox-style query-count baselines).

The bound counts the whole request: token lookup, roles and permissions, the caller's
locations, the page count, the page and its prefetches.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import share_world
from tests.factories.academy import (
    AcademicYearFactory,
    ClassSessionFactory,
    CourseFactory,
    FacilityFactory,
    GradeLevelFactory,
    LocationFactory,
    ProgramFactory,
    SectionFactory,
    TermFactory,
)
from tests.factories.families import StudentFactory, StudentGuardianFactory

share_world(globals())

pytestmark = pytest.mark.django_db


def _years(world, n):
    for i in range(n):
        AcademicYearFactory(
            name=f"{1990 + i}-{(91 + i) % 100:02d}",
            start_date=datetime.date(1990 + i, 8, 1),
            end_date=datetime.date(1991 + i, 7, 31),
            is_current=False,
        )


def _sessions(world, n):
    for i in range(n):
        ClassSessionFactory(section=world.s.section, date=datetime.date(2025, 9, 1) + datetime.timedelta(days=i))


def _students(world, n):
    for _ in range(n):
        StudentFactory(location=world.location)


def _children(world, n):
    for _ in range(n):
        StudentFactory(location=world.location, primary_guardian=world.guardian)


def _links_of_child(world, n):
    for _ in range(n):
        StudentGuardianFactory(student=world.child, relationship_type="emergency")


def with_page_size(path: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}page_size=100"


# (case id, actor, path(world), make n rows(world, n), query bound)
CASES = [
    ("locations", "admin", lambda w: "/api/v1/locations/", lambda w, n: LocationFactory.create_batch(n), 8),
    (
        "facilities",
        "office",
        lambda w: "/api/v1/facilities/",
        lambda w, n: FacilityFactory.create_batch(n, location=w.location),
        9,
    ),
    ("academic-years", "office", lambda w: "/api/v1/academic-years/", _years, 6),
    (
        "terms",
        "office",
        lambda w: "/api/v1/terms/",
        lambda w, n: TermFactory.create_batch(n, academic_year=w.s.year),
        6,
    ),
    ("grade-levels", "office", lambda w: "/api/v1/grade-levels/", lambda w, n: GradeLevelFactory.create_batch(n), 6),
    ("programs", "office", lambda w: "/api/v1/programs/", lambda w, n: ProgramFactory.create_batch(n), 6),
    ("courses", "office", lambda w: "/api/v1/courses/", lambda w, n: CourseFactory.create_batch(n), 6),
    (
        "sections",
        "office",
        lambda w: "/api/v1/sections/",
        lambda w, n: SectionFactory.create_batch(n, location=w.location, term=w.s.term),
        9,
    ),
    ("class-sessions", "office", lambda w: "/api/v1/class-sessions/", _sessions, 10),
    ("students-staff", "office", lambda w: "/api/v1/students/", _students, 10),
    ("students-search", "office", lambda w: "/api/v1/students/?search=stu&ordering=last_name", _students, 10),
    ("students-parent", "parent", lambda w: "/api/v1/students/", _children, 6),
    ("guardians-staff", "office", lambda w: "/api/v1/guardians/", _students, 8),
    ("guardians-admin", "admin", lambda w: "/api/v1/guardians/?search=example", _students, 8),
    ("guardians-parent", "parent", lambda w: "/api/v1/guardians/", _children, 4),
    ("student-guardians-staff", "office", lambda w: "/api/v1/student-guardians/", _students, 10),
    ("student-guardians-parent", "parent", lambda w: "/api/v1/student-guardians/", _children, 4),
    (
        "student-guardians-of-a-student",
        "office",
        lambda w: f"/api/v1/students/{w.child.pk}/guardians/",
        _links_of_child,
        12,
    ),
    (
        "student-guardians-of-a-child",
        "parent",
        lambda w: f"/api/v1/students/{w.child.pk}/guardians/",
        _links_of_child,
        8,
    ),
]


# a parent sees one guardian record, their own, however many there are
ROWS_SEEN = {"guardians-parent": lambda rows: 1}


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize(("case", "actor", "path", "make", "bound"), CASES, ids=[c[0] for c in CASES])
def test_list_query_count_is_bounded(
    world, as_user, django_assert_max_num_queries, rows, case, actor, path, make, bound
):
    # given the rows (and a client whose token exists already)
    make(world, rows)
    client = as_user(actor)
    client.get(with_page_size(path(world)))  # the caller's grants are read once, then cached (academy.authz)
    # when the list is fetched, then it costs at most the bound, however many rows
    with django_assert_max_num_queries(bound):
        response = client.get(with_page_size(path(world)))
    assert response.status_code == 200
    assert response.json()["count"] >= ROWS_SEEN.get(case, lambda rows: rows)(rows)


@pytest.mark.parametrize(("actor", "path", "make", "bound"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_list_query_count_does_not_grow_with_rows(world, as_user, actor, path, make, bound):
    """Stricter than the bound: 3 rows and 30 rows cost exactly the same."""
    client = as_user(actor)
    client.get(with_page_size(path(world)))  # the caller's grants are read once, then cached (academy.authz)
    counts = []
    for rows in (3, 27):  # 3, then 30 in all
        make(world, rows)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(with_page_size(path(world))).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
