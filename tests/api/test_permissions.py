"""The permission matrix of every endpoint: office staff of the location, office staff of
another location, academy admin, the child's parent, another parent, anonymous and an
instructor who teaches the child (and no other student; no guardian permission).

A refused write (any status that is not 2xx) must write nothing: row counts and history
rows are compared before and after.
"""

import re
from types import SimpleNamespace

import pytest

from tests.api.conftest import MATRIX_ACTORS, row_counts, share_world
from tests.each_actor import assert_for_each_actor

share_world(globals())

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def expect(office, other_office, admin, parent, other_parent, anonymous, instructor):
    values = (office, other_office, admin, parent, other_parent, anonymous, instructor)
    return dict(zip(MATRIX_ACTORS, values, strict=True))


# the instructor (last) may read the structure of their location, not change it
STRUCTURE_READ = expect(200, 200, 200, 403, 403, 401, 200)
STRUCTURE_WRITE = expect(403, 403, 201, 403, 403, 401, 403)
STRUCTURE_CHANGE = expect(403, 403, 200, 403, 403, 401, 403)
SCOPED_STRUCTURE_READ = expect(200, 404, 200, 403, 403, 401, 200)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, 405)
EVERYONE_READS = expect(200, 200, 200, 200, 200, 401, 200)
# guardians and links: an instructor holds no guardian permission
FAMILY_READS = expect(200, 200, 200, 200, 200, 401, 403)
# the child: the instructor teaches them
CHILD_READ = expect(200, 404, 200, 200, 404, 401, 200)
CHILD_FAMILY_READ = expect(200, 404, 200, 200, 404, 401, 403)
CHILD_CHANGE = expect(200, 404, 200, 403, 403, 401, 403)
# a student at the instructor's location whom they do not teach
UNTAUGHT_CHILD_READ = expect(200, 404, 200, 200, 404, 401, 404)
OTHER_FAMILY_CHILD_READ = expect(200, 404, 200, 404, 200, 401, 404)
OWN_ONLY = expect(404, 404, 404, 200, 404, 401, 404)


# (case id, method, path(world), body(world) or None, expected status per actor)


def _curriculum(w):
    """The course's curriculum with a level, a module and a skill area (made on first use)."""
    from academy.models import Curriculum

    curriculum, created = Curriculum.objects.get_or_create(course=w.s.course, name="Core")
    if created:
        level = curriculum.levels.create(name="Level 1", order=1)
        level.modules.create(name="Module 1", order=1)
        curriculum.skill_areas.create(name="Breathing")
    return curriculum


CASES = [
    # --- auth and the caller ---
    ("root", "get", lambda w: f"{V1}/", None, EVERYONE_READS),
    ("me", "get", lambda w: f"{V1}/me/", None, EVERYONE_READS),
    # --- locations (scoped) ---
    ("locations-list", "get", lambda w: f"{V1}/locations/", None, STRUCTURE_READ),
    ("locations-get", "get", lambda w: f"{V1}/locations/{w.location.pk}/", None, SCOPED_STRUCTURE_READ),
    (
        "locations-post",
        "post",
        lambda w: f"{V1}/locations/",
        lambda w: {"code": "EAST", "name": "East"},
        STRUCTURE_WRITE,
    ),
    (
        "locations-patch",
        "patch",
        lambda w: f"{V1}/locations/{w.location.pk}/",
        lambda w: {"name": "Main (renamed)"},
        STRUCTURE_CHANGE,
    ),
    ("locations-put", "put", lambda w: f"{V1}/locations/{w.location.pk}/", lambda w: {"name": "X"}, ALWAYS_405),
    ("locations-delete", "delete", lambda w: f"{V1}/locations/{w.location.pk}/", None, ALWAYS_405),
    # --- facilities (scoped) ---
    ("facilities-list", "get", lambda w: f"{V1}/facilities/", None, STRUCTURE_READ),
    ("facilities-get", "get", lambda w: f"{V1}/facilities/{w.s.facility.pk}/", None, SCOPED_STRUCTURE_READ),
    (
        "facilities-post",
        "post",
        lambda w: f"{V1}/facilities/",
        lambda w: {"location": str(w.location.pk), "code": "R1", "name": "Room 1", "kind": "room"},
        STRUCTURE_WRITE,
    ),
    (
        "facilities-patch",
        "patch",
        lambda w: f"{V1}/facilities/{w.s.facility.pk}/",
        lambda w: {"name": "Big pool"},
        STRUCTURE_CHANGE,
    ),
    ("facilities-delete", "delete", lambda w: f"{V1}/facilities/{w.s.facility.pk}/", None, ALWAYS_405),
    # --- academic years ---
    ("years-list", "get", lambda w: f"{V1}/academic-years/", None, STRUCTURE_READ),
    ("years-get", "get", lambda w: f"{V1}/academic-years/{w.s.year.pk}/", None, STRUCTURE_READ),
    (
        "years-post",
        "post",
        lambda w: f"{V1}/academic-years/",
        lambda w: {"name": "2026-27", "start_date": "2026-08-01", "end_date": "2027-07-31"},
        STRUCTURE_WRITE,
    ),
    (
        "years-patch",
        "patch",
        lambda w: f"{V1}/academic-years/{w.s.year.pk}/",
        lambda w: {"name": "2025/26"},
        STRUCTURE_CHANGE,
    ),
    (
        "years-set-current",
        "post",
        lambda w: f"{V1}/academic-years/{w.s.year.pk}/set-current/",
        None,
        STRUCTURE_CHANGE,
    ),
    ("years-put", "put", lambda w: f"{V1}/academic-years/{w.s.year.pk}/", lambda w: {"name": "X"}, ALWAYS_405),
    ("years-delete", "delete", lambda w: f"{V1}/academic-years/{w.s.year.pk}/", None, ALWAYS_405),
    # --- terms ---
    ("terms-list", "get", lambda w: f"{V1}/terms/", None, STRUCTURE_READ),
    ("terms-get", "get", lambda w: f"{V1}/terms/{w.s.term.pk}/", None, STRUCTURE_READ),
    (
        "terms-post",
        "post",
        lambda w: f"{V1}/terms/",
        lambda w: {
            "academic_year": str(w.s.year.pk),
            "name": "Spring",
            "start_date": "2026-01-05",
            "end_date": "2026-03-31",
        },
        STRUCTURE_WRITE,
    ),
    ("terms-patch", "patch", lambda w: f"{V1}/terms/{w.s.term.pk}/", lambda w: {"status": "closed"}, STRUCTURE_CHANGE),
    ("terms-delete", "delete", lambda w: f"{V1}/terms/{w.s.term.pk}/", None, ALWAYS_405),
    # --- grade levels ---
    ("grades-list", "get", lambda w: f"{V1}/grade-levels/", None, STRUCTURE_READ),
    ("grades-get", "get", lambda w: f"{V1}/grade-levels/{w.s.grade_one.pk}/", None, STRUCTURE_READ),
    (
        "grades-post",
        "post",
        lambda w: f"{V1}/grade-levels/",
        lambda w: {"name": "Grade 3", "order": 3},
        STRUCTURE_WRITE,
    ),
    (
        "grades-patch",
        "patch",
        lambda w: f"{V1}/grade-levels/{w.s.grade_one.pk}/",
        lambda w: {"name": "Year 1"},
        STRUCTURE_CHANGE,
    ),
    ("grades-put", "put", lambda w: f"{V1}/grade-levels/{w.s.grade_one.pk}/", lambda w: {}, ALWAYS_405),
    # --- programs ---
    ("programs-list", "get", lambda w: f"{V1}/programs/", None, STRUCTURE_READ),
    ("programs-get", "get", lambda w: f"{V1}/programs/{w.s.program.pk}/", None, STRUCTURE_READ),
    (
        "programs-post",
        "post",
        lambda w: f"{V1}/programs/",
        lambda w: {"code": "MATH", "name": "Mathematics"},
        STRUCTURE_WRITE,
    ),
    (
        "programs-patch",
        "patch",
        lambda w: f"{V1}/programs/{w.s.program.pk}/",
        lambda w: {"name": "Swim school"},
        STRUCTURE_CHANGE,
    ),
    ("programs-delete", "delete", lambda w: f"{V1}/programs/{w.s.program.pk}/", None, ALWAYS_405),
    # --- courses ---
    ("curricula-list", "get", lambda w: f"{V1}/curricula/", None, STRUCTURE_READ),
    ("curricula-get", "get", lambda w: f"{V1}/curricula/{_curriculum(w).pk}/", None, STRUCTURE_READ),
    ("courses-list", "get", lambda w: f"{V1}/courses/", None, STRUCTURE_READ),
    ("courses-get", "get", lambda w: f"{V1}/courses/{w.s.course.pk}/", None, STRUCTURE_READ),
    (
        "courses-post",
        "post",
        lambda w: f"{V1}/courses/",
        lambda w: {"program": str(w.s.program.pk), "code": "SWIM-2", "title": "Swim level 2", "credits": "1.50"},
        STRUCTURE_WRITE,
    ),
    (
        "courses-patch",
        "patch",
        lambda w: f"{V1}/courses/{w.s.course.pk}/",
        lambda w: {"title": "Beginners"},
        STRUCTURE_CHANGE,
    ),
    ("courses-put", "put", lambda w: f"{V1}/courses/{w.s.course.pk}/", lambda w: {}, ALWAYS_405),
    # --- sections (scoped) ---
    ("sections-list", "get", lambda w: f"{V1}/sections/", None, STRUCTURE_READ),
    ("sections-get", "get", lambda w: f"{V1}/sections/{w.s.section.pk}/", None, SCOPED_STRUCTURE_READ),
    (
        "sections-post",
        "post",
        lambda w: f"{V1}/sections/",
        lambda w: {
            "course": str(w.s.course.pk),
            "term": str(w.s.term.pk),
            "location": str(w.location.pk),
            "code": "C",
            "capacity": 12,
        },
        STRUCTURE_WRITE,
    ),
    (
        "sections-patch",
        "patch",
        lambda w: f"{V1}/sections/{w.s.section.pk}/",
        lambda w: {"capacity": 15},
        STRUCTURE_CHANGE,
    ),
    ("sections-delete", "delete", lambda w: f"{V1}/sections/{w.s.section.pk}/", None, ALWAYS_405),
    # --- class sessions (scoped) ---
    ("sessions-list", "get", lambda w: f"{V1}/class-sessions/", None, STRUCTURE_READ),
    ("sessions-get", "get", lambda w: f"{V1}/class-sessions/{w.s.session.pk}/", None, SCOPED_STRUCTURE_READ),
    (
        "sessions-post",
        "post",
        lambda w: f"{V1}/class-sessions/",
        lambda w: {"section": str(w.s.section.pk), "date": "2025-09-15", "start_time": "10:00", "end_time": "10:45"},
        STRUCTURE_WRITE,
    ),
    (
        "sessions-patch",
        "patch",
        lambda w: f"{V1}/class-sessions/{w.s.session.pk}/",
        lambda w: {"is_cancelled": True},
        STRUCTURE_CHANGE,
    ),
    ("sessions-put", "put", lambda w: f"{V1}/class-sessions/{w.s.session.pk}/", lambda w: {}, ALWAYS_405),
    # --- students ---
    ("students-list", "get", lambda w: f"{V1}/students/", None, EVERYONE_READS),
    ("students-get", "get", lambda w: f"{V1}/students/{w.child.pk}/", None, CHILD_READ),
    ("students-get-untaught", "get", lambda w: f"{V1}/students/{w.children[1].pk}/", None, UNTAUGHT_CHILD_READ),
    ("students-get-other-family", "get", lambda w: f"{V1}/students/{w.other_child.pk}/", None, OTHER_FAMILY_CHILD_READ),
    (
        "students-post",
        "post",
        lambda w: f"{V1}/students/",
        lambda w: {
            "first_name": "Noah",
            "last_name": "Johnson",
            "date_of_birth": "2016-05-01",
            "location": str(w.location.pk),
            "primary_guardian": str(w.guardian.pk),
        },
        # another location's staff: the location (and the guardian) are not theirs -> 400
        expect(201, 400, 201, 403, 403, 401, 403),
    ),
    (
        "students-patch",
        "patch",
        lambda w: f"{V1}/students/{w.child.pk}/",
        lambda w: {"preferred_name": "Mel"},
        CHILD_CHANGE,
    ),
    ("students-put", "put", lambda w: f"{V1}/students/{w.child.pk}/", lambda w: {"first_name": "X"}, ALWAYS_405),
    ("students-delete", "delete", lambda w: f"{V1}/students/{w.child.pk}/", None, ALWAYS_405),
    ("students-list-delete", "delete", lambda w: f"{V1}/students/", None, ALWAYS_405),
    ("students-guardians", "get", lambda w: f"{V1}/students/{w.child.pk}/guardians/", None, CHILD_FAMILY_READ),
    (
        "students-primary-guardian",
        "post",
        lambda w: f"{V1}/students/{w.child.pk}/primary-guardian/",
        lambda w: {"guardian": str(w.co_guardian.pk)},
        CHILD_CHANGE,
    ),
    # --- guardians ---
    ("guardians-list", "get", lambda w: f"{V1}/guardians/", None, FAMILY_READS),
    ("guardians-get", "get", lambda w: f"{V1}/guardians/{w.guardian.pk}/", None, CHILD_FAMILY_READ),
    (
        "guardians-post",
        "post",
        lambda w: f"{V1}/guardians/",
        lambda w: {"first_name": "Ann", "last_name": "Lee", "email": "ann.lee@example.org", "phone": "555-1234"},
        expect(201, 201, 201, 403, 403, 401, 403),
    ),
    (
        "guardians-patch",
        "patch",
        lambda w: f"{V1}/guardians/{w.guardian.pk}/",
        lambda w: {"phone": "555-9999"},
        CHILD_CHANGE,
    ),
    ("guardians-put", "put", lambda w: f"{V1}/guardians/{w.guardian.pk}/", lambda w: {"phone": "1"}, ALWAYS_405),
    ("guardians-delete", "delete", lambda w: f"{V1}/guardians/{w.guardian.pk}/", None, ALWAYS_405),
    # --- student-guardian links ---
    ("links-list", "get", lambda w: f"{V1}/student-guardians/", None, FAMILY_READS),
    ("links-get", "get", lambda w: f"{V1}/student-guardians/{w.co_link.pk}/", None, CHILD_FAMILY_READ),
    (
        "links-post",
        "post",
        lambda w: f"{V1}/student-guardians/",
        lambda w: {"student": str(w.child.pk), "guardian": str(w.other_guardian.pk), "relationship_type": "emergency"},
        # another location's staff: the student is not theirs -> 400 on student
        expect(201, 400, 201, 403, 403, 401, 403),
    ),
    (
        "links-patch",
        "patch",
        lambda w: f"{V1}/student-guardians/{w.co_link.pk}/",
        lambda w: {"can_pick_up": False},
        CHILD_CHANGE,
    ),
    (
        "links-delete",
        "delete",
        lambda w: f"{V1}/student-guardians/{w.co_link.pk}/",
        None,
        expect(204, 404, 204, 403, 403, 401, 403),
    ),
    ("links-put", "put", lambda w: f"{V1}/student-guardians/{w.co_link.pk}/", lambda w: {}, ALWAYS_405),
    # --- notifications: the caller's own; staff see what a family was sent ---
    ("notifications-list", "get", lambda w: f"{V1}/notifications/", None, EVERYONE_READS),
    ("notifications-unread", "get", lambda w: f"{V1}/notifications/unread-count/", None, EVERYONE_READS),
    ("notifications-get", "get", lambda w: f"{V1}/notifications/{w.notification.pk}/", None, OWN_ONLY),
    ("notifications-read", "post", lambda w: f"{V1}/notifications/{w.notification.pk}/read/", lambda w: {}, OWN_ONLY),
    ("notifications-read-all", "post", lambda w: f"{V1}/notifications/read-all/", lambda w: {}, EVERYONE_READS),
    (
        "guardian-notifications",
        "get",
        lambda w: f"{V1}/guardians/{w.guardian.pk}/notifications/",
        None,
        expect(200, 404, 200, 403, 403, 401, 403),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_permission_matrix(instructor_world, as_user, method, path, body, expected):
    def check(actor):
        # given an actor and an endpoint (on a namespace of its own, as a test of its own had)
        world = SimpleNamespace(**vars(instructor_world))
        client = as_user(actor)
        before = row_counts()
        # when the actor calls it
        kwargs = {"format": "json"} if body is not None else {}
        response = getattr(client, method)(path(world), body(world) if body is not None else None, **kwargs)
        # then the status is the one the matrix expects, with an error body where it is an error
        assert response.status_code == expected[actor], response.content
        if response.status_code >= 400:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
        # and a refused write wrote nothing
        if method != "get" and response.status_code >= 400:
            assert row_counts() == before

    assert_for_each_actor(MATRIX_ACTORS, check)


def test_every_api_operation_is_in_the_matrix(world):
    """A new endpoint or method without a row in the matrix fails here."""
    from drf_spectacular.generators import SchemaGenerator

    from tests.attendance.test_api import attendance_operations_covered
    from tests.enrollment.test_api import enrollment_operations_covered
    from tests.enrollment.test_transfer_api import transfer_operations_covered
    from tests.finance.test_api_permissions import finance_operations_covered
    from tests.finance.test_api_refunds import refund_operations_covered
    from tests.grading.test_api import grading_operations_covered
    from tests.grading.test_document_api import document_operations_covered
    from tests.grading.test_report_card_api import report_card_operations_covered
    from tests.promotion.test_api import promotion_operations_covered

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    }
    covered = {(method, UUID.sub("{id}", path(world))) for _id, method, path, _body, _expected in CASES}
    covered |= finance_operations_covered()  # finance has its own matrix: tests/finance/test_api_permissions.py
    covered |= refund_operations_covered()  # tests/finance/test_api_refunds.py
    covered |= enrollment_operations_covered()  # tests/enrollment/test_api.py
    covered |= attendance_operations_covered()  # tests/attendance/test_api.py
    covered |= transfer_operations_covered()  # tests/enrollment/test_transfer_api.py
    covered |= grading_operations_covered()  # tests/grading/test_api.py
    covered |= report_card_operations_covered()  # tests/grading/test_report_card_api.py
    covered |= document_operations_covered()  # tests/grading/test_document_api.py
    covered |= promotion_operations_covered()  # tests/promotion/test_api.py
    # the token endpoints have their own tests (test_auth.py, tests/academy/test_api_tokens.py):
    # anybody may ask for a token; rotate and revoke act on the caller's own token only
    own = {
        ("post", "/api/v1/auth/token/"),
        ("post", "/api/v1/auth/token/rotate/"),
        ("post", "/api/v1/auth/token/revoke/"),
    }
    missing = operations - covered - own
    assert not missing, f"operations without a permission-matrix row: {sorted(missing)}"
