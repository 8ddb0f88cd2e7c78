"""The academy's structure through the API: locations, facilities, years, terms, grades,
programs, courses, sections and class sessions. Writes go through structure_save, so
the model's rules and constraints answer 400 with field errors."""

import uuid

import pytest

from academy.models import AcademicYear, ClassSession, Section, Term
from tests.api.conftest import row_counts, share_world

share_world(globals())

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


# --- scoped reads -------------------------------------------------------------------------


def test_location_limited_staff_see_their_locations_sections_and_sessions(world, as_user):
    office, other = as_user("office"), as_user("other_office")
    assert ids(office.get(f"{V1}/locations/")) == {str(world.location.pk)}
    assert ids(other.get(f"{V1}/locations/")) == {str(world.other_location.pk)}
    assert ids(office.get(f"{V1}/sections/")) == {str(world.s.section.pk)}
    assert ids(other.get(f"{V1}/sections/")) == {str(world.s.other_section.pk)}
    assert ids(office.get(f"{V1}/class-sessions/")) == {str(world.s.session.pk)}
    assert ids(office.get(f"{V1}/facilities/")) == {str(world.s.facility.pk)}
    assert other.get(f"{V1}/class-sessions/{world.s.session.pk}/").status_code == 404
    assert other.get(f"{V1}/facilities/{world.s.facility.pk}/").status_code == 404


def test_unscoped_structure_is_shared(world, as_user):
    for path in ("academic-years", "terms", "grade-levels", "programs", "courses"):
        assert as_user("office").get(f"{V1}/{path}/").json() == as_user("other_office").get(f"{V1}/{path}/").json()


def test_section_shows_enrolled_count_and_seats_left(world, as_user):
    data = as_user("office").get(f"{V1}/sections/{world.s.section.pk}/").json()
    assert data["capacity"] == 10
    assert data["enrolled_count"] == 0
    assert data["seats_left"] == 10
    assert data["course_code"] == "SWIM-1"
    assert data["location"] == str(world.location.pk)


def test_section_filters(world, as_user):
    admin = as_user("admin")
    assert ids(admin.get(f"{V1}/sections/", {"location": str(world.other_location.pk)})) == {
        str(world.s.other_section.pk)
    }
    assert len(ids(admin.get(f"{V1}/sections/", {"term": str(world.s.term.pk)}))) == 2
    assert len(ids(admin.get(f"{V1}/sections/", {"academic_year": str(world.s.year.pk)}))) == 2
    assert admin.get(f"{V1}/sections/", {"term": str(uuid.uuid4())}).status_code == 400
    # a location outside the caller's scope is a bad parameter
    assert as_user("office").get(f"{V1}/sections/", {"location": str(world.other_location.pk)}).status_code == 400


def test_class_session_date_range_filter(world, as_user):
    admin = as_user("admin")
    assert len(ids(admin.get(f"{V1}/class-sessions/", {"date_after": "2025-09-08", "date_before": "2025-09-08"}))) == 2
    assert ids(admin.get(f"{V1}/class-sessions/", {"date_after": "2025-09-09"})) == set()
    assert admin.get(f"{V1}/class-sessions/", {"date_after": "2025-02-30"}).status_code == 400
    assert ids(admin.get(f"{V1}/class-sessions/", {"section": str(world.s.section.pk)})) == {str(world.s.session.pk)}


def test_course_search_and_ordering(world, as_user):
    admin = as_user("admin")
    assert ids(admin.get(f"{V1}/courses/", {"search": "swim level"})) == {str(world.s.course.pk)}
    assert ids(admin.get(f"{V1}/courses/", {"search": "chemistry"})) == set()
    assert admin.get(f"{V1}/courses/", {"ordering": "-title"}).status_code == 200
    assert admin.get(f"{V1}/courses/", {"ordering": "description"}).status_code == 400


def test_term_and_year_filters(world, as_user):
    admin = as_user("admin")
    assert ids(admin.get(f"{V1}/academic-years/", {"is_current": "true"})) == {str(world.s.year.pk)}
    assert ids(admin.get(f"{V1}/terms/", {"status": "closed"})) == set()
    assert ids(admin.get(f"{V1}/terms/", {"academic_year": str(world.s.year.pk)})) == {str(world.s.term.pk)}
    assert admin.get(f"{V1}/terms/", {"status": "ajar"}).status_code == 400


# --- writes -------------------------------------------------------------------------------


def test_admin_creates_a_section_and_a_session(world, as_user):
    admin = as_user("admin")
    response = admin.post(
        f"{V1}/sections/",
        {
            "course": str(world.s.course.pk),
            "term": str(world.s.term.pk),
            "location": str(world.location.pk),
            "code": "Z",
            "facility": str(world.s.facility.pk),
            "instructor": str(world.users["office"].pk),
            "capacity": 6,
            "schedule": "Mon 16:00-17:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    section = Section.objects.get(pk=response.json()["id"])
    assert (section.code, section.capacity, section.instructor) == ("Z", 6, world.users["office"])
    assert response.json()["seats_left"] == 6

    response = admin.post(
        f"{V1}/class-sessions/",
        {"section": str(section.pk), "date": "2025-09-15", "start_time": "16:00", "end_time": "17:00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert ClassSession.objects.filter(section=section).count() == 1


def test_patch_section_capacity(world, as_user):
    response = as_user("admin").patch(f"{V1}/sections/{world.s.section.pk}/", {"capacity": 3}, format="json")
    assert response.status_code == 200
    assert response.json()["seats_left"] == 3
    assert Section.objects.get(pk=world.s.section.pk).capacity == 3


def test_a_new_current_year_replaces_the_old_one(world, as_user):
    response = as_user("admin").post(
        f"{V1}/academic-years/",
        {"name": "2026-27", "start_date": "2026-08-01", "end_date": "2027-07-31", "is_current": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert list(AcademicYear.objects.filter(is_current=True).values_list("name", flat=True)) == ["2026-27"]


def test_set_current_action(world, as_user):
    admin = as_user("admin")
    new = admin.post(
        f"{V1}/academic-years/",
        {"name": "2026-27", "start_date": "2026-08-01", "end_date": "2027-07-31"},
        format="json",
    ).json()
    assert new["is_current"] is False
    response = admin.post(f"{V1}/academic-years/{new['id']}/set-current/")
    assert response.status_code == 200
    assert response.json()["is_current"] is True
    assert AcademicYear.objects.get(is_current=True).name == "2026-27"


def test_close_a_term(world, as_user):
    response = as_user("admin").patch(f"{V1}/terms/{world.s.term.pk}/", {"status": "closed"}, format="json")
    assert response.status_code == 200
    assert Term.objects.get(pk=world.s.term.pk).status == "closed"


def _bad_structure_cases():
    """(path, method, object attribute or None, body(world), error field)"""
    return [
        ("locations", "post", None, lambda w: {"code": "MAIN", "name": "Again"}, "code"),
        ("locations", "post", None, lambda w: {"code": "", "name": "Blank"}, "code"),
        ("locations", "post", None, lambda w: {"code": "X" * 21, "name": "Long"}, "code"),
        ("locations", "post", None, lambda w: {"code": "E", "name": "East", "email": "nope"}, "email"),
        ("locations", "post", None, lambda w: {"code": "E", "name": "East", "is_active": "perhaps"}, "is_active"),
        ("locations", "patch", "location", lambda w: {"name": None}, "name"),
        (
            "facilities",
            "post",
            None,
            lambda w: {"location": str(uuid.uuid4()), "code": "R", "name": "Room"},
            "location",
        ),
        (
            "facilities",
            "post",
            None,
            lambda w: {"location": str(w.location.pk), "code": "R", "name": "R", "kind": "lake"},
            "kind",
        ),
        (
            "academic-years",
            "post",
            None,
            lambda w: {"name": "2030-31", "start_date": "2031-07-31", "end_date": "2030-08-01"},
            "non_field_errors",
        ),
        (
            "academic-years",
            "post",
            None,
            lambda w: {"name": "2025-26", "start_date": "2025-08-01", "end_date": "2026-07-31"},
            "name",
        ),
        (
            "academic-years",
            "post",
            None,
            lambda w: {"name": "2030-31", "start_date": "2030-13-01", "end_date": "2031-01-01"},
            "start_date",
        ),
        ("academic-years", "post", None, lambda w: {"name": "2030-31"}, "start_date"),
        (
            "terms",
            "post",
            None,
            lambda w: {
                "academic_year": str(w.s.year.pk),
                "name": "Summer",
                "start_date": "2026-06-01",
                "end_date": "2026-09-30",
            },
            "end_date",
        ),
        (
            "terms",
            "post",
            None,
            lambda w: {
                "academic_year": str(w.s.year.pk),
                "name": "Backwards",
                "start_date": "2026-03-01",
                "end_date": "2026-02-01",
            },
            "non_field_errors",
        ),
        (
            "terms",
            "post",
            None,
            lambda w: {"academic_year": "2025-26", "name": "T", "start_date": "2026-03-01", "end_date": "2026-04-01"},
            "academic_year",
        ),
        ("terms", "patch", "term", lambda w: {"status": "ajar"}, "status"),
        ("grade-levels", "post", None, lambda w: {"name": "Grade 9", "order": -1}, "order"),
        ("grade-levels", "post", None, lambda w: {"name": "Grade 9", "order": 1}, "order"),
        ("grade-levels", "post", None, lambda w: {"name": "Grade 9", "order": "ninth"}, "order"),
        ("grade-levels", "post", None, lambda w: {"name": "Grade 9", "order": 70000}, "order"),
        ("grade-levels", "patch", "grade_two", lambda w: {"next_grade": str(w.s.grade_one.pk)}, "next_grade"),
        ("programs", "post", None, lambda w: {"code": "SWIM", "name": "Duplicate"}, "code"),
        ("programs", "post", None, lambda w: {"code": "P", "name": "P", "description": "x" * 5001}, "description"),
        (
            "courses",
            "post",
            None,
            lambda w: {"program": str(w.s.program.pk), "code": "C1", "title": "T", "credits": "-1"},
            "credits",
        ),
        (
            "courses",
            "post",
            None,
            lambda w: {"program": str(w.s.program.pk), "code": "C1", "title": "T", "credits": "1000.00"},
            "credits",
        ),
        (
            "courses",
            "post",
            None,
            lambda w: {"program": str(w.s.program.pk), "code": "C1", "title": "T", "credits": "lots"},
            "credits",
        ),
        ("courses", "post", None, lambda w: {"program": None, "code": "C1", "title": "T"}, "program"),
        (
            "sections",
            "post",
            None,
            lambda w: {
                "course": str(w.s.course.pk),
                "term": str(w.s.term.pk),
                "location": str(w.location.pk),
                "code": "Q",
                "capacity": -1,
            },
            "capacity",
        ),
        (
            "sections",
            "post",
            None,
            lambda w: {
                "course": str(w.s.course.pk),
                "term": str(w.s.term.pk),
                "location": str(w.location.pk),
                "code": "Q",
                "capacity": 5,
                "facility": str(w.s.other_facility.pk),
            },
            "facility",
        ),
        (
            "sections",
            "post",
            None,
            lambda w: {
                "course": str(w.s.course.pk),
                "term": str(w.s.term.pk),
                "location": str(w.location.pk),
                "code": "Q",
                "capacity": 5,
                "instructor": str(w.users["parent"].pk),
            },
            "instructor",
        ),
        (
            "sections",
            "post",
            None,
            lambda w: {
                "course": str(w.s.course.pk),
                "term": str(w.s.term.pk),
                "location": str(w.location.pk),
                "code": "A",
                "capacity": 5,
            },
            "non_field_errors",
        ),
        ("sections", "patch", "section", lambda w: {"capacity": "ten"}, "capacity"),
        ("sections", "patch", "section", lambda w: {"capacity": 10**12}, "capacity"),
        (
            "class-sessions",
            "post",
            None,
            lambda w: {
                "section": str(w.s.section.pk),
                "date": "2026-06-01",
                "start_time": "10:00",
                "end_time": "11:00",
            },
            "date",
        ),
        (
            "class-sessions",
            "post",
            None,
            lambda w: {
                "section": str(w.s.section.pk),
                "date": "2025-09-15",
                "start_time": "11:00",
                "end_time": "10:00",
            },
            "non_field_errors",
        ),
        (
            "class-sessions",
            "post",
            None,
            lambda w: {
                "section": str(w.s.section.pk),
                "date": "2025-09-08",
                "start_time": w.s.session.start_time.isoformat(),
                "end_time": "23:00",
            },
            "non_field_errors",
        ),
        (
            "class-sessions",
            "post",
            None,
            lambda w: {
                "section": str(w.s.section.pk),
                "date": "2025-09-15",
                "start_time": "25:00",
                "end_time": "26:00",
            },
            "start_time",
        ),
        ("class-sessions", "patch", "session", lambda w: {"is_cancelled": "often"}, "is_cancelled"),
    ]


BAD_CASES = _bad_structure_cases()


@pytest.mark.parametrize(
    ("path", "method", "target", "body", "error_field"),
    BAD_CASES,
    ids=[f"{case[0]}-{case[1]}-{case[4]}-{index}" for index, case in enumerate(BAD_CASES)],
)
def test_bad_structure_input_is_400_and_writes_nothing(world, as_user, path, method, target, body, error_field):
    url = f"{V1}/{path}/"
    if target is not None:
        obj = world.location if target == "location" else getattr(world.s, target)
        url = f"{url}{obj.pk}/"
    before = row_counts()
    response = getattr(as_user("admin"), method)(url, body(world), format="json")
    assert response.status_code == 400, response.content
    assert error_field in response.json(), response.json()
    assert row_counts() == before


def test_location_limited_staff_see_only_their_facilities_in_section_input(world, as_user):
    """Even with the permission to add sections, a location the caller does not see is a 400."""
    from django.contrib.auth.models import Permission

    office = world.users["office"]
    office.user_permissions.add(Permission.objects.get(codename="add_section"))
    before = row_counts()
    response = as_user("office").post(
        f"{V1}/sections/",
        {
            "course": str(world.s.course.pk),
            "term": str(world.s.term.pk),
            "location": str(world.other_location.pk),
            "code": "Q",
            "capacity": 5,
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"location"}
    assert row_counts() == before
